#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: proxy_endpoints_info
short_description: The endpoints a pod's Envoy holds, like istioctl proxy-config endpoint
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - The troubleshooting guide's C(istioctl proxy-config endpoint POD --cluster "outbound|5000||helloworld.sample.svc.cluster.local"),
    without istioctl; one exec of C(pilot-agent request GET clusters?format=json) in the pod's C(istio-proxy)
    container (or C(config_dump?include_eds=true) with O(source=config_dump)).
  - Accepts Envoy's snake_case JSON and istioctl's lowerCamelCase. Rows are those istioctl prints
    (ENDPOINT, STATUS, OUTLIER CHECK, CLUSTER), sorted the same way, plus locality and weight when Envoy sends them.
  - Read-only. The pod is named, or the first Ready pod matching O(label_selector) is used.
extends_documentation_fragment:
  - meshmend.multicluster.auth
  - meshmend.multicluster.attributes
  - meshmend.multicluster.attributes.info_module
options:
  namespace:
    description:
      - Namespace of the pod.
    type: str
    default: sample
  pod:
    description:
      - Name of the pod. When given, O(label_selector) is not used.
    type: str
  label_selector:
    description:
      - Label selector of the pod when O(pod) is not given; the first Running and Ready pod (by name) is used.
    type: str
    default: app=sleep
  container:
    description:
      - The proxy container.
    type: str
    default: istio-proxy
  service:
    description:
      - Keep only the endpoints of this service (C(name.namespace) or FQDN), e.g. C(helloworld.sample).
    type: str
  port:
    description:
      - Keep only this service port.
    type: int
  subset:
    description:
      - Keep only this subset (the third field of C(outbound|PORT|SUBSET|HOST)).
    type: str
  direction:
    description:
      - Direction of the Envoy clusters kept when filtering by O(service), O(port) or O(subset).
    type: str
    choices: [outbound, inbound]
    default: outbound
  envoy_cluster:
    description:
      - Keep only rows of this exact Envoy cluster name (istioctl's C(--cluster)).
    type: str
  source:
    description:
      - C(clusters) reads C(clusters?format=json) (health and outlier status, what istioctl uses);
        C(config_dump) reads C(config_dump?include_eds=true) (adds the workload name and cluster ID of each endpoint).
    type: str
    choices: [clusters, config_dump]
    default: clusters
  timeout:
    description:
      - Seconds the exec may take.
    type: float
    default: 10.0
seealso:
  - module: meshmend.multicluster.cluster_info
"""

EXAMPLES = r"""
- name: What sleep's proxy holds for helloworld (the guide's endpoint check)
  meshmend.multicluster.proxy_endpoints_info:
    context: cluster1
    namespace: sample
    label_selector: app=sleep
    service: helloworld.sample
    port: 5000
  register: eps

- name: Print the istioctl-style table
  ansible.builtin.debug:
    msg: "{{ eps.table }}"

- name: Expect endpoints from both clusters (one local pod IP, one remote gateway)
  ansible.builtin.assert:
    that: eps.endpoints | length >= 2
"""

RETURN = r"""
pod:
  description: The pod asked, as C(namespace/name).
  returned: success
  type: str
  sample: sample/sleep-6d68f49858-abcde
