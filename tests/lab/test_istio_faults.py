"""The guide's observations on a running healthy-multinetwork lab, through real kubectl, and the same
observations when a fault is injected with kubectl (or meshlab ctl) and undone again."""
import json
import os

import pytest

from labutil import start_lab

from ansible_collections.meshmend.multicluster.plugins.module_utils.envoy import rows_from_clusters
from ansible_collections.meshmend.multicluster.plugins.module_utils.istiod_log import parse_log
import refdata  # noqa: E402

HW = "outbound|5000||helloworld.sample.svc.cluster.local"
CERTS = refdata.ISTIO_CERTS
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = start_lab("healthy-multinetwork", str(tmp_path_factory.mktemp("istio-mn")))
    try:
        yield lab
    finally:
        lab.stop()


def kc(lab, ctx, *args, check=True, input=None):
    r = lab.kubectl(*args, context=ctx, input=input)
    if check and r.returncode != 0:
        raise AssertionError("kubectl %s (%s) failed: %s" % (" ".join(args), ctx, r.stderr))
    return r


def pod_name(lab, ctx, label, ns="sample"):
    return kc(lab, ctx, "-n", ns, "get", "pod", "-l", label, "-o", "jsonpath={.items[0].metadata.name}").stdout


def endpoints(lab, ctx):
    """(address, port) of helloworld in sleep's proxy, as `istioctl proxy-config endpoint` reads them."""
    out = kc(lab, ctx, "-n", "sample", "exec", pod_name(lab, ctx, "app=sleep"), "-c", "istio-proxy", "--",
             "pilot-agent", "request", "GET", "clusters?format=json").stdout
    return sorted((r["address"], r["port"]) for r in rows_from_clusters(out) if r["cluster"] == HW)


def curls(lab, ctx, n=20, timeout=2):
    r = kc(lab, ctx, "-n", "sample", "exec", "deploy/sleep", "-c", "sleep", "--", "sh", "-c",
           "for i in $(seq %d); do curl -sS -m %d helloworld.sample:5000/hello; echo; done" % (n, timeout),
           check=False)
    return [l for l in (r.stdout + r.stderr).splitlines() if l.strip() and not l.startswith("command terminated")]


def versions(lines):
    return {l.split(",")[0] for l in lines}


def pod_ip(lab, ctx, label):
    return kc(lab, ctx, "-n", "sample", "get", "pod", "-l", label, "-o", "jsonpath={.items[0].status.podIP}").stdout


def gw_ip(lab, ctx):
    return kc(lab, ctx, "-n", "istio-system", "get", "svc", "istio-eastwestgateway", "-o",
              "jsonpath={.status.loadBalancer.ingress[0].ip}").stdout


def test_healthy_endpoints_and_traffic(lab):
    assert endpoints(lab, "cluster1") == sorted([(pod_ip(lab, "cluster1", "app=helloworld"), 5000),
                                                 (gw_ip(lab, "cluster2"), 15443)])
    assert endpoints(lab, "cluster2") == sorted([(pod_ip(lab, "cluster2", "app=helloworld"), 5000),
                                                 (gw_ip(lab, "cluster1"), 15443)])
    for ctx in ("cluster1", "cluster2"):
        assert versions(curls(lab, ctx)) == {"Hello version: v1", "Hello version: v2"}


def test_injection_and_root_config_map(lab):
    # Istio 1.30 on kubelet 1.36 nodes: istio-proxy is a native sidecar (an init container, restartPolicy Always)
    pod = json.loads(kc(lab, "cluster2", "-n", "sample", "get", "pod", "-l", "app=sleep", "-o", "json").stdout)["items"][0]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["sleep"]
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["istio-init", "istio-proxy"]
    proxy = pod["spec"]["initContainers"][1]
    assert proxy["restartPolicy"] == "Always"
    assert {e["name"]: e.get("value") for e in proxy["env"]}["ISTIO_META_NETWORK"] == "network2"
    st = {s["name"]: s for s in pod["status"]["initContainerStatuses"]}
    assert st["istio-proxy"]["ready"] is True and "running" in st["istio-proxy"]["state"]
    assert "terminated" in st["istio-init"]["state"]
    status = json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])
    assert status["containers"] is None and status["initContainers"] == ["istio-init", "istio-proxy"]
    root = kc(lab, "cluster1", "-n", "istio-system", "get", "secret", "cacerts", "-o",
              "jsonpath={.data.root-cert\\.pem}").stdout
    import base64
    cm = kc(lab, "cluster1", "-n", "sample", "get", "cm", "istio-ca-root-cert", "-o",
            "jsonpath={.data.root-cert\\.pem}").stdout
    assert cm.strip() == base64.b64decode(root).decode().strip()


