"""Inventories as they are (issue 13): several hosts for one cluster are one cluster."""
import copy

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import diagnose
from ansible_collections.meshmend.multicluster.plugins.module_utils.remediation import build_plan

from checks_facts import NOW, build_mesh, by_key, run

ARN = "arn:aws:eks:us-east-1:123456789012:cluster/prod-east"


def _aliased():
    mesh = build_mesh("multinetwork")
    # the same API server under an EKS ARN context, spelled another way
    alias = copy.deepcopy(mesh["cluster2"])
    alias.update(cluster=ARN, context=ARN, server=mesh["cluster2"]["server"].upper() + "/")
    mesh[ARN] = alias
    return mesh


def test_two_contexts_for_one_cluster_are_one_cluster():
    found = by_key(run(_aliased()))
    assert list(found) == ["cluster.same_cluster@%s->cluster2" % ARN]
    f = found["cluster.same_cluster@%s->cluster2" % ARN]
    assert f.severity == "info" and "diagnosed once, as cluster2" in f.message


def test_the_alias_never_causes_a_duplicate_id_or_a_second_secret():
    mesh = _aliased()
    mesh["cluster1"]["remote_secrets"] = []
    result = diagnose(copy.deepcopy(mesh), {"now": NOW})
    keys = [f.key for f in result.findings]
    assert not [k for k in keys if k.startswith("cluster.duplicate_id")]
    assert [k for k in keys if k.startswith("remote_secret.missing")] == ["remote_secret.missing@cluster1->cluster2"]
    plan = build_plan([f.to_dict() for f in result.findings], result.model)
    secrets = [a for a in plan["actions"] if a["category"] == "remote_secrets"]
    assert [(a["cluster"], a["peer"], a["params"]["name"]) for a in secrets] == [
        ("cluster1", "cluster2", "istio-remote-secret-cluster2")]
    assert result.model["clusters"][ARN]["alias_of"] == "cluster2"


def test_a_valid_kubernetes_name_is_kept_whatever_the_order():
    mesh = build_mesh("multinetwork")
    mesh["a-cluster2"] = copy.deepcopy(mesh["cluster2"])
    mesh["a-cluster2"].update(cluster="a-cluster2", context="a-cluster2")
    # both names are valid: natural order decides, and the other is the alias
    assert list(by_key(run(mesh))) == ["cluster.same_cluster@cluster2->a-cluster2"]


def test_different_cluster_ids_behind_one_server_are_not_merged():
    mesh = _aliased()
    mesh[ARN]["cluster_id"] = "other"
    mesh[ARN]["istiod"]["cluster_id"] = "other"
    assert "cluster.same_cluster@%s->cluster2" % ARN not in by_key(run(mesh))
