"""Issue 15 item 6: every value meshmend writes as a label or a Secret key is checked against Kubernetes'
syntax before any write (measured before: meshmend_network over 63 characters or with spaces went to the
API server, and a lab without validation let it through)."""
import copy

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import diagnose
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import secret_key_errors
from ansible_collections.meshmend.multicluster.plugins.module_utils.remediation import build_plan
from ansible_collections.meshmend.multicluster.plugins.module_utils.writes import RefusedChange, label_patch

from checks_facts import NOW, build_mesh


@pytest.mark.parametrize("value", ["n" * 64, "network 1", "-net", "net/1"])
def test_label_patch_refuses_what_the_api_server_would(value):
    with pytest.raises(RefusedChange) as exc:
        label_patch({"metadata": {"labels": {}}}, "topology.istio.io/network", value, False, "Namespace istio-system")
    assert "is not valid in Kubernetes" in str(exc.value) and "Namespace istio-system" in str(exc.value)


def test_label_patch_accepts_a_valid_value():
    assert label_patch({"metadata": {}}, "topology.istio.io/network", "n" * 63, False, "x") == {
        "metadata": {"labels": {"topology.istio.io/network": "n" * 63}}}


@pytest.mark.parametrize("value", ["network 1", "n" * 64])
def test_invalid_declared_network_is_skipped_not_planned(value):
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["namespace"]["labels"] = {}
    mesh["cluster1"]["declared"]["network"] = value
    result = diagnose(copy.deepcopy(mesh), {"now": NOW})
    plan = build_plan([f.to_dict() for f in result.findings], result.model)
    assert not [a for a in plan["actions"] if a["category"] == "network_labels" and a["cluster"] == "cluster1"]
    reasons = [s["reason"] for s in plan["skipped"] if s["category"] == "network_labels"]
    assert any("is not a valid label value" in r and "meshmend_network" in r for r in reasons), plan["skipped"]


def test_secret_keys():
    assert secret_key_errors("cluster2") == []
    assert secret_key_errors("Kubernetes") == []
    assert secret_key_errors("a/b") and secret_key_errors("..x") and secret_key_errors("x" * 254)
    assert secret_key_errors("bad key")
