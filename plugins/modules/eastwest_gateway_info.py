#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: eastwest_gateway_info
short_description: East-west gateway Services of a cluster, with the addresses istiod derives from them
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - Lists the Services labelled C(istio=eastwestgateway) and every Service labelled C(topology.istio.io/network)
    (istiod treats those as network gateways), with type, ports, network label and the addresses istiod would
    use for cross-network traffic, computed as istiod does.
  - "Addresses: each LoadBalancer C(status.loadBalancer.ingress[]) IP, else its hostname; C(spec.externalIPs)
    for any Service type; for a NodePort Service only with annotation C(traffic.istio.io/nodeSelector), the
    ExternalIP addresses of the matching Nodes (never InternalIP)."
  - Flags what the troubleshooting guide looks for; C(pending) (EXTERNAL-IP C(<pending>)), C(hostname_only)
    (needs C(RESOLVE_HOSTNAME_GATEWAYS)), a missing gateway port (15443 or label C(networking.istio.io/gatewayPort)).
  - One or two API requests (Services; Nodes only when a NodePort gateway has the nodeSelector annotation).
extends_documentation_fragment:
  - meshmend.multicluster.auth
  - meshmend.multicluster.attributes
  - meshmend.multicluster.attributes.info_module
options:
  namespace:
    description:
      - Only look in this namespace. Default all namespaces (a network-labelled Service counts wherever it is).
    type: str
  name:
    description:
      - Only the Service with this name.
    type: str
  network:
    description:
      - The network this cluster is expected to be on. When given, RV(gateways[].network_label_matches) compares
        each gateway's C(topology.istio.io/network) label to it.
    type: str
notes:
  - The module does not decide whether a gateway is needed (that depends on the mesh's networks); the
    C(diagnose) role and RV(gateways) data let a play decide.
seealso:
  - module: meshmend.multicluster.cluster_info
  - module: meshmend.multicluster.eastwest_gateway_address
"""

EXAMPLES = r"""
- name: East-west gateways of cluster1
  meshmend.multicluster.eastwest_gateway_info:
    context: cluster1
  register: ewgw

- name: Fail when the gateway has no address (EXTERNAL-IP <pending>)
  ansible.builtin.assert:
    that: ewgw.gateways | selectattr('pending') | list | length == 0
    fail_msg: "{{ ewgw.gateways | selectattr('pending') | map(attribute='name') | list }} pending"

- name: Addresses peers will dial on 15443
  ansible.builtin.debug:
    msg: "{{ ewgw.gateways | map(attribute='addresses') | flatten | map(attribute='value') | list }}"
"""

RETURN = r"""
gateways:
  description: The gateway Services, sorted by namespace and name.
  returned: success
  type: list
  elements: dict
  contains:
    namespace:
      description: Namespace of the Service.
      type: str
    name:
      description: Name of the Service.
      type: str
    type:
      description: Service type.
      type: str
    network_label:
      description: Value of label C(topology.istio.io/network), null when absent.
      type: str
    network_label_matches:
      description: Whether the network label equals O(network); null when O(network) is not given.
      type: bool
    gateway_port:
      description: 15443, or label C(networking.istio.io/gatewayPort).
      type: int
    has_gateway_port:
      description: Whether the Service exposes RV(gateways[].gateway_port).
      type: bool
    ignored_by_istiod:
      description: Network-labelled, but exposes neither the gateway port nor 15008 (istiod ignores it).
      type: bool
    ports:
      description: The Service ports (name, port, target_port, node_port, protocol).
      type: list
      elements: dict
    addresses:
      description: The addresses istiod would use, in its order (value, kind ip|hostname, source load_balancer|external_ips|node).
      type: list
      elements: dict
    pending:
      description: A LoadBalancer with no ingress and no externalIPs (kubectl shows C(<pending>)).
      type: bool
    hostname_only:
      description: Every address is a hostname.
      type: bool
    external_ip_column:
      description: What C(kubectl get svc) prints as EXTERNAL-IP.
      type: str
    node_selector:
      description: The parsed C(traffic.istio.io/nodeSelector) annotation (NodePort only).
      type: dict
    warnings:
      description: Why istiod may ignore or mis-read this gateway.
      type: list
      elements: str
  sample:
    - namespace: istio-system
      name: istio-eastwestgateway
      type: LoadBalancer
      labels: {istio: eastwestgateway, topology.istio.io/network: network1}
      network_label: network1
      network_label_matches: true
      gateway_port: 15443
      has_gateway_port: true
      ignored_by_istiod: false
      ports:
        - {name: status-port, port: 15021, target_port: 15021, node_port: 31781, protocol: TCP}
        - {name: tls, port: 15443, target_port: 15443, node_port: 30498, protocol: TCP}
        - {name: tls-istiod, port: 15012, target_port: 15012, node_port: 30012, protocol: TCP}
        - {name: tls-webhook, port: 15017, target_port: 15017, node_port: 30017, protocol: TCP}
      well_known_ports: {"15012": tls-istiod, "15017": tls-webhook, "15021": status-port, "15443": tls}
      addresses: [{value: 172.18.1.10, kind: ip, source: load_balancer}]
      external_ip_column: 172.18.1.10
      pending: false
      hostname_only: false
      node_selector: null
      warnings: []
cluster:
  description: The cluster name used in messages.
  returned: always
  type: str
  sample: cluster1
requests:
  description: API requests made.
  returned: success
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import ClusterError, api_path
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import AUTH_ARG_SPEC, get_module_client
from ansible_collections.meshmend.multicluster.plugins.module_utils.gateways import (
    NODE_SELECTOR_ANNOTATION, external_ip_column, gateway_facts, is_gateway_service,
)


def argument_spec():
    spec = dict(AUTH_ARG_SPEC)
    spec.update(namespace=dict(type="str"), name=dict(type="str"),
                network=dict(type="str"))
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    client = get_module_client(module)
    error = None
    try:
        services = client.list(api_path("services", p.get("namespace")))
        services = [s for s in services if is_gateway_service(s)
                    and (not p.get("name") or (s.get("metadata") or {}).get("name") == p["name"])]
        nodes = []
        if any((s.get("spec") or {}).get("type") == "NodePort"
               and NODE_SELECTOR_ANNOTATION in ((s.get("metadata") or {}).get("annotations") or {}) for s in services):
            nodes = client.list(api_path("nodes"))
    except ClusterError as exc:
        error = exc
    if error is not None:
        module.fail_json(msg=error.message, error=error.to_dict(), cluster=client.cluster)
    gateways = []
    for svc in services:
        g = gateway_facts(svc, nodes)
        g["external_ip_column"] = external_ip_column(svc)
        g["network_label_matches"] = (g["network_label"] == p["network"]) if p.get("network") else None
        gateways.append(g)
    gateways.sort(key=lambda g: (g["namespace"] or "", g["name"] or ""))
    module.exit_json(changed=False, gateways=gateways, cluster=client.cluster, requests=client.requests)


if __name__ == "__main__":
    main()
