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

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks._mesh import (
    CONTROL_PLANE_CLUSTERS_ANNOTATION, as_dict, as_list, dig, make, resource,
)


def _primary_of(mesh, c):
    """The primary meant to serve remote ``c``: named by controlPlaneClusters, else the only primary."""
    named = as_dict(dig(c.facts, "namespace", "annotations")).get(CONTROL_PLANE_CLUSTERS_ANNOTATION) or ""
    wanted = set(x.strip() for x in str(named).split(",") if x.strip())
    for p in mesh.primaries():
        if p.name != c.name and (p.name in wanted or p.cluster_id in wanted):
            return p.name
    primaries = [p.name for p in mesh.primaries() if p.name != c.name]
    return primaries[0] if len(primaries) == 1 else None


def check(mesh, found):
    out = []
    for c in mesh.installed():
        if c.role != "remote_bound_local":
            continue
        ns = c.istio_namespace
        services = as_list(c.facts.get("control_plane_services"))
        remote_svc = [s for s in services if as_dict(s).get("name") == "istiod-remote"]
        peer = _primary_of(mesh, c)
        out.append(make(
            "primary_remote.istiod_remote_missing", c.name,
            "The proxies of remote cluster %s read their configuration from an istiod inside %s; an "
            "in-cluster istiod in a remote cluster is only meant for sidecar injection and CA, so they "
            "only see what that istiod sees." % (c.name, c.name),
            peer=peer,
            resource=resource("Service", ns, "istiod-remote"),
            evidence={
                "remote_because": c.remote_intent,
                "istiod": as_dict(c.istiod).get("name"),
                "bound_to_local_istiod": c.bound_local,
                "discovery_address": c.discovery_address,
                "control_plane_services": [{"name": s.get("name"), "selectorless": bool(s.get("selectorless"))}
                                           for s in services],
                "istiod_remote_service": bool(remote_svc),
                "remotePilotAddress": c.injector_global.get("remotePilotAddress"),
            },
            remedy="Reinstall the remote profile in %s making sure values.global.remotePilotAddress is set to "
                   "the primary's east-west gateway (or istiod) address: it creates the selector-less "
                   "Service istiod-remote (istiod when no local istiod runs) and points the mesh "
                   "discoveryAddress at it; then restart the workloads. Manual." % c.name,
        ))
    return out
