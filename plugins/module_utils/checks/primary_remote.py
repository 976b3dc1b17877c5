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
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import as_dict, as_list


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
