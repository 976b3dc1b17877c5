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

The service judged is the model's choice (``model.Mesh._probe``): the probe service when it runs in
more than one cluster, else a service of the mesh's own that the proxy knows and that does; when
there is none, ``endpoints.not_checked`` says so (never a silent pass). Expected endpoints come from
the peers' own facts (Service selector + sidecar pods), so a peer that is unreachable or only
partially known is never judged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.cluster_view import split_host
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.registry import check
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import make_finding, target
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import as_dict, as_list

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


def _pod_network(c, pod):
    """The network istiod gives an endpoint: pod label, then istio-system's label, then the cluster's."""
    return pod.get("network_label") or c.namespace_label_network or c.effective_network


def _pod_ips(pods):
    return set(p.get("pod_ip") for p in pods if p.get("pod_ip"))


def _sidecar_ips(c):
    """Pod IPs of every sidecar pod of ``c`` (once per cluster)."""
    if "sidecar_ips" not in c.cache:
        c.cache["sidecar_ips"] = _pod_ips(as_dict(p) for p in as_list(c.facts.get("sidecar_pods")))
    return c.cache["sidecar_ips"]


def _ips_by_network(c):
    """{network istiod gives the pod: set of pod IPs} of the sidecar pods of ``c`` (once per cluster)."""
    if "ips_by_network" not in c.cache:
        out = {}
        for p in as_list(c.facts.get("sidecar_pods")):
            p = as_dict(p)
            if p.get("pod_ip"):
                out.setdefault(_pod_network(c, p), set()).add(p["pod_ip"])
        c.cache["ips_by_network"] = out
    return c.cache["ips_by_network"]


def _serving_view(mesh, c, name, namespace):
    """(ready pods, their IPs, the networks istiod gives them) of Service namespace/name in ``c`` (once)."""
    key = ("serving_view", name, namespace)
    if key not in c.cache:
        pods = mesh.service_pods(c, name, namespace)[1]
        ready = [p for p in pods if p.get("ready") is not False and p.get("pod_ip")]
        c.cache[key] = (ready, _pod_ips(pods), set(_pod_network(c, p) for p in ready))
    return c.cache[key]


def _probes(mesh):
    """(cluster, its Probe, service name, namespace) for every judged cluster whose client proxy is judged."""
    for a in mesh.judged():
        probe = a.probe
        if probe is None or probe.skipped:
            continue
        name, namespace = split_host(probe.host)
        yield a, probe, name, namespace


def _pod_target(proxy):
    pod_ref = str(proxy.get("pod") or "")
    pod_ns, _sep, pod_name = pod_ref.partition("/")
    return target("Pod", pod_ns or None, pod_name or pod_ref)


