"""Sidecar injection as istiod's webhook does it: where istio-proxy lands per release, env, labels, annotations.

The expectations are Istio's (istio/istio at the release tags): pkg/kube/inject/webhook.go DetectNativeSidecar
and reorderPod, the injection template's $nativeSidecar expression per release, and the golden files
pkg/kube/inject/testdata/inject/native-sidecar-opt-in.yaml.injected / native-sidecar-opt-out.yaml.injected.
"""
import json

import pytest

from meshlab.istio.injection import (inject, should_inject, admission, native_sidecar, detect_native_sidecar,
                                     kubelet_minor, proxy_container)
from meshlab.istio.world import DictWorld

VALUES = {"global": {"network": "network1", "meshID": "mesh1", "multiCluster": {"clusterName": "cluster1"}}}


def _pod(labels=None, annotations=None, init=None, node=None):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "sleep-1", "namespace": "sample", "labels": labels or {"app": "sleep"},
                        "annotations": annotations or {}},
           "spec": {"containers": [{"name": "sleep", "image": "curlimages/curl",
                                    "ports": [{"name": "http", "containerPort": 80}]}]}}
    if init:
        pod["spec"]["initContainers"] = init
    if node:
        pod["spec"]["nodeName"] = node
    return pod


def _ns(labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sample", "labels": labels}}


def _node(name, kubelet):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"nodeInfo": {"kubeletVersion": kubelet}}}


def _env(pod):
    c, _ = proxy_container(pod)
    return {e["name"]: e.get("value") for e in c["env"]}


def _names(cs):
    return [c["name"] for c in cs or []]


def test_selection_rules():
    assert should_inject(_ns({"istio-injection": "enabled"}), _pod())
    assert should_inject(_ns({"istio.io/rev": "canary"}), _pod())
    assert not should_inject(_ns({}), _pod())
    assert not should_inject(_ns({"istio-injection": "enabled"}), _pod(annotations={"sidecar.istio.io/inject": "false"}))
    assert not should_inject(None, _pod())
    native = inject(_pod(), VALUES, native=True)
    assert not should_inject(_ns({"istio-injection": "enabled"}), native)   # already injected, either placement


def test_injected_pod_carries_network_cluster_mesh():
    pod = inject(_pod(), VALUES, {"defaultConfig": {"discoveryAddress": "istiod-remote.istio-system.svc:15012"}})
    env = _env(pod)
    assert env["ISTIO_META_NETWORK"] == "network1"
    assert env["ISTIO_META_CLUSTER_ID"] == "cluster1"
    assert env["ISTIO_META_MESH_ID"] == "mesh1"
    assert env["ISTIO_META_APP_CONTAINERS"] == "sleep"
    assert env["ISTIO_META_POD_PORTS"] == '[\n    {"name":"http","containerPort":80}\n]'
    assert json.loads(env["PROXY_CONFIG"])["discoveryAddress"] == "istiod-remote.istio-system.svc:15012"
    md = pod["metadata"]
    assert md["labels"]["topology.istio.io/network"] == "network1"
    assert md["labels"]["security.istio.io/tlsMode"] == "istio"
    assert md["labels"]["service.istio.io/canonical-name"] == "sleep"
    assert md["annotations"]["istio.io/rev"] == "default"
    assert md["annotations"]["kubectl.kubernetes.io/default-container"] == "sleep"
    assert md["annotations"]["kubectl.kubernetes.io/default-logs-container"] == "sleep"


def test_classic_placement_matches_the_opt_out_golden():
    """native-sidecar-opt-out.yaml.injected: proxy last in containers, istio-init last in initContainers."""
    pod = inject(_pod(init=[{"name": "migrate", "image": "busybox"}]), VALUES, native=False)
    assert _names(pod["spec"]["containers"]) == ["sleep", "istio-proxy"]
    assert _names(pod["spec"]["initContainers"]) == ["migrate", "istio-init"]
    proxy, where = proxy_container(pod)
    assert where == "containers" and "restartPolicy" not in proxy
    assert proxy["startupProbe"]["httpGet"] == {"path": "/healthz/ready", "port": 15021}
    assert proxy["readinessProbe"]["failureThreshold"] == 4
    status = json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])
    assert status["initContainers"] == ["istio-init"] and status["containers"] == ["istio-proxy"]
    assert pod["metadata"]["annotations"]["sidecar.istio.io/status"].startswith(
        '{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["workload-socket",')


