"""Gateways, endpoint networks and split horizon (istio-facts sections 3, 4, 5, 7); Envoy JSON rendering."""
import json
import os

import pytest

from meshlab.istio.eds import ProxyView, split_horizon
from meshlab.istio import envoy
from meshlab.istio.istiod import Istiod
from meshlab.istio.networks import known_gateways

import worldbuild as wb

from ansible_collections.meshmend.multicluster.plugins.module_utils.envoy import rows_from_clusters, rows_from_config_dump
import refdata  # noqa: E402

FIXTURES = refdata.ENVOY
HW = "outbound|5000||helloworld.sample.svc.cluster.local"


def hello(world, cluster):
    view = ProxyView(world, cluster, wb.pod(world, cluster, "sleep"))
    return view, sorted((e["address"], e["port"], e["weight"]) for e in view.clusters()[HW]["endpoints"])


def ip_of(world, cluster, prefix):
    return wb.pod(world, cluster, prefix)["status"]["podIP"]


def gw_ip(world, cluster):
    svc = world.get(cluster, "services", "istio-system", "istio-eastwestgateway")
    return svc["status"]["loadBalancer"]["ingress"][0]["ip"]


def test_healthy_multinetwork_local_ip_plus_peer_gateway():
    w = wb.scenario("healthy-multinetwork").world
    _, eps = hello(w, "cluster1")
    assert eps == sorted([(ip_of(w, "cluster1", "helloworld"), 5000, 1), (gw_ip(w, "cluster2"), 15443, 1)])
    _, eps = hello(w, "cluster2")
    assert eps == sorted([(ip_of(w, "cluster2", "helloworld"), 5000, 1), (gw_ip(w, "cluster1"), 15443, 1)])


def test_single_network_sends_pod_ips():
    w = wb.scenario("healthy-single-network").world
    _, eps = hello(w, "cluster1")
    assert eps == sorted([(ip_of(w, "cluster1", "helloworld"), 5000, 1), (ip_of(w, "cluster2", "helloworld"), 5000, 1)])


@pytest.mark.parametrize("name", ["eastwest-gateway-external-ip-pending", "eastwest-gateway-missing",
                                  "eastwest-gateway-network-label-missing", "eastwest-gateway-port-missing",
                                  "eastwest-gateway-hostname-only", "endpoints-remote-pod-ips",
                                  "network-pod-network-unset", "eastwest-gateway-network-label-mismatch"])
def test_no_gateway_for_the_peer_network_gives_raw_pod_ips(name):
    w = wb.scenario(name).world
    _, eps = hello(w, "cluster1")
    assert (ip_of(w, "cluster2", "helloworld"), 5000, 1) in eps
    assert not any(p == 15443 for _, p, _ in eps)


@pytest.mark.parametrize("name", ["remote-secret-missing", "remote-secret-wrong-namespace", "remote-secret-local-key",
                                  "remote-secret-invalid-kubeconfig", "remote-secret-not-synced",
                                  "remote-secret-loopback-server", "remote-secret-api-unreachable",
                                  "endpoints-remote-missing", "cluster-duplicate-id", "demo"])
def test_unread_remote_cluster_gives_only_the_local_endpoint(name):
    w = wb.scenario(name).world
    _, eps = hello(w, "cluster1")
    assert eps == [(ip_of(w, "cluster1", "helloworld"), 5000, 1)]


def test_nodeport_gateway_with_node_selector_uses_node_external_ip():
    b = wb.scenario("endpoints-remote-pod-ips")
    svc = b.world.get("cluster2", "services", "istio-system", "istio-eastwestgateway")
    svc["metadata"].setdefault("annotations", {})["traffic.istio.io/nodeSelector"] = \
        json.dumps({"kubernetes.io/hostname": "cluster2-node-0"})
    node_port = next(p["nodePort"] for p in svc["spec"]["ports"] if p["port"] == 15443)
    _, eps = hello(b.world, "cluster1")
    assert ("203.0.2.10", node_port, 1) in eps


def test_external_ips_fix_a_pending_gateway():
    b = wb.scenario("eastwest-gateway-external-ip-pending")
    svc = b.world.get("cluster2", "services", "istio-system", "istio-eastwestgateway")
    svc["spec"]["externalIPs"] = ["198.51.100.7"]
    _, eps = hello(b.world, "cluster1")
    assert ("198.51.100.7", 15443, 1) in eps


def test_mesh_networks_static_gateway():
    b = wb.scenario("eastwest-gateway-external-ip-pending")
    cm = b.world.get("cluster1", "configmaps", "istio-system", "istio")
    cm["data"]["meshNetworks"] = "networks:\n  network2:\n    endpoints: [{fromRegistry: cluster2}]\n" \
                                 "    gateways: [{address: 198.51.100.9, port: 15443}]\n"
    _, eps = hello(b.world, "cluster1")
    assert ("198.51.100.9", 15443, 1) in eps