def _missing_causes(mesh, a, c):
    """Candidate causes of proxy ``a`` missing the endpoints of ``c``."""
    causes = []
    if a.is_remote:
        # the remote's wiring to the primary's istiod
        causes += ["primary_remote.control_plane_service_missing@%s" % a.name,
                   "primary_remote.control_plane_address_stale@%s" % a.name]
        causes += ["%s@%s->%s" % (fid, a.name, a.serving_primary)
                   for fid in ("primary_remote.control_plane_service_missing", "primary_remote.control_plane_address_stale")
                   if a.serving_primary]
        causes += ["primary_remote.istiod_not_exposed@%s->%s" % (p.name, a.name) for p in mesh.primaries()]
    # an istiod that serves these proxies without a ready replica sends nothing new
    causes += ["istio.istiod_not_ready@%s" % p for p in (a.serving or [p.name for p in mesh.primaries()])]
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
    for a, probe, name, namespace in _probes(mesh):
        proxy, rows = probe.proxy, probe.rows
        addresses = set(r.get("address") for r in rows)
        a_network = proxy.get("network") or a.effective_network
        local_ips = _serving_view(mesh, a, name, namespace)[1]
        all_local_ips = _sidecar_ips(a)
        judged = [c for c in mesh.judged() if c.name != a.name]
        if a.is_remote and a.serving != [a.name]:
            judged.append(a)   # a remote's own endpoints also come through its primary's remote secret
        only_local = bool(addresses) and addresses <= (local_ips | all_local_ips)
        for c in judged:
            ready, ips, networks = _serving_view(mesh, c, name, namespace)
            if not ready:
                continue
            if c.name != a.name:
                ips = ips - all_local_ips
            gws = set()
            for net in networks:
                if net and net != a_network:
                    gws |= mesh.gateway_addresses(net)
            if addresses & ips or addresses & gws:
                continue
            own = c.name == a.name
            yield make_finding(
                "endpoints.remote_missing", a.name, peer=None if own else c.name, target=_pod_target(proxy),
                evidence={"service": probe.host, "service_chosen": probe.chosen,
                          "port": proxy.get("port") if probe.chosen == "probe_service" else None,
                          "proxy_endpoints": listed(["%s:%s %s" % (r.get("address"), r.get("port"), r.get("status"))
                                                     for r in rows]),
                          "expected_from_%s" % c.name: listed(
                              ["%s/%s %s" % (p.get("namespace"), p.get("name"), p.get("pod_ip")) for p in ready]),
                          "expected_gateway_addresses": sorted(gws),
                          "serving_istiod": list(a.serving) or
                          (["in-cluster istiod of %s" % a.name] if a.role == "remote_bound_local" else [])},
                variant="own" if own else ("only_local" if only_local or not addresses else None),
                remedy_variant="default", caused_by=_missing_causes(mesh, a, c), pod=probe.pod, host=probe.host,
                svc_ns=namespace, svc_name=name)


@check("endpoints.not_checked")
def not_checked(mesh):
    for a in mesh.judged():
        probe = a.probe
        if probe is None or not probe.skipped:
            continue
        yield make_finding(
            "endpoints.not_checked", a.name,
            target=_pod_target(probe.proxy) if probe.pod else None,
            evidence={"reason": probe.skipped, "client": probe.pod or None,
                      "probe_service": probe.proxy.get("service"),
                      "services_the_proxy_knows": sorted(as_dict(probe.proxy.get("services")))[:MAX_LISTED]},
            caused_by=probe.causes + ["cluster.forbidden@%s" % a.name, "cluster.read_failed@%s" % a.name],
            reason=probe.skipped)


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
    for a, probe, _name, _namespace in _probes(mesh):
        addresses = set(r.get("address") for r in probe.rows)
        a_network = probe.proxy.get("network") or a.effective_network
        all_local_ips = _sidecar_ips(a)
        candidates = addresses - all_local_ips - gateway_ips_all
        if not candidates:
            continue
        for c in mesh.full():
            if c.name == a.name:
                continue
            # pods on the proxy's own network are rightly sent with their pod IPs
            raw = set()
            for net, ips in _ips_by_network(c).items():
                if not (a_network and net == a_network):
                    raw |= candidates & ips
            if not raw:
                continue
            raw = sorted(raw)
            names = ["%s/%s %s" % (as_dict(p).get("namespace"), as_dict(p).get("name"), as_dict(p).get("pod_ip"))
                     for p in as_list(c.facts.get("sidecar_pods")) if as_dict(p).get("pod_ip") in raw]
            yield make_finding(
                "endpoints.remote_pod_ips", a.name, peer=c.name, target=_pod_target(probe.proxy),
                evidence={"service": probe.host, "raw_pod_ips": listed(raw), "pods": listed(names),
                          "client_network": a_network, "peer_network": c.effective_network,
                          "peer_gateway_addresses": sorted(mesh.gateway_addresses(c.effective_network))},
                caused_by=_pod_ip_causes(mesh, a, c), pod=probe.pod, host=probe.host,
                peer_network=c.effective_network or "unknown")
