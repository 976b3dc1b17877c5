"""Outcomes of applied actions and the before/after comparison."""
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import Finding
from ansible_collections.meshmend.multicluster.plugins.module_utils.remediation import (
    compare_findings, outcome_from_result,
)

ACTION = {"cluster": "cluster1", "category": "network_labels", "module": "network_label_fix",
          "description": "label namespace istio-system", "fixes": ["network.namespace_label_missing@cluster1"]}


def test_outcome_keeps_no_module_output():
    ok = outcome_from_result({"item": ACTION, "changed": True, "diff": {"before": 1}, "objects": [1]})
    assert ok == {"cluster": "cluster1", "category": "network_labels", "module": "network_label_fix", "peer": None,
                  "description": "label namespace istio-system", "fixes": ["network.namespace_label_missing@cluster1"],
                  "changed": True, "failed": False, "skipped": False, "msg": None}
    bad = outcome_from_result({"item": ACTION, "failed": True, "changed": False, "msg": "conflict"})
    assert bad["failed"] and bad["msg"] == "conflict" and not bad["changed"]


def test_compare_fixed_remaining_new():
    a = Finding("network.namespace_label_missing", "cluster1", "m").to_dict()
    b = Finding("trust.root_mismatch", "cluster2", "m", peer="cluster1").to_dict()
    c = Finding("locality.prefers_local", "cluster1", "m").to_dict()
    d = Finding("remote_secret.not_synced", "cluster1", "m", peer="cluster2").to_dict()
    out = compare_findings([a, b, c], [b, c, d], [outcome_from_result({"item": ACTION, "changed": True})])
    assert out["fixed"] == ["network.namespace_label_missing@cluster1"]
    assert out["remaining"] == ["locality.prefers_local@cluster1", "trust.root_mismatch@cluster2->cluster1"]
    assert out["new"] == ["remote_secret.not_synced@cluster1->cluster2"]
    assert out["before"]["error"] == 2 and out["after"]["error"] == 1
    assert "applied 1 action(s): 1 changed, 0 unchanged, 0 failed" in out["lines"]
    # info findings are not listed as remaining problems
    assert not any("locality" in line for line in out["lines"] if line.startswith("remaining"))


def test_compare_in_check_mode_says_nothing_was_written():
    out = compare_findings([], [], [outcome_from_result({"item": ACTION, "changed": True})], check_mode=True)
    assert out["lines"][0].startswith("check mode: nothing was written")
    assert out["lines"][1].startswith("would change cluster1 [network_labels]")
