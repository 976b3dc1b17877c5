"""What a proxy's EDS holds: mesh services, their endpoints, split horizon (ep_filters.go)."""

from .world import labels_of, name_of, ns_of, matches
from .istiod import serving_istiod
from .networks import endpoint_network, proxy_network

DOMAIN = "svc.cluster.local"


def pod_locality(world, lab_cluster, pod):
    """istio-locality label, else the node's topology labels, else the lab.yaml cluster region/zone."""
    loc = labels_of(pod).get("istio-locality")
    if loc:
        parts = (loc.split(".") + ["", "", ""])[:3]
        return {"region": parts[0], "zone": parts[1], "sub_zone": parts[2]}
    node = world.get(lab_cluster, "nodes", None, (pod.get("spec") or {}).get("nodeName") or "")
    nl = labels_of(node or {})
    region = nl.get("topology.kubernetes.io/region") or nl.get("failure-domain.beta.kubernetes.io/region")
    zone = nl.get("topology.kubernetes.io/zone") or nl.get("failure-domain.beta.kubernetes.io/zone")
    if region is None and zone is None:
        cs = world.cluster_spec(lab_cluster)
        region, zone = cs.get("region"), cs.get("zone")
    return {"region": region or "", "zone": zone or "", "sub_zone": nl.get("topology.istio.io/subzone", "")}


def pod_ready(pod):
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    st = pod.get("status") or {}
    return st.get("phase", "Running") == "Running" and bool(st.get("podIP"))


def target_port(svc_port, pod):
    tp = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(tp, int):
        return tp
    if isinstance(tp, str) and tp.isdigit():
        return int(tp)
    # k8s pkg/api/v1/pod FindPort: the containers, then sidecar (restartPolicy: Always) init containers
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or []) + [i for i in spec.get("initContainers") or []
                                                   if i.get("restartPolicy") == "Always"]:
        for p in c.get("ports") or []:
            if p.get("name") == tp:
                return p.get("containerPort")
    return svc_port.get("port")


def workload_meta(pod, registry_id):
    l = labels_of(pod)
    wl = name_of(pod)
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "ReplicaSet":
            wl = ref.get("name", "").rsplit("-", 1)[0]
    return "%s;%s;%s;%s;%s" % (wl, ns_of(pod), l.get("service.istio.io/canonical-name", l.get("app", wl)),
                               l.get("service.istio.io/canonical-revision", l.get("version", "latest")),
                               registry_id)


def mesh_endpoints(world, istiod):
    """{(host, port): {"service": svc, "endpoints": [ep]}} over every synced registered cluster."""
    out = {}
    selectors = istiod.mesh.get("discoverySelectors") or []
    for rid, lc in istiod.synced_clusters():
        visible = None
        if selectors:  # discoverySelectors apply to every registered cluster, remote ones too
            visible = {name_of(n) for n in world.list(lc, "namespaces")
                       if any(selector_matches(s, labels_of(n)) for s in selectors)}
        pods = [p for p in world.list(lc, "pods") if pod_ready(p)]
        for svc in world.list(lc, "services"):
            if visible is not None and ns_of(svc) not in visible:
                continue
            spec = svc.get("spec") or {}
            host = "%s.%s.%s" % (name_of(svc), ns_of(svc), DOMAIN)
            sel = spec.get("selector")
            for sp in spec.get("ports") or []:
                if sp.get("protocol", "TCP") != "TCP":
                    continue
                entry = out.setdefault((host, sp.get("port")), {"service": svc, "endpoints": []})
                if not sel:
                    continue
                for p in pods:
                    if ns_of(p) != ns_of(svc) or not matches(sel, labels_of(p)):
                        continue
                    entry["endpoints"].append({
                        "address": p["status"]["podIP"], "port": target_port(sp, p),
                        "registry": rid, "lab_cluster": lc, "pod": p,
                        "network": endpoint_network(world, lc, rid, p, istiod.mesh_networks),
                        "locality": pod_locality(world, lc, p),
                        "tls": labels_of(p).get("security.istio.io/tlsMode") == "istio",
                        "weight": 1, "gateway": None, "backing": None,
                    })
    return out