def test_istiod_debug_and_logs(lab):
    clusterz = json.loads(kc(lab, "cluster1", "-n", "istio-system", "exec", "deploy/istiod", "--",
                             "pilot-discovery", "request", "GET", "/debug/clusterz").stdout)
    assert {(c["id"], c["syncStatus"]) for c in clusterz} == {("cluster1", "synced"), ("cluster2", "synced")}
    networkz = json.loads(kc(lab, "cluster1", "-n", "istio-system", "exec", "deploy/istiod", "--",
                             "pilot-discovery", "request", "GET", "/debug/networkz").stdout)
    assert {(g["Network"], g["Addr"], g["Port"]) for g in networkz} == {("network1", gw_ip(lab, "cluster1"), 15443),
                                                                        ("network2", gw_ip(lab, "cluster2"), 15443)}
    log = parse_log(kc(lab, "cluster1", "-n", "istio-system", "logs", "deploy/istiod").stdout)
    assert log["errors"] == [] and log["remote_clusters"] == 1


def test_remote_secret_deleted_then_restored(lab):
    saved = kc(lab, "cluster1", "-n", "istio-system", "get", "secret", "istio-remote-secret-cluster2", "-o", "json").stdout
    kc(lab, "cluster1", "-n", "istio-system", "delete", "secret", "istio-remote-secret-cluster2")
    try:
        assert endpoints(lab, "cluster1") == [(pod_ip(lab, "cluster1", "app=helloworld"), 5000)]
        assert versions(curls(lab, "cluster1", 6)) == {"Hello version: v1"}
    finally:
        obj = json.loads(saved)
        for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
            obj["metadata"].pop(k, None)
        kc(lab, "cluster1", "apply", "-f", "-", input=json.dumps(obj))
    assert (gw_ip(lab, "cluster2"), 15443) in endpoints(lab, "cluster1")


def test_gateway_network_label_removed_then_restored(lab):
    kc(lab, "cluster2", "-n", "istio-system", "label", "svc", "istio-eastwestgateway", "topology.istio.io/network-")
    try:
        eps = endpoints(lab, "cluster1")
        assert (pod_ip(lab, "cluster2", "app=helloworld"), 5000) in eps
        assert all(p != 15443 for _, p in eps)
        lines = curls(lab, "cluster1", 4, timeout=1)
        assert any("timed out" in l for l in lines)
    finally:
        kc(lab, "cluster2", "-n", "istio-system", "label", "svc", "istio-eastwestgateway",
           "topology.istio.io/network=network2")
    assert (gw_ip(lab, "cluster2"), 15443) in endpoints(lab, "cluster1")


def test_pending_gateway_fixed_with_external_ips(lab):
    """The guide's fix for <pending>: spec.externalIPs counts as the gateway address."""
    kc(lab, "cluster2", "-n", "istio-system", "patch", "svc", "istio-eastwestgateway", "--type", "merge",
       "-p", '{"spec":{"externalIPs":["198.51.100.20"]}}')
    try:
        assert ("198.51.100.20", 15443) in endpoints(lab, "cluster1")
    finally:
        kc(lab, "cluster2", "-n", "istio-system", "patch", "svc", "istio-eastwestgateway", "--type", "json",
           "-p", '[{"op":"remove","path":"/spec/externalIPs"}]')
    assert ("198.51.100.20", 15443) not in endpoints(lab, "cluster1")


def test_firewall_gives_timeouts(lab):
    lab.ctl("firewall", "deny", "cluster1", "cluster2", "--port", "15443")
    try:
        lines = curls(lab, "cluster1", 6, timeout=1)
        assert any("curl: (28)" in l for l in lines)
        assert "Hello version: v2" not in versions(lines)
    finally:
        lab.ctl("firewall", "allow", "cluster1", "cluster2", "--port", "15443")
    assert versions(curls(lab, "cluster1", 6)) == {"Hello version: v1", "Hello version: v2"}


