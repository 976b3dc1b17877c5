# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""East-west gateway Services -> the addresses istiod derives from them.

pilot/pkg/serviceregistry/kube/controller/network.go (istio-facts section 3):

- a Service labelled ``topology.istio.io/network=<net>`` is a gateway for ``<net>``; its port is
  15443 or label ``networking.istio.io/gatewayPort``; one exposing neither that port nor 15008
  is ignored;
- LoadBalancer: each ``status.loadBalancer.ingress[]`` gives its ``ip``, else its ``hostname``;
- ``spec.externalIPs`` count for every Service type (the fix for ``<pending>``);
- NodePort counts only with annotation ``traffic.istio.io/nodeSelector`` (JSON label map):
  the ExternalIP addresses of matching Nodes (never InternalIP) with the nodePort.

Pure functions over Kubernetes objects as dicts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import NETWORK_LABEL
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import labels_of, selector_matches

GATEWAY_PORT_LABEL = "networking.istio.io/gatewayPort"
NODE_SELECTOR_ANNOTATION = "traffic.istio.io/nodeSelector"
EASTWEST_SELECTOR = ("istio", "eastwestgateway")
DEFAULT_GATEWAY_PORT = 15443
HBONE_PORT = 15008
# Ports of samples/multicluster/gen-eastwest-gateway.sh.
WELL_KNOWN_PORTS = {15021: "status-port", 15443: "tls", 15012: "tls-istiod", 15017: "tls-webhook"}


def is_gateway_service(svc):
    """Labelled istio=eastwestgateway, or carrying the network label."""
    labels = (svc.get("metadata") or {}).get("labels") or {}
    return labels.get(EASTWEST_SELECTOR[0]) == EASTWEST_SELECTOR[1] or NETWORK_LABEL in labels


def gateway_port(labels):
    value = (labels or {}).get(GATEWAY_PORT_LABEL)
    if value is None:
        return DEFAULT_GATEWAY_PORT, None
    try:
        port = int(value)
        if 0 < port < 65536:
            return port, None
    except (TypeError, ValueError):
        pass
    return DEFAULT_GATEWAY_PORT, "label %s=%r is not a port; istiod uses %d" % (
        GATEWAY_PORT_LABEL, value, DEFAULT_GATEWAY_PORT)


def parse_node_selector(value):
    """The annotation's JSON label map. Returns (dict or None, error or None)."""
    if value is None:
        return None, None
    try:
        sel = json.loads(value)
    except ValueError as exc:
        return None, "annotation %s is not JSON: %s" % (NODE_SELECTOR_ANNOTATION, exc)
    if not isinstance(sel, dict):
        return None, "annotation %s is not a label map" % NODE_SELECTOR_ANNOTATION
    return dict((str(k), str(v)) for k, v in sel.items()), None


def _kind(value):
    try:
        ipaddress.ip_address(value)
        return "ip"
    except ValueError:
        return "hostname"


def node_addresses(node, kind):
    return [a.get("address") for a in ((node.get("status") or {}).get("addresses") or [])
            if a.get("type") == kind and a.get("address")]


def service_ports(svc):
    out = []
    for p in (svc.get("spec") or {}).get("ports") or []:
        out.append({"name": p.get("name"), "port": p.get("port"), "target_port": p.get("targetPort", p.get("port")),
                    "node_port": p.get("nodePort"), "protocol": p.get("protocol") or "TCP"})
    return out


