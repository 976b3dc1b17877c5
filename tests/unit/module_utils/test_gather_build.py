import base64
import json

import yaml

from ansible_collections.meshmend.multicluster.plugins.module_utils import gather
from ansible_collections.meshmend.multicluster.plugins.module_utils.facts import (
    build_facts, image_version, parse_probe_client, peer_map, proxy_endpoint_facts, remote_secret_facts,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.urls import normalize_server

TOKEN = "very-secret-token-value-123"


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def kubeconfig(server, user):
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Config",
                           "clusters": [{"name": "c2", "cluster": {"server": server}}],
                           "contexts": [{"name": "c2", "context": {"cluster": "c2", "user": "c2"}}],
                           "current-context": "c2", "users": [{"name": "c2", "user": user}]})


def raw_cluster():
    istiod = {"metadata": {"name": "istiod", "namespace": "istio-system", "labels": {"app": "istiod"}},
              "spec": {"replicas": 1, "template": {"spec": {"containers": [{
                  "name": "discovery", "image": "docker.io/istio/pilot:1.30.3-distroless",
                  "env": [{"name": "CLUSTER_ID", "value": "cluster1"},
                          {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "x", "key": "y"}}}]}]}}},
              "status": {"readyReplicas": 1}}
    pod_ok = {"metadata": {"name": "istiod-abc", "namespace": "istio-system", "labels": {"app": "istiod"}},
              "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    sleep_labels = {"app": "sleep", "topology.istio.io/network": "network1"}
    sleep = {"metadata": {"name": "sleep-1", "namespace": "sample", "labels": sleep_labels},
             "spec": {"nodeName": "n1", "containers": [{"name": "sleep"}, {"name": "istio-proxy", "env": [
                 {"name": "ISTIO_META_NETWORK", "value": "network1"},
                 {"name": "ISTIO_META_CLUSTER_ID", "value": "cluster1"}]}]},
             "status": {"phase": "Running", "podIP": "10.10.0.7", "conditions": [{"type": "Ready", "status": "True"}]}}
    pending = dict(sleep, metadata={"name": "sleep-2", "namespace": "sample", "labels": {"app": "sleep"}},
                   status={"phase": "Pending"})
    services = [
        {"metadata": {"name": "istiod", "namespace": "istio-system"},
         "spec": {"selector": {"app": "istiod"}, "ports": [{"port": 15012}, {"port": 443}]}},
        {"metadata": {"name": "istio-eastwestgateway", "namespace": "istio-system",
                      "labels": {"istio": "eastwestgateway", "topology.istio.io/network": "network1"}},
         "spec": {"type": "LoadBalancer", "ports": [{"name": "tls", "port": 15443}]},
         "status": {"loadBalancer": {"ingress": [{"ip": "172.18.1.10"}]}}},
        {"metadata": {"name": "helloworld", "namespace": "sample"},
         "spec": {"selector": {"app": "helloworld"}, "ports": [{"port": 5000}]}},
        {"metadata": {"name": "other", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}},
    ]
    configmaps = [
        {"metadata": {"name": "istio"}, "data": {"mesh": "defaultConfig:\n  discoveryAddress: istiod.istio-system.svc:15012\n"}},
        {"metadata": {"name": "istio-sidecar-injector"}, "data": {"values": json.dumps(
            {"global": {"network": "network1", "meshID": "mesh1", "multiCluster": {"clusterName": "cluster1"}}})}},
    ]
    secrets = [
        {"metadata": {"name": "istio-remote-secret-cluster2", "namespace": "istio-system",
                      "labels": {"istio/multiCluster": "true"}, "annotations": {"networking.istio.io/cluster": "cluster2"}},
         "data": {"cluster2": b64(kubeconfig("https://127.0.2.1:6443", {"token": TOKEN}))}},
        {"metadata": {"name": "eks", "namespace": "default", "labels": {"istio/multiCluster": "true"}},
         "data": {"cluster3": b64(kubeconfig("https://127.0.0.1:6443", {"exec": {  # aws eks update-kubeconfig's shape
             "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
             "args": ["eks", "get-token", "--cluster-name", "c3"]}})), "empty": ""}},
    ]
    return {
        "namespace": {"metadata": {"name": "istio-system", "labels": {"topology.istio.io/network": "network1"}}},
        "deployments": [istiod], "istiod_pods": [pod_ok], "services": services, "configmaps": configmaps,
        "secrets": secrets, "cacerts": None, "sidecar_pods": [sleep, pending],
        "nodes": [{"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/region": "us-east1",
                                                         "topology.kubernetes.io/zone": "us-east1-b"}},
                   "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}}],
        "istio_gateways": None, "destination_rules": [],
    }


def test_build_facts_identity_and_sections():
    f = build_facts(raw_cluster())
    assert f["istiod"]["version"] == "1.30.3" and f["istiod"]["cluster_id"] == "cluster1"
    assert "SECRET" not in f["istiod"]["env"]
    assert f["istiod"]["pods"] == ["istiod-abc"]
    assert (f["cluster_id"], f["network"], f["mesh_id"]) == ("cluster1", "network1", "mesh1")
    assert "role" not in f    # the mesh model derives roles, once (checks/model.py)
    assert f["discovery_address"] == "istiod.istio-system.svc:15012"
    assert [g["name"] for g in f["gateways"]] == ["istio-eastwestgateway"]
    assert f["gateways"][0]["addresses"][0]["value"] == "172.18.1.10"
    assert [s["name"] for s in f["services"]] == ["helloworld"]
    assert [p["name"] for p in f["sidecar_pods"]] == ["sleep-1"]
    assert f["sidecar_pods"][0]["network_env"] == "network1"
    assert f["control_plane_services"] == [{"name": "istiod", "selectorless": False, "type": "ClusterIP",
                                            "external_name": None, "ports": [15012, 443], "endpoints": None}]
    assert f["istio_gateways"] is None and f["destination_rules"] == []
    assert f["cacerts"] is None
    assert f["nodes"][0]["region"] == "us-east1"


def test_remote_secrets_without_credentials():
    no_log = set()
    facts, configs = remote_secret_facts(raw_cluster()["secrets"], no_log_values=no_log)
    assert TOKEN in no_log
    assert TOKEN not in json.dumps(facts)
    by_name = dict((s["name"], s) for s in facts)
    e = by_name["istio-remote-secret-cluster2"]["entries"][0]
    assert (e["key"], e["auth"], e["error"], e["server"]) == ("cluster2", "token", None, "https://127.0.2.1:6443")
    eks = dict((x["key"], x) for x in by_name["eks"]["entries"])
    assert eks["cluster3"]["error"] == "kubeconfig is not allowed: exec is not allowed"
    assert eks["cluster3"]["loopback"] is True
    assert eks["empty"]["error"] == "kubeconfig is empty"
    assert ("istio-system", "istio-remote-secret-cluster2", "cluster2") in configs


def test_remote_role_and_default_cluster_id():
    raw = raw_cluster()
    raw["deployments"] = []
    raw["configmaps"] = [{"metadata": {"name": "istio-sidecar-injector"},
                          "data": {"values": json.dumps({"global": {"remotePilotAddress": "192.0.2.1"}})}}]
    raw["services"].append({"metadata": {"name": "istiod-remote", "namespace": "istio-system"},
                            "spec": {"ports": [{"port": 15012}]}})
    f = build_facts(raw)
    assert f["istiod"] is None and f["remote_pilot_address"] == "192.0.2.1" and f["cluster_id"] == "Kubernetes"
    assert [c["name"] for c in f["control_plane_services"] if c["selectorless"]] == ["istiod-remote"]


def test_helpers():
    assert normalize_server("https://127.0.2.1") == "https://127.0.2.1:443"
    assert peer_map([{"name": "cluster2", "server": "https://127.0.2.1:6443/"}]) == \
        {"https://127.0.2.1:6443": "cluster2"}
    assert image_version("gcr.io/istio-release/pilot:1.9.9") == "1.9.9"
    assert image_version("pilot@sha256:abc") is None
    assert parse_probe_client("sample/app=sleep") == ("sample", "app=sleep")


def _probe(mode, entry, ref, clusterz, log_facts, **kw):
    return gather._should_probe(mode, entry, ref, gather.istiod_vouches(clusterz, log_facts), **kw)


def test_auto_probe_only_when_istiod_does_not_vouch():
    e = {"key": "cluster2", "server": "https://127.0.2.1:6443", "error": None}
    ref = "istio-system/istio-remote-secret-cluster2"
    synced = [{"id": "cluster2", "secretName": ref, "syncStatus": "synced"}]
    timeout = [{"id": "cluster2", "secretName": ref, "syncStatus": "timeout"}]
    assert _probe("auto", e, ref, synced, None) is False
    assert _probe("auto", e, ref, timeout, None) is True
    assert _probe("auto", e, ref, None, None) is True
    assert _probe(True, e, ref, synced, None) is True
    assert _probe(False, e, ref, timeout, None) is False
    # synced in clusterz, but istiod's log says the sync timed out: probed
    assert _probe("auto", e, ref, synced, {"sync_timeouts": ["cluster2"]}) is True
    assert _probe("auto", e, ref, synced, {"sync_timeouts": ["cluster9"]}) is False
    # clusterz names the cluster from another secret only: istiod does not vouch for this one
    assert _probe("auto", e, ref, [dict(synced[0], secretName="istio-system/other")], None) is True
    # the first line for a pair decides, as before the index
    assert _probe("auto", e, ref, synced + timeout, None) is False
    assert _probe("auto", e, ref, timeout + synced, None) is True
    # no istiod in the cluster: nothing reads the secret, auto does not probe; true still does
    assert _probe("auto", e, ref, None, None, has_istiod=False) is False
    assert _probe(True, e, ref, None, None, has_istiod=False) is True
    # a loopback server is never probed from the controller
    assert _probe(True, dict(e, loopback=True), ref, None, None) is False


def _envoy_clusters(*hosts):
    """``pilot-agent request GET clusters?format=json`` as Envoy prints it (snake_case), one host per cluster."""
    statuses = []
    for cluster, ip in hosts:
        statuses.append({"name": cluster, "host_statuses": [{
            "address": {"socket_address": {"address": ip, "port_value": 9080}},
            "health_status": {"eds_health_status": "HEALTHY"}, "weight": 1}]})
    return json.dumps({"cluster_statuses": statuses})


def test_proxy_keeps_the_mesh_services_it_knows():
    out = proxy_endpoint_facts(_envoy_clusters(
        ("outbound|5000||helloworld.sample.svc.cluster.local", "10.10.0.7"),
        ("outbound|9080||reviews.bookinfo.svc.cluster.local", "10.10.0.20"),
        ("outbound|9080|v1|reviews.bookinfo.svc.cluster.local", "10.10.0.20"),
        ("outbound|15012||istiod.istio-system.svc.cluster.local", "10.10.0.2"),
        ("inbound|9080||", "10.10.0.21")), "bookinfo/productpage-1", "helloworld.sample", 5000, "network1")
    assert [r["address"] for r in out["endpoints"]] == ["10.10.0.7"]
    # the other mesh services, without subsets, istiod's namespace or inbound clusters
    assert list(out["services"]) == ["reviews.bookinfo.svc.cluster.local"]
    assert [r["address"] for r in out["services"]["reviews.bookinfo.svc.cluster.local"]] == ["10.10.0.20"]


def test_mesh_services_are_those_selecting_injected_pods():
    raw = raw_cluster()
    raw["services"].append({"metadata": {"name": "reviews", "namespace": "bookinfo"},
                            "spec": {"selector": {"app": "reviews"}, "ports": [{"port": 9080}]}})
    raw["services"].append({"metadata": {"name": "plain", "namespace": "bookinfo"},
                            "spec": {"selector": {"app": "plain"}, "ports": [{"port": 80}]}})
    raw["sidecar_pods"].append({"metadata": {"name": "reviews-1", "namespace": "bookinfo",
                                             "labels": {"app": "reviews", "security.istio.io/tlsMode": "istio"}},
                                "spec": {"containers": [{"name": "reviews"}, {"name": "istio-proxy"}]},
                                "status": {"phase": "Running", "podIP": "10.10.0.20"}})
    names = [(s["namespace"], s["name"]) for s in build_facts(raw)["services"]]
    assert ("bookinfo", "reviews") in names and ("bookinfo", "plain") not in names


def test_proxy_facts_are_those_of_every_row_filtered():
    """Rows are built only for the Envoy clusters kept; the fact is the same as filtering every row (the
    probe service on its port, subsets included; the largest other services, most endpoints first, capped)."""
    from ansible_collections.meshmend.multicluster.plugins.module_utils import envoy, facts
    hosts = []
    for i in range(facts.MAX_PROXY_SERVICES + 5):
        host = "svc%02d.ns%d.svc.cluster.local" % (i, i % 3)
        hosts += [("outbound|80||%s" % host, "10.1.%d.%d" % (i, j)) for j in range(1 + (i * 7) % (facts.MAX_SERVICE_ROWS + 9))]
        hosts += [("outbound|81||%s" % host, "10.2.%d.1" % i), ("outbound|80|v1|%s" % host, "10.3.%d.1" % i)]
    hosts += [("outbound|5000||helloworld.sample.svc.cluster.local", "10.9.0.%d" % j) for j in range(70)]
    hosts += [("outbound|5000|v2|helloworld.sample.svc.cluster.local", "10.9.1.1"),
              ("outbound|5001||helloworld.sample.svc.cluster.local", "10.9.2.1"),
              ("inbound|5000||", "10.9.3.1"), ("outbound|15012||istiod.istio-system.svc.cluster.local", "10.9.4.1")]
    raw = _envoy_clusters(*hosts)
    out = proxy_endpoint_facts(raw, "sample/sleep-1", "helloworld.sample", 5000, "network1")

    rows = [facts.proxy_row(r) for r in envoy.parse_endpoints(raw)]
    assert out["clusters_seen"] == len(set(r["cluster"] for r in rows))
    assert out["endpoints"] == envoy.filter_rows(rows, service="helloworld.sample", port=5000) and len(out["endpoints"]) == 71
    assert out["endpoints"][0] == {"address": "10.9.0.0", "port": 9080, "status": "HEALTHY", "outlier_check": "OK",
                                   "cluster": "outbound|5000||helloworld.sample.svc.cluster.local", "weight": 1,
                                   "locality": None}
    by_host = {}
    for row in rows:
        parts = envoy.parse_cluster_name(row["cluster"])
        labels = parts["host"].split(".") if parts else []
        if parts and parts["direction"] == "outbound" and not parts["subset"] and len(labels) > 2 and labels[2] == "svc" \
                and labels[1] != "istio-system" and parts["host"] != "helloworld.sample.svc.cluster.local":
            by_host.setdefault(parts["host"], []).append(row)
    ranked = sorted(by_host.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:facts.MAX_PROXY_SERVICES]
    assert list(out["services"]) == [host for host, _rows in ranked]
    assert out["services"] == dict((host, found[:facts.MAX_SERVICE_ROWS]) for host, found in ranked)
    assert max(len(found) for found in out["services"].values()) == facts.MAX_SERVICE_ROWS


def test_proxy_rows_leave_out_only_what_is_at_its_default():
    from ansible_collections.meshmend.multicluster.plugins.module_utils import envoy, facts
    doc = {"cluster_statuses": [{"name": "outbound|80||a.b.svc.cluster.local", "host_statuses": [
        {"address": {"socket_address": {"address": "10.0.0.1", "port_value": 80}}, "weight": 1,
         "health_status": {"eds_health_status": "HEALTHY"}},
        {"address": {"socket_address": {"address": "fd00::2", "port_value": 80}}, "hostname": "b.example",
         "health_status": {"eds_health_status": "UNHEALTHY", "failed_outlier_check": True}},
        {"address": {"pipe": {"path": "/sock/x"}}}]}]}
    plain, ipv6, pipe = [facts.proxy_row(r) for r in envoy.parse_endpoints(doc)]
    assert set(plain) == {"address", "port", "status", "outlier_check", "cluster", "weight", "locality"}
    assert ipv6["hostname"] == "b.example" and ipv6["health_flags"] == ["failed_outlier_check"]
    assert "endpoint" not in ipv6   # [fd00::2]:80, istioctl's spelling, follows from address and port
    assert pipe["address_kind"] == "pipe" and pipe["endpoint"] == "unix:///sock/x" and pipe["addresses"] == ["unix:///sock/x"]
    for row in envoy.parse_endpoints(doc):   # nothing else is lost
        kept = facts.proxy_row(row)
        assert dict(row, **kept) == row
