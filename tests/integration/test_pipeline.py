"""The pipeline as one Python call (issue 14): clients -> facts -> findings, model and report, against a lab."""
import labutil

from ansible_collections.meshmend.multicluster.plugins.module_utils.client import get_client
from ansible_collections.meshmend.multicluster.plugins.module_utils.pipeline import diagnose_facts, gather_clusters
from ansible_collections.meshmend.multicluster.plugins.module_utils.report import render_all


def test_clients_to_report(tmp_path):
    with labutil.start_lab("remote-secret-missing", str(tmp_path / "lab")) as lab:
        clients = dict((name, get_client({"kubeconfig": lab.kubeconfig, "context": name}, cluster=name))
                       for name in lab.contexts)
        facts = gather_clusters(clients)
    assert sorted(facts) == ["cluster1", "cluster2"] and all(f["reachable"] for f in facts.values())
    report = diagnose_facts(facts)
    keys = [f["key"] for f in report["findings"]]
    assert "remote_secret.missing@cluster1->cluster2" in keys
    symptom = [f for f in report["findings"] if f["key"] == "endpoints.remote_missing@cluster1->cluster2"][0]
    assert symptom["caused_by"] == ["remote_secret.missing@cluster1->cluster2"]
    assert report["model"]["clusters"]["cluster1"]["role"] == "primary"
    assert [r["key"] for r in report["root_causes"]] == ["remote_secret.missing@cluster1->cluster2"]
    assert report["failed"] is True
    rendered = render_all(report, formats=["markdown", "junit"])
    assert "remote_secret.missing" in rendered["markdown"] and "<testsuite" in rendered["junit"]
