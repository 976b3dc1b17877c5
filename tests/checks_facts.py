"""Facts builders for the check catalogue tests: healthy meshes built the way docs/facts.md describes them.

``build_mesh(kind)`` returns ``{cluster name: facts}`` for a healthy mesh; tests deep-copy it,
break one thing the way a real fault would show in the facts, and run the checks.
kinds: ``multinetwork`` (two primaries, two networks), ``single`` (two primaries, one flat network),
``primary_remote`` (primary cluster1, remote cluster2 without a local istiod, two networks),
``primary_remote_local_istiod`` (the remote runs a local istiod for injection/CA and uses istiod-remote).
"""
import copy
import datetime

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import run_checks

NOW = datetime.datetime(2026, 11, 25, 12, 0, 0)
ROOT_FP = "sha256:aaaaaaaaaaaaaaaa"
NS = "istio-system"


def server(n):
    return "https://127.0.%d.1:6443" % n


def gw_ip(n):
    return "172.18.%d.10" % n


def pod_ip(n, i):
    return "10.%d.0.%d" % (10 * n, i)


def _version(n):
    return "v1" if n % 2 else "v2"


def cluster_facts(n, network, names, role="primary", local_istiod=True, gateway=True):
    name = "cluster%d" % n
    peers = [p for p in names if p != name]
    primary = role == "primary"
    facts = {
        "schema": 1,
        "cluster": name,
        "context": name,
        "server": server(n),
        "reachable": True,
        "error": None,
        "read_errors": [],
        "requests": 12,
        "duration_s": 0.2,
        "kubernetes_version": "v1.31.4",
        "declared": {"network": None, "cluster_id": None, "mesh_id": None, "role": None},
        "istio_namespace": NS,
        "namespace": {"labels": {"topology.istio.io/network": network} if network else {},
                      "annotations": {}},
        "istiod": None,
        "control_plane_services": [],
        "mesh_config": {"defaultConfig": {"discoveryAddress": "istiod.%s.svc:15012" % NS}},
        "mesh_networks": None,
        "injector_values": {"global": {"network": network, "meshID": "mesh1",
                                       "multiCluster": {"clusterName": name}, "remotePilotAddress": None}},
        "cluster_id": name,
        "network": network,
        "mesh_id": "mesh1",
        "role": "primary" if primary else "remote",
        "discovery_address": "istiod.%s.svc:15012" % NS,
        "remote_secrets": [],
        "istiod_log": None,
        "clusterz": None,
        "networkz": None,
        "gateways": [],
        "istio_gateways": [],
        "destination_rules": [],
        "nodes": [{"name": "%s-node-1" % name, "region": "region%d" % n, "zone": "region%d-a" % n,
                   "subzone": None, "external_ips": [], "internal_ips": ["10.%d.255.2" % (10 * n)]}],
        "services": [
            {"namespace": "sample", "name": "helloworld", "type": "ClusterIP", "selector": {"app": "helloworld"},
             "ports": [5000], "traffic_distribution": None},
            {"namespace": "sample", "name": "sleep", "type": "ClusterIP", "selector": {"app": "sleep"},
             "ports": [80], "traffic_distribution": None},
        ],
        "sidecar_pods": [
            {"namespace": "sample", "name": "helloworld-%s-5b6495d76-%s" % (_version(n), name[-1] * 5),
             "labels": {"app": "helloworld", "version": _version(n)}, "pod_ip": pod_ip(n, 7),
             "node": "%s-node-1" % name, "ready": True, "network_env": network, "cluster_id_env": name,
             "mesh_id_env": "mesh1", "network_label": network, "discovery_address": None},
            {"namespace": "sample", "name": "sleep-6d68f49858-%s" % (name[-1] * 5),
             "labels": {"app": "sleep"}, "pod_ip": pod_ip(n, 8),
             "node": "%s-node-1" % name, "ready": True, "network_env": network, "cluster_id_env": name,
             "mesh_id_env": "mesh1", "network_label": network, "discovery_address": None},
        ],
        "cacerts": None,
        "ca_root_cert": {"fingerprint": ROOT_FP, "subject": "CN=Root CA,O=Istio", "not_after": "2036-01-01T00:00:00Z"},
        "proxy": None,
    }
    if local_istiod:
        facts["istiod"] = {
            "name": "istiod", "image": "docker.io/istio/pilot:1.30.3", "version": "1.30.3", "cluster_id": name,
            "env": {"CLUSTER_ID": name}, "ready_replicas": 1, "replicas": 1,
            "pods": ["istiod-7d4f8c6b9b-%s" % (name[-1] * 5)],
        }
        facts["control_plane_services"].append(
            {"name": "istiod", "selectorless": False, "type": "ClusterIP", "external_name": None,
             "ports": [15010, 15012, 443, 15014]})
        facts["istiod_log"] = {"pod": "istiod-7d4f8c6b9b-%s" % (name[-1] * 5), "lines_read": 2000, "errors": [],
                               "ignored_local": [], "sync_timeouts": []}
        facts["cacerts"] = {
            "layout": "plugin",
            "root": {"fingerprint": ROOT_FP, "subject": "CN=Root CA,O=Istio", "issuer": "CN=Root CA,O=Istio",
                     "not_before": "2026-01-01T00:00:00Z", "not_after": "2036-01-01T00:00:00Z", "is_ca": True},
            "ca": {"fingerprint": "sha256:ca%014d" % n, "subject": "CN=Intermediate CA,O=Istio,L=%s" % name,
                   "issuer": "CN=Root CA,O=Istio", "not_before": "2026-01-01T00:00:00Z",
                   "not_after": "2028-01-01T00:00:00Z", "is_ca": True},
            "chain_valid": True,
            "errors": [],
        }
    if primary:
        facts["clusterz"] = [{"id": name, "secretName": "", "syncStatus": "synced"}]
        for p in peers:
            pn = int(p[len("cluster"):])
            facts["remote_secrets"].append({
                "namespace": NS, "name": "istio-remote-secret-%s" % p,
                "labels": {"istio/multiCluster": "true"}, "annotations": {"networking.istio.io/cluster": p},
                "entries": [{"key": p, "fingerprint": "sha256:%016x" % (1000 * n + pn), "size": 2311,
                             "error": None, "server": server(pn), "auth": "token",
                             "ca_fingerprint": "sha256:cafe%012d" % pn, "insecure": False,
                             "probe": {"ok": True, "tried_from": "controller", "error": None, "cluster": p}}],
            })
            facts["clusterz"].append({"id": p, "secretName": "%s/istio-remote-secret-%s" % (NS, p),
                                      "syncStatus": "synced"})
    if gateway:
        facts["gateways"].append({
            "namespace": NS, "name": "istio-eastwestgateway", "type": "LoadBalancer",
            "labels": {"istio": "eastwestgateway", "app": "istio-eastwestgateway",
                       "topology.istio.io/network": network},
            "annotations": {}, "selector": {"istio": "eastwestgateway", "app": "istio-eastwestgateway"},
            "network_label": network, "gateway_port": 15443,
            "ports": [{"name": "status-port", "port": 15021, "target_port": 15021, "node_port": 31781,
                       "protocol": "TCP"},
                      {"name": "tls", "port": 15443, "target_port": 15443, "node_port": 30498, "protocol": "TCP"},
                      {"name": "tls-istiod", "port": 15012, "target_port": 15012, "node_port": 30879,
                       "protocol": "TCP"},
                      {"name": "tls-webhook", "port": 15017, "target_port": 15017, "node_port": 30336,
                       "protocol": "TCP"}],
            "addresses": [{"value": gw_ip(n), "kind": "ip", "source": "load_balancer"}],
            "pending": False, "hostname_only": False, "node_selector": None,
        })
        facts["istio_gateways"].append({
            "namespace": NS, "name": "cross-network-gateway", "selector": {"istio": "eastwestgateway"},
            "servers": [{"port": 15443, "protocol": "TLS", "tls_mode": "AUTO_PASSTHROUGH", "hosts": ["*.local"]}]})
        if primary:
            # samples/multicluster/expose-istiod.yaml: remote clusters reach istiod through the gateway
            facts["istio_gateways"].append({
                "namespace": NS, "name": "istiod-gateway", "selector": {"istio": "eastwestgateway"},
                "servers": [{"port": 15012, "protocol": "TLS", "tls_mode": "PASSTHROUGH", "hosts": ["*"]},
                            {"port": 15017, "protocol": "TLS", "tls_mode": "PASSTHROUGH", "hosts": ["*"]}]})
    return facts


