#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: network_label_fix
short_description: Set the Istio network label on istiod's namespace and the east-west gateway Services
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - Sets the label C(topology.istio.io/network) to O(network) on the namespace of istiod (usually
    C(istio-system)) and on the east-west gateway Service(s), as the Istio multi-network install guides do
    with C(kubectl label namespace istio-system topology.istio.io/network=network1).
  - istiod takes an endpoint's network from that namespace label, and a Service labelled with a network is
    a gateway for it; a missing or wrong label makes proxies dial remote pod IPs directly.
  - Idempotent. A different existing value is never replaced unless O(force=true); the module then fails
    and names the object and the value it holds.
  - Every write carries the resourceVersion of the read it was computed from; a concurrent change
    (409 Conflict) is re-read and retried, never overwritten. Nothing is ever deleted.
  - In check mode the writes are sent as a server-side dry run (C(dryRun=All)); the API server validates
    them and persists nothing.
extends_documentation_fragment:
  - meshmend.multicluster.auth
  - meshmend.multicluster.attributes
options:
  network:
    description:
      - The network of this cluster, for example C(network1).
      - Checked against the Kubernetes label value syntax (at most 63 characters, alphanumerics, C(-), C(_), C(.))
        before any request.
    type: str
    required: true
  namespace:
    description:
      - istiod's namespace, the one that carries the label.
    type: str
    default: istio-system
  label_namespace:
    description:
      - Label the namespace O(namespace).
    type: bool
    default: true
  gateway_services:
    description:
      - East-west gateway Services to label, as C(name) (in O(namespace)) or C(namespace/name).
      - When omitted, every Service in O(namespace) that matches O(gateway_selector) is labelled.
      - An empty list labels no Service.
    type: list
    elements: str
  gateway_selector:
    description:
      - Label selector that finds the east-west gateway Services when O(gateway_services) is omitted.
    type: str
    default: istio=eastwestgateway
  force:
    description:
      - Replace a different existing value of the label.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details:
      - Writes are sent with C(dryRun=All); nothing is persisted.
  diff_mode:
    support: full
    details:
      - Shows the labels of every object before and after.
  platform:
    platforms: kubernetes
    details:
      - Talks to the Kubernetes API of one cluster.
notes:
  - Proxies injected before the fix keep their C(ISTIO_META_NETWORK) until they restart.
seealso:
  - module: meshmend.multicluster.eastwest_gateway_address
  - module: meshmend.multicluster.remote_secret
"""

EXAMPLES = r"""
- name: Label istio-system and the east-west gateway with this cluster's network (host var meshmend_network)
  meshmend.multicluster.network_label_fix:
    kubeconfig: "{{ kubeconfig }}"
    context: "{{ kube_context }}"
    network: "{{ meshmend_network }}"

- name: Preview a relabel of a wrong value
  meshmend.multicluster.network_label_fix:
    context: cluster2
    network: network2
    force: true
  check_mode: true
  diff: true
"""

RETURN = r"""
network:
  description: The network label value wanted.
  returned: always
  type: str
  sample: network1
objects:
  description: Every object considered, with its label before and after and whether it changed.
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: Namespace, namespace: null, name: istio-system, before: null, after: network1, changed: true, attempts: 1}
    - {kind: Service, namespace: istio-system, name: istio-eastwestgateway, before: network1, after: network1,
       changed: false, attempts: 0}
diff:
  description: Labels before and after, per object (with O(ignore:diff) / C(--diff)).
  returned: when diff mode is on
  type: dict
  sample:
    before: {"Namespace/istio-system": {"labels": {}}}
    after: {"Namespace/istio-system": {"labels": {"topology.istio.io/network": "network1"}}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import ClusterError, api_path
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import AUTH_ARG_SPEC, get_module_client
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import NETWORK_LABEL
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import label_value_errors, labels_of
from ansible_collections.meshmend.multicluster.plugins.module_utils.writes import (
    RefusedChange, WriteConflict, label_patch, patch_object,
)


def _targets(client, params):
    ns = params["namespace"]
    targets = []
    if params["label_namespace"]:
        targets.append(("Namespace", None, ns, api_path("namespaces", name=ns), None))
    services = params["gateway_services"]
    if services is None:
        for svc in client.list(api_path("services", ns), label_selector=params["gateway_selector"]):
            meta = svc.get("metadata") or {}
            targets.append(("Service", meta.get("namespace") or ns, meta.get("name"),
                            api_path("services", meta.get("namespace") or ns, meta.get("name")), svc))
    else:
        for ref in services:
            svc_ns, _sep, name = ref.rpartition("/")
            svc_ns = svc_ns or ns
            targets.append(("Service", svc_ns, name, api_path("services", svc_ns, name), None))
    return targets


def main():
    argument_spec = dict(AUTH_ARG_SPEC)
    argument_spec.update(
        network=dict(type="str", required=True),
        namespace=dict(type="str", default="istio-system"),
        label_namespace=dict(type="bool", default=True),
        gateway_services=dict(type="list", elements="str"),
        gateway_selector=dict(type="str", default="istio=eastwestgateway"),
        force=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    network = params["network"].strip()
    if not network:
        module.fail_json(msg="network must not be empty")
    bad = label_value_errors(network)
    if bad:   # before any request: the API server would refuse the label (and a lab must not let it through)
        module.fail_json(msg="network %r is not a valid Kubernetes label value: %s" % (network, "; ".join(bad)))
    client = get_module_client(module)
    cluster = client.cluster
    objects = []
    before, after = {}, {}
    try:
        for kind, ns, name, path, current in _targets(client, params):
            what = "%s %s" % (kind, "%s/%s" % (ns, name) if ns else name)
            ref = "%s/%s" % (kind, "%s/%s" % (ns, name) if ns else name)

            def compute(obj, what=what):
                return label_patch(obj, NETWORK_LABEL, network, params["force"], "%s in %s" % (what, cluster))

            result = patch_object(client, path, compute, what, check_mode=module.check_mode, current=current)
            old = labels_of(result.before).get(NETWORK_LABEL)
            new = labels_of(result.after).get(NETWORK_LABEL) if result.changed else old
            objects.append({"kind": kind, "namespace": ns, "name": name, "before": old, "after": new,
                            "changed": result.changed, "attempts": result.attempts})
            before[ref] = {"labels": labels_of(result.before)}
            after[ref] = {"labels": labels_of(result.after)}
    except RefusedChange as exc:
        module.fail_json(msg=str(exc), objects=objects)
    except WriteConflict as exc:
        module.fail_json(msg=str(exc), objects=objects)
    except ClusterError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict(), objects=objects)
    changed = any(o["changed"] for o in objects)
    result = dict(changed=changed, network=network, objects=objects)
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
