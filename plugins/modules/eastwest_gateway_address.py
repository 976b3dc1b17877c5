#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: eastwest_gateway_address
short_description: Give an east-west gateway Service with no address an external IP
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - Sets C(spec.externalIPs) of the east-west gateway Service to O(address), the documented fix for a
    gateway whose C(EXTERNAL-IP) stays C(<pending>) (no load balancer in the cluster). istiod adds
    C(spec.externalIPs) to the gateway's addresses for any Service type, so cross-network traffic can reach it.
  - Refuses to override an existing address (a load balancer ingress or different externalIPs) unless
    O(force=true), and says which address is there.
  - Idempotent; the write carries the read's resourceVersion and a concurrent change (409) is re-read
    and retried. Nothing is ever deleted.
  - In check mode the write is sent as a server-side dry run (C(dryRun=All)); the API server validates
    the address and persists nothing.
extends_documentation_fragment:
  - meshmend.multicluster.auth
  - meshmend.multicluster.attributes
options:
  namespace:
    description:
      - Namespace of the gateway Service.
    type: str
    default: istio-system
  name:
    description:
      - Name of the gateway Service.
    type: str
    default: istio-eastwestgateway
  address:
    description:
      - The IP address other clusters reach this gateway on (the role passes host var C(meshmend_eastwest_gateway_ip)).
      - Loopback, link-local, multicast and unspecified addresses are rejected, as the API server rejects them.
    type: str
    required: true
  force:
    description:
      - Replace an existing address (load balancer ingress present, or different externalIPs).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details:
      - The write is sent with C(dryRun=All); nothing is persisted.
  diff_mode:
    support: full
    details:
      - Shows C(spec.externalIPs) and the load balancer ingress before and after.
  platform:
    platforms: kubernetes
    details:
      - Talks to the Kubernetes API of one cluster.
seealso:
  - module: meshmend.multicluster.network_label_fix
"""

EXAMPLES = r"""
- name: Give the pending east-west gateway the address other clusters reach it on
  meshmend.multicluster.eastwest_gateway_address:
    kubeconfig: "{{ kubeconfig }}"
    context: "{{ kube_context }}"
    address: "{{ meshmend_eastwest_gateway_ip }}"
  when: meshmend_eastwest_gateway_ip is defined

- name: Preview replacing the address of another gateway
  meshmend.multicluster.eastwest_gateway_address:
    context: cluster2
    name: istio-eastwestgateway-canary
    address: 192.0.2.10
    force: true
  check_mode: true
  diff: true
"""

RETURN = r"""
service:
  description: The Service, as C(namespace/name).
  returned: always
  type: str
  sample: istio-system/istio-eastwestgateway
external_ips:
  description: C(spec.externalIPs) after the module ran (what a dry run would leave in check mode).
  returned: always
  type: list
  elements: str
  sample: [172.18.2.100]
previous_addresses:
  description: The addresses the Service had before (load balancer ingress IPs or hostnames, then externalIPs).
  returned: always
  type: list
  elements: str
  sample: []
attempts:
  description: Write attempts (more than 1 after a conflict was retried).
  returned: always
  type: int
  sample: 1
diff:
  description: externalIPs and load balancer ingress before and after.
  returned: when diff mode is on
  type: dict
  sample:
    before: {externalIPs: [], loadBalancerIngress: []}
    after: {externalIPs: [172.18.2.100], loadBalancerIngress: []}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import ClusterError, api_path
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import AUTH_ARG_SPEC, get_module_client
from ansible_collections.meshmend.multicluster.plugins.module_utils.remediation import validate_gateway_address
from ansible_collections.meshmend.multicluster.plugins.module_utils.writes import (
    RefusedChange, WriteConflict, patch_object,
)


def _view(svc):
    spec = (svc or {}).get("spec") or {}
    ingress = (((svc or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return {
        "type": spec.get("type"),
        "externalIPs": list(spec.get("externalIPs") or []),
        "loadBalancerIngress": [i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")],
    }


def main():
    argument_spec = dict(AUTH_ARG_SPEC)
    argument_spec.update(
        namespace=dict(type="str", default="istio-system"),
        name=dict(type="str", default="istio-eastwestgateway"),
        address=dict(type="str", required=True),
        force=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    address = p["address"].strip()
    why = validate_gateway_address(address)
    if why:
        module.fail_json(msg="address for Service %s/%s: %s" % (p["namespace"], p["name"], why))
    client = get_module_client(module)
    what = "Service %s/%s" % (p["namespace"], p["name"])

    def compute(svc):
        view = _view(svc)
        if view["externalIPs"] == [address]:
            return None
        existing = view["loadBalancerIngress"] + view["externalIPs"]
        if existing and not p["force"]:
            raise RefusedChange("%s in %s already has address %s: meshmend does not override it unless force=true"
                                % (what, client.cluster, ", ".join(existing)))
        # externalIPs is an atomic list: a merge patch replaces it whole.
        return {"spec": {"externalIPs": [address]}}

    try:
        result = patch_object(client, api_path("services", p["namespace"], p["name"]), compute, what,
                              check_mode=module.check_mode)
    except RefusedChange as exc:
        module.fail_json(msg=str(exc))
    except WriteConflict as exc:
        module.fail_json(msg=str(exc))
    except ClusterError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict())
    before = _view(result.before)
    after = _view(result.after)
    out = dict(changed=result.changed, service="%s/%s" % (p["namespace"], p["name"]),
               external_ips=after["externalIPs"],
               previous_addresses=before["loadBalancerIngress"] + before["externalIPs"],
               attempts=result.attempts)
    if module._diff:
        out["diff"] = {"before": {k: before[k] for k in ("externalIPs", "loadBalancerIngress")},
                       "after": {k: after[k] for k in ("externalIPs", "loadBalancerIngress")}}
    module.exit_json(**out)


if __name__ == "__main__":
    main()
