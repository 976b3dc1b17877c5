# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Envoy admin JSON -> the rows of ``istioctl proxy-config endpoint``.

Two inputs, both spellings:

- ``GET clusters?format=json``: Envoy prints snake_case (``host_statuses``, ``socket_address``,
  ``port_value``, ``health_status.eds_health_status``, ``failed_outlier_check``);
  ``istioctl ... -o json`` and old istioctl test data use lowerCamelCase (``hostStatuses``,
  ``socketAddress``, ``portValue``, ``healthStatus.edsHealthStatus``, ``failedOutlierCheck``).
- ``GET config_dump?include_eds=true``: the EndpointsConfigDump (snake_case); with
  ``&resource=dynamic_endpoint_configs`` each config is one ``...EndpointsConfigDump.DynamicEndpointConfig``;
  ``istioctl proxy-config endpoint --file ... -o json`` prints the bare list of ClusterLoadAssignments in
  lowerCamelCase.

Rules: boolean health flags appear only when true; ``eds_health_status`` UNKNOWN (enum 0) is
omitted, so a missing value means UNKNOWN; an address is a socket address, a pipe or an
envoy internal address. An LbEndpoint may carry ``additional_addresses`` (Envoy 1.26+, dual-stack):
each row keeps them, and ``addresses`` lists every address as istioctl's NAME column does
(istioctl/pkg/writer/envoy/configdump/endpoint.go retrieveEndpointAddresses). The ``/clusters`` admin
output has none: its HostStatus holds one ``address`` (api/envoy/admin/v3/clusters.proto). Pure functions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils import jsontext

HEALTH_STATUSES = ("UNKNOWN", "HEALTHY", "UNHEALTHY", "DRAINING", "TIMEOUT", "DEGRADED")

_FAILURE_FLAGS = ("failed_active_health_check", "failed_outlier_check", "failed_active_degraded_check",
                  "pending_dynamic_removal", "pending_active_hc", "excluded_via_immediate_hc_fail",
                  "active_hc_timeout")


class EnvoyParseError(ValueError):
    pass


_CAMEL = {}


def _camel(name):
    # field names come from this module's own constants: a few dozen, spelled once each
    camel = _CAMEL.get(name)
    if camel is None:
        head, *rest = name.split("_")
        camel = _CAMEL[name] = head + "".join(w[:1].upper() + w[1:] for w in rest)
    return camel


# Either spelling of each failure flag, to tell at once whether a health_status holds any.
_FLAG_KEYS = frozenset(_FAILURE_FLAGS) | frozenset(_camel(f) for f in _FAILURE_FLAGS)


def field(obj, name, default=None):
    """``obj[snake]`` or ``obj[camelCase]``: Envoy and istioctl spellings."""
    if not isinstance(obj, dict):
        return default
    if name in obj:
        return obj[name]
    camel = _camel(name)
    if camel in obj:
        return obj[camel]
    return default


def load_document(data):
    """The JSON document of an Envoy admin or istioctl answer (text, bytes, or already parsed)."""
    if isinstance(data, (dict, list)):
        return data
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if data is not None and not isinstance(data, str):
        raise EnvoyParseError("the Envoy admin API answered a JSON %s, not an object or a list" % type(data).__name__)
    data = (data or "").strip()
    if not data:
        raise EnvoyParseError("empty answer from the Envoy admin API")
    try:
        return jsontext.loads(data)
    except ValueError as exc:
        first = data.splitlines()[0][:160] if data else ""
        raise EnvoyParseError("the Envoy admin API did not answer JSON (%s): %s" % (exc, first))


def address_of(addr):
    """(address, port, kind) of an Envoy Address; kind is socket | pipe | internal | unknown."""
    if not isinstance(addr, dict):
        return None, None, "unknown"
    sa = field(addr, "socket_address")
    if isinstance(sa, dict):
        port = field(sa, "port_value")
        if port is None:
            port = field(sa, "named_port")
        try:
            port = int(port) if port is not None else None
        except (TypeError, ValueError):
            pass
        return sa.get("address"), port, "socket"
    pipe = addr.get("pipe")
    if isinstance(pipe, dict):
        return "unix://%s" % pipe.get("path", ""), None, "pipe"
    internal = field(addr, "envoy_internal_address")
    if isinstance(internal, dict):
        name = field(internal, "server_listener_name") or ""
        eid = field(internal, "endpoint_id") or ""
        return "envoy://%s/%s" % (name, eid), None, "internal"
    return None, None, "unknown"


def endpoint_string(address, port):
    """How istioctl prints the ENDPOINT column."""
    if address is None:
        return ""
    if port is None:
        return address
    if ":" in address and not address.startswith("["):  # IPv6
        return "[%s]:%s" % (address, port)
    return "%s:%s" % (address, port)


