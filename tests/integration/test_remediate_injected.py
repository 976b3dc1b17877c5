"""remediate on faults injected with kubectl into a healthy lab: values that must be *replaced*.

- the east-west gateway of cluster1 relabelled to a wrong network (fixed because the inventory
  declares meshmend_network=network1);
- cluster2's remote secret for cluster1 re-keyed to a wrong cluster ID (re-keyed back).
"""
import json

import pytest
import yaml

from labutil import start_lab
from leak_runs import scanned_playbook
from leakcheck import lab_secrets
from remediate_helpers import finding_ids, kubectl, recap, report, writes

LABEL = "topology.istio.io/network"


@pytest.fixture
def lab(tmp_path):
    lab = start_lab("healthy-multinetwork", str(tmp_path / "lab"))
    try:
        lab_secrets(lab)   # the credentials to look for, read before a test injects a fault
        yield lab
    finally:
        lab.stop()


def _inject(lab):
    kubectl(lab, "--context", "cluster1", "-n", "istio-system", "label", "service", "istio-eastwestgateway",
            "%s=wrongnet" % LABEL, "--overwrite")
    secret = json.loads(kubectl(lab, "--context", "cluster2", "-n", "istio-system", "get", "secret",
                                "istio-remote-secret-cluster1", "-o", "json"))
    secret["data"] = {"wrong-id": secret["data"]["cluster1"]}
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        secret["metadata"].pop(key, None)
    path = lab.state_dir + "/rekeyed.json"
    with open(path, "w") as fh:
        json.dump(secret, fh)
    kubectl(lab, "--context", "cluster2", "replace", "-f", path)


def test_wrong_values_are_replaced_and_rekeyed(lab, tmp_path):
    _inject(lab)
    declared = str(tmp_path / "declared.yml")
    with open(declared, "w") as fh:
        yaml.safe_dump({"all": {"hosts": {"cluster1": {"meshmend_network": "network1"},
                                          "cluster2": {"meshmend_network": "network2"}}}}, fh)
    inv = [lab.inventory, declared]
    cats = ["network_labels", "remote_secrets"]

    lab.ctl("reset-stats")
    rc, out = scanned_playbook(lab, "remediate.yml", inv, tmp_path / "check", categories=cats, check=True)
    assert rc == 0, out
    before = finding_ids(report(tmp_path / "check" / "before"))
    assert ("eastwest_gateway.network_label_mismatch", "cluster1", None) in before
    assert ("remote_secret.key_mismatch", "cluster2", "cluster1") in before
    assert "-            %s: wrongnet" % LABEL in out or "wrongnet" in out
    assert "- wrong-id" in out  # the key that re-keying removes, in the diff
    assert sum(writes(lab.stats()).values()) == 0

    rc, out = scanned_playbook(lab, "remediate.yml", inv, tmp_path / "apply", categories=cats)
    assert rc == 0, out
    assert report(tmp_path / "apply")["summary"]["counts"]["error"] == 0, finding_ids(report(tmp_path / "apply"))
    labels = json.loads(kubectl(lab, "--context", "cluster1", "-n", "istio-system", "get", "service",
                                "istio-eastwestgateway", "-o", "json"))["metadata"]["labels"]
    assert labels[LABEL] == "network1"
    keys = json.loads(kubectl(lab, "--context", "cluster2", "-n", "istio-system", "get", "secret",
                              "istio-remote-secret-cluster1", "-o", "json"))["data"]
    assert sorted(keys) == ["cluster1"]

    lab.ctl("reset-stats")
    rc, out = scanned_playbook(lab, "remediate.yml", inv, tmp_path / "again", categories=cats)
    assert rc == 0, out
    assert all(h.get("changed", 0) == 0 for h in recap(out).values()), recap(out)
    assert sum(writes(lab.stats()).values()) == 0


def test_wrong_label_without_declared_network_is_refused_not_replaced(lab, tmp_path):
    kubectl(lab, "--context", "cluster1", "-n", "istio-system", "label", "service", "istio-eastwestgateway",
            "%s=wrongnet" % LABEL, "--overwrite")
    kubectl(lab, "--context", "cluster1", "label", "namespace", "istio-system", "%s=wrongnet" % LABEL, "--overwrite")
    rc, out = scanned_playbook(lab, "remediate.yml", [lab.inventory], tmp_path / "apply", categories=["network_labels"],
                               fail_on="never")
    assert rc == 0, out
    assert "meshmend_remediate_force=true" in out
    labels = json.loads(kubectl(lab, "--context", "cluster1", "get", "namespace", "istio-system",
                                "-o", "json"))["metadata"]["labels"]
    assert labels[LABEL] == "wrongnet"


def test_a_failed_fix_is_named_and_does_not_stop_the_others(tmp_path):
    from remediate_helpers import gateway_inventory
    demo = start_lab("demo", str(tmp_path / "demo-lab"))
    try:
        lab_secrets(demo)
        # cluster2 lost its reader ServiceAccount: no token can be issued for cluster1's remote secret
        kubectl(demo, "--context", "cluster2", "-n", "istio-system", "delete", "serviceaccount",
                "istio-reader-service-account")
        inv = [demo.inventory, gateway_inventory(demo, str(tmp_path / "gw.yml"), {"cluster2": "172.18.2.100"})]
        rc, out = scanned_playbook(demo, "remediate.yml", inv, tmp_path / "apply", fail_on="never")
        assert rc != 0, out
        assert "1 fix(es) failed" in out
        assert "peer cluster2 has no ServiceAccount istio-system/istio-reader-service-account" in out
        after = finding_ids(report(tmp_path / "apply"))
        assert ("remote_secret.missing", "cluster1", "cluster2") in after
        assert ("network.namespace_label_missing", "cluster2", None) not in after
        assert ("eastwest_gateway.external_ip_pending", "cluster2", None) not in after
    finally:
        demo.stop()
