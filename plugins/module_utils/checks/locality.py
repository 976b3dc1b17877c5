# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Locality load balancing: traffic that stays local by design, not by fault.

The guide: "If the clusters are in different localities (region/zone), locality load balancing
will prefer the local-cluster and is working as intended. If locality load balancing is
disabled, or the clusters are in the same locality, there may be another issue."
istio-facts section 7: the mesh default ``localityLbSetting.enabled: true`` only takes effect
where outlierDetection is configured (a DestinationRule), unless ``distribute`` is set or the
Service asks for ``trafficDistribution: PreferClose|PreferSameZone``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.cluster_view import split_host
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.registry import check
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import make_finding, target
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import as_dict, as_list, dig

PREFER_CLOSE = ("PreferClose", "PreferSameZone", "PreferSameNode")
TD_ANNOTATION = "networking.istio.io/traffic-distribution"


def _localities(c):
    out = set()
    for node in as_list(c.facts.get("nodes")):
        node = as_dict(node)
        if node.get("region") or node.get("zone"):
            out.add((node.get("region") or "", node.get("zone") or ""))
    return out


def _probe(mesh, c):
    """The service judged for the client proxy of ``c`` (the model's choice), else the option's."""
    host = (c.probe.host if c.probe is not None and c.probe.host else None) or \
        as_dict(c.facts.get("proxy")).get("service") or mesh.probe_service
    name, ns = split_host(host)
    if name and ns and str(host).count(".") == 1:
        host = "%s.%s.svc.cluster.local" % (name, ns)
    return host, name, ns


def _in_effect(mesh, c, host, name, ns):
    """(True, why) when locality load balancing applies to ``host`` for the proxies of ``c``."""
    why = []
    for cfg in [mesh.clusters[n] for n in c.serving] or [c]:
        mesh_lb = as_dict(dig(cfg.facts, "mesh_config", "localityLbSetting"))
        mesh_enabled = mesh_lb.get("enabled") is not False
        for dr in as_list(cfg.facts.get("destination_rules")):
            dr = as_dict(dr)
            if str(dr.get("host") or "") not in (host, name, "%s.%s" % (name, ns), "%s.%s.svc" % (name, ns)):
                continue
            lb = as_dict(dr.get("locality_lb"))
            if lb.get("enabled") is False or not (mesh_enabled or lb.get("enabled") is True):
                continue
            if dr.get("outlier_detection"):
                why.append("DestinationRule %s/%s in %s: outlierDetection with locality load balancing %s" % (
                    dr.get("namespace"), dr.get("name"), cfg.name,
                    "(mesh default)" if lb.get("enabled") is None else "enabled"))
            elif lb.get("distribute"):
                why.append("DestinationRule %s/%s in %s: localityLbSetting.distribute" % (
                    dr.get("namespace"), dr.get("name"), cfg.name))
        for svc in as_list(cfg.facts.get("services")):
            svc = as_dict(svc)
            if svc.get("name") == name and svc.get("namespace") == ns:
                td = svc.get("traffic_distribution") or as_dict(svc.get("annotations")).get(TD_ANNOTATION)
                if td in PREFER_CLOSE:
                    why.append("Service %s/%s in %s: trafficDistribution %s" % (ns, name, cfg.name, td))
    return bool(why), why


def _words(localities):
    return ", ".join(sorted("/".join(x for x in loc if x) for loc in localities))


@check("locality.prefers_local")
def prefers_local(mesh):
    for c in mesh.judged():
        host, name, ns = _probe(mesh, c)
        mine = _localities(c)
        if not name or not ns or not mine:
            continue
        effect, why = _in_effect(mesh, c, host, name, ns)
        if not effect:
            continue
        for peer in mesh.judged():
            theirs = _localities(peer)
            if peer.name == c.name or not theirs or mine & theirs:
                continue
            yield make_finding(
                "locality.prefers_local", c.name, peer=peer.name, target=target("Service", ns, name),
                evidence={"localities": {c.name: sorted("/".join(loc) for loc in mine),
                                         peer.name: sorted("/".join(loc) for loc in theirs)},
                          "in_effect_because": why},
                localities=_words(mine), peer_localities=_words(theirs), host=host)
