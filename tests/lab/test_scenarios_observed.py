"""Each bundled scenario, started with `meshlab up`, shows the guide's observations through kubectl."""
import json

import pytest
import yaml

from labutil import start_lab
from meshlab.scenario import bundled

from ansible_collections.meshmend.multicluster.plugins.module_utils.envoy import rows_from_clusters
from ansible_collections.meshmend.multicluster.plugins.module_utils.istiod_log import parse_log

HW = "outbound|5000||helloworld.sample.svc.cluster.local"
pytestmark = pytest.mark.slow


def kc(lab, ctx, *args, check=True):
    r = lab.kubectl(*args, context=ctx)
    if check and r.returncode != 0:
        raise AssertionError("kubectl %s (%s) failed: %s" % (" ".join(args), ctx, r.stderr))
    return r.stdout


def endpoints(lab, ctx):
    pod = kc(lab, ctx, "-n", "sample", "get", "pod", "-l", "app=sleep", "-o", "jsonpath={.items[0].metadata.name}")
    out = kc(lab, ctx, "-n", "sample", "exec", pod, "-c", "istio-proxy", "--", "pilot-agent", "request", "GET",
             "clusters?format=json")
    return sorted((r["address"], r["port"]) for r in rows_from_clusters(out) if r["cluster"] == HW)


def curls(lab, ctx, n=20):
    r = lab.kubectl("-n", "sample", "exec", "deploy/sleep", "-c", "sleep", "--", "sh", "-c",
                    "for i in $(seq %d); do curl -sS -m 2 helloworld.sample:5000/hello; echo; done" % n, context=ctx)
    return [l for l in (r.stdout + r.stderr).splitlines() if l.strip() and not l.startswith("command terminated")]


def versions(lines):
    return {l.split(",")[0] for l in lines}


def ip(lab, ctx, label="app=helloworld"):
    return kc(lab, ctx, "-n", "sample", "get", "pod", "-l", label, "-o", "jsonpath={.items[0].status.podIP}")


def gw(lab, ctx):
    return kc(lab, ctx, "-n", "istio-system", "get", "svc", "istio-eastwestgateway", "-o",
              "jsonpath={.status.loadBalancer.ingress[0].ip}")


@pytest.fixture
def up(tmp_path_factory):
    labs = []

    def _up(name):
        # short state dir: control.sock must fit in AF_UNIX's path limit
        lab = start_lab(name, str(tmp_path_factory.mktemp("s")))
        labs.append(lab)
        return lab
    yield _up
    for lab in labs:
        lab.stop()


def test_list_names_every_bundled_scenario():
    names = dict(bundled())
    for n in ("healthy-multinetwork", "healthy-primary-remote", "healthy-single-network", "demo"):
        assert names.get(n)


def test_healthy_primary_remote(up):
    lab = up("healthy-primary-remote")
    assert kc(lab, "cluster2", "-n", "istio-system", "get", "deploy", "-o", "name") == \
        "deployment.apps/istio-eastwestgateway\n"
    assert endpoints(lab, "cluster2") == sorted([(ip(lab, "cluster2"), 5000), (gw(lab, "cluster1"), 15443)])
    for ctx in ("cluster1", "cluster2"):
        assert versions(curls(lab, ctx)) == {"Hello version: v1", "Hello version: v2"}
    ep = json.loads(kc(lab, "cluster2", "-n", "istio-system", "get", "endpoints", "istiod", "-o", "json"))
    assert ep["subsets"][0]["addresses"][0]["ip"] == gw(lab, "cluster1")


def test_primary_remote_with_in_cluster_istiod(up):
    lab = up("primary-remote-istiod-remote-missing")
    assert endpoints(lab, "cluster2") == [(ip(lab, "cluster2"), 5000)]
    assert versions(curls(lab, "cluster2", 6)) == {"Hello version: v2"}
    assert kc(lab, "cluster2", "-n", "istio-system", "get", "svc", "istiod-remote", check=False) == ""


def test_healthy_single_network(up):
    lab = up("healthy-single-network")
    assert endpoints(lab, "cluster1") == sorted([(ip(lab, "cluster1"), 5000), (ip(lab, "cluster2"), 5000)])
    assert versions(curls(lab, "cluster1")) == {"Hello version: v1", "Hello version: v2"}


@pytest.mark.parametrize("name", ["remote-secret-missing", "demo", "remote-secret-invalid-kubeconfig"])
def test_only_local_endpoint(up, name):
    lab = up(name)
    assert endpoints(lab, "cluster1") == [(ip(lab, "cluster1"), 5000)]
    assert versions(curls(lab, "cluster1", 6)) == {"Hello version: v1"}


@pytest.mark.parametrize("name", ["eastwest-gateway-external-ip-pending", "network-pod-network-unset"])
def test_raw_remote_pod_ips(up, name):
    lab = up(name)
    eps = endpoints(lab, "cluster1")
    assert (ip(lab, "cluster2"), 5000) in eps and all(p != 15443 for _, p in eps)
    assert any("curl: (28)" in l for l in curls(lab, "cluster1", 4))


def test_pending_shows_in_kubectl(up):
    lab = up("eastwest-gateway-external-ip-pending")
    out = kc(lab, "cluster2", "-n", "istio-system", "get", "service", "-l", "istio=eastwestgateway")
    assert "<pending>" in out
    # the inventory carries the address an operator would give the gateway (lab.yaml eastwestGatewayIP)
    with open(lab.inventory) as f:
        hosts = yaml.safe_load(f)["all"]["hosts"]
    assert hosts["cluster2"]["meshmend_eastwest_gateway_ip"] == "172.18.2.100"
    assert "meshmend_eastwest_gateway_ip" not in hosts["cluster1"]


def test_root_mismatch_tls_error(up):
    lab = up("trust-root-mismatch")
    lines = curls(lab, "cluster1", 6)
    assert any("TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED" in l for l in lines)


def test_locality_keeps_traffic_local(up):
    lab = up("locality-prefers-local")
    assert len(endpoints(lab, "cluster1")) == 2
    assert versions(curls(lab, "cluster1")) == {"Hello version: v1"}
    assert versions(curls(lab, "cluster2")) == {"Hello version: v2"}


def test_istiod_1_9_wording(up):
    lab = up("remote-secret-istiod-error")
    log = parse_log(kc(lab, "cluster1", "-n", "istio-system", "logs", "deploy/istiod"))
    # istiod 1.9.9: "Adding cluster_id=..." era wording (secretcontroller.go from 1.9.4 to 1.15; docs/istio-releases.md)
    assert [(e["cluster"], e["wording"]) for e in log["errors"]] == [("cluster2", "1.9.4-1.15")]


def test_duplicate_ids_ignored_in_log(up):
    lab = up("cluster-duplicate-id")
    log = parse_log(kc(lab, "cluster1", "-n", "istio-system", "logs", "deploy/istiod"))
    assert log["ignored_local"] == ["Kubernetes"]


def test_self_signed_roots(up):
    lab = up("trust-cacerts-missing")
    roots = [kc(lab, c, "-n", "istio-system", "get", "secret", "istio-ca-secret", "-o",
                "jsonpath={.data.ca-cert\\.pem}") for c in ("cluster1", "cluster2")]
    assert roots[0] and roots[1] and roots[0] != roots[1]
    assert any("CERTIFICATE_VERIFY_FAILED" in l for l in curls(lab, "cluster1", 4))
