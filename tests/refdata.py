"""Where the reference data the tests read lives: tests/fixtures/, inside the repository.

Provenance and licences: tests/fixtures/README.md and each folder's PROVENANCE.md. A missing file is
an error (``path`` raises), never a reason to skip: the data ships with the repository.
"""
import os

TESTS = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(TESTS, "fixtures")
ISTIO = os.path.join(FIXTURES, "istio")            # samples/, crds/, certs/ from github.com/istio/istio
ISTIO_CERTS = os.path.join(ISTIO, "certs")
ENVOY = os.path.join(FIXTURES, "envoy")            # Envoy admin API output from istioctl's test data
FINDING_IDS = os.path.join(FIXTURES, "design", "finding-ids.txt")


def path(*parts):
    """The fixture at FIXTURES/parts..., which must exist."""
    full = os.path.join(FIXTURES, *parts)
    if not os.path.exists(full):
        raise FileNotFoundError("test fixture missing: %s (it is part of the repository: restore it from git)" % full)
    return full


def design_finding_ids():
    """[(id, severity)] of the design contract's section 5, in its order."""
    rows = []
    with open(path("design", "finding-ids.txt"), encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#"):
                fid, severity = line.split()
                rows.append((fid, severity))
    return rows