def _helloworld_ip(facts):
    return [p["pod_ip"] for p in facts["sidecar_pods"] if p["labels"].get("app") == "helloworld"]


def fill_proxies(mesh):
    """The endpoints each sleep proxy holds when everything works (split horizon by network)."""
    for name, facts in mesh.items():
        if not facts.get("reachable", True) or facts.get("partial"):
            continue
        net = facts["network"]
        rows = []
        for other_name, other in sorted(mesh.items()):
            if other.get("partial") or not other.get("reachable", True):
                continue
            if other_name == name or not net or other["network"] == net:
                for ip in _helloworld_ip(other):
                    rows.append((ip, other))
            else:
                gws = [a["value"] for g in other["gateways"] for a in g["addresses"]]
                rows.append((gws[0], other))
        sleep = [p for p in facts["sidecar_pods"] if p["labels"].get("app") == "sleep"][0]
        facts["proxy"] = {
            "pod": "sample/%s" % sleep["name"], "service": "helloworld.sample.svc.cluster.local", "port": 5000,
            "network": net, "error": None,
            "endpoints": [{"address": addr, "port": 5000 if not addr.startswith("172.") else 15443,
                           "status": "HEALTHY", "outlier_check": "OK", "weight": 1,
                           "locality": {"region": o["nodes"][0]["region"], "zone": o["nodes"][0]["zone"]},
                           "cluster": "outbound|5000||helloworld.sample.svc.cluster.local"}
                          for addr, o in sorted(rows, key=lambda r: r[0])],
        }
    return mesh


