"""The basics written once (k8s.py, istio.py, urls.py): what every other part relies on."""
import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils.facts import sidecar_pod_facts
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import (
    remote_secret_name, sidecar_container, sidecar_env, sidecar_placement,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import (
    dns1123_subdomain_errors, label_key_errors, label_value_errors, owner_deployment, pod_problem, pod_ready,
    selector_matches,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.urls import normalize_server, server_host

PROXY_ENV = [{"name": "ISTIO_META_NETWORK", "value": "network1"},
             {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]


def pod(native, phase="Running", ready="True"):
    proxy = {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.30.3", "env": PROXY_ENV}
    spec = {"initContainers": [{"name": "istio-init", "image": "docker.io/istio/proxyv2:1.30.3"}],
            "containers": [{"name": "sleep", "image": "curlimages/curl"}]}
    if native:
        spec["initContainers"].append(dict(proxy, restartPolicy="Always"))
    else:
        spec["containers"].append(proxy)
    return {"metadata": {"name": "sleep-1", "namespace": "sample",
                         "labels": {"security.istio.io/tlsMode": "istio", "pod-template-hash": "6d68f49858"},
                         "ownerReferences": [{"kind": "ReplicaSet", "name": "sleep-6d68f49858"}]},
            "spec": spec,
            "status": {"phase": phase, "podIP": "10.10.0.7", "conditions": [{"type": "Ready", "status": ready}]}}


@pytest.mark.parametrize("native", [False, True])
def test_sidecar_found_in_both_placements(native):
    p = pod(native)
    assert sidecar_container(p)["name"] == "istio-proxy"
    assert sidecar_placement(p) == ("native" if native else "container")
    # valueFrom is left out: it may reference a Secret
    assert sidecar_env(p) == {"ISTIO_META_NETWORK": "network1"}


def test_init_container_without_restart_policy_is_not_a_sidecar():
    p = pod(True)
    del p["spec"]["initContainers"][1]["restartPolicy"]
    assert sidecar_container(p) is None and sidecar_placement(p) is None


@pytest.mark.parametrize("native", [False, True])
def test_gather_reads_both_placements(native):
    facts = sidecar_pod_facts([pod(native)])
    assert len(facts) == 1
    assert facts[0]["network_env"] == "network1"
    assert facts[0]["sidecar"] == ("native" if native else "container")
    assert facts[0]["ready"] is True


def test_pod_readiness_and_problems():
    assert pod_ready(pod(False))
    assert not pod_ready(pod(False, ready="False"))
    assert not pod_ready(pod(False, phase="Pending"))
    p = pod(True, ready="False")
    p["status"]["initContainerStatuses"] = [
        {"name": "istio-init", "ready": False, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "istio-proxy", "ready": False, "started": True, "state": {"running": {}}}]
    p["status"]["containerStatuses"] = [{"name": "sleep", "ready": True, "state": {"running": {}}}]
    # the completed istio-init is not the problem; the native sidecar that is not ready is
    assert pod_problem(p) == "istio-proxy: not ready"


def test_owner_deployment():
    assert owner_deployment(pod(False)) == "sample/sleep"
    orphan = pod(False)
    orphan["metadata"]["ownerReferences"] = []
    assert owner_deployment(orphan) is None


def test_selectors():
    labels = {"app": "sleep", "v": "1"}
    assert selector_matches(labels, "app=sleep,v=1")
    assert not selector_matches({"app": "sleep"}, "app=sleep,v=1")
    assert selector_matches(labels, "app==sleep,v!=2,!missing,app")
    assert not selector_matches(labels, "!app")
    assert selector_matches(labels, {"app": "sleep"}) and not selector_matches(labels, {"app": "x"})
    assert selector_matches(labels, {}) and selector_matches(labels, "")


def test_server_urls_compare_one_way():
    same = ["https://API.example.com", "https://api.example.com:443/", "api.example.com"]
    assert set(normalize_server(u) for u in same) == {"https://api.example.com:443"}
    assert normalize_server("https://[::1]:6443") == "https://[::1]:6443"
    # a path prefix names a different cluster behind one proxy
    assert normalize_server("https://rancher/k8s/clusters/c-1/") != normalize_server("https://rancher/k8s/clusters/c-2")
    assert normalize_server("") is None and normalize_server("https://:x") is None
    assert server_host("https://[::1]:6443") == "::1" and server_host("HTTPS://Host:1") == "host"


def test_label_syntax_as_the_api_server_says():
    assert label_value_errors("network1") == [] and label_value_errors("") == []
    assert label_value_errors("n" * 64) == ["must be no more than 63 characters"]
    assert "a valid label must be an empty string" in label_value_errors("net work")[0]
    assert label_key_errors("topology.istio.io/network") == []
    assert label_key_errors("bad prefix/x") and label_key_errors("")
    assert dns1123_subdomain_errors("istio-remote-secret-cluster2") == []
    assert dns1123_subdomain_errors("Istio")


def test_remote_secret_name_follows_istioctl_and_stays_valid():
    assert remote_secret_name("cluster2") == "istio-remote-secret-cluster2"
    arn = "arn:aws:eks:us-east-1:123456789012:cluster/prod-east"
    name = remote_secret_name(arn)
    assert dns1123_subdomain_errors(name) == []
    assert name.startswith("istio-remote-secret-arn-aws-eks-us-east-1-123456789012-cluster-prod-east-")
    assert remote_secret_name(arn) != remote_secret_name(arn.upper())
