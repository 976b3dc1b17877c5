"""Native and classic sidecars on a running lab, through real kubectl and the Python client.

What is expected is Istio's behaviour (istio/istio pkg/kube/inject/webhook.go DetectNativeSidecar and reorderPod,
the 1.30 injection template) and the Kubernetes API's (a native sidecar is an init container with
restartPolicy Always, reported in initContainerStatuses, counted in READY, reachable with exec and logs).
healthy-mixed-sidecars: cluster1's istiod is left at ENABLE_NATIVE_SIDECARS=auto on kubelet 1.36 nodes
(native), cluster2's istiod has ENABLE_NATIVE_SIDECARS=false (classic).
"""
import json
import re
import time

import pytest
from kubernetes import client
from kubernetes.stream import stream

from ansible_collections.meshmend.multicluster.plugins.module_utils.envoy import rows_from_clusters

HW = "outbound|5000||helloworld.sample.svc.cluster.local"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mixed(lab_for):
    return lab_for("healthy-mixed-sidecars")


def kc(lab, ctx, *args, check=True):
    r = lab.kubectl(*args, context=ctx)
    if check and r.returncode != 0:
        raise AssertionError("kubectl %s (%s) failed: %s" % (" ".join(args), ctx, r.stderr))
    return r


def pod_json(lab, ctx, label="app=sleep"):
    items = json.loads(kc(lab, ctx, "-n", "sample", "get", "pod", "-l", label, "-o", "json").stdout)["items"]
    live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 1, [p["metadata"]["name"] for p in items]
    return live[0]


def names(cs):
    return [c["name"] for c in cs or []]