def parse_cluster_name(name):
    """``outbound|5000|v1|helloworld.sample.svc.cluster.local`` -> parts (None for other names)."""
    parts = (name or "").split("|")
    if len(parts) != 4:
        return None
    direction, port, subset, host = parts
    try:
        port = int(port)
    except ValueError:
        port = None
    return {"direction": direction, "port": port, "subset": subset, "host": host}


def _locality(loc):
    if not isinstance(loc, dict) or not loc:
        return None
    out = {"region": loc.get("region") or None, "zone": loc.get("zone") or None,
           "subzone": field(loc, "sub_zone") or None}
    return out if any(out.values()) else None


def _row(cluster, address, port, kind, status, outlier_failed, weight=None, locality=None, extra=None):
    row = {
        "endpoint": endpoint_string(address, port),
        "address": address,
        "port": port,
        "address_kind": kind,
        "status": status,
        "outlier_check": "FAILED" if outlier_failed else "OK",
        "cluster": cluster,
        "weight": weight,
        "locality": locality,
        "additional_addresses": [],
        "addresses": [endpoint_string(address, port)],
    }
    if extra:
        row.update(extra)
    return row


def additional_addresses(endpoint):
    """Endpoint.additional_addresses[].address (either spelling) -> [{endpoint, address, port, address_kind}]."""
    out = []
    for item in field(endpoint, "additional_addresses") or []:
        if not isinstance(item, dict):
            continue
        address, port, kind = address_of(item.get("address"))
        out.append({"endpoint": endpoint_string(address, port), "address": address, "port": port,
                    "address_kind": kind})
    return out


def _cluster_statuses(doc):
    if not isinstance(doc, dict):
        raise EnvoyParseError("clusters?format=json: expected an object with cluster_statuses")
    statuses = field(doc, "cluster_statuses")
    if statuses is None:
        raise EnvoyParseError("clusters?format=json: no cluster_statuses in the answer")
    return statuses or []


def rows_from_clusters(data, clusters=None):
    """Rows from ``clusters?format=json`` (either spelling); only those of the Envoy clusters named in
    ``clusters`` when given."""
    rows = []
    for cs in _cluster_statuses(load_document(data)):
        name = cs.get("name")
        if clusters is not None and name not in clusters:
            continue
        for hs in field(cs, "host_statuses") or []:
            address, port, kind = address_of(hs.get("address"))
            health = field(hs, "health_status") or {}
            status = field(health, "eds_health_status") or "UNKNOWN"
            if isinstance(status, int):
                status = HEALTH_STATUSES[status] if 0 <= status < len(HEALTH_STATUSES) else str(status)
            # a healthy host's health_status holds its EDS status only: no flag to look up one by one
            flagged = isinstance(health, dict) and not _FLAG_KEYS.isdisjoint(health)
            failed_flags = [f for f in _FAILURE_FLAGS if field(health, f)] if flagged else []
            weight = hs.get("weight")
            rows.append(_row(name, address, port, kind, status,
                             bool(flagged and field(health, "failed_outlier_check")),
                             weight=int(weight) if isinstance(weight, (int, str)) and str(weight).isdigit() else weight,
                             locality=_locality(hs.get("locality")),
                             extra={"health_flags": failed_flags, "hostname": hs.get("hostname") or None}))
    return sort_rows(rows)


def rows_from_load_assignment(cla):
    """Rows of one ClusterLoadAssignment (either spelling)."""
    rows = []
    if not isinstance(cla, dict):
        return rows
    name = field(cla, "cluster_name")
    for le in cla.get("endpoints") or []:
        if not isinstance(le, dict):
            continue
        loc = _locality(le.get("locality"))
        for lb in field(le, "lb_endpoints") or []:
            if not isinstance(lb, dict):
                continue
            ep = lb.get("endpoint") or {}
            address, port, kind = address_of(ep.get("address"))
            status = field(lb, "health_status") or "UNKNOWN"
            if isinstance(status, int):
                status = HEALTH_STATUSES[status] if 0 <= status < len(HEALTH_STATUSES) else str(status)
            meta = ((field(lb, "metadata") or {}).get("filter_metadata") or
                    (field(lb, "metadata") or {}).get("filterMetadata") or {}).get("istio") or {}
            workload = meta.get("workload")
            extra = {"health_flags": [], "hostname": ep.get("hostname") or None}
            if workload:
                parts = workload.split(";")
                extra["workload"] = {"name": parts[0] if parts else None,
                                     "namespace": parts[1] if len(parts) > 1 else None,
                                     "cluster_id": parts[4] if len(parts) > 4 and parts[4] else None}
            more = additional_addresses(ep)
            extra["additional_addresses"] = more
            extra["addresses"] = [endpoint_string(address, port)] + [a["endpoint"] for a in more]
            rows.append(_row(name, address, port, kind, status, False,
                             weight=field(lb, "load_balancing_weight"), locality=loc, extra=extra))
    return rows


