"""remediate with a cluster down: both diagnoses read it (it stays in play until remediate ends), both reports
name it unreachable, and only then does it leave the play, counted unreachable in Ansible's recap."""
import pytest

from labutil import start_lab  # noqa: E402  (tests/labutil.py, the lab's test helper)
from leak_runs import scanned_playbook
from leakcheck import lab_secrets
from remediate_helpers import recap, report

pytestmark = pytest.mark.slow


@pytest.fixture
def lab(tmp_path):
    lab = start_lab("healthy-multinetwork", str(tmp_path / "lab"))
    try:
        lab_secrets(lab)   # while every cluster is up
        yield lab
    finally:
        lab.stop()


def _sections(out, title):
    """The console sections of the tasks whose title holds ``title``."""
    return [part for part in out.split("TASK [")[1:] if title in part.split("]", 1)[0]]


def test_a_down_cluster_is_read_by_both_diagnoses_then_counted_unreachable(lab, tmp_path):
    lab.ctl("cluster", "down", "cluster2")
    rc, out = scanned_playbook(lab, "remediate.yml", [lab.inventory], tmp_path / "reports")
    assert rc == 2, out[-3000:]
    gathers = _sections(out, "Gather each cluster")
    assert len(gathers) == 2 and all("[cluster2]" in part for part in gathers), out[-4000:]
    for doc in (report(tmp_path / "reports" / "before"), report(tmp_path / "reports")):
        assert doc["summary"]["unreachable"] == ["cluster2"]
    ends = _sections(out, "Count the clusters that could not be read as unreachable")
    assert len(ends) == 1 and "UNREACHABLE!" in ends[0] and "cluster2 could not be read" in ends[0], out[-3000:]
    counts = recap(out)
    assert counts["cluster2"]["unreachable"] == 1 and counts["cluster1"]["unreachable"] == 0, counts
    assert counts["cluster1"]["failed"] == 0 and counts["cluster2"]["failed"] == 0, counts
