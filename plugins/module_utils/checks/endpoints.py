# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a client proxy really holds for the probe service, against what it should hold.

The guide's ``istioctl proxy-config endpoint`` step and its decision tree:

- "Only one endpoint is shown, indicating the control plane cannot read endpoints from the
  remote cluster. Verify that remote secrets are configured properly." -> endpoints.remote_missing,
  caused by the remote secret findings of the istiod serving that proxy, a duplicate cluster ID,
  or, in a remote cluster, proxies bound to an in-cluster istiod (primary_remote).
- "In multi-network, we expect one of the endpoint IPs to match the remote cluster's east-west
  gateway public IP. Seeing multiple Pod IPs indicates ... the address of the gateway for the
  remote network cannot be determined [or] the network of either the client or server pod cannot
  be determined." -> endpoints.remote_pod_ips, caused by gateway and network findings.

Expected endpoints come from the peers' own facts (Service selector + sidecar pods), so a peer
that is unreachable or only partially known is never judged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks._mesh import (
    as_dict, as_list, listed, make, resource, server_host,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.gateway import POD_IP_CAUSES
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.remote_secret import ENDPOINT_CAUSES

NETWORK_CAUSES = ("network.namespace_label_missing", "network.namespace_label_mismatch",
                  "network.pod_network_unset")


def _split_host(host):
    """(name, namespace) of ``helloworld.sample.svc.cluster.local`` / ``helloworld.sample``."""
    parts = str(host or "").split(".")
    if len(parts) < 2:
        return parts[0] if parts and parts[0] else None, None
    return parts[0], parts[1]


def _service_pods(c, name, namespace):
    """Sidecar pods of ``c`` selected by Service namespace/name (empty when the Service is absent)."""
    key = ("service_pods", name, namespace)
    if key not in c.cache:
        c.cache[key] = _find_service_pods(c, name, namespace)
    return c.cache[key]


def _find_service_pods(c, name, namespace):
    svc = None
    for s in as_list(c.facts.get("services")):
        s = as_dict(s)
        if s.get("name") == name and s.get("namespace") == namespace:
            svc = s
            break
    if svc is None:
        return None, []
    selector = as_dict(svc.get("selector"))
    if not selector:
        return svc, []
    pods = []
    for pod in as_list(c.facts.get("sidecar_pods")):
        pod = as_dict(pod)
        labels = as_dict(pod.get("labels"))
        if pod.get("namespace") == namespace and all(labels.get(k) == v for k, v in selector.items()):
            pods.append(pod)
    return svc, pods


def _pod_network(c, pod):
    """The network istiod gives an endpoint: pod label, then istio-system's label, then the cluster's."""
    return pod.get("network_label") or c.namespace_label_network or c.network


def _pod_ips(pods):
    return set(p.get("pod_ip") for p in pods if p.get("pod_ip"))


def _serving_primaries(mesh, a):
    """Clusters whose istiod serves the proxies of ``a`` (its own for a primary)."""
    if a.role == "primary":
        return [a]
    if a.role != "remote":
        return []
    primaries = [p for p in mesh.primaries() if p.name != a.name]
    rpa = a.injector_global.get("remotePilotAddress")
    if rpa:
        rpa = str(rpa)
        chosen = []
        for p in primaries:
            addrs = set(str(as_dict(x).get("value")) for gw in as_list(p.facts.get("gateways"))
                        for x in as_list(as_dict(gw).get("addresses")))
            if rpa in addrs or rpa == server_host(p.server):
                chosen.append(p)
        if chosen:
            return chosen
    return primaries


def _causes_missing(mesh, a, c, found):
    causes = []
    if a.role == "remote_bound_local":
        causes.extend(k for k in sorted(found)
                      if k.split("->", 1)[0] == "primary_remote.istiod_remote_missing@%s" % a.name)
    for p in _serving_primaries(mesh, a):
        if p.name == c.name:
            continue
        for fid in ENDPOINT_CAUSES:
            key = "%s@%s->%s" % (fid, p.name, c.name)
            if key in found:
                causes.append(key)
    involved = set([a.name, c.name] + [p.name for p in _serving_primaries(mesh, a)])
    for key in sorted(found):
        if key.startswith("cluster.duplicate_id@"):
            pair = key.split("@", 1)[1].split("->", 1)
            # a shared ID matters when it is the serving istiod's or the peer's
            if len(pair) == 2 and (set(pair) & involved):
                causes.append(key)
    seen = set()
    return [k for k in causes if not (k in seen or seen.add(k))]


def _causes_pod_ips(mesh, a, c, found):
    causes = []
    gateway_clusters = [c.name] + sorted(d.name for d in mesh.full()
                                         if d.name not in (c.name, a.name) and c.network and d.network == c.network)
    for name in gateway_clusters:
        for fid in POD_IP_CAUSES:
            key = "%s@%s" % (fid, name)
            if key in found:
                causes.append(key)
    for name in (c.name, a.name):
        for fid in NETWORK_CAUSES:
            key = "%s@%s" % (fid, name)
            if key in found and key not in causes:
                causes.append(key)
    return causes


def _rows(proxy):
    out = []
    for row in as_list(proxy.get("endpoints")):
        row = as_dict(row)
        if row.get("address"):
            out.append(row)
    return out


def _check_proxy(mesh, a, found):
    out = []
    proxy = a.facts.get("proxy")
    if not isinstance(proxy, dict) or proxy.get("error"):
        return out
    name, namespace = _split_host(proxy.get("service"))
    if not name or not namespace:
        return out
    rows = _rows(proxy)
    addresses = set(r.get("address") for r in rows)
    a_network = proxy.get("network") or a.network
    _svc, local_pods = _service_pods(a, name, namespace)
    local_ips = _pod_ips(local_pods)
    all_local_ips = _pod_ips(as_list(a.facts.get("sidecar_pods")))
    pod_ref = str(proxy.get("pod") or "")
    pod_ns, _sep, pod_name = pod_ref.partition("/")
    res = resource("Pod", pod_ns or None, pod_name or pod_ref)
    host = proxy.get("service")
    gateway_ips_all = set()
    for net in set(d.network for d in mesh.full()):
        gateway_ips_all |= mesh.gateway_addresses(net)

    judged = [c for c in mesh.full() if c.name != a.name and c.name not in mesh.not_installed]
    if a.role in ("remote", "remote_bound_local") and _serving_primaries(mesh, a) != [a]:
        judged.append(a)   # a remote's own endpoints also come through its primary's remote secret
    only_local = bool(addresses) and addresses <= (local_ips | all_local_ips)
    for c in judged:
        _csvc, pods = _service_pods(c, name, namespace)
        ready = [p for p in pods if p.get("ready") is not False and p.get("pod_ip")]
        if not ready:
            continue
        ips = _pod_ips(pods)
        if c.name != a.name:
            ips -= all_local_ips
        gws = set()
        for net in set(_pod_network(c, p) for p in ready):
            if net and net != a_network:
                gws |= mesh.gateway_addresses(net)
        if addresses & ips or addresses & gws:
            continue
        own = c.name == a.name
        causes = _causes_missing(mesh, a, c, found)
        if own:
            message = ("The proxy %s in remote cluster %s holds no endpoint of %s in its own cluster: the control "
                       "plane cannot read endpoints from %s." % (pod_ref, a.name, host, a.name))
        elif only_local or not addresses:
            message = ("The proxy %s in %s holds only local endpoints of %s while it also runs in %s: the control "
                       "plane cannot read endpoints from the remote cluster." % (pod_ref, a.name, host, c.name))
        else:
            message = ("The proxy %s in %s holds no endpoint of %s from %s, where it runs: the control plane "
                       "cannot read endpoints from that cluster." % (pod_ref, a.name, host, c.name))
        out.append(make(
            "endpoints.remote_missing", a.name,
            message,
            peer=None if own else c.name,
            resource=res,
            evidence={"service": host, "port": proxy.get("port"),
                      "proxy_endpoints": listed(["%s:%s %s" % (r.get("address"), r.get("port"), r.get("status"))
                                                 for r in rows]),
                      "expected_from_%s" % c.name: listed(
                          ["%s/%s %s" % (p.get("namespace"), p.get("name"), p.get("pod_ip")) for p in ready]),
                      "expected_gateway_addresses": sorted(gws),
                      "serving_istiod": [p.name for p in _serving_primaries(mesh, a)] or
                      (["in-cluster istiod of %s" % a.name] if a.role == "remote_bound_local" else [])},
            remedy="Verify that remote secrets are configured properly (kubectl get secrets -n istio-system -l "
                   "istio/multiCluster=true on the primary) and fix the causes listed; %s" % (
                       "if none is listed, check that Service %s/%s exists in %s and that meshConfig "
                       "discoverySelectors select its namespace there." % (namespace, name, c.name)
                       if not causes else "then check again with istioctl proxy-config endpoint %s." % pod_ref),
            caused_by=causes,
        ))

    if not mesh.multi_network:
        return out
    for c in mesh.full():
        if c.name == a.name:
            continue
        # pods on the proxy's own network are rightly sent with their pod IPs
        c_pods = [as_dict(p) for p in as_list(c.facts.get("sidecar_pods"))
                  if not (a_network and _pod_network(c, as_dict(p)) == a_network)]
        raw = sorted((addresses & _pod_ips(c_pods)) - all_local_ips - gateway_ips_all)
        if not raw:
            continue
        names = [("%s/%s %s" % (p.get("namespace"), p.get("name"), p.get("pod_ip")))
                 for p in c_pods if p.get("pod_ip") in raw]
        out.append(make(
            "endpoints.remote_pod_ips", a.name,
            "The proxy %s in %s holds pod IPs of %s (network %s) for %s instead of %s's east-west gateway: "
            "either the address of the gateway for the remote network cannot be determined, or the network of "
            "the client or server pod cannot be determined." % (
                pod_ref, a.name, c.name, c.network or "unknown", host, c.name),
            peer=c.name,
            resource=res,
            evidence={"service": host, "raw_pod_ips": listed(raw), "pods": listed(names),
                      "client_network": a_network, "peer_network": c.network,
                      "peer_gateway_addresses": sorted(mesh.gateway_addresses(c.network))},
            remedy="In %s check that the east-west gateway Service has an External IP and a %s label with the "
                   "correct value; check ISTIO_META_NETWORK of the client and server pods and the network label "
                   "of istio-system in both clusters. Fix the causes listed (remediate categories "
                   "gateway_addresses / network_labels fix some)." % (c.name, "topology.istio.io/network"),
            caused_by=_causes_pod_ips(mesh, a, c, found),
        ))
    return out


def check(mesh, found):
    out = []
    for a in mesh.installed():
        if a.name in mesh.not_installed:
            continue
        out.extend(_check_proxy(mesh, a, found))
    return out