def rows_from_config_dump(data):
    """Rows from ``config_dump?include_eds=true`` (EndpointsConfigDump, or its per-resource entries)."""
    doc = load_document(data)
    if not isinstance(doc, dict) or "configs" not in doc:
        raise EnvoyParseError("config_dump: expected an object with configs")
    rows = []
    for cfg in doc.get("configs") or []:
        if not isinstance(cfg, dict):
            continue
        t = cfg.get("@type", "")
        if t.endswith("EndpointsConfigDump"):
            for key in ("static_endpoint_configs", "dynamic_endpoint_configs"):
                for ec in field(cfg, key) or []:
                    rows.extend(rows_from_load_assignment(field(ec, "endpoint_config") or {}))
        elif t.endswith("EndpointsConfigDump.DynamicEndpointConfig") or t.endswith(
                "EndpointsConfigDump.StaticEndpointConfig"):
            rows.extend(rows_from_load_assignment(field(cfg, "endpoint_config") or {}))
    return sort_rows(rows)


def _as_clusters_document(doc):
    """``doc`` as a ``clusters?format=json`` object when it is one (or istioctl's ClusterStatus list), else None
    (a config_dump or istioctl's ClusterLoadAssignment list)."""
    if isinstance(doc, dict) and "configs" in doc:
        return None
    if isinstance(doc, list):
        if any(isinstance(x, dict) and field(x, "cluster_name") is not None for x in doc):
            return None
        return {"cluster_statuses": doc}
    return doc


def parse_endpoints(data, clusters=None):
    """Rows from any of the documents (detected by shape): ``clusters?format=json``, ``config_dump``,
    and istioctl's ``-o json`` lists (ClusterStatus or ClusterLoadAssignment items); only the rows of the
    Envoy clusters named in ``clusters`` when given."""
    doc = load_document(data)
    statuses = _as_clusters_document(doc)
    if statuses is not None:
        return rows_from_clusters(statuses, clusters)
    if isinstance(doc, dict):
        rows = rows_from_config_dump(doc)
    else:
        rows = []
        for cla in doc:
            rows.extend(rows_from_load_assignment(cla))
        rows = sort_rows(rows)
    return rows if clusters is None else [row for row in rows if row["cluster"] in clusters]


def endpoint_counts(data):
    """{Envoy cluster name: number of endpoint rows} of any document parse_endpoints reads (clusters without
    endpoints left out): for ``clusters?format=json`` without building a row, so that a caller can choose the
    clusters it wants rows of (a proxy in a large mesh knows every service's endpoints in every cluster)."""
    doc = load_document(data)
    statuses = _as_clusters_document(doc)
    counts = {}
    if statuses is None:
        for row in parse_endpoints(doc):
            counts[row["cluster"]] = counts.get(row["cluster"], 0) + 1
        return counts
    for cs in _cluster_statuses(statuses):
        found = len(field(cs, "host_statuses") or [])
        if found:
            name = cs.get("name")
            counts[name] = counts.get(name, 0) + found
    return counts


def _sort_key(row):
    return (row.get("address") or "", row.get("port") if row.get("port") is not None else -1, row.get("cluster") or "")


def sort_rows(rows):
    """istioctl's order: address, port, cluster."""
    return sorted(rows, key=_sort_key)


def service_host(service, domain="cluster.local"):
    """``helloworld.sample`` -> ``helloworld.sample.svc.cluster.local`` (an FQDN is kept)."""
    if not service:
        return None
    service = service.strip().rstrip(".")
    parts = service.split(".")
    if len(parts) == 2:
        return "%s.%s.svc.%s" % (parts[0], parts[1], domain)
    if len(parts) == 3 and parts[2] == "svc":
        return "%s.%s" % (service, domain)
    return service


def filter_rows(rows, service=None, port=None, direction="outbound", subset=None, cluster=None):
    """Keep rows of one service (``name.namespace`` or FQDN), port, direction, subset or exact cluster."""
    host = service_host(service) if service else None
    out = []
    for row in rows:
        if cluster and row.get("cluster") != cluster:
            continue
        parts = parse_cluster_name(row.get("cluster"))
        if host or port is not None or subset is not None:
            if parts is None:
                continue
            if host and parts["host"] != host:
                continue
            if port is not None and parts["port"] != int(port):
                continue
            if subset is not None and parts["subset"] != subset:
                continue
            if direction and parts["direction"] != direction:
                continue
        out.append(row)
    return out


def format_table(rows):
    """The text istioctl prints (ENDPOINT STATUS OUTLIER CHECK CLUSTER)."""
    head = ("ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER")
    data = [(r["endpoint"], r["status"], r["outlier_check"], r["cluster"] or "") for r in rows]
    widths = [max([len(head[i])] + [len(d[i]) for d in data]) for i in range(4)]
    lines = []
    for line in [head] + data:
        lines.append("     ".join(line[i].ljust(widths[i]) for i in range(4)).rstrip())
    return "\n".join(lines)
