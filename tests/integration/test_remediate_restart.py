"""Optional restart of stale sidecars (remediate_restart_workloads), after the install's network is fixed.

Scenario network-pod-network-unset: cluster2 was installed without values.global.network. The operator
fixes the install (the injector values) by hand; remediate then labels istio-system and, when asked,
restarts the Deployments whose sidecars still lack ISTIO_META_NETWORK.
"""
import json

import pytest

from labutil import start_lab
from leak_runs import scanned_playbook
from leakcheck import lab_secrets
from remediate_helpers import finding_ids, kubectl, recap, report, writes


@pytest.fixture
def lab(tmp_path):
    lab = start_lab("network-pod-network-unset", str(tmp_path / "lab"))
    try:
        lab_secrets(lab)   # the credentials to look for, read before a test injects a fault
        yield lab
    finally:
        lab.stop()


def _fix_install(lab, network):
    cm = json.loads(kubectl(lab, "--context", "cluster2", "-n", "istio-system", "get", "configmap",
                            "istio-sidecar-injector", "-o", "json"))
    values = json.loads(cm["data"]["values"])
    values.setdefault("global", {})["network"] = network
    patch = json.dumps({"data": {"values": json.dumps(values)}})
    kubectl(lab, "--context", "cluster2", "-n", "istio-system", "patch", "configmap", "istio-sidecar-injector",
            "--type", "merge", "-p", patch)


def _pod_networks(lab):
    pods = json.loads(kubectl(lab, "--context", "cluster2", "-n", "sample", "get", "pods", "-o", "json"))["items"]
    out = {}
    for pod in pods:
        # istio-proxy is a native sidecar (initContainers) on Istio 1.30 with kubelet 1.36 nodes, else a container
        for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
            if c["name"] == "istio-proxy":
                env = dict((e["name"], e.get("value")) for e in c.get("env") or [])
                out[pod["metadata"]["name"]] = env.get("ISTIO_META_NETWORK")
    return out


def test_restart_is_off_by_default_then_fixes_stale_sidecars(lab, tmp_path):
    _fix_install(lab, "network2")
    before = _pod_networks(lab)
    assert before and not any(before.values())

    rc, out = scanned_playbook(lab, "remediate.yml", [lab.inventory], tmp_path / "default", categories=["network_labels"],
                               fail_on="never")
    assert rc == 0, out
    assert ("network.pod_network_unset", "cluster2", None) in finding_ids(report(tmp_path / "default"))
    assert _pod_networks(lab) == before  # nothing restarted without the opt-in

    lab.ctl("reset-stats")
    opt_in = {"meshmend_remediate_restart_workloads": True}
    rc, out = scanned_playbook(lab, "remediate.yml", [lab.inventory], tmp_path / "check", categories=["network_labels"],
                               check=True, extra_vars=opt_in)
    assert rc == 0, out
    assert "restarted_deployments" in out
    assert sum(writes(lab.stats()).values()) == 0

    rc, out = scanned_playbook(lab, "remediate.yml", [lab.inventory], tmp_path / "apply", categories=["network_labels"],
                               extra_vars=opt_in, fail_on="never")
    assert rc == 0, out
    after = _pod_networks(lab)
    assert after and all(v == "network2" for v in after.values()), after
    assert ("network.pod_network_unset", "cluster2", None) not in finding_ids(report(tmp_path / "apply"))

    rc, out = scanned_playbook(lab, "remediate.yml", [lab.inventory], tmp_path / "again", categories=["network_labels"],
                               extra_vars=opt_in, fail_on="never")
    assert rc == 0, out
    assert all(h.get("changed", 0) == 0 for h in recap(out).values()), recap(out)
