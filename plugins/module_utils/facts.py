# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""facts: one cluster's raw API answers -> the facts of docs/facts.md, without any I/O.

:func:`build_facts` turns what gather read (gather.py) into plain data without credentials; the
unit tests feed it objects directly. Like gather it does not judge: what the facts mean is derived
once, by the mesh model (checks/model.py). The options and sections gather accepts are defined here
with the shape they give.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import re

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

from ansible_collections.meshmend.multicluster.plugins.module_utils import jsontext
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import kubeconfig_secret_values
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import (
    DEFAULT_CLUSTER_ID, NETWORK_LABEL, secret_annotations, sidecar_container, sidecar_placement,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import (
    annotations_of, dig, env_map, labels_of, meta, name_of, plain_error, pod_ready, pod_running, selects,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig_loader import YamlLimitError, safe_load
from ansible_collections.meshmend.multicluster.plugins.module_utils.shared_memo import MEMO, digest
from ansible_collections.meshmend.multicluster.plugins.module_utils.urls import normalize_server
from ansible_collections.meshmend.multicluster.plugins.module_utils import mesh_networks as _mesh_networks
from ansible_collections.meshmend.multicluster.plugins.module_utils import (
    certs as _certs, envoy as _envoy, gateways as _gateways, kubeconfig as _kubeconfig,
)

SCHEMA = 1
# What the inventory may declare about a cluster (host vars meshmend_network, meshmend_cluster_id,
# meshmend_mesh_id, meshmend_cluster_role, meshmend_eastwest_gateway_ip).
DECLARED_KEYS = ("network", "cluster_id", "mesh_id", "role", "gateway_ip")

DEFAULT_OPTIONS = {
    "istio_namespace": "istio-system",
    "probe_service": "helloworld.sample",
    "probe_port": 5000,
    "probe_client": "sample/app=sleep",
    "log_lines": 2000,
    # true: probe every kubeconfig; false: never; auto: only those istiod does not report synced.
    "probe_remote_secrets": "auto",
    "peers": {},
    "declared": {},
    "service_namespaces": None,   # default: the probe service's namespace
    "read_log": True,
    "read_clusterz": True,
    "read_proxy": True,
    "exec_timeout": 10,
    "probe_timeout": 5,
    # seconds one cluster's whole gather may take (reads, execs, probes): a hung or crawling API server
    # ends as cluster.unreachable (gather stopped) and the other clusters are not kept waiting
    "gather_timeout": 60,
    "insecure_kubeconfig_options": [],  # PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS
    "sections": None,             # default: ALL_SECTIONS (a standalone module reads less)
}

# Meshes without Istio's samples: the Services and proxy endpoints kept for the endpoint checks.
MAX_MESH_SERVICES = 200
MAX_PROXY_SERVICES = 20
MAX_SERVICE_ROWS = 50
GATEWAY_APP_LABELS = ("eastwestgateway", "ingressgateway", "egressgateway")

# What gather can read; a section left out is not requested and its facts keys stay null.
ALL_SECTIONS = ("istiod", "services", "configmaps", "remote_secrets", "cacerts", "sidecar_pods", "nodes",
                "istio_crds", "log", "clusterz", "proxy")


# --------------------------------------------------------------------------- small helpers

def peer_map(peers):
    """Option ``peers`` as normalized server URL -> cluster name.

    Accepts ``{url: name}`` or ``[{name, server, cluster_id}]`` (remote_secret_check's form).
    """
    out = {}
    if isinstance(peers, dict):
        for url, name in peers.items():
            if isinstance(name, dict):
                name = name.get("name")
            out[normalize_server(url)] = name
    elif isinstance(peers, list):
        for p in peers:
            if isinstance(p, dict) and p.get("server") and p.get("name"):
                out[normalize_server(p["server"])] = p["name"]
    return out


def image_version(image):
    """``docker.io/istio/pilot:1.30.3-distroless`` -> ``1.30.3``."""
    if not image:
        return None
    tail = image.rsplit("/", 1)[-1]
    if "@" in tail:
        tail = tail.split("@", 1)[0]
    if ":" not in tail:
        return None
    tag = tail.split(":", 1)[1]
    m = re.match(r"^v?(\d+\.\d+(?:\.\d+)?(?:-(?:alpha|beta|rc)\.?\d*)?)", tag)
    return m.group(1) if m else None


def _load_yaml(text):
    """YAML from a cluster object, with the size / alias limits; None when unreadable."""
    if not text or not HAS_YAML or not isinstance(text, str):
        return None
    try:
        return safe_load(text)
    except (yaml.YAMLError, YamlLimitError):
        return None


def load_json(text):
    if not text:
        return None
    try:
        return jsontext.loads(text)
    except ValueError:
        return None


def parse_probe_client(value, default_ns="sample"):
    """``sample/app=sleep`` -> (namespace, selector); ``sample/sleep-abc`` (no =) -> (ns, pod name)."""
    value = value or ""
    if "/" not in value:
        return default_ns, value
    ns, rest = value.split("/", 1)
    return ns or default_ns, rest


# --------------------------------------------------------------------------- pure extraction

def istiod_facts(deployments, istiod_pods, namespace):
    """The istiod Deployment (istiod, else istiod-<rev>, else app=istiod) and its Running pods."""
    cand = [d for d in deployments or [] if name_of(d) == "istiod"]
    cand += [d for d in deployments or [] if (name_of(d) or "").startswith("istiod-") and name_of(d) != "istiod-remote"]
    cand += [d for d in deployments or [] if labels_of(d).get("app") == "istiod" and d not in cand]
    if not cand:
        return None
    dep = cand[0]
    spec = (dep.get("spec") or {}).get("template", {}).get("spec") or {}
    cont = [c for c in spec.get("containers") or [] if c.get("name") == "discovery"]
    cont = cont[0] if cont else ((spec.get("containers") or [None])[0]) or {}
    env = env_map(cont)
    template_labels = dig(dep, "spec", "template", "metadata", "labels") or {}
    rev = labels_of(dep).get("istio.io/rev") or template_labels.get("istio.io/rev")
    pods = [p for p in istiod_pods or [] if pod_running(p)
            and (not rev or labels_of(p).get("istio.io/rev") in (None, rev))]
    pods.sort(key=lambda p: (not pod_ready(p), name_of(p)))
    status = dep.get("status") or {}
    return {
        "name": name_of(dep),
        "namespace": meta(dep).get("namespace") or namespace,
        "revision": rev if rev and rev != "default" else None,
        "image": cont.get("image"),
        "version": image_version(cont.get("image")),
        "cluster_id": env.get("CLUSTER_ID") or DEFAULT_CLUSTER_ID,
        "cluster_id_set": bool(env.get("CLUSTER_ID")),
        "env": env,
        "ready_replicas": status.get("readyReplicas") or 0,
        "replicas": (dep.get("spec") or {}).get("replicas", 1),
        "pods": [name_of(p) for p in pods],
        "monitoring_port": int(annotations_of(pods[0]).get("prometheus.io/port") or 15014) if pods else 15014,
    }


def control_plane_services(services, namespace, endpoints=None):
    """Services named istiod, istiod-<rev> or istiod-remote in istiod's namespace. A selector-less one is how a
    remote cluster's proxies reach the primary's istiod: its ``endpoints`` (the IPs of the Endpoints object of
    that name, when read) say where it leads."""
    by_name = {}
    for ep in endpoints or []:
        ips = [a.get("ip") for sub in (ep.get("subsets") or []) for a in (sub.get("addresses") or []) if a.get("ip")]
        by_name[name_of(ep)] = ips
    out = []
    for s in services or []:
        if meta(s).get("namespace") != namespace:
            continue
        n = name_of(s) or ""
        if n == "istiod" or n == "istiod-remote" or n.startswith("istiod-"):
            spec = s.get("spec") or {}
            selectorless = not spec.get("selector")
            out.append({"name": n, "selectorless": selectorless, "type": spec.get("type") or "ClusterIP",
                        "external_name": spec.get("externalName"),
                        "ports": [p.get("port") for p in spec.get("ports") or []],
                        "endpoints": by_name.get(n, []) if selectorless and endpoints is not None else None})
    return sorted(out, key=lambda x: x["name"])


def has_selectorless_control_plane(services, namespace):
    """True when istiod's namespace holds a selector-less istiod Service (a remote cluster's wiring)."""
    return any(c["selectorless"] for c in control_plane_services(services, namespace))


def _sane_values(values):
    """Injector values with the identity fields the checks compare only when they are strings."""
    if not isinstance(values, dict):
        return None
    g = values.get("global")
    if g is None:
        return values
    if not isinstance(g, dict):
        return dict((k, v) for k, v in values.items() if k != "global")
    g = dict(g)
    for key in ("network", "meshID", "remotePilotAddress", "istioNamespace"):
        if key in g and not isinstance(g[key], str):
            del g[key]
    mc = g.get("multiCluster")
    if mc is not None and not isinstance(mc, dict):
        del g["multiCluster"]
    elif isinstance(mc, dict) and "clusterName" in mc and not isinstance(mc["clusterName"], str):
        g["multiCluster"] = dict((k, v) for k, v in mc.items() if k != "clusterName")
    return dict(values, **{"global": g})


def configmap_facts(configmaps, revision=None):
    """mesh_config, mesh_networks, injector_values, ca_root_cert from istio-system ConfigMaps."""
    by_name = dict((name_of(c), c) for c in configmaps or [])
    suffix = "-%s" % revision if revision else ""
    istio = by_name.get("istio" + suffix) or by_name.get("istio")
    injector = by_name.get("istio-sidecar-injector" + suffix) or by_name.get("istio-sidecar-injector")
    data = (istio or {}).get("data") or {}
    out = {
        "mesh_config": _load_yaml(data.get("mesh")) if istio else None,
        "mesh_networks": _load_yaml(data.get("meshNetworks")) if istio and data.get("meshNetworks") else None,
        "injector_values": load_json(((injector or {}).get("data") or {}).get("values")) if injector else None,
        "ca_root_cert": None,
    }
    out["mesh_config"] = out["mesh_config"] if isinstance(out["mesh_config"], dict) else None
    out["mesh_networks"] = out["mesh_networks"] if isinstance(out["mesh_networks"], dict) else None
    out["injector_values"] = _sane_values(out["injector_values"])
    root = by_name.get("istio-ca-root-cert")
    if root is not None:
        out["ca_root_cert"] = _certs.analyze_root_configmap(root.get("data") or {})
    return out


def node_facts(nodes):
    out = []
    for n in nodes or []:
        lb = labels_of(n)
        addrs = (n.get("status") or {}).get("addresses") or []
        out.append({
            "name": name_of(n),
            "region": lb.get("topology.kubernetes.io/region") or lb.get("failure-domain.beta.kubernetes.io/region"),
            "zone": lb.get("topology.kubernetes.io/zone") or lb.get("failure-domain.beta.kubernetes.io/zone"),
            "subzone": lb.get("topology.istio.io/subzone"),
            "external_ips": [a.get("address") for a in addrs if isinstance(a, dict) and a.get("type") == "ExternalIP"],
            "internal_ips": [a.get("address") for a in addrs if isinstance(a, dict) and a.get("type") == "InternalIP"],
        })
    return sorted(out, key=lambda x: x["name"] or "")


def service_facts(services, namespaces, sidecar_pods=None):
    """The Services the endpoint checks compare with: those of ``namespaces`` (the probe service's) and,
    for meshes that do not run Istio's samples, every Service that selects an injected pod (at most
    MAX_MESH_SERVICES, by namespace and name)."""
    pod_labels = {}
    for p in sidecar_pods or []:
        pod_labels.setdefault(meta(p).get("namespace"), []).append(labels_of(p))
    wanted, mesh = [], []
    for s in services or []:
        ns = meta(s).get("namespace")
        spec = s.get("spec") or {}
        selector = spec.get("selector") or {}
        explicit = namespaces is not None and ns in namespaces
        if not explicit and not (selector and any(selects(selector, labels) for labels in pod_labels.get(ns, ()))):
            continue
        (wanted if explicit else mesh).append({
            "namespace": ns, "name": name_of(s), "type": spec.get("type") or "ClusterIP",
            "selector": selector, "ports": [p.get("port") for p in spec.get("ports") or []],
            "headless": spec.get("clusterIP") == "None",
            "traffic_distribution": spec.get("trafficDistribution")
            or annotations_of(s).get("networking.istio.io/traffic-distribution"),
            "labels": labels_of(s),
        })

    def order(svc):
        return svc["namespace"] or "", svc["name"] or ""
    return sorted(wanted, key=order) + sorted(mesh, key=order)[:MAX_MESH_SERVICES]


def sidecar_pod_facts(pods):
    out = []
    for p in pods or []:
        spec = p.get("spec") or {}
        proxy = sidecar_container(p)
        if proxy is None or not pod_running(p):
            continue
        env = env_map(proxy)
        ann = annotations_of(p)
        pcfg = _load_yaml(ann.get("proxy.istio.io/config")) if ann.get("proxy.istio.io/config") else None
        out.append({
            "namespace": meta(p).get("namespace"),
            "name": name_of(p),
            "labels": labels_of(p),
            "sidecar": sidecar_placement(p),
            "pod_ip": (p.get("status") or {}).get("podIP"),
            "node": spec.get("nodeName"),
            "ready": pod_ready(p),
            "network_env": env.get("ISTIO_META_NETWORK"),
            "cluster_id_env": env.get("ISTIO_META_CLUSTER_ID"),
            "mesh_id_env": env.get("ISTIO_META_MESH_ID"),
            "network_label": labels_of(p).get(NETWORK_LABEL),
            "discovery_address": pcfg.get("discoveryAddress") if isinstance(pcfg, dict) else None,
            "locality_label": labels_of(p).get("istio-locality"),
        })
    return sorted(out, key=lambda x: (x["namespace"] or "", x["name"] or ""))


def istio_gateway_facts(items):
    if items is None:
        return None
    out = []
    for g in items:
        spec = g.get("spec") or {}
        servers = []
        for s in spec.get("servers") or []:
            port = s.get("port") or {}
            servers.append({"port": port.get("number"), "name": port.get("name"), "protocol": port.get("protocol"),
                            "tls_mode": (s.get("tls") or {}).get("mode"), "hosts": s.get("hosts") or []})
        out.append({"namespace": meta(g).get("namespace"), "name": name_of(g), "selector": spec.get("selector") or {},
                    "servers": servers})
    return sorted(out, key=lambda x: (x["namespace"] or "", x["name"] or ""))


def destination_rule_facts(items):
    if items is None:
        return None
    out = []
    for d in items:
        spec = d.get("spec") or {}
        tp = spec.get("trafficPolicy") or {}
        out.append({"namespace": meta(d).get("namespace"), "name": name_of(d), "host": spec.get("host"),
                    "outlier_detection": bool(tp.get("outlierDetection")),
                    "locality_lb": (tp.get("loadBalancer") or {}).get("localityLbSetting"),
                    "subsets": [s.get("name") for s in spec.get("subsets") or []]})
    return sorted(out, key=lambda x: (x["namespace"] or "", x["name"] or ""))


def remote_secret_facts(secrets, allowlist=(), no_log_values=None, istio_version=None):
    """Every istio/multiCluster=true Secret, one entry per data key (no credential).

    Returns (facts, configs) where configs maps (namespace, name, key) -> the kubeconfig's bytes, for the
    probe (kept in memory only, never returned).
    """
    facts, configs = [], {}
    for s in secrets or []:
        md = meta(s)
        entries = []
        data = s.get("data") if isinstance(s.get("data"), dict) else {}
        for key in sorted(data.keys()):
            raw = _kubeconfig.b64_strict(data.get(key) or "")
            if raw is None:
                entry, _config = _kubeconfig.summarize(key, b"", allowlist, istio_version)
                entry["error"] = "kubeconfig cannot be loaded: the Secret's data value is not valid base64"
                entry["error_stage"] = "load"
            else:
                entry, parsed, values = summarize_once(key, raw, allowlist, istio_version)
                if parsed:
                    if no_log_values is not None:
                        no_log_values.update(values)
                    configs[(md.get("namespace"), md.get("name"), key)] = raw
            entries.append(entry)
        annotations = secret_annotations(s)   # never last-applied-configuration (it holds the data)
        facts.append({"namespace": md.get("namespace"), "name": md.get("name"), "labels": labels_of(s),
                      "annotations": annotations, "type": s.get("type"), "entries": entries})
    return sorted(facts, key=lambda x: (x["namespace"] or "", x["name"] or "")), configs


def summarize_once(key, raw, allowlist, istio_version):
    """kubeconfig.summarize, worked out once per run for each distinct value (shared_memo): the N-1 copies of
    a peer's reader kubeconfig in the other clusters are the same bytes. Returns (entry, parsed, the
    credential strings the value holds, for no_log).

    The memo holds no credential: it keeps where they sit in the value (spans), and a worker that finds the
    entry reads them from its own copy of the bytes."""
    memo_key = digest("remote secret", key, raw, None if allowlist is None else tuple(allowlist), istio_version)
    known = MEMO.get(memo_key)
    if known is not None:
        return known["entry"], known["parsed"], [_at(raw, span) for span in known["spans"]]
    entry, config = _kubeconfig.summarize(key, raw, allowlist, istio_version)
    values = kubeconfig_secret_values(config) if config is not None else []
    spans = _spans(raw, values)
    if spans is not None:
        MEMO.put(memo_key, {"entry": entry, "parsed": config is not None, "spans": spans})
    return entry, config is not None, values


def _b64_text(data):
    return base64.b64decode(data).decode("utf-8", "replace")   # as client.kubeconfig_secret_values decodes


def _spans(raw, values):
    """[[start, end, base64]] locating each value in raw, verbatim or as the decoding of a verbatim one; None when
    one cannot be located (that value is then not memoized)."""
    spans = []
    for value in values:
        found = raw.find(value.encode("utf-8"))
        if found >= 0:
            spans.append([found, found + len(value.encode("utf-8")), False])
            continue
        for start, end, _decoded in list(spans):
            try:
                if _b64_text(raw[start:end]) == value:
                    spans.append([start, end, True])
                    break
            except (ValueError, TypeError):
                continue
        else:
            return None
    return spans


def _at(raw, span):
    start, end, decoded = span
    return _b64_text(raw[start:end]) if decoded else raw[start:end].decode("utf-8")


def effective_identity(facts):
    """cluster_id, network, mesh_id, discovery_address, remote_pilot_address (docs/facts.md rules).

    The cluster's role is not decided here: the mesh model derives it (checks/model.py), once.
    """
    iv = facts.get("injector_values") if isinstance(facts.get("injector_values"), dict) else {}
    g = iv.get("global") if isinstance(iv.get("global"), dict) else {}
    istiod = facts.get("istiod")
    mesh = facts.get("mesh_config") or {}
    ns_labels = (facts.get("namespace") or {}).get("labels") or {}
    if istiod and istiod.get("cluster_id_set"):
        cid = istiod["cluster_id"]
    else:
        cid = dig(g, "multiCluster", "clusterName") or DEFAULT_CLUSTER_ID
    network = ns_labels.get(NETWORK_LABEL) or g.get("network") or None
    mesh_id = g.get("meshID") or (mesh.get("meshId") if isinstance(mesh, dict) else None) or None
    discovery = dig(mesh, "defaultConfig", "discoveryAddress") if isinstance(mesh, dict) else None
    remote_pilot = g.get("remotePilotAddress") or None
    # Values of another type (YAML/JSON of the wrong shape) are not an identity: treat them as unset.
    cid = cid if isinstance(cid, str) else DEFAULT_CLUSTER_ID
    network = network if isinstance(network, str) else None
    mesh_id = mesh_id if isinstance(mesh_id, str) else None
    discovery = discovery if isinstance(discovery, str) else None
    remote_pilot = remote_pilot if isinstance(remote_pilot, str) else None
    return {"cluster_id": cid, "network": network, "mesh_id": mesh_id,
            "discovery_address": discovery, "remote_pilot_address": remote_pilot}


# What a proxy row leaves out of the facts at its default value: a socket address (its ENDPOINT text is then
# address:port), no other address, no failure flag, no hostname. A proxy holds one row per peer network's
# gateway: at 500 clusters, 250,000 rows held at once by the analysis.
_ROW_DEFAULTS = {"address_kind": "socket", "additional_addresses": [], "health_flags": [], "hostname": None}


def proxy_row(row):
    """An Envoy endpoint row (envoy.py) as the facts keep it: the fields at their default left out."""
    out = dict((k, v) for k, v in row.items() if k not in _ROW_DEFAULTS or _ROW_DEFAULTS[k] != v)
    if "address_kind" not in out:
        text = _envoy.endpoint_string(out.get("address"), out.get("port"))
        if out.get("endpoint") == text:
            del out["endpoint"]
        if out.get("addresses") == [text]:
            del out["addresses"]
    return out


def proxy_endpoint_facts(raw_json, pod, service, port, network, istio_namespace="istio-system"):
    """The guide's ``istioctl proxy-config endpoint`` on the client pod: the probe service's endpoints, and
    those of the other mesh services the proxy knows (``services``: host -> rows; at most
    MAX_PROXY_SERVICES services, most endpoints first, MAX_SERVICE_ROWS rows each), so that a mesh that
    runs no sample is checked on a service of its own."""
    out = {"pod": pod, "service": _envoy.service_host(service) if service else None, "port": port,
           "network": network, "error": None, "endpoints": [], "clusters_seen": 0, "services": {}}
    try:
        doc = _envoy.load_document(raw_json)
        counts = _envoy.endpoint_counts(doc)
    except _envoy.EnvoyParseError as exc:
        out["error"] = str(exc)
        return out
    out["clusters_seen"] = len(counts)
    # Rows are built only for the Envoy clusters kept: the probe service's, and the largest other services'.
    probe, by_host = set(), {}
    for name, found in counts.items():
        parts = _envoy.parse_cluster_name(name)
        if not parts or parts["direction"] != "outbound":
            continue
        if out["service"] and parts["host"] == out["service"] and (port is None or parts["port"] == int(port)):
            probe.add(name)
        host = parts["host"] or ""
        labels = host.split(".")
        if parts["subset"] or len(labels) < 3 or labels[2] != "svc" or labels[1] == istio_namespace or host == out["service"]:
            continue
        names, total = by_host.get(host, ((), 0))
        by_host[host] = (names + (name,), total + found)
    ranked = sorted(by_host.items(), key=lambda kv: (-kv[1][1], kv[0]))[:MAX_PROXY_SERVICES]
    kept = set(probe)
    for _host, (names, _total) in ranked:
        kept.update(names)
    rows = [proxy_row(row) for row in _envoy.parse_endpoints(doc, clusters=kept)]
    out["endpoints"] = [row for row in rows if row["cluster"] in probe]
    for host, (names, _total) in ranked:
        out["services"][host] = [row for row in rows if row["cluster"] in names][:MAX_SERVICE_ROWS]
    return out


def build_facts(raw, options=None):
    """Pure: raw API answers (dict of lists/objects, None when the read failed) -> facts.

    Each part is built on its own: an object of a shape nobody expected (a custom resource with a
    lax schema, YAML of the wrong type in a ConfigMap) costs that part only, which is then null and
    named in ``read_errors`` (reason ``Malformed``), never the whole cluster.
    """
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options or {})
    ns = opts["istio_namespace"]
    f = {"read_errors": []}

    def part(resource, fn, namespace=None, default=None):
        try:
            return fn()
        except (TypeError, AttributeError, ValueError, KeyError, IndexError) as exc:
            f["read_errors"].append({
                "verb": "read", "resource": resource, "group": "", "namespace": namespace, "name": None,
                "code": None, "reason": "Malformed", "kind": "invalid",
                "message": "an object has an unexpected shape, so these facts were left out (%s)"
                           % plain_error(exc)})
            return default

    nsobj = raw.get("namespace")
    f["namespace"] = part("namespaces", lambda: None if nsobj is None else {
        "labels": labels_of(nsobj), "annotations": annotations_of(nsobj)})
    f["istiod"] = part("deployments", lambda: istiod_facts(raw.get("deployments"), raw.get("istiod_pods"), ns)
                       if raw.get("deployments") is not None else None, ns)
    f["control_plane_services"] = part("services", lambda: control_plane_services(
        raw.get("services"), ns, raw.get("control_plane_endpoints")) if raw.get("services") is not None else None, ns)
    rev = (f["istiod"] or {}).get("revision")
    empty_cm = {"mesh_config": None, "mesh_networks": None, "injector_values": None, "ca_root_cert": None}
    cm = part("configmaps", lambda: configmap_facts(raw.get("configmaps"), rev)
              if raw.get("configmaps") is not None else empty_cm, ns, empty_cm)
    f.update(cm)
    f.update(part("configmaps", lambda: effective_identity(f), ns) or effective_identity(
        dict(f, mesh_config=None, injector_values=None)))
    f["nodes"] = part("nodes", lambda: node_facts(raw.get("nodes")) if raw.get("nodes") is not None else None)
    f["gateways"] = part("services", lambda: _gateways.gateways_from_services(raw.get("services"), raw.get("nodes"))
                         if raw.get("services") is not None else None)
    # the gateways istiod learns from meshNetworks: fixed addresses, and Services of this registry it names
    f["mesh_networks_gateways"] = part("configmaps", lambda: _mesh_networks.gateways_from_mesh_networks(
        f["mesh_networks"], {f.get("cluster_id"): raw.get("services") or []},
        {f.get("cluster_id"): raw.get("nodes") or []}, (f.get("istiod") or {}).get("version"))
        if f.get("mesh_networks") else None, ns)
    svc_ns = opts.get("service_namespaces")
    if svc_ns is None:
        probe = opts.get("probe_service") or ""
        svc_ns = [probe.split(".")[1]] if probe.count(".") >= 1 else []
    f["services"] = part("services", lambda: service_facts(raw.get("services"), svc_ns, raw.get("sidecar_pods"))
                         if raw.get("services") is not None else None)
    f["sidecar_pods"] = part("pods", lambda: sidecar_pod_facts(raw.get("sidecar_pods"))
                             if raw.get("sidecar_pods") is not None else None)
    f["istio_gateways"] = part("gateways.networking.istio.io", lambda: istio_gateway_facts(raw.get("istio_gateways")))
    f["destination_rules"] = part("destinationrules.networking.istio.io",
                                  lambda: destination_rule_facts(raw.get("destination_rules")))
    if raw.get("cacerts_read", True):
        f["cacerts"] = part("secrets/cacerts", lambda: _certs.analyze_cacerts(
            (raw.get("cacerts") or {}).get("data") or {}) if raw.get("cacerts") is not None else None, ns)
    else:
        f["cacerts"] = None
    return f
