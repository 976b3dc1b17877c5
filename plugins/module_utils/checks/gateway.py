# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""East-west gateways of a multi-network mesh: present, addressed, labelled, listening, exposed.

The guide: "In multi-network, we expect one of the endpoint IPs to match the remote cluster's
east-west gateway public IP ... In the remote cluster that cannot be reached, check that the
Service has an External IP ... If the EXTERNAL-IP is stuck in <PENDING>, ... customize the
spec.externalIPs section of the Service ... check that the Service includes a
topology.istio.io/network label with the correct value."
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.network import label_fix
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.registry import check
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import make_finding, target
from ansible_collections.meshmend.multicluster.plugins.module_utils.gateways import DEFAULT_GATEWAY_PORT
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import NETWORK_LABEL
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import as_dict, as_list, selects

ISTIOD_PORTS = (15012, 15017)
MAX_LISTED = 20


def _ref(gw):
    return "%s/%s" % (gw.get("namespace"), gw.get("name"))


def _target(gw):
    return target("Service", gw.get("namespace"), gw.get("name"))


def _svc_fields(c, gw):
    return {"service": _ref(gw), "service_ns": gw.get("namespace"), "service_name": gw.get("name"),
            "ctx": c.context, "network": c.network or "(unknown)"}


def _ports(gw):
    return [as_dict(p) for p in as_list(gw.get("ports"))]


def _addresses(gw):
    return [as_dict(a) for a in as_list(gw.get("addresses"))]