def test_expose_gateway_deleted_then_restored(lab):
    saved = kc(lab, "cluster2", "-n", "istio-system", "get", "gateways.networking.istio.io", "cross-network-gateway",
               "-o", "json").stdout
    kc(lab, "cluster2", "-n", "istio-system", "delete", "gateways.networking.istio.io", "cross-network-gateway")
    try:
        lines = curls(lab, "cluster1", 6)
        assert any(l.startswith("upstream connect error or disconnect/reset before headers") for l in lines)
    finally:
        obj = json.loads(saved)
        for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
            obj["metadata"].pop(k, None)
        kc(lab, "cluster2", "apply", "-f", "-", input=json.dumps(obj))
    assert versions(curls(lab, "cluster1", 6)) == {"Hello version: v1", "Hello version: v2"}


def test_cacerts_replaced_with_another_root_then_restored(lab):
    saved = kc(lab, "cluster2", "-n", "istio-system", "get", "secret", "cacerts", "-o", "json").stdout
    kc(lab, "cluster2", "-n", "istio-system", "delete", "secret", "cacerts")
    kc(lab, "cluster2", "-n", "istio-system", "create", "secret", "generic", "cacerts",
       *["--from-file=%s=%s" % (k, os.path.join(CERTS, k)) for k in ("ca-cert.pem", "ca-key.pem", "root-cert.pem",
                                                                      "cert-chain.pem")])
    try:
        lines = curls(lab, "cluster1", 6)
        assert any("CERTIFICATE_VERIFY_FAILED" in l for l in lines)
        cm = kc(lab, "cluster2", "-n", "sample", "get", "cm", "istio-ca-root-cert", "-o",
                "jsonpath={.data.root-cert\\.pem}").stdout
        with open(os.path.join(CERTS, "root-cert.pem")) as f:
            assert cm.strip() == f.read().strip()
    finally:
        kc(lab, "cluster2", "-n", "istio-system", "delete", "secret", "cacerts")
        obj = json.loads(saved)
        for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
            obj["metadata"].pop(k, None)
        kc(lab, "cluster2", "apply", "-f", "-", input=json.dumps(obj))
    assert versions(curls(lab, "cluster1", 6)) == {"Hello version: v1", "Hello version: v2"}


def test_remote_api_down_then_up(lab):
    lab.ctl("cluster", "down", "cluster2")
    try:
        clusterz = json.loads(kc(lab, "cluster1", "-n", "istio-system", "exec", "deploy/istiod", "--",
                                 "pilot-discovery", "request", "GET", "/debug/clusterz").stdout)
        assert ("cluster2", "timeout") in {(c["id"], c["syncStatus"]) for c in clusterz}
        assert endpoints(lab, "cluster1") == [(pod_ip(lab, "cluster1", "app=helloworld"), 5000)]
        log = parse_log(kc(lab, "cluster1", "-n", "istio-system", "logs", "deploy/istiod").stdout)
        assert "cluster2" in log["sync_timeouts"]
    finally:
        lab.ctl("cluster", "up", "cluster2")
    assert (gw_ip(lab, "cluster2"), 15443) in endpoints(lab, "cluster1")


def test_uninjected_pods_guide_flow(lab, upstream):
    """The guide's manual test: uninjected helloworld v2 in cluster2, sleep in cluster1, direct pod IP."""
    for ctx in ("cluster1", "cluster2"):
        kc(lab, ctx, "create", "namespace", "uninjected-sample")
    try:
        hw = os.path.join(upstream, "samples", "helloworld.yaml")
        kc(lab, "cluster2", "apply", "-f", hw, "-l", "version=v2", "-n", "uninjected-sample")
        kc(lab, "cluster1", "apply", "-f", os.path.join(upstream, "samples", "sleep.yaml"), "-n", "uninjected-sample")
        ip = kc(lab, "cluster2", "-n", "uninjected-sample", "get", "pod", "-l", "app=helloworld", "-o",
                "jsonpath={.items[0].status.podIP}").stdout
        containers = kc(lab, "cluster2", "-n", "uninjected-sample", "get", "pod", "-l", "app=helloworld", "-o",
                        "jsonpath={.items[0].spec.containers[*].name}").stdout
        assert containers == "helloworld"
        r = kc(lab, "cluster1", "-n", "uninjected-sample", "exec", "deploy/sleep", "--", "curl", "-sS", "-m", "2",
               "%s:5000/hello" % ip, check=False)
        # two networks: pod IPs do not route between the clusters
        assert r.returncode != 0 and "curl: (28)" in r.stderr
    finally:
        for ctx in ("cluster1", "cluster2"):
            kc(lab, ctx, "delete", "namespace", "uninjected-sample", "--wait=false", check=False)


