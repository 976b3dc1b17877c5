# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network gateways istiod learns from ``meshNetworks`` (ConfigMap ``istio``, key ``meshNetworks``).

Follows istio/istio (1.30.3 unless noted):

- pkg/config/mesh/mesh.go ParseMeshNetworks: YAML -> JSON -> golang/protobuf ``jsonpb`` (pkg/util/protomarshal
  ApplyYAML). Each field is accepted under its JSON name and its proto name (``registryServiceName`` and
  ``registry_service_name``, ``fromRegistry``/``from_registry``, ``fromCidr``/``from_cidr``); when both are
  given the JSON name wins. Unknown keys are ignored (a strict pass fails, the retry allows them). A value of
  the wrong type fails the whole document. Of a oneof given twice, the field declared later in
  mesh/v1alpha1/network.proto wins (``address`` over ``registry_service_name``, ``from_registry`` over
  ``from_cidr``): jsonpb sets fields in declaration order.
- pkg/config/validation/agent/validation.go validateNetwork: ``fromCidr`` a CIDR or IP, ``fromRegistry`` a
  DNS-1123 label, ``registryServiceName`` an FQDN, ``address`` an IP or (RESOLVE_HOSTNAME_GATEWAYS, 1.13+) a DNS
  name, ``port`` 1..65535. One error rejects the whole meshNetworks: istiod logs ``invalid mesh networks, using
  last known state`` (pkg/config/mesh/meshwatcher/collection.go) and, at startup, knows none.
