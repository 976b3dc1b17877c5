#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: connectivity_probe
short_description: Run curl from a pod to targets, N times with a bounded timeout, and count who answers
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - The troubleshooting guide's traffic test, as a module. From a pod of one cluster it execs
    C(curl -sS --max-time T URL) once per attempt (the Kubernetes exec API, as C(kubectl exec) does) and
    returns every attempt's exact output, its outcome (answer, timeout, refused, TLS error, ...) and the
    counts by answering helloworld version (from C(Hello version) answers).
  - Give explicit O(targets), or let the module plan the guide's tests from O(site) and O(peers) (the
    RV(meshmend.multicluster.connectivity_workload#module:site) of every cluster). The tests are direct pod-IP traffic to each
    peer's helloworld on a single network, a reachability probe of each peer's east-west gateway on
    15443 across networks, and mesh traffic from the injected sleep to C(helloworld.sample:5000/hello).
  - Planned tests are judged into C(connectivity.*) findings (with the exact curl output as evidence)
    and one test case per cluster pair (RV(tests)). Read-only towards the cluster except for exec.
extends_documentation_fragment:
  - meshmend.multicluster.auth
  - meshmend.multicluster.attributes
options:
  namespace:
    description:
      - Namespace of the client pod for O(targets) that name no source.
    type: str
    default: uninjected-sample
  pod:
    description:
      - Name of the client pod. When not given, the first Ready pod matching O(label_selector) is used.
    type: str
  label_selector:
    description:
      - Label selector of the client pod when O(pod) is not given.
    type: str
    default: app=sleep
  container:
    description:
      - Container that runs curl.
    type: str
    default: sleep
  targets:
    description:
      - Explicit targets. Mutually exclusive with O(site).
    type: list
    elements: dict
    suboptions:
      url:
        description: What curl is given, e.g. C(http://10.20.0.5:5000/hello) or C(helloworld.sample:5000/hello).
        type: str
        required: true
      name:
        description: A label for the target in the results.
        type: str
      peer:
        description: The cluster the target belongs to.
        type: str
      attempts:
        description: Attempts for this target (default O(attempts)).
        type: int
  attempts:
    description:
      - Curl attempts per explicit target.
    type: int
    default: 1
  timeout:
    description:
      - Seconds one curl attempt may take (C(--max-time)); the exec itself is bounded a few seconds above it.
    type: int
    default: 5
  connect_timeout:
    description:
      - Seconds curl may spend connecting (C(--connect-timeout)).
    type: int
    default: 3
  site:
    description:
      - This cluster's RV(meshmend.multicluster.connectivity_workload#module:site). With O(peers), the module
        plans and judges the guide's tests.
    type: dict
  peers:
    description:
      - The sites of the other clusters (this cluster's own entry is ignored), or the registered results of
        M(meshmend.multicluster.connectivity_workload). A failed one becomes a skipped test case naming the cluster and why.
    type: list
    elements: dict
    default: []
  pod_to_pod:
    description:
      - Direct pod-IP tests. V(auto) runs them between clusters of one network only (pod IPs of another network
        are not expected to route; reported as skipped), V(always) for every pair, V(never) not at all.
    type: str
    choices: [auto, always, never]
    default: auto
  gateway:
    description:
      - East-west gateway reachability. V(auto) probes the gateways of peers on another network.
    type: str
    choices: [auto, always, never]
    default: auto
  mesh:
    description:
      - Run the mesh test (injected sleep to the sample service).
    type: bool
    default: true
  direct_attempts:
    description: Attempts of each pod-to-pod test.
    type: int
    default: 2
  gateway_attempts:
    description: Attempts of each gateway probe.
    type: int
    default: 2
  mesh_attempts:
    description: Attempts of the mesh test (the guide sends several requests and counts versions).
    type: int
    default: 20
  mesh_url:
    description: URL of the mesh test; default C(<service>.<namespace>:<port>/hello) of the site's mesh sample.
    type: str
attributes:
  check_mode:
    support: none
    details:
      - An active test (exec into pods); there is nothing to preview.
  diff_mode:
    support: none
  platform:
    platforms: kubernetes
    details:
      - Talks to the Kubernetes API of one cluster (exec into pods).
seealso:
  - module: meshmend.multicluster.connectivity_workload
"""

EXAMPLES = r"""
- name: From cluster1's uninjected sleep, curl cluster2's helloworld pod IP three times
  meshmend.multicluster.connectivity_probe:
    context: cluster1
    namespace: uninjected-sample
    targets:
      - {url: "http://10.20.0.5:5000/hello", peer: cluster2, attempts: 3}
    timeout: 3
  register: direct

- name: Mesh traffic from the injected sleep, 20 requests, count versions
  meshmend.multicluster.connectivity_probe:
    context: cluster1
    namespace: sample
    targets: [{url: "helloworld.sample:5000/hello"}]
    attempts: 20
  register: mesh

- name: The guide's tests for this cluster, planned from every cluster's site
  meshmend.multicluster.connectivity_probe:
    context: "{{ kube_context }}"
    cluster_name: "{{ inventory_hostname }}"
    site: "{{ workload.site }}"
    peers: "{{ ansible_play_hosts | map('extract', hostvars, ['workload', 'site']) | list }}"
  register: probe
"""

RETURN = r"""
results:
  description: One entry per target, with every attempt.
  returned: always
  type: list
  elements: dict
  sample:
    - name: "cluster1 mesh helloworld.sample:5000/hello"
      kind: mesh
      peer: null
      url: helloworld.sample:5000/hello
      source: {namespace: sample, pod: sleep-6d68f49858-x2k7q, container: sleep}
      command: [curl, -sS, --max-time, "5", --connect-timeout, "3", helloworld.sample:5000/hello]
      attempts:
        - {outcome: ok, rc: 0, version: v2, instance: helloworld-v2-7d8f9c6b5-x2k7q, reason: null, cluster: cluster2,
           output: "Hello version: v2, instance: helloworld-v2-7d8f9c6b5-x2k7q\n"}
      counts: {outcomes: {ok: 20}, versions: {v1: 10, v2: 10}, clusters: {cluster1: 10, cluster2: 10}}
      duration: 0.41
findings:
  description: C(connectivity.*) findings (planned tests only), as dicts of the findings model.
  returned: always
  type: list
  elements: dict
  sample: []
tests:
  description: One test case per cluster pair and test (passed, failed, skipped or error), for the JUnit report.
  returned: always
  type: list
  elements: dict
  sample:
    - {classname: connectivity.mesh, name: cluster1 -> cluster2, cluster: cluster1, peer: cluster2,
       status: passed, message: "10/20 answers from cluster2 (v2)", output: "Hello version: v2, ...", time: 0.41}
versions:
  description: Answers by helloworld version over every target.
  returned: always
  type: dict
  sample: {v1: 10, v2: 10}
requests:
  description: API requests (exec calls included) this module made.
  returned: always
  type: int
  sample: 23
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import ClusterError, api_path
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import AUTH_ARG_SPEC, get_module_client
from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity import (
    EXEC_ERROR, ConnectivityError, count_by, curl_command, custom_cases, judge, normalize_peers, parse_curl,
    plan_probes, summarize,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import pod_ready

EXEC_MARGIN_S = 5


def _resolve_pod(client, cluster, namespace, pod, selector):
    if pod:
        return pod
    pods = [x for x in client.list(api_path("pods", namespace), label_selector=selector) if pod_ready(x)]
    if not pods:
        raise ConnectivityError("%s: no Ready pod matching %s in namespace %s to run curl from"
                                % (cluster, selector, namespace))
    return sorted(x["metadata"]["name"] for x in pods)[0]


def run_target(client, target, timeout, connect_timeout):
    """Exec curl ``attempts`` times; an exec that fails becomes an attempt with outcome exec_error."""
    src = target["source"]
    cmd = curl_command(target["url"], timeout, connect_timeout)
    target["command"] = cmd
    attempts = []
    start = time.time()
    for _i in range(max(1, int(target.get("attempts") or 1))):
        try:
            out, err, rc = client.exec(src["namespace"], src["pod"], src.get("container"), cmd,
                                       timeout=timeout + EXEC_MARGIN_S)
            attempts.append(parse_curl(out, err, rc))
        except ClusterError as exc:
            attempts.append({"outcome": EXEC_ERROR, "rc": None, "version": None, "instance": None,
                             "reason": exc.message, "output": exc.message})
            if exc.fatal or exc.kind in ("not_found", "forbidden"):
                break  # the pod or the API is gone: more attempts say nothing new
    return {"target": target, "attempts": attempts, "duration": time.time() - start}


def main():
    argument_spec = dict(AUTH_ARG_SPEC)
    argument_spec.update(
        namespace=dict(type="str", default="uninjected-sample"),
        pod=dict(type="str"),
        label_selector=dict(type="str", default="app=sleep"),
        container=dict(type="str", default="sleep"),
        targets=dict(type="list", elements="dict", options=dict(
            url=dict(type="str", required=True),
            name=dict(type="str"),
            peer=dict(type="str"),
            attempts=dict(type="int"),
        )),
        attempts=dict(type="int", default=1),
        timeout=dict(type="int", default=5),
        connect_timeout=dict(type="int", default=3),
        site=dict(type="dict"),
        peers=dict(type="list", elements="dict", default=[]),
        pod_to_pod=dict(type="str", choices=["auto", "always", "never"], default="auto"),
        gateway=dict(type="str", choices=["auto", "always", "never"], default="auto"),
        mesh=dict(type="bool", default=True),
        direct_attempts=dict(type="int", default=2),
        gateway_attempts=dict(type="int", default=2),
        mesh_attempts=dict(type="int", default=20),
        mesh_url=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=False,
                           mutually_exclusive=[("targets", "site")],
                           required_one_of=[("targets", "site")])
    p = module.params
    for name in ("attempts", "timeout", "direct_attempts", "gateway_attempts", "mesh_attempts"):
        if p[name] < 1:
            module.fail_json(msg="%s must be at least 1, not %d" % (name, p[name]))
    client = get_module_client(module)
    cluster = p["cluster_name"] or client.cluster
    skipped = []
    try:
        if p["site"] is not None:
            site = dict(p["site"])
            if not site.get("cluster"):
                module.fail_json(msg="%s: site has no cluster name: pass the site returned by connectivity_workload"
                                 % cluster)
            cluster = site["cluster"]
            peers = normalize_peers(p["peers"])
            targets, skipped = plan_probes(site, peers, pod_to_pod=p["pod_to_pod"], gateway=p["gateway"],
                                           mesh=p["mesh"], direct_attempts=p["direct_attempts"],
                                           gateway_attempts=p["gateway_attempts"],
                                           mesh_attempts=p["mesh_attempts"], mesh_url=p["mesh_url"])
        else:
            source = {"namespace": p["namespace"], "container": p["container"],
                      "pod": _resolve_pod(client, cluster, p["namespace"], p["pod"], p["label_selector"])}
            targets = []
            for t in p["targets"]:
                targets.append({"kind": "custom", "name": t.get("name") or t["url"], "peer": t.get("peer"),
                                "url": t["url"], "attempts": t.get("attempts") or p["attempts"], "source": source})
        results = [run_target(client, t, p["timeout"], p["connect_timeout"]) for t in targets]
    except ConnectivityError as exc:
        module.fail_json(msg=str(exc), cluster=cluster, requests=client.requests)
    except ClusterError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict(), cluster=cluster, requests=client.requests)
    cases, findings = judge(cluster, results)
    if p["site"] is None:
        cases = custom_cases(cluster, results)
    summary = summarize(results)
    versions = count_by([a for r in results for a in r["attempts"] if a.get("outcome") == "ok"], "version")
    failed_cases = [c for c in cases if c["status"] in ("failed", "error")]
    module.exit_json(
        changed=False,
        cluster=cluster,
        results=summary,
        findings=findings,
        tests=skipped + cases,
        versions=versions,
        requests=client.requests,
        msg="%s: %d target(s), %d test case(s) failed, %d finding(s)" % (
            cluster, len(results), len(failed_cases), len(findings)),
    )


if __name__ == "__main__":
    main()
