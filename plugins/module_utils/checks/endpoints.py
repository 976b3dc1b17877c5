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

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.locality import split_host
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.registry import check
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import make_finding, target
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import as_dict, as_list, selects

MAX_LISTED = 20
# The findings that explain a proxy without a peer's endpoints (of the istiod serving it, for that peer).
SECRET_CAUSES = ("remote_secret.missing", "remote_secret.wrong_namespace", "remote_secret.key_mismatch",
                 "remote_secret.local_key", "remote_secret.invalid_kubeconfig", "remote_secret.loopback_server",
                 "remote_secret.api_unreachable", "remote_secret.istiod_error", "remote_secret.not_synced")
# The gateway and network findings that explain raw pod IPs of another network.
GATEWAY_CAUSES = ("eastwest_gateway.missing", "eastwest_gateway.external_ip_pending",
                  "eastwest_gateway.network_label_missing", "eastwest_gateway.network_label_mismatch",
                  "eastwest_gateway.port_missing", "eastwest_gateway.hostname_only")
NETWORK_CAUSES = ("network.namespace_label_missing", "network.namespace_label_mismatch",
                  "network.pod_network_unset")


def listed(items):
    return list(items)[:MAX_LISTED]


def service_pods(c, name, namespace):
    """(Service, its sidecar pods) of ``c`` for namespace/name ((None, []) when the Service is absent)."""
    key = ("service_pods", name, namespace)
    if key not in c.cache:
        svc = None
        for s in as_list(c.facts.get("services")):
            s = as_dict(s)
            if s.get("name") == name and s.get("namespace") == namespace:
                svc = s
                break
        pods = []
        if svc is not None:
            pods = [as_dict(p) for p in as_list(c.facts.get("sidecar_pods"))
                    if as_dict(p).get("namespace") == namespace and selects(svc.get("selector"), as_dict(p).get("labels"))]
        c.cache[key] = (svc, pods)
    return c.cache[key]


def _pod_network(c, pod):
    """The network istiod gives an endpoint: pod label, then istio-system's label, then the cluster's."""
    return pod.get("network_label") or c.namespace_label_network or c.effective_network


def _pod_ips(pods):
    return set(p.get("pod_ip") for p in pods if p.get("pod_ip"))


def _proxies(mesh):
    """(cluster, its client proxy facts, service name, namespace) for every judged cluster that probed one."""
    for a in mesh.judged():
        proxy = a.facts.get("proxy")
        if not isinstance(proxy, dict) or proxy.get("error"):
            continue
        name, namespace = split_host(proxy.get("service"))
        if name and namespace:
            yield a, proxy, name, namespace


def _rows(proxy):
    return [as_dict(r) for r in as_list(proxy.get("endpoints")) if as_dict(r).get("address")]


def _pod_target(proxy):
    pod_ref = str(proxy.get("pod") or "")
    pod_ns, _sep, pod_name = pod_ref.partition("/")
    return target("Pod", pod_ns or None, pod_name or pod_ref)


def _missing_causes(mesh, a, c):
    """Candidate causes of proxy ``a`` missing the endpoints of ``c``."""
    causes = []
    if a.role == "remote_bound_local":
        causes.append("primary_remote.istiod_remote_missing@%s" % a.name)
        if a.serving_primary:
            causes.append("primary_remote.istiod_remote_missing@%s->%s" % (a.name, a.serving_primary))
    for p in a.serving:
        if p != c.name:
            causes.extend("%s@%s->%s" % (fid, p, c.name) for fid in SECRET_CAUSES)
    involved = set([a.name, c.name] + a.serving)
    for names in mesh.duplicate_ids.values():
        # a shared ID matters when it is the serving istiod's or the peer's
        for x in names:
            for y in names:
                if x != y and set((x, y)) & involved:
                    causes.append("cluster.duplicate_id@%s->%s" % (x, y))
    return causes


