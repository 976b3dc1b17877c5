"""Outcomes of applied actions and the before/after comparison."""
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import Finding
from ansible_collections.meshmend.multicluster.plugins.module_utils.remediation_outcomes import (
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
    assert "applied 1 action(s) on 1 cluster(s): 1 changed, 0 unchanged, 0 failed" in out["lines"]
    assert "confirmed by the second diagnosis: 1 fixed" in out["lines"]
    assert out["outcomes"][0]["verdict"] == "fixed"
    # info findings are not listed as remaining problems
    assert not any("locality" in line for line in out["lines"] if line.startswith("remaining"))


def test_compare_in_check_mode_says_nothing_was_written():
    out = compare_findings([], [], [outcome_from_result({"item": ACTION, "changed": True})], check_mode=True)
    assert out["lines"][0].startswith("check mode: nothing was written")
    assert out["lines"][1].startswith("would change cluster1 [network_labels]")


SECRET = {"cluster": "cluster1", "category": "remote_secrets", "module": "remote_secret", "peer": "cluster2",
          "description": "create Secret istio-remote-secret-cluster2",
          "fixes": ["remote_secret.missing@cluster1->cluster2"]}
LABEL2 = {"cluster": "cluster2", "category": "network_labels", "module": "network_label_fix",
          "description": "label namespace istio-system", "fixes": ["network.namespace_label_missing@cluster2"]}


def test_peer_down_between_plan_and_apply_fixes_nothing():
    """Measured in issue 15: the peer went down after the plan, every action failed, and the report
    listed the vanished findings under Fixed. They are not confirmed; the actions failed."""
    missing = Finding("remote_secret.missing", "cluster1", "m", peer="cluster2").to_dict()
    label = Finding("network.namespace_label_missing", "cluster2", "m").to_dict()
    down = Finding("cluster.unreachable", "cluster2", "m").to_dict()
    outcomes = [outcome_from_result({"item": SECRET, "failed": True, "msg": "peer cluster2: connection refused"}),
                outcome_from_result({"item": LABEL2, "failed": True, "msg": "connection refused"})]
    out = compare_findings([missing, label], [down], outcomes)
    assert out["fixed"] == []
    assert out["not_confirmed"] == ["network.namespace_label_missing@cluster2",
                                    "remote_secret.missing@cluster1->cluster2"]
    assert [o["verdict"] for o in out["outcomes"]] == ["failed", "failed"]
    assert out["failed"] == 2 and out["actions"] == 2 and out["clusters"] == 2
    assert "applied 2 action(s) on 2 cluster(s): 0 changed, 0 unchanged, 2 failed" in out["lines"]
    assert "not confirmed: the second diagnosis could not read cluster2" in out["lines"]
    assert not [line for line in out["lines"] if line.startswith("fixed")]


def test_written_but_cluster_unreadable_is_not_confirmed():
    label = Finding("network.namespace_label_missing", "cluster2", "m").to_dict()
    down = Finding("cluster.unreachable", "cluster2", "m").to_dict()
    out = compare_findings([label], [down], [outcome_from_result({"item": LABEL2, "changed": True})])
    assert out["outcomes"][0]["verdict"] == "not confirmed"
    assert out["not_confirmed"] == ["network.namespace_label_missing@cluster2"] and out["fixed"] == []
    assert "not confirmed cluster2 [network_labels]: label namespace istio-system" in out["lines"]


def test_written_but_finding_remains_is_not_fixed():
    label = Finding("network.namespace_label_missing", "cluster2", "m").to_dict()
    out = compare_findings([label], [label], [outcome_from_result({"item": LABEL2, "changed": True})])
    assert out["outcomes"][0]["verdict"] == "not fixed" and out["remaining"] == [label["key"]]
    assert "confirmed by the second diagnosis: 1 not fixed" in out["lines"]


def test_counts_cover_every_cluster():
    outcomes = [outcome_from_result({"item": dict(LABEL2, cluster="cluster%d" % i,
                                                  fixes=["network.namespace_label_missing@cluster%d" % i]),
                                     "changed": True}) for i in range(1, 6)]
    out = compare_findings([], [], outcomes)
    assert out["actions"] == 5 and out["clusters"] == 5 and out["changed"] == 5
    assert out["lines"][0] == "applied 5 action(s) on 5 cluster(s): 5 changed, 0 unchanged, 0 failed"