def test_native_placement_matches_the_opt_in_golden():
    """native-sidecar-opt-in.yaml.injected: istio-init, istio-proxy (restartPolicy Always), then the pod's own
    init containers; no istio-proxy in containers; status lists both as initContainers and containers null."""
    pod = inject(_pod(init=[{"name": "other-sidecar", "image": "x", "restartPolicy": "Always"}]), VALUES, native=True)
    assert _names(pod["spec"]["containers"]) == ["sleep"]
    assert _names(pod["spec"]["initContainers"]) == ["istio-init", "istio-proxy", "other-sidecar"]
    proxy, where = proxy_container(pod)
    assert where == "initContainers" and proxy["restartPolicy"] == "Always"
    assert proxy["lifecycle"]["preStop"]["exec"]["command"] == [
        "pilot-agent", "request", "--debug-port=15020", "POST", "drain"]
    assert proxy["startupProbe"]["failureThreshold"] == 600
    status = json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])
    assert status["initContainers"] == ["istio-init", "istio-proxy"] and status["containers"] is None
    assert _env(pod)["ISTIO_META_APP_CONTAINERS"] == "sleep"


def test_hold_application_puts_the_classic_proxy_first():
    pod = inject(_pod(), VALUES, {"defaultConfig": {"holdApplicationUntilProxyStarts": True}}, native=False)
    assert _names(pod["spec"]["containers"]) == ["istio-proxy", "sleep"]


def test_existing_network_label_wins_and_defaults():
    pod = inject(_pod(labels={"app": "x", "topology.istio.io/network": "other"}), VALUES)
    assert pod["metadata"]["labels"]["topology.istio.io/network"] == "other"
    pod = inject(_pod(), {"global": {}})
    env = _env(pod)
    assert "ISTIO_META_NETWORK" not in env  # the template omits it when values.global.network is unset
    assert env["ISTIO_META_CLUSTER_ID"] == "Kubernetes"
    assert "topology.istio.io/network" not in pod["metadata"]["labels"]


def test_workload_name_and_owner_come_from_the_deployment():
    pod = _pod(labels={"app": "helloworld", "pod-template-hash": "5b6495d76"})
    pod["metadata"]["generateName"] = "helloworld-v1-5b6495d76-"
    pod["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                           "name": "helloworld-v1-5b6495d76", "controller": True}]
    env = _env(inject(pod, VALUES))
    assert env["ISTIO_META_WORKLOAD_NAME"] == "helloworld-v1"
    assert env["ISTIO_META_OWNER"] == "kubernetes://apis/apps/v1/namespaces/sample/deployments/helloworld-v1"


@pytest.mark.parametrize("version,kubelet_minor_ok,minor", [
    ("v1.33.0", True, 33), ("v1.36.1", True, 36), ("1.34.2-eks-abcdef", True, 34), ("v1.32.9", False, 32),
    ("v1.29.0+k3s1", False, 29), ("garbage", False, None), ("", False, None)])
def test_kubelet_versions(version, kubelet_minor_ok, minor):
    assert kubelet_minor(version) == minor
    assert detect_native_sidecar("auto", [_node("n1", version)]) is kubelet_minor_ok


def test_detect_native_sidecar_modes_and_nodes():
    new, old = _node("new", "v1.33.1"), _node("old", "v1.32.4")
    assert detect_native_sidecar(None, [new]) is True                 # unset = auto
    assert detect_native_sidecar("auto", [new, old]) is False         # any older node disables it
    assert detect_native_sidecar("auto", [new, old], "new") is True   # a scheduled pod: only its node counts
    assert detect_native_sidecar("auto", [new, old], "gone") is False  # unknown node: every node again
    assert detect_native_sidecar("auto", []) is True                  # no nodes at all: nothing disables it
    assert detect_native_sidecar("auto", None) is False               # no client for that cluster
    assert detect_native_sidecar("true", [old]) is True
    assert detect_native_sidecar("false", [new]) is False
    assert detect_native_sidecar("yes", [new]) is False               # unknown value: "defaulting to false"


@pytest.mark.parametrize("version,env,annotation,expected", [
    ((1, 18), "true", "true", False),    # no such feature yet
    ((1, 19), None, None, False),
    ((1, 19), "true", None, True),       # template: eq (env "ENABLE_NATIVE_SIDECARS" "false") "true"
    ((1, 23), "True", None, False),      # a string compare in the template
    ((1, 23), None, "true", False),      # the annotation is not read before 1.24
    ((1, 24), None, "true", True),
    ((1, 26), "true", "false", False),   # a set annotation decides
    ((1, 26), "true", "", False),        # isset: an empty annotation is set and is not "true"
    ((1, 26), "true", None, True),
    ((1, 26), None, None, False),        # bool feature, default false
    ((1, 27), None, None, True),         # auto on new nodes
    ((1, 27), "false", None, False),
    ((1, 27), "false", "true", True),    # annotation wins
    ((1, 30), None, "false", False),
    ((1, 30), None, "anything", True),   # ne ... "false"
    ((1, 30), None, "", True),           # empty annotation: the default (auto) applies
])
def test_native_rule_per_release(version, env, annotation, expected):
    assert native_sidecar(version, env, annotation, [_node("n", "v1.36.1")]) is expected


def _cluster(kubelet, env=None, image="docker.io/istio/pilot:1.30.3"):
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
          "data": {"values": json.dumps(VALUES)}}
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "istiod", "namespace": "istio-system"},
           "spec": {"replicas": 1, "template": {"spec": {"containers": [
               {"name": "discovery", "image": image, "env": [{"name": "ENABLE_NATIVE_SIDECARS", "value": env}]
                if env else []}]}}}}
    return [_ns({"istio-injection": "enabled"}), cm, dep, _node("c1-node-1", kubelet)]