def build_mesh(kind="multinetwork", clusters=2):
    names = ["cluster%d" % i for i in range(1, clusters + 1)]
    mesh = {}
    if kind == "multinetwork":
        for i, name in enumerate(names, 1):
            mesh[name] = cluster_facts(i, "network%d" % i, names)
    elif kind == "single":
        for i, name in enumerate(names, 1):
            facts = cluster_facts(i, None, names, gateway=False)
            facts["namespace"]["labels"] = {}
            mesh[name] = facts
    elif kind in ("primary_remote", "primary_remote_local_istiod"):
        mesh["cluster1"] = cluster_facts(1, "network1", names)
        for i, name in enumerate(names[1:], 2):
            local = kind == "primary_remote_local_istiod"
            facts = cluster_facts(i, "network%d" % i, names, role="remote", local_istiod=local)
            facts["injector_values"]["global"]["remotePilotAddress"] = gw_ip(1)
            svc_name = "istiod-remote" if local else "istiod"
            facts["control_plane_services"] = [s for s in facts["control_plane_services"] if s["name"] != svc_name]
            facts["control_plane_services"].append(
                {"name": svc_name, "selectorless": True, "type": "ClusterIP", "external_name": None,
                 "ports": [15012, 443], "endpoints": [gw_ip(1)]})
            facts["mesh_config"]["defaultConfig"]["discoveryAddress"] = "%s.%s.svc:15012" % (svc_name, NS)
            facts["discovery_address"] = "%s.%s.svc:15012" % (svc_name, NS)
            if local:
                facts["istiod"]["env"]["EXTERNAL_ISTIOD"] = "false"
            mesh[name] = facts
    else:
        raise ValueError(kind)
    return fill_proxies(mesh)


def set_mesh_networks(facts, doc, services=(), nodes=()):
    """ConfigMap istio's meshNetworks, and the gateways gather derives from it (mesh_networks.py, as istiod does)."""
    from ansible_collections.meshmend.multicluster.plugins.module_utils import mesh_networks
    facts["mesh_networks"] = doc
    facts["mesh_networks_gateways"] = mesh_networks.gateways_from_mesh_networks(
        doc, {facts["cluster_id"]: list(services)}, {facts["cluster_id"]: list(nodes)})
    return facts


def run(mesh, **options):
    options.setdefault("now", NOW)
    return run_checks(copy.deepcopy(mesh), options)


def ids(findings):
    return sorted(set(f.id for f in findings))


def keys(findings):
    return sorted(f.key for f in findings)


def by_key(findings):
    return {f.key: f for f in findings}


def problems(findings):
    """Errors and warnings only (info findings explain, they do not fail a healthy mesh)."""
    return [f for f in findings if f.severity in ("error", "warning")]