@check("endpoints.remote_missing")
def remote_missing(mesh):
    for a, proxy, name, namespace in _proxies(mesh):
        rows = _rows(proxy)
        addresses = set(r.get("address") for r in rows)
        a_network = proxy.get("network") or a.effective_network
        local_ips = _pod_ips(service_pods(a, name, namespace)[1])
        all_local_ips = _pod_ips(as_list(a.facts.get("sidecar_pods")))
        pod_ref = str(proxy.get("pod") or "")
        host = proxy.get("service")
        judged = [c for c in mesh.judged() if c.name != a.name]
        if a.is_remote and a.serving != [a.name]:
            judged.append(a)   # a remote's own endpoints also come through its primary's remote secret
        only_local = bool(addresses) and addresses <= (local_ips | all_local_ips)
        for c in judged:
            ready = [p for p in service_pods(c, name, namespace)[1] if p.get("ready") is not False and p.get("pod_ip")]
            if not ready:
                continue
            ips = _pod_ips(service_pods(c, name, namespace)[1])
            if c.name != a.name:
                ips -= all_local_ips
            gws = set()
            for net in set(_pod_network(c, p) for p in ready):
                if net and net != a_network:
                    gws |= mesh.gateway_addresses(net)
            if addresses & ips or addresses & gws:
                continue
            own = c.name == a.name
            yield make_finding(
                "endpoints.remote_missing", a.name, peer=None if own else c.name, target=_pod_target(proxy),
                evidence={"service": host, "port": proxy.get("port"),
                          "proxy_endpoints": listed(["%s:%s %s" % (r.get("address"), r.get("port"), r.get("status"))
                                                     for r in rows]),
                          "expected_from_%s" % c.name: listed(
                              ["%s/%s %s" % (p.get("namespace"), p.get("name"), p.get("pod_ip")) for p in ready]),
                          "expected_gateway_addresses": sorted(gws),
                          "serving_istiod": list(a.serving) or
                          (["in-cluster istiod of %s" % a.name] if a.role == "remote_bound_local" else [])},
                variant="own" if own else ("only_local" if only_local or not addresses else None),
                remedy_variant="default", caused_by=_missing_causes(mesh, a, c), pod=pod_ref, host=host, svc_ns=namespace,
                svc_name=name)


def _pod_ip_causes(mesh, a, c):
    causes = []
    same_network = [c.name] + sorted(d.name for d in mesh.full()
                                     if d.name not in (c.name, a.name) and c.network and d.network == c.network)
    for name in same_network:
        causes.extend("%s@%s" % (fid, name) for fid in GATEWAY_CAUSES)
    for name in (c.name, a.name):
        causes.extend("%s@%s" % (fid, name) for fid in NETWORK_CAUSES)
    return causes


@check("endpoints.remote_pod_ips")
def remote_pod_ips(mesh):
    if not mesh.multi_network:
        return
    gateway_ips_all = set()
    for net in set(d.network for d in mesh.full()):
        gateway_ips_all |= mesh.gateway_addresses(net)
    for a, proxy, _name, _namespace in _proxies(mesh):
        addresses = set(r.get("address") for r in _rows(proxy))
        a_network = proxy.get("network") or a.effective_network
        all_local_ips = _pod_ips(as_list(a.facts.get("sidecar_pods")))
        for c in mesh.full():
            if c.name == a.name:
                continue
            # pods on the proxy's own network are rightly sent with their pod IPs
            c_pods = [as_dict(p) for p in as_list(c.facts.get("sidecar_pods"))
                      if not (a_network and _pod_network(c, as_dict(p)) == a_network)]
            raw = sorted((addresses & _pod_ips(c_pods)) - all_local_ips - gateway_ips_all)
            if not raw:
                continue
            names = ["%s/%s %s" % (p.get("namespace"), p.get("name"), p.get("pod_ip"))
                     for p in c_pods if p.get("pod_ip") in raw]
            yield make_finding(
                "endpoints.remote_pod_ips", a.name, peer=c.name, target=_pod_target(proxy),
                evidence={"service": proxy.get("service"), "raw_pod_ips": listed(raw), "pods": listed(names),
                          "client_network": a_network, "peer_network": c.effective_network,
                          "peer_gateway_addresses": sorted(mesh.gateway_addresses(c.effective_network))},
                caused_by=_pod_ip_causes(mesh, a, c), pod=str(proxy.get("pod") or ""), host=proxy.get("service"),
                peer_network=c.effective_network or "unknown")