def _version_tuple(version):
    m = re.match(r"^v?(\d+)\.(\d+)", str(version or ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


def _gateway_clusters(mesh):
    """(cluster, its gateway Services) for the judged clusters of a multi-network mesh whose Services were read."""
    if not mesh.multi_network:
        return
    for c in mesh.judged():
        if c.gateways is not None:
            yield c, c.gateways


@check("eastwest_gateway.missing")
def missing(mesh):
    for c, gws in _gateway_clusters(mesh):
        if gws or mesh.static_gateways(c, c.network):
            continue
        yield make_finding(
            "eastwest_gateway.missing", c.name, target=target("Service", c.istio_namespace, "istio-eastwestgateway"),
            evidence={"looked_for": "Services labelled istio=eastwestgateway or %s" % NETWORK_LABEL,
                      "network": c.network, "mesh_networks_static_gateways": []},
            network=c.network or "<network>", ctx=c.context, ns=c.istio_namespace)


@check("eastwest_gateway.external_ip_pending")
def external_ip_pending(mesh):
    for c, gws in _gateway_clusters(mesh):
        pending = [gw for gw in gws if gw.get("pending") or not _addresses(gw)]
        if not pending:
            continue
        gw = pending[0]
        address = c.declared.get("gateway_ip")
        yield make_finding(
            "eastwest_gateway.external_ip_pending", c.name, target=_target(gw),
            evidence={"gateways": [{"service": _ref(g), "type": g.get("type"), "pending": bool(g.get("pending")),
                                    "addresses": as_list(g.get("addresses")),
                                    "node_selector": g.get("node_selector")} for g in pending]},
            fix={"services": [{"namespace": g.get("namespace"), "name": g.get("name")} for g in pending]},
            address=address or "<ip>", **_svc_fields(c, gw))


@check("eastwest_gateway.hostname_only")
def hostname_only(mesh):
    for c, gws in _gateway_clusters(mesh):
        hostname = [gw for gw in gws if not (gw.get("pending") or not _addresses(gw)) and gw.get("hostname_only")]
        if not hostname:
            continue
        gw = hostname[0]
        version = as_dict(c.istiod).get("version")
        old = _version_tuple(version)
        yield make_finding(
            "eastwest_gateway.hostname_only", c.name, target=_target(gw),
            evidence={"addresses": as_list(gw.get("addresses")), "istiod_version": version,
                      "RESOLVE_HOSTNAME_GATEWAYS": as_dict(as_dict(c.istiod).get("env")).get("RESOLVE_HOSTNAME_GATEWAYS")},
            variant="too_old" if old and old < (1, 13) else None, version=version, **_svc_fields(c, gw))


def _label_objects(gws, current=False):
    return [{"kind": "Service", "namespace": g.get("namespace"), "name": g.get("name"),
             "current": g.get("network_label") if current else None} for g in gws]


@check("eastwest_gateway.network_label_missing")
def network_label_missing(mesh):
    for c, gws in _gateway_clusters(mesh):
        unlabelled = [gw for gw in gws if not gw.get("network_label")]
        if not unlabelled:
            continue
        gw = unlabelled[0]
        fields = _svc_fields(c, gw)
        fields["network"] = c.network or "<network>"
        yield make_finding(
            "eastwest_gateway.network_label_missing", c.name, target=_target(gw),
            evidence={"services": [_ref(g) for g in unlabelled], "labels": as_dict(gw.get("labels")),
                      "network": c.network, "network_from": c.network_source},
            fix=label_fix(c, _label_objects(unlabelled)), **fields)


@check("eastwest_gateway.network_label_mismatch")
def network_label_mismatch(mesh):
    for c, gws in _gateway_clusters(mesh):
        wrong = [gw for gw in gws if gw.get("network_label") and c.network and gw["network_label"] != c.network]
        if not wrong:
            continue
        gw = wrong[0]
        yield make_finding(
            "eastwest_gateway.network_label_mismatch", c.name, target=_target(gw),
            evidence={"services": [{"service": _ref(g), "network_label": g.get("network_label")} for g in wrong],
                      "network": c.network, "network_from": c.network_source},
            fix=label_fix(c, _label_objects(wrong, current=True)), label=gw.get("network_label"),
            **_svc_fields(c, gw))


@check("eastwest_gateway.port_missing")
def port_missing(mesh):
    rpas = mesh.remote_pilot_addresses()
    for c, gws in _gateway_clusters(mesh):
        missing_ports = []
        for gw in gws:
            port = gw.get("gateway_port") or DEFAULT_GATEWAY_PORT
            numbers = set(p.get("port") for p in _ports(gw))
            needed = [port] if port not in numbers else []
            serving = sorted(set(n for a in _addresses(gw) for n in rpas.get(str(a.get("value")), [])))
            needed += [p for p in ISTIOD_PORTS if serving and p not in numbers]
            if needed:
                missing_ports.append((gw, needed, serving))
        if not missing_ports:
            continue
        gw, needed, serving = missing_ports[0]
        yield make_finding(
            "eastwest_gateway.port_missing", c.name, target=_target(gw),
            evidence={"services": [{"service": _ref(g), "ports": [p.get("port") for p in _ports(g)],
                                    "gateway_port": g.get("gateway_port") or DEFAULT_GATEWAY_PORT,
                                    "missing": n, "remote_clusters_using_it": s} for g, n, s in missing_ports]},
            variant=None if (gw.get("gateway_port") or DEFAULT_GATEWAY_PORT) in needed else "istiod",
            ports=", ".join(str(p) for p in needed), remotes=", ".join(serving), **_svc_fields(c, gw))


def _passthrough_ports(gw):
    port = gw.get("gateway_port") or DEFAULT_GATEWAY_PORT
    out = {port, DEFAULT_GATEWAY_PORT}
    for p in _ports(gw):
        if p.get("port") == port and isinstance(p.get("target_port"), int):
            out.add(p["target_port"])
    return out


def _exposed(gw, istio_gateways):
    """True when an Istio Gateway selecting the gateway's pods has an AUTO_PASSTHROUGH server on its port."""
    for ig in as_list(istio_gateways):
        ig = as_dict(ig)
        if not selects(ig.get("selector"), as_dict(gw.get("selector"))):
            continue
        for server in as_list(ig.get("servers")):
            server = as_dict(server)
            if (server.get("port") in _passthrough_ports(gw)
                    and str(server.get("tls_mode") or "").upper() == "AUTO_PASSTHROUGH"):
                return True
    return False


@check("eastwest_gateway.expose_gateway_missing")
def expose_gateway_missing(mesh):
    for c, gws in _gateway_clusters(mesh):
        istio_gateways = c.facts.get("istio_gateways")
        if istio_gateways is None and (c.read_failed("gateways") or not c.has_section("istio_crds")):
            continue
        missing_expose = [gw for gw in gws if as_dict(gw.get("selector")) and not _exposed(gw, istio_gateways)]
        if not missing_expose:
            continue
        gw = missing_expose[0]
        yield make_finding(
            "eastwest_gateway.expose_gateway_missing", c.name,
            target=target("Gateway", c.istio_namespace, "cross-network-gateway"),
            evidence={"eastwest_gateways": [{"service": _ref(g), "selector": as_dict(g.get("selector"))}
                                            for g in missing_expose],
                      "gateway_crd_present": istio_gateways is not None,
                      "istio_gateways": [{"gateway": "%s/%s" % (as_dict(i).get("namespace"), as_dict(i).get("name")),
                                          "selector": as_dict(i).get("selector"),
                                          "servers": as_list(as_dict(i).get("servers"))}
                                         for i in as_list(istio_gateways)][:MAX_LISTED]},
            service=_ref(gw), ctx=c.context, ns=c.istio_namespace)