def test_split_horizon_rules():
    loc = {"region": "r", "zone": "z", "sub_zone": ""}
    ep = lambda ip, net, tls=True: {"address": ip, "port": 5000, "network": net, "tls": tls, "locality": loc,
                                     "registry": "c2", "lab_cluster": "c2", "pod": None, "weight": 1,
                                     "gateway": None, "backing": None}
    gws = [{"network": "n2", "addr": "1.1.1.1", "port": 15443, "cluster": "c2", "lab_cluster": "c2", "service": None}]
    eps = [ep("10.0.0.1", "n1"), ep("10.1.0.1", "n2"), ep("10.1.0.2", "n2"), ep("10.1.0.3", "n2", tls=False),
           ep("10.2.0.1", "n3"), ep("10.4.0.1", "")]
    out = split_horizon(eps, "n1", gws, (1, 30))
    got = sorted((e["address"], e["weight"]) for e in out)
    # same network raw; n3 has no gateway -> raw; empty network raw; n2 collapsed weight 2; uninjected n2 dropped
    assert got == [("1.1.1.1", 2), ("10.0.0.1", 1), ("10.2.0.1", 1), ("10.4.0.1", 1)]
    assert sorted(e["address"] for e in split_horizon(eps, "n1", [], (1, 30))) == sorted(e["address"] for e in eps)
    # proxy without a network: through the gateway from 1.30, raw before
    assert "1.1.1.1" in [e["address"] for e in split_horizon(eps, "", gws, (1, 30))]
    assert "1.1.1.1" not in [e["address"] for e in split_horizon(eps, "", gws, (1, 29))]


def test_primary_remote_binding():
    w = wb.scenario("healthy-primary-remote").world
    view, eps = hello(w, "cluster2")
    assert view.server == "cluster1"
    assert (ip_of(w, "cluster2", "helloworld"), 5000, 1) in eps and (gw_ip(w, "cluster1"), 15443, 1) in eps
    w = wb.scenario("primary-remote-istiod-remote-missing").world
    view, eps = hello(w, "cluster2")
    assert view.server == "cluster2"
    assert eps == [(ip_of(w, "cluster2", "helloworld"), 5000, 1)]


def test_networkz_shape():
    w = wb.scenario("healthy-multinetwork").world
    gws = known_gateways(w, Istiod(w, "cluster1"))
    assert sorted((g["network"], g["cluster"], g["port"]) for g in gws) == [("network1", "cluster1", 15443),
                                                                           ("network2", "cluster2", 15443)]


def test_envoy_json_parses_like_the_fixtures():
    w = wb.scenario("healthy-multinetwork").world
    view, eps = hello(w, "cluster1")
    doc = json.loads(json.dumps(envoy.render_clusters(view)))
    mine = [(r["address"], r["port"]) for r in envoy.parse_clusters(doc) if r["cluster"] == HW]
    theirs = [(r["address"], r["port"], r["status"]) for r in rows_from_clusters(doc) if r["cluster"] == HW]
    assert sorted(mine) == sorted((a, p) for a, p, _ in eps)
    assert sorted(theirs) == sorted((a, p, "HEALTHY") for a, p, _ in eps)
    assert "hostStatuses" not in json.dumps(doc)  # Envoy's own spelling is snake_case
    with open(os.path.join(FIXTURES, "envoy_clusters_format_json.istio-1.5.0.json")) as f:
        fixture = json.load(f)
    rows = envoy.parse_clusters(fixture)
    assert rows and {r["status"] for r in rows} >= {"HEALTHY", "UNHEALTHY"}
    assert any(r["outlier_failed"] for r in rows)
    dump = envoy.render_config_dump(view)
    rows = [r for r in rows_from_config_dump(dump) if r["cluster"] == HW]
    assert sorted((r["address"], r["port"]) for r in rows) == sorted((a, p) for a, p, _ in eps)
    assert any(r.get("workload", {}).get("cluster_id") == "cluster1" for r in rows)
    with open(os.path.join(FIXTURES, "envoy_config_dump_include_eds.json")) as f:
        assert envoy.parse_config_dump_eds(json.load(f))
    assert HW in envoy.render_clusters_text(view)


def test_locality_recorded_on_hosts():
    w = wb.scenario("healthy-multinetwork").world
    view, _ = hello(w, "cluster1")
    hosts = {h["address"]["socket_address"]["address"]: h.get("locality")
             for st in envoy.render_clusters(view)["cluster_statuses"] if st["name"] == HW
             for h in st["host_statuses"]}
    assert hosts[gw_ip(w, "cluster2")] == {"region": "us-west1", "zone": "us-west1-b"}
