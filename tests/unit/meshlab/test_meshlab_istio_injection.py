"""Sidecar injection as the webhook does it (istio-facts section 4)."""
import json

from meshlab.istio.injection import inject, should_inject, admission
from meshlab.istio.world import DictWorld

VALUES = {"global": {"network": "network1", "meshID": "mesh1", "multiCluster": {"clusterName": "cluster1"}}}


def _pod(labels=None, annotations=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "sleep-1", "namespace": "sample", "labels": labels or {"app": "sleep"},
                         "annotations": annotations or {}},
            "spec": {"containers": [{"name": "sleep", "image": "curlimages/curl"}]}}


def _ns(labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sample", "labels": labels}}


def _env(pod):
    c = next(c for c in pod["spec"]["containers"] if c["name"] == "istio-proxy")
    return {e["name"]: e.get("value") for e in c["env"]}


def test_selection_rules():
    assert should_inject(_ns({"istio-injection": "enabled"}), _pod())
    assert should_inject(_ns({"istio.io/rev": "canary"}), _pod())
    assert not should_inject(_ns({}), _pod())
    assert not should_inject(_ns({"istio-injection": "enabled"}), _pod(annotations={"sidecar.istio.io/inject": "false"}))
    assert not should_inject(None, _pod())


def test_injected_pod_carries_network_cluster_mesh():
    pod = inject(_pod(), VALUES, {"defaultConfig": {"discoveryAddress": "istiod-remote.istio-system.svc:15012"}})
    env = _env(pod)
    assert env["ISTIO_META_NETWORK"] == "network1"
    assert env["ISTIO_META_CLUSTER_ID"] == "cluster1"
    assert env["ISTIO_META_MESH_ID"] == "mesh1"
    assert json.loads(env["PROXY_CONFIG"])["discoveryAddress"] == "istiod-remote.istio-system.svc:15012"
    md = pod["metadata"]
    assert md["labels"]["topology.istio.io/network"] == "network1"
    assert md["labels"]["security.istio.io/tlsMode"] == "istio"
    assert md["labels"]["service.istio.io/canonical-name"] == "sleep"
    status = json.loads(md["annotations"]["sidecar.istio.io/status"])
    assert status["containers"] == ["istio-proxy"] and status["initContainers"] == ["istio-init"]
    assert pod["spec"]["initContainers"][0]["name"] == "istio-init"


def test_existing_network_label_wins_and_defaults():
    pod = inject(_pod(labels={"app": "x", "topology.istio.io/network": "other"}), VALUES)
    assert pod["metadata"]["labels"]["topology.istio.io/network"] == "other"
    pod = inject(_pod(), {"global": {}})
    env = _env(pod)
    assert "ISTIO_META_NETWORK" not in env  # the template omits it when values.global.network is unset
    assert env["ISTIO_META_CLUSTER_ID"] == "Kubernetes"
    assert "topology.istio.io/network" not in pod["metadata"]["labels"]


def test_admission_reads_the_configmap_and_needs_one():
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
          "data": {"values": json.dumps(VALUES)}}
    w = DictWorld({"c1": [_ns({"istio-injection": "enabled"}), cm]})
    out = admission(w, "c1", _pod())
    assert _env(out)["ISTIO_META_NETWORK"] == "network1"
    w = DictWorld({"c1": [_ns({"istio-injection": "enabled"})]})
    assert admission(w, "c1", _pod()) == _pod()   # no injector installed: untouched
