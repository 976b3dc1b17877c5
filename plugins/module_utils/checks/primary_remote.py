# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Primary-remote: a remote cluster whose proxies talk to an in-cluster istiod.

The guide: "When a remote cluster has an in-cluster istiod, it is only meant for sidecar
injection and CA. You can verify this is the problem by looking for a Service named
istiod-remote in the istio-system namespace. If it's missing, reinstall making sure
values.global.remotePilotAddress is set." istio-facts section 5: the selector-less Service is
named ``istiod`` when no local istiod runs and ``istiod-remote`` when one does, so both names
are checked, together with the Service the proxies' discoveryAddress names.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.registry import check
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import make_finding, target
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.cluster_view import service_of_host
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import as_dict, as_list, selects

ISTIOD_PORT = 15012
PASSTHROUGH = ("PASSTHROUGH", "AUTO_PASSTHROUGH")


@check("primary_remote.istiod_remote_missing")
def istiod_remote_missing(mesh):
    for c in mesh.judged():
        if c.role != "remote_bound_local":
            continue
        services = [as_dict(s) for s in as_list(c.facts.get("control_plane_services"))]
        yield make_finding(
            "primary_remote.istiod_remote_missing", c.name, peer=c.serving_primary,
            target=target("Service", c.istio_namespace, "istiod-remote"),
            evidence={
                "remote_because": c.remote_intent,
                "istiod": as_dict(c.istiod).get("name"),
                "bound_to_local_istiod": c.bound_local,
                "discovery_address": c.discovery_address,
                "control_plane_services": [{"name": s.get("name"), "selectorless": bool(s.get("selectorless"))}
                                           for s in services],
                "istiod_remote_service": any(s.get("name") == "istiod-remote" for s in services),
                "remotePilotAddress": c.injector_global.get("remotePilotAddress"),
            })


def _remotes(mesh):
    """Judged remote clusters (role remote, not bound to a local istiod) whose Services were read."""
    return [c for c in mesh.judged() if c.role == "remote" and c.has_section("services")
            and isinstance(c.facts.get("control_plane_services"), list)]


@check("primary_remote.control_plane_service_missing")
def control_plane_service_missing(mesh):
    for c in _remotes(mesh):
        if c.control_plane_service is not None:
            continue
        address = c.discovery_address or "istiod.%s.svc:15012" % c.istio_namespace
        name, _ns = service_of_host(address)
        yield make_finding(
            "primary_remote.control_plane_service_missing", c.name, peer=c.serving_primary,
            target=target("Service", c.istio_namespace, name or "istiod"),
            evidence={"remote_because": c.remote_intent, "discovery_address": address,
                      "control_plane_services": [as_dict(s).get("name") for s in
                                                 as_list(c.facts.get("control_plane_services"))],
                      "remotePilotAddress": c.injector_global.get("remotePilotAddress")},
            why="; ".join(c.remote_intent) or "its install says so", service=name or "istiod", address=address)


@check("primary_remote.control_plane_address_stale")
def control_plane_address_stale(mesh):
    for c in _remotes(mesh):
        svc, targets = c.control_plane_service, c.control_plane_targets
        if svc is None or targets is None or c.serving:
            continue
        ips = [t for t in targets if all(ch.isdigit() or ch in ".:" for ch in t)]
        if targets and len(ips) < len(targets):
            continue   # a hostname (ExternalName): where it resolves cannot be told from here
        known = sorted(set(str(as_dict(a).get("value")) for p in mesh.primaries() for gw in p.gateways or []
                           for a in as_list(gw.get("addresses")) if as_dict(a).get("value")))
        yield make_finding(
            "primary_remote.control_plane_address_stale", c.name, peer=c.serving_primary,
            target=target("Service", c.istio_namespace, svc.get("name")),
            evidence={"service": "%s/%s" % (c.istio_namespace, svc.get("name")), "endpoints": targets,
                      "primary_gateway_addresses": known,
                      "remotePilotAddress": c.injector_global.get("remotePilotAddress")},
            variant=None if targets else "empty", service="%s/%s" % (c.istio_namespace, svc.get("name")),
            service_name=svc.get("name"), targets=", ".join(targets), known=", ".join(known) or "none",
            ctx=c.context, ns=c.istio_namespace)


def _passes_istiod(primary, gw):
    """An Istio Gateway of ``primary`` that selects the east-west gateway's pods passes 15012 through."""
    for ig in as_list(primary.facts.get("istio_gateways")):
        ig = as_dict(ig)
        if not selects(ig.get("selector"), as_dict(gw.get("selector"))):
            continue
        for server in as_list(ig.get("servers")):
            server = as_dict(server)
            if server.get("port") == ISTIOD_PORT and str(server.get("tls_mode") or "").upper() in PASSTHROUGH:
                return True
    return False


@check("primary_remote.istiod_not_exposed")
def istiod_not_exposed(mesh):
    exposed = {}
    for c in _remotes(mesh):
        for t in c.control_plane_targets or []:
            owner, gw = mesh.address_owner(t)
            if owner is not None and gw is not None:
                exposed.setdefault((owner.name, "%s/%s" % (gw.get("namespace"), gw.get("name"))), (owner, gw, []))[2].append(c.name)
    for (_name, ref), (primary, gw, remotes) in sorted(exposed.items()):
        if not isinstance(primary.facts.get("istio_gateways"), list) or _passes_istiod(primary, gw):
            continue
        for remote in sorted(set(remotes)):
            yield make_finding(
                "primary_remote.istiod_not_exposed", primary.name, peer=remote,
                target=target("Gateway", primary.istio_namespace, "istiod-gateway"),
                evidence={"eastwest_gateway": ref, "remote_clusters": sorted(set(remotes)),
                          "istio_gateways": ["%s/%s" % (as_dict(i).get("namespace"), as_dict(i).get("name"))
                                             for i in as_list(primary.facts.get("istio_gateways"))]},
                remotes=", ".join(sorted(set(remotes))), gateway=ref, ctx=primary.context, ns=primary.istio_namespace)
