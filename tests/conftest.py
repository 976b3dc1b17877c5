"""Shared pytest setup: make the collection importable as ansible_collections.meshmend.multicluster."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "meshmend", "multicluster")

if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(os.path.join("..", "..", ".."), LINK)
TESTS = os.path.join(ROOT, "tests")
for path in (TESTS, COLLECTIONS, ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def shared_lab(tmp_path_factory):
    """shared_lab(scenario) -> one running lab per bundled scenario for the whole pytest process (each
    xdist worker has its own), for tests that only read it: no write, no fault, no stats reset. A test
    that changes a lab starts its own (labutil.start_lab)."""
    import labutil

    labs = {}

    def get(scenario):
        if scenario not in labs:
            labs[scenario] = labutil.start_lab(scenario, str(tmp_path_factory.mktemp("shared-" + scenario)))
        return labs[scenario]
    try:
        yield get
    finally:
        for lab in labs.values():
            lab.stop()
