#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cluster_info
short_description: Gather one cluster's Istio multicluster facts in one read-only pass
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - Reads everything the meshmend checks need from one cluster in at most 15 API requests
    (LIST calls with label selectors, istiod's log tail, C(/debug/clusterz) through one exec into istiod,
    and the endpoints of one client proxy through one exec), and returns the facts model of C(docs/facts.md).
  - An unreachable cluster is not a failure; the facts say C(reachable=false) with the error, so the
    other clusters of a play are still diagnosed. A forbidden read is recorded in C(read_errors) and the
    rest of the pass continues.
  - Remote-secret kubeconfigs are parsed in memory; tokens and keys never appear in the result
    (SHA-256 fingerprints instead) and are added to the values Ansible hides.
extends_documentation_fragment:
  - meshmend.multicluster.auth
  - meshmend.multicluster.attributes
  - meshmend.multicluster.attributes.info_module
options:
  istio_namespace:
    description:
      - istiod's namespace.
    type: str
    default: istio-system
  probe_service:
    description:
      - Service (C(name.namespace) or FQDN) whose endpoints the client proxy is asked for.
    type: str
    default: helloworld.sample
  probe_port:
    description:
      - Port of O(probe_service).
    type: int
    default: 5000
  probe_client:
    description:
      - C(namespace/label-selector) (or C(namespace/pod-name)) of the injected client pod whose proxy is asked.
    type: str
    default: sample/app=sleep
  service_namespaces:
    description:
      - Namespaces whose Services are reported in C(services). Default the namespace of O(probe_service).
    type: list
    elements: str
  log_lines:
    description:
      - Lines of istiod's log read (tail). V(0) skips the log.
    type: int
    default: 2000
  probe_remote_secrets:
    description:
      - Try each remote secret's API server from the controller, with that kubeconfig's own credentials
        (list pods at cluster scope, limit 1).
      - V(auto) probes only the kubeconfigs istiod does not report synced in C(/debug/clusterz) (all of them when
        clusterz cannot be read). V(true) probes all, V(false) none.
      - Each probe is one request to the remote API server, not to this cluster.
      - One of V(auto), V(true), V(false).
    type: raw
    default: auto
  probe_timeout:
    description:
      - Seconds one remote-secret probe may take.
    type: float
    default: 5.0
  peers:
    description:
      - The other clusters, to name the cluster a remote secret points at (matched by API server URL).
      - Either a list of C({name, server, cluster_id}) or a dict of server URL to cluster name.
    type: raw
  declared:
    description:
      - What the inventory declares for this cluster; copied to C(declared) for the checks to compare.
    type: dict
    suboptions:
      network:
        description: Intended network (C(meshmend_network)).
        type: str
      cluster_id:
        description: Intended cluster ID (C(meshmend_cluster_id)).
        type: str
      mesh_id:
        description: Intended mesh ID (C(meshmend_mesh_id)).
        type: str
      role:
        description: Intended role (C(meshmend_cluster_role)).
        type: str
        choices: [primary, remote]
      gateway_ip:
        description:
          - The address an operator gives this cluster's east-west gateway (C(meshmend_eastwest_gateway_ip)); the
            remedies name it and remediation writes it to a pending gateway's C(spec.externalIPs).
        type: str
  exec_timeout:
    description:
      - Seconds an exec (istiod clusterz, client proxy) may take.
    type: float
    default: 10.0
  gather_timeout:
    description:
      - Seconds the whole gather of this cluster may take (every read, exec and remote-secret probe).
      - Past it nothing more is requested; what was read is kept, and the cluster is reported as
        C(cluster.unreachable) (gather stopped) naming the deadline. V(0) means no overall deadline.
      - Each request also ends within O(request_timeout) however slowly its headers and body arrive, an answer is
        capped at 64 MiB (a LIST's pages together), and a LIST follows at most 200 pages.
    type: float
    default: 60.0
  facts_on_console:
    description:
      - V(false) keeps a readable cluster's facts off the console and out of every callback (as the task keyword C(no_log) would);
        they stay whole in the registered result. A cluster that cannot be read still shows its result, and
        warnings always show.
      - The diagnose role sets V(false). At scale each cluster's facts hold one entry per peer, and every
        callback gets its own copy of them in Ansible's main process (at 200 clusters, a third of the run).
    type: bool
    default: true
  facts_format:
    description:
      - V(dict) returns the facts as RV(facts); V(json) returns the same facts as one JSON text in RV(facts_json)
        instead (M(meshmend.multicluster.mesh_report) reads either).
      - The diagnose role sets V(json). At scale each cluster's facts are thousands of objects (one entry per peer)
        that Ansible's main process copies and keeps for the rest of the play; one text is copied and kept at once.
    type: str
    choices: [dict, json]
    default: dict
  end_unreachable:
    description:
      - V(true) makes a cluster that cannot be read an unreachable host, as M(meshmend.multicluster.end_unreachable)
        would in a task of its own. Ansible prints C(UNREACHABLE!) with RV(msg), the recap counts the host in
        C(unreachable), and later tasks skip it. The result, facts included, is still registered, so
        M(meshmend.multicluster.mesh_report) reports the cluster with the others.
      - The task keyword C(ignore_unreachable) keeps the host in play (counted C(ok) and C(ignored)).
      - The diagnose role sets it, which spares the play a task (and so a worker process) per cluster at the end.
      - Applied on the controller by the action plugin, whichever way the gather ran.
    type: bool
    default: false
  sections:
    description:
      - Read only these parts (default all but V(networkz)). Left-out parts are not requested and their facts are null.
      - V(networkz) adds one exec into istiod for C(/debug/networkz), the network gateways istiod knows.
    type: list
    elements: str
    choices: [istiod, services, configmaps, remote_secrets, cacerts, sidecar_pods, nodes, istio_crds, log, clusterz, proxy,
              networkz]
  insecure_kubeconfig_options:
    description:
      - Auth kinds istiod is told to accept in remote secrets (its C(PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS)),
        e.g. C(exec), C(tokenFile), C(clientKey), C(clientCertificate), or an auth provider name.
    type: list
    elements: str
    default: []
notes:
  - Without the C(istio-system) namespace, istiod or any Istio object the facts say so (nulls and empty lists);
    the checks turn that into findings.
seealso:
  - module: meshmend.multicluster.remote_secret_check
  - module: meshmend.multicluster.eastwest_gateway_info
  - module: meshmend.multicluster.proxy_endpoints_info
  - module: meshmend.multicluster.root_cert_info
"""

EXAMPLES = r"""
- name: Gather every cluster of the inventory (one host per cluster)
  meshmend.multicluster.cluster_info:
    kubeconfig: "{{ kubeconfig }}"
    context: "{{ kube_context }}"
    cluster_name: "{{ inventory_hostname }}"
    peers:
      - {name: cluster2, server: "https://127.0.2.1:6443", cluster_id: cluster2}
  register: gathered

- name: Gather without probing remote API servers, and a different probe service
  meshmend.multicluster.cluster_info:
    context: cluster1
    probe_remote_secrets: false
    probe_service: reviews.bookinfo
    probe_port: 9080
    probe_client: bookinfo/app=productpage
  register: gathered

- name: Stop when a cluster could not be read
  ansible.builtin.assert:
    that: gathered.facts.reachable
    fail_msg: "{{ inventory_hostname }}: {{ gathered.facts.error | default('unreachable', true) }}"

- name: Gather, and end the play for a cluster that cannot be read, as for an unreachable host (the recap counts it)
  meshmend.multicluster.cluster_info:
    context: "{{ kube_context }}"
    end_unreachable: true
  register: gathered
"""

RETURN = r"""
facts:
  description:
    - The facts of this cluster, as documented in C(docs/facts.md) of the collection. Never holds a credential.
  returned: unless O(facts_format=json)
  type: dict
  sample:
    schema: 1
    cluster: cluster1
    context: cluster1
    server: https://127.0.1.1:6443
    reachable: true
    error: null
    error_kind: null
    read_errors: []
    requests: 14
    probe_requests: 0
    duration_s: 0.21
    kubernetes_version: v1.31.4
    istio_namespace: istio-system
    namespace: {labels: {topology.istio.io/network: network1}, annotations: {}}
    istiod: {name: istiod, version: 1.30.3, cluster_id: cluster1, pods: [istiod-7d4f8c6b9b-x2k7q]}
    cluster_id: cluster1
    network: network1
    mesh_id: mesh1
    role: primary
    remote_secrets:
      - namespace: istio-system
        name: istio-remote-secret-cluster2
        entries:
          - key: cluster2
            fingerprint: sha256:0123456789abcdef
            server: https://127.0.2.1:6443
            auth: token
            error: null
            probe: null
    clusterz:
      - {id: cluster1, secretName: "", syncStatus: synced}
      - {id: cluster2, secretName: istio-system/istio-remote-secret-cluster2, syncStatus: synced}
    gateways:
      - name: istio-eastwestgateway
        type: LoadBalancer
        addresses: [{value: 172.18.1.10, kind: ip, source: load_balancer}]
        pending: false
    proxy:
      pod: sample/sleep-6d68f49858-abcde
      endpoints:
        - {endpoint: "10.10.0.7:5000", status: HEALTHY, outlier_check: OK,
           cluster: "outbound|5000||helloworld.sample.svc.cluster.local"}
facts_json:
  description:
    - RV(facts) as one JSON text (C(from_json) turns it back into the mapping).
  returned: when O(facts_format=json)
  type: str
  sample: '{"cluster":"cluster1","reachable":true,"schema":1}'
reachable:
  description: Whether the API server answered.
  returned: always
  type: bool
  sample: true
msg:
  description: Why the cluster could not be read, when O(end_unreachable) made the host unreachable.
  returned: when O(end_unreachable=true) and RV(reachable) is false
  type: str
  sample: "cluster3 could not be read: cluster3: GET https://10.0.0.3:6443/version: connection refused"
cluster:
  description: The cluster name used in the facts and messages.
  returned: always
  type: str
  sample: cluster1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.client import (
    HAS_KUBERNETES, KUBERNETES_IMPORT_ERROR,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.cluster_info import (
    GATHER_IMPORT_ERROR, ClusterInfoError, argument_spec, facts_in_format, run,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.requirements import fail_missing


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        fail_missing(module, KUBERNETES_IMPORT_ERROR, "kubernetes")
    if GATHER_IMPORT_ERROR is not None:
        fail_missing(module, GATHER_IMPORT_ERROR, "PyYAML cryptography")
    try:
        result = run(module.params, module)
    except ClusterInfoError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**facts_in_format(result, module.params))


if __name__ == "__main__":
    main()
