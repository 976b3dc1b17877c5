"""Envoy admin output (snake_case, as Envoy prints it) and a parser for both spellings."""

import json

STATS = [("GAUGE", "cx_active"), (None, "cx_connect_fail"), (None, "cx_total"), ("GAUGE", "rq_active"),
         (None, "rq_error"), (None, "rq_success"), (None, "rq_timeout"), (None, "rq_total")]

STATIC = ["BlackHoleCluster", "PassthroughCluster", "InboundPassthroughCluster", "agent",
          "prometheus_stats", "sds-grpc", "xds-grpc"]
PIPES = {"sds-grpc": "./var/run/secrets/workload-spiffe-uds/socket", "xds-grpc": "./etc/istio/proxy/XDS"}


def _locality(loc):
    return {k: v for k, v in (loc or {}).items() if v}


def _zero_stats():
    out = []
    for typ, name in STATS:
        s = {"name": name}  # Envoy omits zero values
        if typ:
            s["type"] = typ
        out.append(s)
    return out


# Every host's stats are zero in the lab: one list, written out for each host (at 500 clusters, building it anew
# for each of some 500,000 hosts was a tenth of the lab's CPU in a diagnose).
ZERO_STATS = _zero_stats()


def render_clusters(view):
    """GET /clusters?format=json for a ProxyView."""
    statuses = []
    for name in STATIC:
        st = {"name": name}
        if name in PIPES:
            st["host_statuses"] = [{"address": {"pipe": {"path": PIPES[name]}}, "stats": ZERO_STATS,
                                    "health_status": {"eds_health_status": "HEALTHY"}, "weight": 1}]
        elif name in ("agent", "prometheus_stats"):
            port = 15020 if name == "agent" else 15000
            st["host_statuses"] = [{"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                                    "stats": ZERO_STATS, "health_status": {"eds_health_status": "HEALTHY"},
                                    "weight": 1}]
        statuses.append(st)
    for name, c in view.clusters().items():
        hosts = []
        for e in c["endpoints"]:
            h = {"address": {"socket_address": {"address": e["address"], "port_value": e["port"]}},
                 "stats": ZERO_STATS, "health_status": {"eds_health_status": "HEALTHY"},
                 "weight": e["weight"]}
            loc = _locality(e["locality"])
            if loc:
                h["locality"] = loc
            hosts.append(h)
        st = {"name": name, "added_via_api": True, "observability_name": name.replace("|", "_"),
              "circuit_breakers": {"thresholds": [
                  {"max_connections": 4294967295, "max_pending_requests": 4294967295,
                   "max_requests": 4294967295, "max_retries": 4294967295},
                  {"priority": "HIGH", "max_connections": 1024, "max_pending_requests": 1024,
                   "max_requests": 1024, "max_retries": 3}]}}
        if hosts:
            st["host_statuses"] = hosts
        statuses.append(st)
    return {"cluster_statuses": statuses}


def render_config_dump(view, include_eds=True):
    """GET /config_dump?include_eds=true: the EndpointsConfigDump part (plus a minimal bootstrap)."""
    dyn = []
    for name, c in view.clusters().items():
        groups = {}
        for e in c["endpoints"]:
            key = tuple(sorted(_locality(e["locality"]).items()))
            groups.setdefault(key, []).append(e)
        eps = []
        for key, es in groups.items():
            lbs = []
            for e in es:
                md = {"istio": {"workload": _workload(e)}}
                lbs.append({"endpoint": {"address": {"socket_address": {"address": e["address"],
                                                                         "port_value": e["port"]}},
                                         "health_check_config": {}},
                            "health_status": "HEALTHY", "metadata": {"filter_metadata": md},
                            "load_balancing_weight": e["weight"]})
            eps.append({"locality": dict(key), "lb_endpoints": lbs,
                        "load_balancing_weight": sum(e["weight"] for e in es)})
        cla = {"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
               "cluster_name": name, "policy": {"overprovisioning_factor": 140}}
        if eps:
            cla["endpoints"] = eps
        dyn.append({"endpoint_config": cla})
    meta = {"CLUSTER_ID": "", "NETWORK": view.network}
    from .injection import proxy_container
    for c in [proxy_container(view.pod)[0] or {}]:
        if c.get("name") == "istio-proxy":
            for e in c.get("env") or []:
                if e.get("name", "").startswith("ISTIO_META_") and "value" in e:
                    meta[e["name"][len("ISTIO_META_"):]] = e["value"]
    boot = {"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
            "bootstrap": {"node": {"id": "sidecar~%s~%s.%s~%s.svc.cluster.local" % (
                (view.pod.get("status") or {}).get("podIP", ""), view.pod["metadata"]["name"],
                view.pod["metadata"].get("namespace"), view.pod["metadata"].get("namespace")),
                "cluster": view.pod["metadata"]["name"], "metadata": meta,
                "locality": _locality(view.locality())}}}
    configs = [boot]
    if include_eds:
        configs.append({"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
                        "dynamic_endpoint_configs": dyn})
    return {"configs": configs}


