#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: deployment_restart
short_description: Restart the Deployments whose sidecars carry a stale ISTIO_META_NETWORK
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - Finds the Running sidecar pods (label C(security.istio.io/tlsMode=istio)) whose C(istio-proxy) container has
    no C(ISTIO_META_NETWORK) or one other than O(network), and restarts the Deployments that own them the way
    C(kubectl rollout restart) does (annotation C(kubectl.kubernetes.io/restartedAt) on the pod template).
  - Injection sets C(ISTIO_META_NETWORK) from C(values.global.network) of ConfigMap C(istio-sidecar-injector)
    when a pod is created, so a restart helps only once the install says O(network). The module checks that
    first and refuses otherwise (a restart would bring the same stale value back).
  - Idempotent; the patch carries the read's resourceVersion (409 is re-read and retried). Never deletes
    (the Deployment controller replaces the pods).
  - In check mode the patches are sent as a server-side dry run (C(dryRun=All)).
  - Off by default in the remediate role (C(remediate_restart_workloads)).
extends_documentation_fragment:
  - meshmend.multicluster.auth
  - meshmend.multicluster.attributes
options:
  network:
    description:
      - The network the sidecars of this cluster must carry.
    type: str
    required: true
  namespaces:
    description:
      - Namespaces to look in. All namespaces when omitted.
    type: list
    elements: str
  istio_namespace:
    description:
      - Namespace of ConfigMap C(istio-sidecar-injector).
    type: str
    default: istio-system
attributes:
  check_mode:
    support: full
    details:
      - The restarts are sent with C(dryRun=All); nothing is persisted.
  diff_mode:
    support: full
    details:
      - Shows the Deployments restarted and the stale pods that caused it.
  platform:
    platforms: kubernetes
    details:
      - Talks to the Kubernetes API of one cluster.
seealso:
  - module: meshmend.multicluster.network_label_fix
"""

EXAMPLES = r"""
- name: Restart the workloads injected before values.global.network was set
  meshmend.multicluster.deployment_restart:
    context: cluster2
    network: network2
    namespaces: [sample]
"""

RETURN = r"""
restarted:
  description: Deployments restarted (or that would be, in check mode), as C(namespace/name).
  returned: always
  type: list
  elements: str
  sample: [sample/helloworld-v2, sample/sleep]
stale_pods:
  description: The sidecar pods whose ISTIO_META_NETWORK is not O(network), with the value they carry.
  returned: always
  type: list
  elements: dict
  sample: [{pod: sample/sleep-5d8c7f9b6-abcde, network_env: null, deployment: sample/sleep}]
unowned_pods:
  description: Stale pods no Deployment owns (restart them by hand).
  returned: always
  type: list
  elements: str
  sample: []
"""

import datetime
import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import ClusterError, api_path
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import AUTH_ARG_SPEC, get_module_client
from ansible_collections.meshmend.multicluster.plugins.module_utils.remediation import stale_network_pods
from ansible_collections.meshmend.multicluster.plugins.module_utils.writes import WriteConflict, patch_object

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def main():
    argument_spec = dict(AUTH_ARG_SPEC)
    argument_spec.update(
        network=dict(type="str", required=True),
        namespaces=dict(type="list", elements="str"),
        istio_namespace=dict(type="str", default="istio-system"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    client = get_module_client(module)
    try:
        pods = []
        for ns in p["namespaces"] or [None]:
            pods.extend(client.list(api_path("pods", ns), label_selector="security.istio.io/tlsMode=istio"))
        stale, unowned = stale_network_pods(pods, p["network"])
        restarted = []
        if stale:
            cm = client.get_or_none(api_path("configmaps", p["istio_namespace"], "istio-sidecar-injector"))
            try:
                values = json.loads(((cm or {}).get("data") or {}).get("values") or "{}")
            except ValueError:
                values = {}
            injected = ((values.get("global") or {}).get("network")) or None
            if injected != p["network"]:
                module.fail_json(msg="%s: values.global.network of ConfigMap %s/istio-sidecar-injector is %s, not %s: "
                                     "restarted pods would get the same ISTIO_META_NETWORK; fix the install first"
                                 % (client.cluster, p["istio_namespace"], injected or "unset", p["network"]),
                                 stale_pods=stale)
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            for ref in sorted(set(s["deployment"] for s in stale if s["deployment"])):
                ns, name = ref.split("/", 1)
                result = patch_object(
                    client, api_path("deployments", ns, name, group="apps"),
                    lambda obj: {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}},
                    "Deployment %s" % ref, check_mode=module.check_mode)
                if result.changed:
                    restarted.append(ref)
    except WriteConflict as exc:
        module.fail_json(msg=str(exc))
    except ClusterError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict())
    out = dict(changed=bool(restarted), restarted=restarted, stale_pods=stale, unowned_pods=unowned)
    if module._diff:
        out["diff"] = {"before": {"stale_pods": [s["pod"] for s in stale]},
                       "after": {"restarted_deployments": restarted}}
    module.exit_json(**out)


if __name__ == "__main__":
    main()
