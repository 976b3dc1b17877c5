"""Fixture facts (docs/facts.md shape) and findings for the report and filter tests."""
import copy

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.model import Mesh
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import Finding

EVIL = '<script>alert("x")</script>&'


def cluster_facts(name, n, network, secrets_for=(), pending=False, reachable=True, root="sha256:aaaaaaaaaaaaaaaa"):
    if not reachable:
        return {"schema": 1, "cluster": name, "context": name, "server": "https://127.0.%d.1:6443" % n,
                "reachable": False, "error": "cluster %s: connection refused" % name, "read_errors": [],
                "requests": 1, "duration_s": 0.01}
    return {
        "schema": 1, "cluster": name, "context": name, "server": "https://127.0.%d.1:6443" % n,
        "reachable": True, "error": None, "read_errors": [], "requests": 12, "duration_s": 0.2,
        "kubernetes_version": "v1.31.4",
        "declared": {"network": network, "cluster_id": name, "mesh_id": "mesh1", "role": None},
        "istio_namespace": "istio-system",
        "namespace": {"labels": {"topology.istio.io/network": network}, "annotations": {}},
        "istiod": {"name": "istiod", "image": "docker.io/istio/pilot:1.30.3", "version": "1.30.3",
                   "cluster_id": name, "env": {"CLUSTER_ID": name}, "ready_replicas": 1, "replicas": 1,
                   "pods": ["istiod-abc"]},
        "cluster_id": name, "network": network, "mesh_id": "mesh1", "role": "primary",
        "discovery_address": "istiod.istio-system.svc:15012",
        "remote_secrets": [
            {"namespace": "istio-system", "name": "istio-remote-secret-%s" % peer,
             "labels": {"istio/multiCluster": "true"}, "annotations": {"networking.istio.io/cluster": peer},
             "entries": [{"key": peer, "fingerprint": "sha256:%016d" % i, "size": 2311, "error": None,
                          "server": "https://127.0.%d.1:6443" % pn, "auth": "token",
                          "ca_fingerprint": "sha256:cccccccccccccccc", "insecure": False,
                          "probe": {"ok": True, "tried_from": "controller", "error": None, "cluster": peer}}]}
            for i, (peer, pn) in enumerate(secrets_for)],
        "gateways": [{"namespace": "istio-system", "name": "istio-eastwestgateway", "type": "LoadBalancer",
                      "labels": {"istio": "eastwestgateway", "topology.istio.io/network": network},
                      "annotations": {}, "selector": {"istio": "eastwestgateway"}, "network_label": network,
                      "gateway_port": 15443,
                      "ports": [{"name": "tls", "port": 15443, "target_port": 15443, "node_port": 30498,
                                 "protocol": "TCP"}],
                      "addresses": [] if pending else [
                          {"value": "172.18.%d.10" % n, "kind": "ip", "source": "load_balancer"}],
                      "pending": pending, "hostname_only": False, "node_selector": None}],
        "cacerts": {"layout": "plugin", "root": {"fingerprint": root}, "ca": {"fingerprint": "sha256:bbbb"},
                    "chain_valid": True, "errors": []},
        "ca_root_cert": {"fingerprint": root},
        "proxy": {"pod": "sample/sleep-abc", "service": "helloworld.sample.svc.cluster.local", "port": 5000,
                  "network": network, "error": None,
                  "endpoints": [{"address": "10.%d.0.7" % n, "port": 5000, "status": "HEALTHY",
                                 "outlier_check": "OK", "weight": 1,
                                 "locality": {"region": "r%d" % n, "zone": "z"},
                                 "cluster": "outbound|5000||helloworld.sample.svc.cluster.local"}]},
    }


def facts_by_cluster():
    """cluster1 (network1) reads cluster2; cluster2 (network2) lacks the secret for
    cluster1 and its gateway is pending; cluster3 is unreachable."""
    return {
        "cluster1": cluster_facts("cluster1", 1, "network1", secrets_for=[("cluster2", 2)]),
        "cluster2": cluster_facts("cluster2", 2, "network2", pending=True),
        "cluster3": cluster_facts("cluster3", 3, "network1", reachable=False),
    }


def findings():
    missing = Finding("remote_secret.missing", "cluster2", "no remote secret for cluster1 in cluster2",
                      peer="cluster1", resource="Secret/istio-system/istio-remote-secret-cluster1",
                      evidence={"secrets": []}, remedy="create the remote secret " + EVIL,
                      category="remote_secrets",
                      fix={"peer": "cluster1", "key": "cluster1", "namespace": "istio-system",
                           "name": "istio-remote-secret-cluster1", "peer_namespace": "istio-system"})
    endpoints = Finding("endpoints.remote_missing", "cluster2", "sleep in cluster2 sees only local endpoints " + EVIL,
                        resource="Pod/sample/sleep-abc", evidence={"endpoints": ["10.2.0.7:5000"]},
                        caused_by=[missing.key])
    pending = Finding("eastwest_gateway.external_ip_pending", "cluster2", "gateway has no address",
                      resource="Service/istio-system/istio-eastwestgateway", remedy="set externalIPs",
                      category="gateway_addresses",
                      fix={"services": [{"namespace": "istio-system", "name": "istio-eastwestgateway"}]})
    pod_ips = Finding("endpoints.remote_pod_ips", "cluster1", "cluster1 holds raw pod IPs of network2",
                      peer="cluster2", caused_by=[pending.key, "network.pod_network_unset@cluster9"])
    unreachable = Finding("cluster.unreachable", "cluster3", "cluster3: connection refused",
                          remedy="check the kubeconfig")
    cacerts = Finding("trust.cacerts_missing", "cluster1", "no plug-in CA", remedy="plug in certs")
    locality = Finding("locality.prefers_local", "cluster1", "locality keeps traffic local")
    return [f.to_dict() for f in (endpoints, missing, pending, pod_ips, unreachable, cacerts, locality)]


def model(facts=None, found=None):
    """The mesh model of the fixture facts, its link states set by the fixture findings."""
    return Mesh(facts if facts is not None else facts_by_cluster()).to_dict(
        found if found is not None else findings())


def copy_findings():
    return copy.deepcopy(findings())


def cluster_down(mesh, down):
    """Facts of a mesh built by checks_facts.build_mesh as gather returns them when ``down``'s API server
    is down: ``down`` unreachable, every peer's probe of its remote secret for it refused, istiod's
    clusterz saying it never synced, the proxies without its gateway's endpoint. Changes ``mesh``."""
    server = mesh[down]["server"]
    gateway = [a["value"] for g in mesh[down].get("gateways") or [] for a in g["addresses"]]
    mesh[down] = {"schema": 1, "cluster": down, "context": down, "server": server, "reachable": False,
                  "error": "cluster %s: connection refused" % down, "error_kind": "unreachable",
                  "read_errors": [], "requests": 1, "duration_s": 0.01}
    for name, facts in mesh.items():
        if name == down:
            continue
        for secret in facts.get("remote_secrets") or []:
            for entry in secret["entries"]:
                if entry["key"] == down:
                    entry["probe"] = {"ok": False, "tried_from": "controller", "error": "connection refused",
                                      "cluster": down}
        for row in facts.get("clusterz") or []:
            if row["id"] == down:
                row["syncStatus"] = "timeout"
        if facts.get("proxy"):
            facts["proxy"]["endpoints"] = [e for e in facts["proxy"]["endpoints"] if e["address"] not in gateway]
    return mesh