def _workload(e):
    from .eds import workload_meta
    if e.get("pod") is not None:
        return workload_meta(e["pod"], e["registry"])
    return ";;;;%s" % e.get("registry", "")


# ---------------------------------------------------------------- parsing (Envoy's and istioctl's spellings)

def _g(d, *names):
    for n in names:
        if isinstance(d, dict) and n in d:
            return d[n]
    return None


def parse_clusters(doc):
    """[{cluster, address, port, status, outlier_failed, weight, locality}] from clusters?format=json.

    Accepts Envoy's snake_case and protobuf lowerCamelCase; missing eds_health_status means UNKNOWN.
    """
    if isinstance(doc, (str, bytes)):
        doc = json.loads(doc)
    rows = []
    for cs in _g(doc, "cluster_statuses", "clusterStatuses") or []:
        for h in _g(cs, "host_statuses", "hostStatuses") or []:
            addr = _g(h, "address") or {}
            sa = _g(addr, "socket_address", "socketAddress")
            if sa is not None:
                address, port = _g(sa, "address"), _g(sa, "port_value", "portValue")
            elif _g(addr, "pipe") is not None:
                address, port = "unix://" + (_g(_g(addr, "pipe"), "path") or ""), 0
            else:
                eia = _g(addr, "envoy_internal_address", "envoyInternalAddress") or {}
                address, port = "envoy://" + str(_g(eia, "server_listener_name", "serverListenerName")), 0
            hs = _g(h, "health_status", "healthStatus") or {}
            rows.append({"cluster": _g(cs, "name"), "address": address, "port": port,
                         "status": _g(hs, "eds_health_status", "edsHealthStatus") or "UNKNOWN",
                         "outlier_failed": bool(_g(hs, "failed_outlier_check", "failedOutlierCheck")),
                         "weight": _g(h, "weight"), "locality": _g(h, "locality") or {}})
    rows.sort(key=lambda r: (str(r["address"]), r["port"] or 0, r["cluster"] or ""))
    return rows


def parse_config_dump_eds(doc):
    """[{cluster, address, port, status, weight, locality, workload}] from config_dump?include_eds=true."""
    if isinstance(doc, (str, bytes)):
        doc = json.loads(doc)
    rows = []
    for cfg in doc.get("configs") or []:
        if not str(cfg.get("@type", "")).endswith("EndpointsConfigDump"):
            continue
        for section in ("static_endpoint_configs", "dynamic_endpoint_configs"):
            for item in cfg.get(section) or []:
                cla = item.get("endpoint_config") or {}
                for grp in cla.get("endpoints") or []:
                    for lb in grp.get("lb_endpoints") or []:
                        addr = (lb.get("endpoint") or {}).get("address") or {}
                        sa = addr.get("socket_address")
                        rows.append({
                            "cluster": cla.get("cluster_name"),
                            "address": sa.get("address") if sa else "unix://" + (addr.get("pipe") or {}).get("path", ""),
                            "port": sa.get("port_value") if sa else 0,
                            "status": lb.get("health_status", "UNKNOWN"),
                            "weight": lb.get("load_balancing_weight"),
                            "locality": grp.get("locality") or {},
                            "workload": (((lb.get("metadata") or {}).get("filter_metadata") or {})
                                         .get("istio") or {}).get("workload")})
    return rows


def render_clusters_text(view):
    """GET /clusters (Envoy's text format)."""
    lines = []
    for st in render_clusters(view)["cluster_statuses"]:
        n = st["name"]
        lines.append("%s::observability_name::%s" % (n, st.get("observability_name", n)))
        if st.get("added_via_api"):
            lines.append("%s::added_via_api::true" % n)
        for h in st.get("host_statuses") or []:
            a = h["address"]
            hp = ("%s:%s" % (a["socket_address"]["address"], a["socket_address"]["port_value"])
                  if "socket_address" in a else "unix://" + a["pipe"]["path"])
            for stat in ("cx_active", "cx_connect_fail", "cx_total", "rq_active", "rq_error", "rq_success",
                         "rq_timeout", "rq_total"):
                lines.append("%s::%s::%s::0" % (n, hp, stat))
            lines.append("%s::%s::hostname::" % (n, hp))
            lines.append("%s::%s::health_flags::healthy" % (n, hp))
            lines.append("%s::%s::weight::%s" % (n, hp, h.get("weight", 1)))
            loc = h.get("locality") or {}
            for k in ("region", "zone", "sub_zone"):
                lines.append("%s::%s::%s::%s" % (n, hp, k, loc.get(k, "")))
            lines.append("%s::%s::canary::false" % (n, hp))
            lines.append("%s::%s::priority::0" % (n, hp))
            lines.append("%s::%s::success_rate::-1" % (n, hp))
            lines.append("%s::%s::local_origin_success_rate::-1" % (n, hp))
    return "\n".join(lines) + "\n"