def test_injector_values_change_applies_only_after_restart(lab):
    cm = json.loads(kc(lab, "cluster1", "-n", "istio-system", "get", "cm", "istio-sidecar-injector", "-o", "json").stdout)
    values = json.loads(cm["data"]["values"])
    old = values["global"]["network"]
    values["global"]["network"] = "network9"
    patch = json.dumps({"data": {"values": json.dumps(values)}})
    kc(lab, "cluster1", "-n", "istio-system", "patch", "cm", "istio-sidecar-injector", "--type", "merge", "-p", patch)
    jp = "jsonpath={.items[0].spec.initContainers[*].env[?(@.name=='ISTIO_META_NETWORK')].value}"
    try:
        assert kc(lab, "cluster1", "-n", "sample", "get", "pod", "-l", "app=sleep", "-o", jp).stdout == old
        kc(lab, "cluster1", "-n", "sample", "delete", "pod", "-l", "app=sleep", "--wait=true")
        assert kc(lab, "cluster1", "-n", "sample", "get", "pod", "-l", "app=sleep", "-o", jp).stdout == "network9"
    finally:
        values["global"]["network"] = old
        kc(lab, "cluster1", "-n", "istio-system", "patch", "cm", "istio-sidecar-injector", "--type", "merge",
           "-p", json.dumps({"data": {"values": json.dumps(values)}}))
        kc(lab, "cluster1", "-n", "sample", "delete", "pod", "-l", "app=sleep", "--wait=true")
    assert kc(lab, "cluster1", "-n", "sample", "get", "pod", "-l", "app=sleep", "-o", jp).stdout == old


DR = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
      "metadata": {"name": "helloworld", "namespace": "sample"},
      "spec": {"host": "helloworld.sample.svc.cluster.local",
               "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s",
                                                      "baseEjectionTime": "30s"}}}}


def test_outlier_detection_keeps_traffic_local_then_removed(lab):
    kc(lab, "cluster1", "apply", "-f", "-", input=json.dumps(DR))
    try:
        assert versions(curls(lab, "cluster1", 10)) == {"Hello version: v1"}
        assert len(endpoints(lab, "cluster1")) == 2   # EDS unchanged: locality only orders priorities
    finally:
        kc(lab, "cluster1", "-n", "sample", "delete", "destinationrules.networking.istio.io", "helloworld")
    assert versions(curls(lab, "cluster1", 10)) == {"Hello version: v1", "Hello version: v2"}


def test_unset_network_after_restart_gives_raw_pod_ips_then_fixed(lab):
    """values.global.network emptied and istio-system unlabelled in cluster2: after a restart the helloworld
    pod has no network, so cluster1 gets its raw pod IP; restoring both and restarting brings the gateway back."""
    cm = json.loads(kc(lab, "cluster2", "-n", "istio-system", "get", "cm", "istio-sidecar-injector", "-o", "json").stdout)
    values = json.loads(cm["data"]["values"])

    def set_network(net):
        values["global"]["network"] = net
        kc(lab, "cluster2", "-n", "istio-system", "patch", "cm", "istio-sidecar-injector", "--type", "merge",
           "-p", json.dumps({"data": {"values": json.dumps(values)}}))
    set_network("")
    kc(lab, "cluster2", "label", "ns", "istio-system", "topology.istio.io/network-")
    kc(lab, "cluster2", "-n", "sample", "delete", "pod", "-l", "app=helloworld", "--wait=true")
    try:
        eps = endpoints(lab, "cluster1")
        assert (pod_ip(lab, "cluster2", "app=helloworld"), 5000) in eps
        assert all(p != 15443 for _, p in eps)
    finally:
        set_network("network2")
        kc(lab, "cluster2", "label", "ns", "istio-system", "topology.istio.io/network=network2")
        kc(lab, "cluster2", "-n", "sample", "delete", "pod", "-l", "app=helloworld", "--wait=true")
    assert endpoints(lab, "cluster1") == sorted([(pod_ip(lab, "cluster1", "app=helloworld"), 5000),
                                                 (gw_ip(lab, "cluster2"), 15443)])