def test_placement_follows_each_istiod_and_its_nodes(mixed):
    for ctx in ("cluster1", "cluster2"):
        node = json.loads(kc(mixed, ctx, "get", "nodes", "-o", "json").stdout)["items"][0]
        assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.36.1"
    native = pod_json(mixed, "cluster1")
    assert names(native["spec"]["initContainers"]) == ["istio-init", "istio-proxy"]
    assert names(native["spec"]["containers"]) == ["sleep"]
    proxy = native["spec"]["initContainers"][1]
    assert proxy["restartPolicy"] == "Always"
    assert proxy["startupProbe"]["httpGet"]["path"] == "/healthz/ready"
    assert proxy["lifecycle"]["preStop"]["exec"]["command"][:2] == ["pilot-agent", "request"]
    assert json.loads(native["metadata"]["annotations"]["sidecar.istio.io/status"])["containers"] is None
    st = {s["name"]: s for s in native["status"]["initContainerStatuses"]}
    assert st["istio-proxy"]["ready"] is True and st["istio-proxy"]["started"] is True
    assert "running" in st["istio-proxy"]["state"] and st["istio-init"]["state"]["terminated"]["reason"] == "Completed"
    assert names(native["status"]["containerStatuses"]) == ["sleep"]
    # the ServiceAccount token is mounted in every container, the injected ones too (admission reinvocation)
    assert any(m["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount" for m in proxy["volumeMounts"])

    classic = pod_json(mixed, "cluster2")
    assert names(classic["spec"]["containers"]) == ["sleep", "istio-proxy"]
    assert names(classic["spec"]["initContainers"]) == ["istio-init"]
    assert "restartPolicy" not in classic["spec"]["containers"][1]
    assert json.loads(classic["metadata"]["annotations"]["sidecar.istio.io/status"])["containers"] == ["istio-proxy"]

    for ctx in ("cluster1", "cluster2"):
        rows = kc(mixed, ctx, "-n", "sample", "get", "pods").stdout.splitlines()[1:]
        assert rows and all(re.split(r"\s+", r)[1:3] == ["2/2", "Running"] for r in rows), rows


def test_exec_logs_envoy_admin_and_traffic_in_both_placements(mixed):
    for ctx, peer in (("cluster1", "cluster2"), ("cluster2", "cluster1")):
        pod = pod_json(mixed, ctx)["metadata"]["name"]
        out = kc(mixed, ctx, "-n", "sample", "exec", pod, "-c", "istio-proxy", "--", "pilot-agent", "request", "GET",
                 "clusters?format=json").stdout
        ports = sorted(r["port"] for r in rows_from_clusters(out) if r["cluster"] == HW)
        assert ports == [5000, 15443]
        r = kc(mixed, ctx, "-n", "sample", "logs", pod, "-c", "istio-proxy", check=False)
        assert r.returncode == 0, r.stderr
        # istio-init ran to completion: nothing to exec into
        r = kc(mixed, ctx, "-n", "sample", "exec", pod, "-c", "istio-init", "--", "true", check=False)
        assert r.returncode == 1
        assert r.stderr.strip() == 'error: unable to upgrade connection: container not found ("istio-init")'
        # kubectl.kubernetes.io/default-container points exec at the app, whichever placement the proxy has
        out = kc(mixed, ctx, "-n", "sample", "exec", pod, "--", "sh", "-c",
                 "for i in $(seq 8); do curl -sS -m 2 helloworld.sample:5000/hello; echo; done").stdout
        assert {ln.split(",")[0] for ln in out.splitlines() if ln} == {"Hello version: v1", "Hello version: v2"}


def test_python_client_sees_the_native_sidecar(mixed):
    api = client.CoreV1Api(mixed.api_client("cluster1"))
    pod = api.list_namespaced_pod("sample", label_selector="app=sleep").items[0]
    proxy = [c for c in pod.spec.init_containers if c.name == "istio-proxy"][0]
    assert proxy.restart_policy == "Always"
    st = [s for s in pod.status.init_container_statuses if s.name == "istio-proxy"][0]
    assert st.ready and st.started and st.state.running is not None
    out = stream(api.connect_get_namespaced_pod_exec, pod.metadata.name, "sample", container="istio-proxy",
                 command=["pilot-agent", "request", "GET", "server_info"], stderr=True, stdin=False, stdout=True,
                 tty=False)
    assert json.loads(out)["state"] == "LIVE"


def _wait_new_pod(lab, ctx, old_name, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = json.loads(kc(lab, ctx, "-n", "sample", "get", "pod", "-l", "app=sleep", "-o", "json").stdout)["items"]
        live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
        if len(items) == 1 and live and live[0]["metadata"]["name"] != old_name:
            return live[0]
        time.sleep(0.2)
    raise AssertionError("no new sleep pod in %s" % ctx)


def test_rollout_restart_reinjects_in_the_same_placement(mixed):
    for ctx, where in (("cluster1", "initContainers"), ("cluster2", "containers")):
        old = pod_json(mixed, ctx)["metadata"]["name"]
        kc(mixed, ctx, "-n", "sample", "rollout", "restart", "deploy/sleep")
        kc(mixed, ctx, "-n", "sample", "rollout", "status", "deploy/sleep", "--timeout=30s")
        new = _wait_new_pod(mixed, ctx, old)
        assert "istio-proxy" in names(new["spec"][where])


def test_istiod_setting_applies_to_pods_injected_after_it(mixed):
    """ENABLE_NATIVE_SIDECARS=false on cluster1's istiod: running pods keep their placement; a pod created
    afterwards is classic. Back to auto: the next pod is native again."""
    try:
        kc(mixed, "cluster1", "-n", "istio-system", "set", "env", "deploy/istiod", "ENABLE_NATIVE_SIDECARS=false")
        before = pod_json(mixed, "cluster1")
        assert "istio-proxy" in names(before["spec"]["initContainers"])
        kc(mixed, "cluster1", "-n", "sample", "delete", "pod", before["metadata"]["name"], "--wait=true")
        after = _wait_new_pod(mixed, "cluster1", before["metadata"]["name"])
        assert names(after["spec"]["containers"]) == ["sleep", "istio-proxy"]
    finally:
        kc(mixed, "cluster1", "-n", "istio-system", "set", "env", "deploy/istiod", "ENABLE_NATIVE_SIDECARS-")
    old = pod_json(mixed, "cluster1")["metadata"]["name"]
    kc(mixed, "cluster1", "-n", "sample", "delete", "pod", old, "--wait=true")
    assert "istio-proxy" in names(_wait_new_pod(mixed, "cluster1", old)["spec"]["initContainers"])


def test_old_kubelets_give_classic_until_the_pod_opts_in(lab_for):
    lab = lab_for("healthy-classic-sidecars")
    node = json.loads(kc(lab, "cluster1", "get", "nodes", "-o", "json").stdout)["items"][0]
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.32.9"
    pod = pod_json(lab, "cluster1")
    assert names(pod["spec"]["containers"]) == ["sleep", "istio-proxy"]
    # the pod annotation sidecar.istio.io/nativeSidecar takes precedence over istiod's detection
    kc(lab, "cluster1", "-n", "sample", "patch", "deploy", "sleep", "--type=merge", "-p",
       json.dumps({"spec": {"template": {"metadata": {"annotations": {"sidecar.istio.io/nativeSidecar": "true"}}}}}))
    kc(lab, "cluster1", "-n", "sample", "rollout", "status", "deploy/sleep", "--timeout=30s")
    new = _wait_new_pod(lab, "cluster1", pod["metadata"]["name"])
    assert names(new["spec"]["initContainers"]) == ["istio-init", "istio-proxy"]
    assert names(new["spec"]["containers"]) == ["sleep"]
