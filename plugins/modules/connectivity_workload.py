#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: connectivity_workload
short_description: Create or remove the uninjected test namespace of the connectivity tests
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - The troubleshooting guide's manual traffic test needs, in each cluster, a namespace without sidecar
    injection holding helloworld and sleep. With O(state=present) this module creates that namespace
    (labelled C(app.kubernetes.io/managed-by=meshmend-connectivity)), creates the given objects in it,
    waits until every Deployment has Ready pods (bounded by O(wait_timeout)) and returns what the probes
    need as RV(site) (test pod IPs, the cluster's network, its east-west gateway addresses and the mesh
    sample's instances).
  - With O(state=absent) it deletes the namespace and waits (bounded) until it is gone.
  - It writes only in that namespace and only to a namespace it created. An existing namespace without
    its label is never touched (the module fails and names it). A leftover namespace of an interrupted
    run (carrying the label) is deleted and created afresh.
extends_documentation_fragment:
  - meshmend.multicluster.auth
  - meshmend.multicluster.attributes
options:
  state:
    description:
      - V(present) creates the namespace and objects and waits until Ready; V(absent) removes the namespace.
    type: str
    choices: [present, absent]
    default: present
  namespace:
    description:
      - The test namespace. It must not carry sidecar injection.
    type: str
    default: uninjected-sample
  definitions:
    description:
      - Objects to create in the namespace (ServiceAccount, Service, Deployment, ConfigMap, Secret, Pod),
        e.g. Istio's helloworld and sleep samples. Their namespace is set to O(namespace). A C(kind=List)
        object stands for its items.
    type: list
    elements: dict
    default: []
  version:
    description:
      - Keep only the helloworld Deployment labelled C(version=<version>) and the Service labelled
        C(service=helloworld) out of the helloworld documents, as the guide's C(kubectl apply -l version=v1) and
        C(-l service=helloworld) do; other documents (sleep) are kept as they are.
    type: str
  wait_timeout:
    description:
      - Seconds to wait for the Deployments to become Ready (present) or the namespace to disappear (absent).
    type: int
    default: 60
  guard:
    description:
      - With O(state=present), start a detached guard process that deletes the namespace if the controller's
        C(ansible-playbook) process ends before the clean-up ran (Ctrl-C, a killed run). Ansible runs no
        C(always) section after an interruption; the guard does the clean-up then. It exits as soon as the namespace
        is gone, and after O(guard_max_life) seconds in any case.
      - The guard gets the connection options through a pipe (never on its command line) and deletes the namespace
        only while it has the UID it was created with.
      - Needs a kubeconfig (file or dictionary) for the connection, and Linux C(/proc) to find the controller process.
    type: bool
    default: true
  guard_max_life:
    description:
      - Seconds after which the guard gives up.
    type: int
    default: 3600
  istio_namespace:
    description:
      - istiod's namespace, read for the cluster's network label and east-west gateway Services.
    type: str
    default: istio-system
  network:
    description:
      - The cluster's network when declared in the inventory (host var C(meshmend_network)); else read from
        the C(topology.istio.io/network) label of O(istio_namespace), then the injector's C(values.global.network).
    type: str
  mesh_namespace:
    description:
      - Namespace of the injected sample whose instances the mesh test counts.
    type: str
    default: sample
  mesh_service:
    description:
      - The sample service (pods labelled C(app=<mesh_service>), version in label C(version)).
    type: str
    default: helloworld
  mesh_port:
    description:
      - Port of the sample service.
    type: int
    default: 5000
attributes:
  check_mode:
    support: none
    details:
      - An active test that creates pods; there is nothing to preview.
  diff_mode:
    support: none
  platform:
    platforms: kubernetes
    details:
      - Talks to the Kubernetes API of one cluster.
seealso:
  - module: meshmend.multicluster.connectivity_probe
"""

EXAMPLES = r"""
- name: Deploy helloworld v1 and sleep without sidecars in every cluster
  meshmend.multicluster.connectivity_workload:
    context: "{{ kube_context }}"
    cluster_name: "{{ inventory_hostname }}"
    definitions: "{{ lookup('file', 'helloworld-v1.yaml') | from_yaml_all | list }}"
    wait_timeout: 60
  register: workload

- name: Remove the test namespace
  meshmend.multicluster.connectivity_workload:
    context: "{{ kube_context }}"
    state: absent
"""

RETURN = r"""
cluster:
  description: The cluster name used in messages and in RV(site).
  returned: always
  type: str
  sample: cluster1
namespace:
  description: The test namespace.
  returned: always
  type: str
  sample: uninjected-sample
created:
  description: Objects created, as C(Kind/name).
  returned: when state is present
  type: list
  elements: str
  sample: [Namespace/uninjected-sample, Service/helloworld, Deployment/helloworld-v1]
leftover_removed:
  description: A namespace of an earlier, interrupted run was found and removed first.
  returned: when state is present
  type: bool
  sample: false
readiness:
  description: Per Deployment, replicas, Ready pods and what kept pods from being Ready.
  returned: when state is present
  type: list
  elements: dict
  sample: [{name: helloworld-v1, replicas: 1, ready: 1, pods: [helloworld-v1-5b6495d76-abcde], problems: []}]
site:
  description: What the probes of the other clusters need about this one.
  returned: when state is present
  type: dict
  sample:
    cluster: cluster1
    network: network1
    network_source: istio-system label topology.istio.io/network
    namespace: uninjected-sample
    helloworld: {pod: helloworld-v1-5b6495d76-abcde, ip: 10.10.0.7, version: v1, port: 5000}
    sleep: {pod: sleep-6d68f49858-fghij}
    gateways: [{service: istio-system/istio-eastwestgateway, network: network1, address: 172.18.1.10,
                kind: ip, source: load_balancer, port: 15443, port_exposed: true}]
    mesh: {namespace: sample, service: helloworld, port: 5000, clients: [sleep-6d68f49858-x2k7q],
           instances: [{pod: helloworld-v1-5b6495d76-x9x9x, version: v1, ready: true}]}
left_alone:
  description: With O(state=absent), the namespace exists but was not created by meshmend, so it was not deleted.
  returned: when state is absent and the namespace is not meshmend's
  type: bool
  sample: true
guard:
  description: The guard process, or null when none was started (O(guard=false), no kubeconfig, no controller found).
  returned: when state is present
  type: dict
  sample: {pid: 41234, watches: 41001}
waited_s:
  description: Seconds spent waiting (Ready, or the namespace gone).
  returned: always
  type: float
  sample: 0.8
requests:
  description: API requests this module made.
  returned: always
  type: int
  sample: 14
"""

import json
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import ClusterError, api_path
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import AUTH_ARG_SPEC, get_module_client
from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity import (
    MANAGED_BY_LABEL, MANAGED_BY_VALUE, ConnectivityError, build_site, controller_pid,
    deployment_readiness, expand_lists, select_manifests,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity.guard import ancestors, start_guard
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import NETWORK_LABEL, sidecar_container

# kind -> (group, version, plural) for the objects a test workload needs.
KINDS = {
    "ServiceAccount": ("", "v1", "serviceaccounts"),
    "Service": ("", "v1", "services"),
    "ConfigMap": ("", "v1", "configmaps"),
    "Secret": ("", "v1", "secrets"),
    "Pod": ("", "v1", "pods"),
    "Deployment": ("apps", "v1", "deployments"),
}
POLL_S = 0.2


class WorkloadError(Exception):
    pass


class ForeignNamespace(WorkloadError):
    """The namespace exists and is not ours."""


def _ns_path(name=None):
    return api_path("namespaces", name=name)


def _wait_gone(client, namespace, deadline):
    while True:
        if client.get_or_none(_ns_path(namespace)) is None:
            return True
        if time.time() >= deadline:
            return False
        time.sleep(POLL_S)


def remove(client, cluster, namespace, timeout, refuse_foreign=True):
    """Delete our namespace and wait until it is gone. Returns (changed, waited)."""
    start = time.time()
    ns = client.get_or_none(_ns_path(namespace))
    if ns is None:
        return False, 0.0
    labels = (ns.get("metadata") or {}).get("labels") or {}
    if refuse_foreign and labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
        raise ForeignNamespace("%s: namespace %s exists but was not created by meshmend (no label %s=%s): "
                               "left alone; pick another namespace for the connectivity tests"
                               % (cluster, namespace, MANAGED_BY_LABEL, MANAGED_BY_VALUE))
    if not (ns.get("metadata") or {}).get("deletionTimestamp"):
        try:
            client.request("DELETE", _ns_path(namespace), body={"propagationPolicy": "Background"})
        except ClusterError as exc:
            if exc.kind != "not_found":
                raise
    if not _wait_gone(client, namespace, start + timeout):
        raise WorkloadError("%s: namespace %s is still terminating after %ds (wait_timeout); it will disappear "
                            "once its objects are gone" % (cluster, namespace, timeout))
    return True, time.time() - start


def _create(client, cluster, namespace, obj):
    kind = obj.get("kind")
    if kind not in KINDS:
        raise WorkloadError("%s: cannot create %s %s in %s: only %s are supported" % (
            cluster, kind, (obj.get("metadata") or {}).get("name"), namespace, ", ".join(sorted(KINDS))))
    group, version, plural = KINDS[kind]
    body = dict(obj)
    body["metadata"] = dict(obj.get("metadata") or {})
    body["metadata"]["namespace"] = namespace
    body.setdefault("apiVersion", "%s/%s" % (group, version) if group else version)
    client.request("POST", api_path(plural, namespace, group=group, version=version), body=body,
                   field_manager="meshmend-connectivity")
    return "%s/%s" % (kind, body["metadata"].get("name"))


def _wait_ready(client, cluster, namespace, deployments, deadline):
    pods_path = api_path("pods", namespace)
    while True:
        pods = client.list(pods_path)
        ready, report = deployment_readiness(deployments, pods)
        if ready:
            return pods, report
        if time.time() >= deadline:
            short = []
            for r in report:
                if r["ready"] < r["replicas"]:
                    why = (": " + "; ".join(r["problems"])) if r["problems"] else ""
                    short.append("%s %d/%d Ready%s" % (r["name"], r["ready"], r["replicas"], why))
            raise WorkloadError("%s: pods in %s not Ready within the wait timeout: %s"
                                % (cluster, namespace, ", ".join(short)))
        time.sleep(POLL_S)


def _injector_values(client, istio_ns):
    cm = client.get_or_none(api_path("configmaps", istio_ns, "istio-sidecar-injector"))
    raw = ((cm or {}).get("data") or {}).get("values")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def present(module, client, cluster):
    p = module.params
    # Found first, while the chain module -> worker -> ansible-playbook is intact: an interruption
    # kills the worker, and the guard must still know whom to watch.
    controller = controller_pid(ancestors()) if p["guard"] else None
    namespace = p["namespace"]
    start = time.time()
    deadline = start + p["wait_timeout"]
    leftover = False
    ns = client.get_or_none(_ns_path(namespace))
    if ns is not None:
        labels = (ns.get("metadata") or {}).get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
            raise WorkloadError("%s: namespace %s already exists and was not created by meshmend (no label %s=%s): "
                                "refusing to use it; delete it or set another test namespace"
                                % (cluster, namespace, MANAGED_BY_LABEL, MANAGED_BY_VALUE))
        remove(client, cluster, namespace, max(1, int(deadline - time.time())))
        leftover = True
    # No istio-injection label: the guide's "Do not enable sidecar injection".
    made = client.request("POST", _ns_path(), body={
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}}},
        field_manager="meshmend-connectivity")
    created = ["Namespace/%s" % namespace]
    guard = start_guard(module, namespace, (made.get("metadata") or {}).get("uid"), controller) if p["guard"] else None
    for obj in p["definitions"]:
        if not isinstance(obj, dict) or not obj.get("kind"):
            continue
        created.append(_create(client, cluster, namespace, obj))
    deployments = [d for d in p["definitions"] if isinstance(d, dict) and d.get("kind") == "Deployment"]
    pods, report = _wait_ready(client, cluster, namespace, deployments, deadline)
    injected = [pd["metadata"]["name"] for pd in pods if sidecar_container(pd) is not None]
    if injected:
        raise WorkloadError("%s: pods in %s got an istio-proxy sidecar (%s): the test needs pods without Istio; "
                            "is injection enabled for every namespace?" % (cluster, namespace, ", ".join(injected)))
    waited = time.time() - start
    istio_ns = client.get_or_none(_ns_path(p["istio_namespace"]))
    ns_labels = ((istio_ns or {}).get("metadata") or {}).get("labels") or {}
    injector = None if (p["network"] or ns_labels.get(NETWORK_LABEL)) else _injector_values(client, p["istio_namespace"])
    services = client.list(api_path("services", p["istio_namespace"])) if istio_ns is not None else []
    gateways = [s for s in services
                if ((s.get("metadata") or {}).get("labels") or {}).get("istio") == "eastwestgateway"
                or NETWORK_LABEL in ((s.get("metadata") or {}).get("labels") or {})]
    mesh_pods = client.list(api_path("pods", p["mesh_namespace"]))
    site = build_site(cluster, namespace, pods, istio_namespace_obj=istio_ns, injector_values=injector,
                      gateway_services=gateways, mesh_pods=mesh_pods, mesh_namespace=p["mesh_namespace"],
                      mesh_service=p["mesh_service"], mesh_port=p["mesh_port"], declared_network=p["network"])
    return dict(changed=True, cluster=cluster, namespace=namespace, created=created, leftover_removed=leftover,
                guard=guard,
                readiness=report, site=site, waited_s=round(waited, 3))


def main():
    argument_spec = dict(AUTH_ARG_SPEC)
    argument_spec.update(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        namespace=dict(type="str", default="uninjected-sample"),
        definitions=dict(type="list", elements="dict", default=[]),
        version=dict(type="str"),
        wait_timeout=dict(type="int", default=60),
        guard=dict(type="bool", default=True),
        guard_max_life=dict(type="int", default=3600),
        istio_namespace=dict(type="str", default="istio-system"),
        network=dict(type="str"),
        mesh_namespace=dict(type="str", default="sample"),
        mesh_service=dict(type="str", default="helloworld"),
        mesh_port=dict(type="int", default=5000),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=False)
    p = module.params
    if p["wait_timeout"] < 0:
        module.fail_json(msg="wait_timeout must be 0 or more seconds, not %d" % p["wait_timeout"])
    if p["namespace"] in ("default", "kube-system", "kube-public", "kube-node-lease", p["istio_namespace"],
                          p["mesh_namespace"]):
        module.fail_json(msg="namespace %s cannot be the test namespace: it is created and deleted by the tests"
                         % p["namespace"])
    p["definitions"] = expand_lists(p["definitions"])
    if p["version"] and p["state"] == "present":
        try:
            p["definitions"] = select_manifests(p["definitions"], p["version"], p["namespace"])
        except ConnectivityError as exc:
            module.fail_json(msg=str(exc), cluster=p["cluster_name"])
    client = get_module_client(module)
    cluster = client.cluster
    try:
        if p["state"] == "absent":
            try:
                changed, waited = remove(client, cluster, p["namespace"], p["wait_timeout"])
            except ForeignNamespace as exc:
                # Clean-up never deletes what it did not create: say so, do not fail the clean-up.
                module.warn(str(exc))
                module.exit_json(changed=False, cluster=cluster, namespace=p["namespace"], waited_s=0.0,
                                 left_alone=True, requests=client.requests)
            module.exit_json(changed=changed, cluster=cluster, namespace=p["namespace"], waited_s=round(waited, 3),
                             requests=client.requests)
        result = present(module, client, cluster)
        result["requests"] = client.requests
        module.exit_json(**result)
    except WorkloadError as exc:
        module.fail_json(msg=str(exc), cluster=cluster, namespace=p["namespace"], requests=client.requests)
    except ClusterError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict(), cluster=cluster, namespace=p["namespace"],
                         requests=client.requests)


if __name__ == "__main__":
    main()