endpoints:
  description: The rows, sorted by address, port, cluster (as istioctl sorts them).
  returned: success
  type: list
  elements: dict
  contains:
    endpoint:
      description: The ENDPOINT column (C(ip:port), C(unix://path) or C(envoy://listener/id)).
      type: str
    address:
      description: Address alone.
      type: str
    port:
      description: Port, null for pipes and internal addresses.
      type: int
    status:
      description: The EDS health status (UNKNOWN when Envoy omits it).
      type: str
    outlier_check:
      description: OK or FAILED.
      type: str
    cluster:
      description: The Envoy cluster name.
      type: str
    locality:
      description: region / zone / subzone when Envoy reports them.
      type: dict
    weight:
      description: Load-balancing weight when reported.
      type: int
  sample:
    - {endpoint: "10.10.0.7:5000", address: 10.10.0.7, port: 5000, address_kind: socket, status: HEALTHY,
       outlier_check: OK, cluster: "outbound|5000||helloworld.sample.svc.cluster.local", weight: 1,
       locality: {region: us-east1, zone: us-east1-b, subzone: null}, health_flags: [], hostname: null}
    - {endpoint: "172.18.2.10:15443", address: 172.18.2.10, port: 15443, address_kind: socket, status: HEALTHY,
       outlier_check: OK, cluster: "outbound|5000||helloworld.sample.svc.cluster.local", weight: 1,
       locality: {region: us-west1, zone: us-west1-a, subzone: null}, health_flags: [], hostname: null}
table:
  description: The rows as istioctl prints them.
  returned: success
  type: str
  sample: |-
    ENDPOINT              STATUS      OUTLIER CHECK     CLUSTER
    10.10.0.7:5000        HEALTHY     OK                outbound|5000||helloworld.sample.svc.cluster.local
clusters_seen:
  description: How many Envoy clusters the proxy holds before filtering.
  returned: success
  type: int
  sample: 42
cluster:
  description: The cluster name used in messages.
  returned: always
  type: str
  sample: cluster1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import ClusterError, api_path
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import AUTH_ARG_SPEC, get_module_client
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import pod_ready, pod_running
from ansible_collections.meshmend.multicluster.plugins.module_utils.envoy import (
    EnvoyParseError, filter_rows, format_table, parse_endpoints,
)

ADMIN_PATHS = {"clusters": "clusters?format=json", "config_dump": "config_dump?include_eds=true"}


def argument_spec():
    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        namespace=dict(type="str", default="sample"),
        pod=dict(type="str"),
        label_selector=dict(type="str", default="app=sleep"),
        container=dict(type="str", default="istio-proxy"),
        service=dict(type="str"),
        port=dict(type="int"),
        subset=dict(type="str"),
        direction=dict(type="str", default="outbound", choices=["outbound", "inbound"]),
        envoy_cluster=dict(type="str"),
        source=dict(type="str", default="clusters", choices=["clusters", "config_dump"]),
        timeout=dict(type="float", default=10.0),
    )
    return spec


def pick_pod(pods):
    """First Running+Ready pod by name, else first Running one."""
    pods = sorted(pods, key=lambda p: (p.get("metadata") or {}).get("name") or "")
    for p in pods:
        if pod_ready(p):
            return p
    for p in pods:
        if pod_running(p):
            return p
    return None


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    client = get_module_client(module)
    ns = p["namespace"]
    name = p.get("pod")
    error = None
    out = err = rc = None
    try:
        if not name:
            pod = pick_pod(client.list(api_path("pods", ns), label_selector=p["label_selector"]))
            if pod is None:
                module.fail_json(msg="%s: no Running pod matches %s in namespace %s"
                                     % (client.cluster, p["label_selector"], ns), cluster=client.cluster)
            name = pod["metadata"]["name"]
        path = ADMIN_PATHS[p["source"]]
        out, err, rc = client.exec(ns, name, p["container"], ["pilot-agent", "request", "GET", path],
                                   timeout=p["timeout"])
    except ClusterError as exc:
        error = exc
    if error is not None:
        module.fail_json(msg=error.message, error=error.to_dict(), cluster=client.cluster)
    ref = "%s/%s" % (ns, name)
    if rc != 0:
        module.fail_json(msg="%s: pilot-agent request GET %s in %s container %s exited %s: %s"
                             % (client.cluster, path, ref, p["container"], rc, (err or out or "").strip()[:500]),
                         cluster=client.cluster, pod=ref)
    rows, parse_error = None, None
    try:
        rows = parse_endpoints(out)
    except EnvoyParseError as exc:
        parse_error = str(exc)
    if parse_error is not None:
        module.fail_json(msg="%s: %s: %s" % (client.cluster, ref, parse_error), cluster=client.cluster, pod=ref)
    clusters_seen = len(set(r["cluster"] for r in rows))
    if p.get("service") or p.get("port") is not None or p.get("subset") is not None or p.get("envoy_cluster"):
        rows = filter_rows(rows, service=p.get("service"), port=p.get("port"), direction=p["direction"],
                           subset=p.get("subset"), cluster=p.get("envoy_cluster"))
    module.exit_json(changed=False, pod=ref, endpoints=rows, table=format_table(rows), clusters_seen=clusters_seen,
                     cluster=client.cluster)


if __name__ == "__main__":
    main()