def selector_matches(sel, labels):
    """metav1.LabelSelector: matchLabels and matchExpressions."""
    if not isinstance(sel, dict):
        return False
    if not matches(sel.get("matchLabels") or {}, labels):
        return False
    for e in sel.get("matchExpressions") or []:
        key, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and labels.get(key) in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def split_horizon(endpoints, proxy_net, gateways, version):
    """EndpointsByNetworkFilter: raw where same network or no gateway; remote ones via gateway:port."""
    if not gateways:
        return [dict(e) for e in endpoints]
    by_net = {}
    for g in gateways:
        by_net.setdefault(g["network"], []).append(g)
    out, remote = [], {}
    for e in endpoints:
        net = e["network"]
        same = (not net) or net == proxy_net or (not proxy_net and version < (1, 30))
        if same or net not in by_net:
            out.append(dict(e))
            continue
        if not e["tls"]:
            continue  # uninjected remote-network endpoints cannot be reached through the gateway
        loc = e["locality"]
        key = (net, loc.get("region"), loc.get("zone"), loc.get("sub_zone"))
        remote.setdefault(key, []).append(e)
    for (net, _r, _z, _s), eps in sorted(remote.items()):
        for g in by_net[net]:
            out.append({"address": g["addr"], "port": g["port"], "registry": eps[0]["registry"],
                        "lab_cluster": g.get("lab_cluster") or eps[0]["lab_cluster"], "pod": None,
                        "network": net, "locality": eps[0]["locality"], "tls": True,
                        "weight": len(eps), "gateway": g, "backing": eps})
    return out


class ProxyView:
    """One proxy's xDS: the istiod serving it and the EDS of every outbound cluster."""

    def __init__(self, world, cluster, pod):
        self.world = world
        self.cluster = cluster
        self.pod = pod
        self.server = serving_istiod(world, cluster, pod)
        self.istiod = world.istiod(self.server) if self.server else None
        self.network = proxy_network(pod)
        self._clusters = None

    def clusters(self):
        """{envoy cluster name: {"host", "port", "service", "endpoints"}} (empty when not connected)."""
        if self._clusters is not None:
            return self._clusters
        self._clusters = {}
        if self.istiod is None:
            return self._clusters
        gws, _ = self.istiod.gateways()
        for (host, port), entry in sorted(self.istiod.endpoints().items(),
                                          key=lambda kv: (kv[0][0], kv[0][1])):
            name = "outbound|%s||%s" % (port, host)
            self._clusters[name] = {"host": host, "port": port, "service": entry["service"],
                                    "endpoints": split_horizon(entry["endpoints"], self.network, gws,
                                                               self.istiod.version)}
        return self._clusters

    def locality(self):
        return pod_locality(self.world, self.cluster, self.pod)


def priority(a, b):
    """Locality priority of endpoint locality b seen from a: 0 same zone+subzone ... 3 other region."""
    if a.get("region") != b.get("region"):
        return 3
    if a.get("zone") != b.get("zone"):
        return 2
    if a.get("sub_zone") != b.get("sub_zone"):
        return 1
    return 0


def locality_lb_active(world, proxy_cluster, mesh, host, namespace):
    """Locality failover applies only with outlierDetection (or a traffic distribution preference)."""
    setting = (mesh or {}).get("localityLbSetting") or {}
    enabled = setting.get("enabled", True)
    for dr in world.list(proxy_cluster, "destinationrules.networking.istio.io"):
        spec = dr.get("spec") or {}
        h = spec.get("host", "")
        if h not in (host, host.split(".")[0], ".".join(host.split(".")[:2])) and \
                not (h.startswith(host.split(".")[0] + ".") and host.startswith(h)):
            continue
        tp = spec.get("trafficPolicy") or {}
        lls = ((tp.get("loadBalancer") or {}).get("localityLbSetting")) or {}
        if lls.get("enabled") is False:
            return False
        if enabled and (tp.get("outlierDetection") or lls.get("failover") or lls.get("failoverPriority")):
            return True
    return False
