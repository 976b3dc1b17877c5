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

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks._mesh import (
    NETWORK_LABEL, as_dict, as_list, dig, listed, make, resource,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.network import intended_network

DEFAULT_GATEWAY_PORT = 15443
ISTIOD_PORTS = (15012, 15017)

# The gateway findings that explain raw remote pod IPs in a proxy (endpoints.remote_pod_ips).
POD_IP_CAUSES = ("eastwest_gateway.missing", "eastwest_gateway.external_ip_pending",
                 "eastwest_gateway.network_label_missing", "eastwest_gateway.network_label_mismatch",
                 "eastwest_gateway.port_missing", "eastwest_gateway.hostname_only")


def _ref(gw):
    return "%s/%s" % (gw.get("namespace"), gw.get("name"))


def _res(gw):
    return resource("Service", gw.get("namespace"), gw.get("name"))


def _ctx(c):
    return c.facts.get("context") or c.name


def _ports(gw):
    return [as_dict(p) for p in as_list(gw.get("ports"))]


def _version_tuple(version):
    m = re.match(r"^v?(\d+)\.(\d+)", str(version or ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


def _static_gateway(c, network):
    """meshNetworks gives a static gateway address for this network: no Service is needed here."""
    net = as_dict(dig(c.facts, "mesh_networks", "networks", network)) if network else {}
    return [g.get("address") for g in as_list(net.get("gateways")) if as_dict(g).get("address")]


def _remote_pilot_addresses(mesh):
    out = {}
    for c in mesh.full():
        if c.role in ("remote", "remote_bound_local"):
            rpa = c.injector_global.get("remotePilotAddress")
            if rpa:
                out.setdefault(str(rpa), []).append(c.name)
    return out


def _check_cluster(mesh, c, rpas):
    out = []
    gws = c.facts.get("gateways")
    if not isinstance(gws, list):
        return out
    network, source = intended_network(c)
    if not network:
        network, source = c.network, "effective"
    gws = [as_dict(g) for g in gws]
    if not gws:
        static = _static_gateway(c, network)
        if static:
            return out
        out.append(make(
            "eastwest_gateway.missing", c.name,
            "No east-west gateway in %s: in this multi-network mesh the other networks cannot reach its "
            "endpoints, and its proxies get raw pod IPs of %s's endpoints." % (c.name, c.name),
            resource=resource("Service", c.istio_namespace, "istio-eastwestgateway"),
            evidence={"looked_for": "Services labelled istio=eastwestgateway or %s" % NETWORK_LABEL,
                      "network": network, "mesh_networks_static_gateways": []},
            remedy="Install the east-west gateway: samples/multicluster/gen-eastwest-gateway.sh --network %s | "
                   "istioctl --context=%s install -y -f -, then kubectl --context=%s apply -n %s -f "
                   "samples/multicluster/expose-services.yaml. Manual." % (
                       network or "<network>", _ctx(c), _ctx(c), c.istio_namespace),
        ))
        return out

    pending, hostname, label_missing, label_mismatch, port_missing = [], [], [], [], []
    for gw in gws:
        addresses = [as_dict(a) for a in as_list(gw.get("addresses"))]
        if gw.get("pending") or not addresses:
            pending.append(gw)
        elif gw.get("hostname_only"):
            hostname.append(gw)
        if not gw.get("network_label"):
            label_missing.append(gw)
        elif network and gw["network_label"] != network:
            label_mismatch.append(gw)
        port = gw.get("gateway_port") or DEFAULT_GATEWAY_PORT
        numbers = set(p.get("port") for p in _ports(gw))
        needed = [port] if port not in numbers else []
        serving = sorted(set(n for a in addresses for n in rpas.get(str(a.get("value")), [])))
        needed += [p for p in ISTIOD_PORTS if serving and p not in numbers]
        if needed:
            port_missing.append((gw, needed, serving))

    if pending:
        gw = pending[0]
        out.append(make(
            "eastwest_gateway.external_ip_pending", c.name,
            "The east-west gateway Service %s in %s has no address (EXTERNAL-IP <pending>): the environment "
            "may not support LoadBalancer services, so istiod cannot determine the address of the gateway for "
            "network %s." % (_ref(gw), c.name, network or "(unknown)"),
            resource=_res(gw),
            evidence={"gateways": [{"service": _ref(g), "type": g.get("type"), "pending": bool(g.get("pending")),
                                    "addresses": as_list(g.get("addresses")),
                                    "node_selector": g.get("node_selector")} for g in pending]},
            remedy="Give the gateway an IP reachable from the other networks in spec.externalIPs: kubectl "
                   "--context=%s -n %s patch service %s -p '{\"spec\":{\"externalIPs\":[\"<ip>\"]}}' "
                   "(remediate category gateway_addresses, from host var meshmend_eastwest_gateway_ip)." % (
                       _ctx(c), gw.get("namespace"), gw.get("name")),
            category="gateway_addresses",
        ))
    if hostname:
        gw = hostname[0]
        old = _version_tuple(as_dict(c.istiod).get("version"))
        too_old = bool(old and old < (1, 13))
        out.append(make(
            "eastwest_gateway.hostname_only", c.name,
            "The east-west gateway Service %s in %s only has a hostname address: %s." % (
                _ref(gw), c.name,
                "Istio %s drops hostname gateways (\"Hostnames are not supported for gateways\")" %
                as_dict(c.istiod).get("version") if too_old else
                "istiod must resolve it (RESOLVE_HOSTNAME_GATEWAYS, default on since 1.13), and an empty "
                "answer leaves the network without a gateway"),
            resource=_res(gw),
            evidence={"addresses": as_list(gw.get("addresses")), "istiod_version": as_dict(c.istiod).get("version"),
                      "RESOLVE_HOSTNAME_GATEWAYS": as_dict(as_dict(c.istiod).get("env")).get(
                          "RESOLVE_HOSTNAME_GATEWAYS")},
            remedy="Make sure the hostname resolves from istiod (and RESOLVE_HOSTNAME_GATEWAYS is not false), "
                   "upgrade Istio before 1.13, or give the Service an IP in spec.externalIPs. Manual.",
        ))
    if label_missing:
        gw = label_missing[0]
        out.append(make(
            "eastwest_gateway.network_label_missing", c.name,
            "The east-west gateway Service %s in %s has no %s label: istiod does not know it is the gateway "
            "for network %s." % (_ref(gw), c.name, NETWORK_LABEL, network or "(unknown)"),
            resource=_res(gw),
            evidence={"services": [_ref(g) for g in label_missing], "labels": as_dict(gw.get("labels")),
                      "network": network, "network_from": source},
            remedy="kubectl --context=%s -n %s label service %s %s=%s (remediate category network_labels); or "
                   "reinstall the gateway with the --network flag of the generation script." % (
                       _ctx(c), gw.get("namespace"), gw.get("name"), NETWORK_LABEL, network or "<network>"),
            category="network_labels",
        ))
    if label_mismatch:
        gw = label_mismatch[0]
        out.append(make(
            "eastwest_gateway.network_label_mismatch", c.name,
            "The east-west gateway Service %s in %s is labelled %s=%s, but %s is on network %s: the gateway "
            "is registered for the wrong network." % (
                _ref(gw), c.name, NETWORK_LABEL, gw.get("network_label"), c.name, network),
            resource=_res(gw),
            evidence={"services": [{"service": _ref(g), "network_label": g.get("network_label")}
                                   for g in label_mismatch], "network": network, "network_from": source},
            remedy="Relabel it: kubectl --context=%s -n %s label service %s %s=%s --overwrite (remediate category "
                   "network_labels); reinstall the gateway with the right --network so its pods' "
                   "ISTIO_META_REQUESTED_NETWORK_VIEW follows." % (
                       _ctx(c), gw.get("namespace"), gw.get("name"), NETWORK_LABEL, network),
            category="network_labels",
        ))
    if port_missing:
        gw, needed, serving = port_missing[0]
        out.append(make(
            "eastwest_gateway.port_missing", c.name,
            "The east-west gateway Service %s in %s does not expose port %s%s." % (
                _ref(gw), c.name, ", ".join(str(p) for p in needed),
                " (istiod ignores a gateway that listens neither on its gatewayPort nor on 15008)"
                if (gw.get("gateway_port") or DEFAULT_GATEWAY_PORT) in needed else
                " needed by remote cluster(s) %s to reach istiod" % ", ".join(serving)),
            resource=_res(gw),
            evidence={"services": [{"service": _ref(g), "ports": [p.get("port") for p in _ports(g)],
                                    "gateway_port": g.get("gateway_port") or DEFAULT_GATEWAY_PORT,
                                    "missing": n, "remote_clusters_using_it": s}
                                   for g, n, s in port_missing]},
            remedy="Reinstall the gateway from samples/multicluster/gen-eastwest-gateway.sh (ports tls 15443, "
                   "tls-istiod 15012, tls-webhook 15017) or add the port to the Service. Manual.",
        ))
    out.extend(_check_expose(c, gws))
    return out


def _selects(gateway_selector, gw):
    selector = as_dict(gw.get("selector"))
    labels = as_dict(gateway_selector)
    if not labels or not selector:
        return False
    return all(selector.get(k) == v for k, v in labels.items())


def _passthrough_ports(gw):
    port = gw.get("gateway_port") or DEFAULT_GATEWAY_PORT
    out = {port, DEFAULT_GATEWAY_PORT}
    for p in _ports(gw):
        if p.get("port") == port and isinstance(p.get("target_port"), int):
            out.add(p["target_port"])
    return out


def _check_expose(c, gws):
    istio_gateways = c.facts.get("istio_gateways")
    if istio_gateways is None and (c.read_failed("gateways") or not c.has_section("istio_crds")):
        return []
    eastwest = [g for g in gws if as_dict(g.get("selector"))]
    if not eastwest:
        return []
    missing = []
    for gw in eastwest:
        ok = False
        for ig in as_list(istio_gateways):
            ig = as_dict(ig)
            if not _selects(ig.get("selector"), gw):
                continue
            for server in as_list(ig.get("servers")):
                server = as_dict(server)
                if (server.get("port") in _passthrough_ports(gw)
                        and str(server.get("tls_mode") or "").upper() == "AUTO_PASSTHROUGH"):
                    ok = True
        if not ok:
            missing.append(gw)
    if not missing:
        return []
    gw = missing[0]
    return [make(
        "eastwest_gateway.expose_gateway_missing", c.name,
        "No Gateway with an AUTO_PASSTHROUGH server on 15443 selects the east-west gateway %s in %s: it does "
        "not pass cross-network mesh traffic through." % (_ref(gw), c.name),
        resource=resource("Gateway", c.istio_namespace, "cross-network-gateway"),
        evidence={"eastwest_gateways": [{"service": _ref(g), "selector": as_dict(g.get("selector"))}
                                        for g in missing],
                  "gateway_crd_present": istio_gateways is not None,
                  "istio_gateways": listed([{"gateway": "%s/%s" % (as_dict(i).get("namespace"),
                                                                   as_dict(i).get("name")),
                                             "selector": as_dict(i).get("selector"),
                                             "servers": as_list(as_dict(i).get("servers"))}
                                            for i in as_list(istio_gateways)])},
        remedy="kubectl --context=%s apply -n %s -f samples/multicluster/expose-services.yaml (Gateway "
               "cross-network-gateway: selector istio=eastwestgateway, port 15443 TLS AUTO_PASSTHROUGH, hosts "
               "*.local). Manual." % (_ctx(c), c.istio_namespace),
    )]


def check(mesh, found):
    out = []
    if not mesh.multi_network:
        return out
    rpas = _remote_pilot_addresses(mesh)
    for c in mesh.installed():
        if c.name in mesh.not_installed:
            continue
        out.extend(_check_cluster(mesh, c, rpas))
    return out
