import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils.catalogue import DESIGN_IDS
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import (
    CATALOGUE, Finding, FindingError, finding_key, should_fail, sort_findings, worst_severity,
)


def test_catalogue_severity_is_default():
    f = Finding("remote_secret.not_synced", "cluster1", "istiod reports cluster2 syncing", peer="cluster2")
    assert f.severity == "warning"
    assert f.key == "remote_secret.not_synced@cluster1->cluster2"
    assert Finding.from_dict(f.to_dict()) == f


def test_unknown_id_needs_severity():
    with pytest.raises(FindingError):
        Finding("made.up", "cluster1", "x")
    assert Finding("made.up", "cluster1", "x", severity="info").severity == "info"


def test_bad_severity_and_category_rejected():
    with pytest.raises(FindingError):
        Finding("cluster.unreachable", "c", "x", severity="fatal")
    with pytest.raises(FindingError):
        Finding("cluster.unreachable", "c", "x", category="reboot")


def test_fail_on_thresholds():
    warn = Finding("trust.cacerts_missing", "c1", "x").to_dict()
    info = Finding("locality.prefers_local", "c1", "x").to_dict()
    err = Finding("cluster.unreachable", "c2", "x").to_dict()
    assert not should_fail([warn, info], "error")
    assert should_fail([warn, info], "warning")
    assert should_fail([err], "error")
    assert not should_fail([err], "never")
    with pytest.raises(FindingError):
        should_fail([], "sometimes")
    assert worst_severity([info, warn]) == "warning"
    assert worst_severity([]) is None
    assert [f["id"] for f in sort_findings([info, warn, err])] == [
        "cluster.unreachable", "trust.cacerts_missing", "locality.prefers_local"]


def test_catalogue_holds_every_design_id():
    assert len(DESIGN_IDS) == 36 and DESIGN_IDS[-1] == "connectivity.local_only"
    assert set(DESIGN_IDS) < set(CATALOGUE)
    assert finding_key({"id": "a.b", "cluster": "c"}) == "a.b@c"


def test_clusters_sort_naturally():
    found = [Finding("cluster.unreachable", c, "x").to_dict() for c in ("cluster10", "cluster2", "cluster1")]
    assert [f["cluster"] for f in sort_findings(found)] == ["cluster1", "cluster2", "cluster10"]