def gateway_addresses(svc, nodes=None):
    """Addresses istiod would use for this Service, in its order, with where each came from."""
    spec = svc.get("spec") or {}
    meta = svc.get("metadata") or {}
    stype = spec.get("type") or "ClusterIP"
    out = []
    seen = set()

    def add(value, source, port=None):
        if value and (value, source) not in seen:
            seen.add((value, source))
            item = {"value": value, "kind": _kind(value), "source": source}
            if port is not None:
                item["port"] = port
            out.append(item)

    if stype == "LoadBalancer":
        for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if ing.get("ip"):
                add(ing["ip"], "load_balancer")
            elif ing.get("hostname"):
                add(ing["hostname"], "load_balancer")
    for ip in spec.get("externalIPs") or []:
        add(ip, "external_ips")
    if stype == "NodePort":
        selector, _err = parse_node_selector((meta.get("annotations") or {}).get(NODE_SELECTOR_ANNOTATION))
        if selector is not None:
            gw_port = gateway_port(meta.get("labels"))[0]
            node_port = None
            for p in spec.get("ports") or []:
                if p.get("port") == gw_port:
                    node_port = p.get("nodePort")
            for node in nodes or []:
                if selector_matches(labels_of(node), selector):
                    for ip in node_addresses(node, "ExternalIP"):
                        add(ip, "node", port=node_port)
    return out


def gateway_facts(svc, nodes=None):
    """One ``gateways[]`` item of docs/facts.md."""
    meta = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    stype = spec.get("type") or "ClusterIP"
    port, port_error = gateway_port(labels)
    ports = service_ports(svc)
    port_numbers = [p["port"] for p in ports]
    addresses = gateway_addresses(svc, nodes)
    node_selector, ns_error = (parse_node_selector(annotations.get(NODE_SELECTOR_ANNOTATION))
                               if stype == "NodePort" else (None, None))
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    warnings = [w for w in (port_error, ns_error) if w]
    if stype == "NodePort" and node_selector is None and not spec.get("externalIPs"):
        warnings.append("NodePort gateway without externalIPs or %s annotation: istiod ignores it (istio#39930)"
                        % NODE_SELECTOR_ANNOTATION)
    if stype == "NodePort" and node_selector is not None and not addresses:
        warnings.append("no Node matching %s has an ExternalIP address" % json.dumps(node_selector, sort_keys=True))
    listens = port in port_numbers or HBONE_PORT in port_numbers
    return {
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "type": stype,
        "labels": labels,
        "annotations": annotations,
        "selector": spec.get("selector") or {},
        "network_label": labels.get(NETWORK_LABEL),
        "gateway_port": port,
        "ports": ports,
        "has_gateway_port": port in port_numbers,
        "ignored_by_istiod": bool(labels.get(NETWORK_LABEL)) and not listens,
        "well_known_ports": dict((str(p), WELL_KNOWN_PORTS[p] if p in WELL_KNOWN_PORTS else None)
                                 for p in sorted(WELL_KNOWN_PORTS) if p in port_numbers),
        "cluster_ip": spec.get("clusterIP"),
        "external_ips": list(spec.get("externalIPs") or []),
        "load_balancer_class": spec.get("loadBalancerClass"),
        "addresses": addresses,
        # kubectl's EXTERNAL-IP <pending>: a LoadBalancer with no ingress and no externalIPs.
        "pending": stype == "LoadBalancer" and not ingress and not spec.get("externalIPs"),
        "hostname_only": bool(addresses) and all(a["kind"] == "hostname" for a in addresses),
        "node_selector": node_selector,
        "warnings": warnings,
    }


def gateways_from_services(services, nodes=None):
    """Every gateway Service (istio=eastwestgateway or network-labelled), sorted by namespace/name."""
    out = [gateway_facts(s, nodes) for s in services or [] if is_gateway_service(s)]
    return sorted(out, key=lambda g: (g["namespace"] or "", g["name"] or ""))


def external_ip_column(svc):
    """kubectl's EXTERNAL-IP cell (for messages that quote what an operator sees)."""
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    ext = list(spec.get("externalIPs") or [])
    if stype == "ExternalName":
        return spec.get("externalName") or ""
    if stype == "LoadBalancer":
        ing = sorted(set(i.get("ip") or i.get("hostname") for i in
                         ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
                         if i.get("ip") or i.get("hostname")))
        vals = ing + ext
        return ",".join(vals) if vals else "<pending>"
    return ",".join(ext) if ext else "<none>"