- pilot/pkg/model/network.go NetworkManager.reload: every gateway with an ``address`` is a gateway of its network,
  with no cluster (hostnames are resolved by istiod's DNS, model/network.go resolveHostnameGateways).
- pilot/pkg/serviceregistry/kube/controller/network.go reloadMeshNetworks / getGatewayDetails /
  extractGatewaysInner: a ``registryServiceName`` gateway counts only in the registries (clusters) named by a
  ``fromRegistry`` endpoint of its network; there the Service whose hostname is that FQDN gives the addresses
  (load balancer ingress, externalIPs, or the ExternalIPs of the Nodes picked by
  ``traffic.istio.io/nodeSelector``, with the gateway port mapped to its nodePort), unless the Service carries a
  ``topology.istio.io/network`` label, whose label-based gateway wins.

Pure function; the lead wires it into the checks (gather already reads ``mesh_networks``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.meshmend.multicluster.plugins.module_utils import gateways as _gateways

NETWORK_LABEL = "topology.istio.io/network"
_LABEL_RE = re.compile(r"^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$")   # istio pkg/config/labels dns1123LabelFmt

# field: (JSON name, proto name), in declaration order (mesh/v1alpha1/network.proto)
_ENDPOINT_FIELDS = (("fromCidr", "from_cidr"), ("fromRegistry", "from_registry"))
_GATEWAY_FIELDS = (("registryServiceName", "registry_service_name"), ("address", "address"), ("port", "port"),
                   ("locality", "locality"))


class MeshNetworksError(ValueError):
    pass


def _version(v):
    if v is None:
        return (1, 30, 3)
    if isinstance(v, (tuple, list)):
        return tuple(int(x) for x in v)
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", str(v))
    return tuple(int(x or 99) for x in m.groups()) if m else (1, 30, 3)


def _take(obj, names):
    """jsonpb: the proto name then the JSON name are looked up; the later lookup wins. None when absent/null."""
    json_name, proto_name = names
    value = obj.get(proto_name)
    if obj.get(json_name) is not None:
        value = obj[json_name]
    return value


def _string(value, where):
    if not isinstance(value, str):
        raise MeshNetworksError("json: cannot unmarshal %s into %s of type string" % (type(value).__name__, where))
    return value


def _uint32(value, where):
    if isinstance(value, bool):
        raise MeshNetworksError("json: cannot unmarshal bool into %s of type uint32" % where)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or value < 0 or value > 0xFFFFFFFF:
        raise MeshNetworksError("json: cannot unmarshal %r into %s of type uint32" % (value, where))
    return value


def parse(mesh_networks):
    """ParseMeshNetworks' decoding step: {network: {"endpoints": [...], "gateways": [...]}}. Raises MeshNetworksError."""
    doc = mesh_networks
    if isinstance(doc, (bytes, str)):
        from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig_loader import safe_load
        try:
            doc = safe_load(doc)
        except Exception as exc:  # yaml.YAMLError or the size/alias limits
            raise MeshNetworksError("yaml: %s" % (getattr(exc, "problem", None) or exc))
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise MeshNetworksError("json: cannot unmarshal %s into MeshNetworks" % type(doc).__name__)
    networks = doc.get("networks")
    if networks is None:
        return {}
    if not isinstance(networks, dict):
        raise MeshNetworksError("json: cannot unmarshal %s into MeshNetworks.networks" % type(networks).__name__)
    out = {}
    for name, net in networks.items():
        if net is None:
            net = {}
        if not isinstance(net, dict):
            raise MeshNetworksError("json: cannot unmarshal %s into Network %s" % (type(net).__name__, name))
        endpoints, gws = [], []
        for ep in net.get("endpoints") or []:
            if not isinstance(ep, dict):
                raise MeshNetworksError("json: cannot unmarshal %s into NetworkEndpoints" % type(ep).__name__)
            parsed = {}
            for names in _ENDPOINT_FIELDS:        # oneof ne: a later field replaces an earlier one
                value = _take(ep, names)
                if value is not None:
                    parsed = {names[1]: _string(value, "NetworkEndpoints.%s" % names[0])}
            endpoints.append(parsed)
        for gw in net.get("gateways") or []:
            if not isinstance(gw, dict):
                raise MeshNetworksError("json: cannot unmarshal %s into IstioNetworkGateway" % type(gw).__name__)
            parsed = {"port": 0, "locality": ""}
            for names in _GATEWAY_FIELDS:
                value = _take(gw, names)
                if value is None:
                    continue
                if names[1] == "port":
                    parsed["port"] = _uint32(value, "IstioNetworkGateway.port")
                elif names[1] == "locality":
                    parsed["locality"] = _string(value, "IstioNetworkGateway.locality")
                else:                             # oneof gw
                    parsed.pop("registry_service_name", None)
                    parsed.pop("address", None)
                    parsed[names[1]] = _string(value, "IstioNetworkGateway.%s" % names[0])
            gws.append(parsed)
        out[str(name)] = {"endpoints": endpoints, "gateways": gws}
    return out


def _ip_error(value):
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        return "%s is not a valid IP" % value


def fqdn_error(name):
    """validation.go ValidateFQDN."""
    if len(name) > 255:
        return "domain name %r too long (max 255)" % name
    if not name:
        return "empty domain name not allowed"
    parts = name.split(".")
    if parts[-1].isdigit():
        return 'domain name "%s" invalid (top level domain "%s" cannot be all-numeric)' % (name, parts[-1])
    for i, label in enumerate(parts):
        if i == len(parts) - 1 and label == "":
            return None
        if not (len(label) <= 63 and _LABEL_RE.match(label)):
            return 'domain name "%s" invalid (label "%s" invalid)' % (name, label)
    return None


def _subnet_error(value):
    if value.count("/") == 1:
        try:
            ipaddress.ip_network(value, strict=False)
            return None
        except ValueError:
            return "%s is not a valid CIDR block" % value
    return _ip_error(value)


def validate(networks, istio_version=None, resolve_hostname_gateways=None):
    """validateNetwork for every network: [(network, error)]."""
    v = _version(istio_version)
    resolve = v >= (1, 13, 0) if resolve_hostname_gateways is None else bool(resolve_hostname_gateways)
    errors = []
    for name in sorted(networks):
        net = networks[name]
        for ep in net["endpoints"]:
            if "from_cidr" in ep:
                err = _subnet_error(ep["from_cidr"])
                if err:
                    errors.append((name, err))
            elif "from_registry" in ep and not (len(ep["from_registry"]) <= 63 and _LABEL_RE.match(ep["from_registry"])):
                errors.append((name, "invalid registry name: %s" % ep["from_registry"]))
        for gw in net["gateways"]:
            if "registry_service_name" in gw:
                err = fqdn_error(gw["registry_service_name"])
                if err:
                    errors.append((name, err))
            elif "address" in gw:
                ip_err = _ip_error(gw["address"])
                if ip_err:
                    if v < (1, 13, 0):
                        errors.append((name, ip_err))
                    elif not resolve:
                        errors.append((name, "%s (hostname is allowed if RESOLVE_HOSTNAME_GATEWAYS is enabled)" % ip_err))
                    elif fqdn_error(gw["address"]):
                        errors.append((name, "%s is not a valid IP address or DNS name" % gw["address"]))
            if not 1 <= gw["port"] <= 65535:
                errors.append((name, "port number %d must be in the range 1..65535" % gw["port"]))
    return errors


def _kind(address):
    return "hostname" if _ip_error(address) else "ip"


def _fqdn(svc, domain_suffix):
    meta = svc.get("metadata") or {}
    return "%s.%s.svc.%s" % (meta.get("name"), meta.get("namespace"), domain_suffix)


def _node_port_map(svc):
    """ClusterExternalPorts of a NodePort Service with traffic.istio.io/nodeSelector: service port -> nodePort."""
    spec = svc.get("spec") or {}
    annotations = (svc.get("metadata") or {}).get("annotations") or {}
    if spec.get("type") != "NodePort" or _gateways.NODE_SELECTOR_ANNOTATION not in annotations:
        return {}
    return dict((p.get("port"), p.get("nodePort")) for p in spec.get("ports") or []
                if isinstance(p, dict) and p.get("nodePort"))


def gateways_from_mesh_networks(mesh_networks, services_by_cluster=None, nodes_by_cluster=None, istio_version=None,
                                domain_suffix="cluster.local", resolve_hostname_gateways=None):
    """The gateways one istiod learns from its meshNetworks.

    ``services_by_cluster`` / ``nodes_by_cluster``: {cluster ID: [Service or Node objects]} for every registry
    that istiod reads (its own cluster and those of its remote secrets). Returns ``{valid, errors, gateways,
    declared, notes}``: ``gateways`` items are ``{network, cluster (None for a fixed address), address, kind
    (ip|hostname), port, source (address|registryServiceName), service, address_source}``; ``declared`` lists
    the registryServiceName gateways a registry should provide, found or not.
    """
    out = {"valid": True, "errors": [], "gateways": [], "declared": [], "notes": []}
    v = _version(istio_version)
    try:
        networks = parse(mesh_networks)
    except MeshNetworksError as exc:
        out.update(valid=False, errors=[{"network": None, "error": "failed to convert to proto.: %s" % exc}])
        out["notes"].append("istiod: invalid mesh networks, using last known state")
        return out
    errs = validate(networks, istio_version, resolve_hostname_gateways)
    if errs:
        out.update(valid=False, errors=[{"network": n, "error": "invalid network %s: %s" % (n, e)} for n, e in errs])
        out["notes"].append("istiod: invalid mesh networks, using last known state")
        return out
    seen = set()

    def add(entry):
        key = (entry["network"], entry["cluster"], entry["address"], entry["port"])
        if key not in seen:
            seen.add(key)
            out["gateways"].append(entry)

    for name in sorted(networks):
        for gw in networks[name]["gateways"]:
            if gw.get("address"):
                add({"network": name, "cluster": None, "address": gw["address"], "kind": _kind(gw["address"]),
                     "port": gw["port"], "source": "address", "service": None, "address_source": "meshNetworks"})
    for cluster in sorted(services_by_cluster or {}):
        services = [s for s in (services_by_cluster or {}).get(cluster) or [] if isinstance(s, dict)]
        by_host = dict((_fqdn(s, domain_suffix), s) for s in services)
        nodes = (nodes_by_cluster or {}).get(cluster) or []
        for name in sorted(networks):
            net = networks[name]
            if not any(ep.get("from_registry") == cluster for ep in net["endpoints"]):
                continue
            for gw in net["gateways"]:
                svc_name = gw.get("registry_service_name")
                if not svc_name:
                    continue
                decl = {"network": name, "cluster": cluster, "service": svc_name, "port": gw["port"], "found": False}
                out["declared"].append(decl)
                svc = by_host.get(svc_name)
                if svc is None:
                    continue
                decl["found"] = True
                meta = svc.get("metadata") or {}
                ref = "%s/%s" % (meta.get("namespace"), meta.get("name"))
                if (meta.get("labels") or {}).get(NETWORK_LABEL):
                    out["notes"].append("%s in %s carries %s: its label-based gateway is used instead of the "
                                        "meshNetworks entry" % (ref, cluster, NETWORK_LABEL))
                    continue
                ports = _node_port_map(svc)
                for addr in _gateways.gateway_addresses(svc, nodes):
                    if addr["kind"] == "hostname" and v < (1, 13, 0):
                        out["notes"].append("%s: hostname %s dropped (Hostnames are not supported for gateways "
                                            "before 1.13)" % (ref, addr["value"]))
                        continue
                    add({"network": name, "cluster": cluster, "address": addr["value"], "kind": addr["kind"],
                         "port": ports.get(gw["port"], gw["port"]), "source": "registryServiceName",
                         "service": ref, "address_source": addr["source"]})
    return out
