"""Network gateways and endpoint networks (istio-facts sections 3 and 4)."""

import ipaddress
import json

from .world import labels_of, annotations_of, name_of, ns_of, matches
from .istiod import ISTIO_NS

NET_LABEL = "topology.istio.io/network"
GW_PORT_LABEL = "networking.istio.io/gatewayPort"
NODE_SELECTOR = "traffic.istio.io/nodeSelector"


def _ports(svc):
    return (svc.get("spec") or {}).get("ports") or []


def service_addresses(world, cluster, svc, port):
    """(addresses [(addr, port)], hostnames [(host, port)]) a gateway Service offers on `port`."""
    spec = svc.get("spec") or {}
    sp = next((p for p in _ports(svc) if p.get("port") == port), None)
    addrs, hosts = [], []
    if sp is None:
        return addrs, hosts
    if spec.get("type") == "LoadBalancer":
        for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if ing.get("ip"):
                addrs.append((ing["ip"], port))
            elif ing.get("hostname"):
                hosts.append((ing["hostname"], port))
    for ip in spec.get("externalIPs") or []:
        addrs.append((ip, port))
    sel = annotations_of(svc).get(NODE_SELECTOR)
    if spec.get("type") == "NodePort" and sel and sp.get("nodePort"):
        try:
            selector = json.loads(sel)
        except ValueError:
            selector = None
        if isinstance(selector, dict):
            for node in world.list(cluster, "nodes"):
                if matches(selector, labels_of(node)):
                    for a in (node.get("status") or {}).get("addresses") or []:
                        if a.get("type") == "ExternalIP":
                            addrs.append((a.get("address"), sp["nodePort"]))
    return addrs, hosts


def gateways_of_cluster(world, lab_cluster, registry_id, mesh_nets, version, log=None):
    """Gateways istiod learns from one registered cluster: [{network, cluster, addr, port, lab_cluster, service}]."""
    out = []
    for svc in world.list(lab_cluster, "services"):
        net = labels_of(svc).get(NET_LABEL)
        if not net:
            continue
        gw_port = labels_of(svc).get(GW_PORT_LABEL)
        port = int(gw_port) if (gw_port or "").isdigit() else 15443
        have = {p.get("port") for p in _ports(svc)}
        if port not in have and 15008 not in have:
            if log is not None:
                log.append(("warn", "gateway_no_port", {"service": "%s/%s" % (ns_of(svc), name_of(svc)),
                                                        "port": port}))
            continue
        if port not in have:
            continue
        addrs, hosts = service_addresses(world, lab_cluster, svc, port)
        addrs += _resolve(world, hosts, version, log)
        for a, p in addrs:
            out.append({"network": net, "cluster": registry_id, "addr": a, "port": p,
                        "lab_cluster": lab_cluster, "service": svc})
    # meshNetworks registryServiceName counts for the network whose endpoints come from this registry
    for net, cfg in (mesh_nets or {}).items():
        cfg = cfg or {}
        regs = [e.get("fromRegistry") for e in cfg.get("endpoints") or []]
        for gw in cfg.get("gateways") or []:
            name = gw.get("registryServiceName")
            if not name or registry_id not in regs:
                continue
            parts = name.split(".")
            svc = world.get(lab_cluster, "services", parts[1] if len(parts) > 1 else ISTIO_NS, parts[0])
            if svc is None:
                continue
            addrs, hosts = service_addresses(world, lab_cluster, svc, gw.get("port", 15443))
            addrs += _resolve(world, hosts, version, log)
            for a, p in addrs:
                out.append({"network": net, "cluster": registry_id, "addr": a, "port": p,
                            "lab_cluster": lab_cluster, "service": svc})
    return out


def _resolve(world, hosts, version, log):
    if not hosts:
        return []
    if version < (1, 13):
        if log is not None:
            log.append(("warn", "hostname_unsupported", {"count": len(hosts)}))
        return []
    dns = (world.spec or {}).get("dns") or {}
    out = []
    for h, p in hosts:
        ip = dns.get(h)
        if ip:
            out.append((ip, p))
        elif log is not None:
            log.append(("warn", "hostname_unresolved", {"host": h, "count": 1}))
    return out


def static_gateways(mesh_nets):
    out = []
    for net, cfg in (mesh_nets or {}).items():
        for gw in (cfg or {}).get("gateways") or []:
            if gw.get("address"):
                out.append({"network": net, "cluster": "", "addr": gw["address"], "port": gw.get("port", 15443),
                            "lab_cluster": None, "service": None})
    return out


def known_gateways(world, istiod, log=None):
    """Every gateway an istiod knows: from each synced registered cluster, plus static meshNetworks ones."""
    out = []
    for cid, lab_cluster in istiod.synced_clusters():
        out += gateways_of_cluster(world, lab_cluster, cid, istiod.mesh_networks, istiod.version, log)
    out += static_gateways(istiod.mesh_networks)
    return out


def endpoint_network(world, lab_cluster, registry_id, pod, mesh_nets):
    """controller.go Network(): pod label, then istio-system label, then meshNetworks."""
    net = labels_of(pod).get(NET_LABEL)
    if net:
        return net
    ns = world.get(lab_cluster, "namespaces", None, ISTIO_NS)
    net = labels_of(ns or {}).get(NET_LABEL)
    if net:
        return net
    ip = (pod.get("status") or {}).get("podIP")
    for name, cfg in (mesh_nets or {}).items():
        for e in (cfg or {}).get("endpoints") or []:
            if e.get("fromRegistry") and e["fromRegistry"] == registry_id:
                return name
            if e.get("fromCidr") and ip:
                try:
                    if ipaddress.ip_address(ip) in ipaddress.ip_network(e["fromCidr"], strict=False):
                        return name
                except ValueError:
                    pass
    return ""


def proxy_network(pod):
    from .injection import proxy_container
    for c in [proxy_container(pod)[0] or {}]:
        if c.get("name") == "istio-proxy":
            for e in c.get("env") or []:
                if e.get("name") == "ISTIO_META_NETWORK":
                    return e.get("value") or ""
    return ""


def address_owner(world, addr):
    """Which lab cluster's Service (or Node) answers at a data-plane address: {cluster, service, via}."""
    for cluster in world.cluster_names():
        for svc in world.list(cluster, "services"):
            spec = svc.get("spec") or {}
            for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                if addr in (ing.get("ip"), ing.get("hostname")):
                    return {"cluster": cluster, "service": svc, "via": "loadbalancer"}
            if addr in (spec.get("externalIPs") or []):
                return {"cluster": cluster, "service": svc, "via": "externalip"}
            if spec.get("clusterIP") == addr:
                return {"cluster": cluster, "service": svc, "via": "clusterip"}
    for cluster in world.cluster_names():
        for node in world.list(cluster, "nodes"):
            for a in (node.get("status") or {}).get("addresses") or []:
                if a.get("address") == addr:
                    return {"cluster": cluster, "service": None, "node": node, "via": "node"}
    return None