@pytest.mark.parametrize("kubelet,env,image,where", [
    ("v1.36.1", None, "docker.io/istio/pilot:1.30.3", "initContainers"),
    ("v1.33.0", None, "docker.io/istio/pilot:1.27.0", "initContainers"),
    ("v1.32.9", None, "docker.io/istio/pilot:1.30.3", "containers"),
    ("v1.36.1", "false", "docker.io/istio/pilot:1.30.3", "containers"),
    ("v1.36.1", None, "docker.io/istio/pilot:1.26.2", "containers"),
    ("v1.31.0", "true", "docker.io/istio/pilot:1.26.2", "initContainers"),
])
def test_admission_models_the_release_and_the_nodes(kubelet, env, image, where):
    w = DictWorld({"c1": _cluster(kubelet, env, image)})
    out = admission(w, "c1", _pod())
    assert proxy_container(out)[1] == where
    assert _env(out)["ISTIO_META_NETWORK"] == "network1"
    assert proxy_container(out)[0]["image"] == "docker.io/istio/proxyv2:" + image.rsplit(":", 1)[1]


def test_admission_needs_an_injector():
    w = DictWorld({"c1": [_ns({"istio-injection": "enabled"})]})
    assert admission(w, "c1", _pod()) == _pod()   # no injector installed: untouched


def test_remote_cluster_nodes_come_through_the_primarys_secret():
    """The webhook serving a remote cluster reads that cluster's Nodes through the primary's registry
    (KclientComponent.ForCluster): no remote secret for it, no client, no native sidecar."""
    from meshlab.istio.injection import webhook_nodes
    remote_nodes = [_node("c2-node-1", "v1.36.1")]
    w = DictWorld({"c1": [_node("c1-node-1", "v1.36.1")], "c2": list(remote_nodes)})
    assert webhook_nodes(w, "c2", "c2", "c2") == remote_nodes           # its own istiod: its own nodes
    assert webhook_nodes(w, "c1", "c2", "c2") is None                   # served by c1, which has no secret for c2
    pending = {"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "istio-remote-secret-c2", "namespace": "istio-system",
                            "labels": {"istio/multiCluster": "true"},
                            "annotations": {"meshlab.io/remote-secret-for": "c2"}}, "data": {}}
    w.objects["c1"].append(pending)
    assert webhook_nodes(w, "c1", "c2", "c2") == remote_nodes           # a secret still being filled counts
    assert native_sidecar((1, 30), None, None, None) is False
