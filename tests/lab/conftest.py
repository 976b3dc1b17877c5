"""Fixtures for the lab tests: one plain-Kubernetes lab per session, started in a subprocess."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from labutil import start_lab  # noqa: E402
import refdata  # noqa: E402

FIXTURE = os.path.join(HERE, "fixtures", "plain")
ISTIO_SAMPLES = refdata.ISTIO


def samples_dir():
    """Istio's real samples and CRDs (tests/fixtures/istio, copied from upstream with provenance)."""
    return ISTIO_SAMPLES


@pytest.fixture(scope="session")
def plain_lab(tmp_path_factory):
    """The tests/lab/fixtures/plain scenario (cluster1 with an LB pool, cluster2 without, empty cluster3),
    served without the Istio model so that results are plain Kubernetes."""
    lab = start_lab(FIXTURE, str(tmp_path_factory.mktemp("plainlab")), istio=False)
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="session")
def upstream():
    refdata.path("istio", "samples", "helloworld.yaml")  # a missing fixture fails, it never skips
    return samples_dir()


@pytest.fixture(scope="session")
def lab_for(tmp_path_factory):
    """lab_for(scenario, istio=True) -> a running LabProcess, one per (scenario, istio) for the whole session.

    scenario: a bundled scenario name or a directory with lab.yaml."""
    labs = {}

    def get(scenario, istio=True):
        key = (scenario, istio)
        if key not in labs:
            name = os.path.basename(os.path.normpath(scenario)) or "lab"
            labs[key] = start_lab(scenario, str(tmp_path_factory.mktemp(name)), istio=istio)
        return labs[key]
    try:
        yield get
    finally:
        for lab in labs.values():
            lab.stop()
