#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mesh_report
short_description: Analyze every cluster's facts at once and write the diagnose reports
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - Runs on the controller as an action plugin, once for the whole play (use C(run_once=true)).
    It reads the facts each play host registered from M(meshmend.multicluster.cluster_info),
    runs the check catalogue once over all clusters (cross-cluster checks such as root of trust,
    unique cluster IDs and remote secrets naming the right peers need every cluster's facts),
    and renders the reports.
  - Reports written to O(report_dir) are C(meshmend-report.json), C(meshmend-report.md),
    C(meshmend-report.html) (one self-contained page with a picture of the mesh) and C(meshmend-junit.xml).
  - Root causes come first. A finding that explains others (a cluster down, a gateway without an address, a root
    mismatch) is shown once, with the count and names of what it explains grouped under it, in RV(lines), the
    Markdown and HTML reports and the JSON report's C(root_causes).
  - The reports stay linear in the number of clusters (about 6 MB of JSON and 0.5 MB of HTML at 500 clusters with
    one down); healthy remote-secret entries and links of a large mesh are counted, every problem is kept.
  - The HTML report is rendered from Jinja2 templates that O(template_dir) can replace. Their compiled form is kept
    between runs in Jinja2's cache folder for the user (C(_jinja2-cache-<uid>) in the temporary folder, mode 0700);
    a template whose source changes is compiled again.
  - Clusters of the inventory left out of the play (C(--limit)) are listed as out of play, and pairwise
    checks against them are not run.
  - A play host whose gather failed or registered nothing is reported as unreachable; the others are analyzed.
  - It never fails because of findings; compare RV(threshold_exceeded) in a later task to decide the exit status.
  - Facts never hold credentials and the reports copy only a fixed list of fields from them
    (fingerprints, names, addresses), so no secret is written.
options:
  facts_var:
    description:
      - Name of the variable each play host registered the M(meshmend.multicluster.cluster_info) result in.
      - Ignored when O(facts) is given.
    type: str
    default: cluster_info
  facts:
    description:
      - Facts by cluster name, given directly instead of read from the play hosts (for example loaded from files).
    type: dict
  hosts:
    description:
      - The clusters (inventory hosts) to report on. Default is every host of the play (C(ansible_play_hosts_all)),
        including hosts that failed.
    type: list
    elements: str
  inventory_hosts:
    description:
      - Every cluster of the inventory; those not in O(hosts) are reported as out of play.
        Default is C(groups['all']).
    type: list
    elements: str
  report_dir:
    description:
      - Directory to write the four reports to, created when missing. Relative to the current directory.
      - When not set, nothing is written and only the result is returned.
      - The reports are written in check mode too, as they change nothing on the clusters.
    type: path
  formats:
    description: Which reports to write.
    type: list
    elements: str
    choices: [json, markdown, html, junit]
    default: [json, markdown, html, junit]
  fail_on:
    description:
      - Severity that makes RV(threshold_exceeded) true. C(never) never does.
      - In the JUnit report errors are always failures; warnings are failures only with C(warning).
    type: str
    choices: [never, warning, error]
    default: error
  check_options:
    description:
      - Options passed to the check catalogue (C(run_checks)), for example C(areas) to run only some areas.
      - C(out_of_play) is set from O(inventory_hosts) unless given here.
    type: dict
    default: {}
  time_areas:
    description:
      - Also run each check area alone to measure its time (reported in RV(timing)). The findings always come
        from one run over all areas.
    type: bool
    default: true
  title:
    description: Title of the HTML report.
    type: str
    default: meshmend diagnosis
  preflight:
    description:
      - Only check what would make the run fail for a mistyped value, before any cluster is read (the option
        values, O(template_dir), and that O(report_dir) can be written - it is created, a temporary file is
        written there and removed). Nothing is analysed or rendered.
      - Publishes the custom stat C(meshmend) that the C(meshmend.multicluster.summary) callback reads; the run
        counts as one that could not run until a full call publishes its verdict.
    type: bool
    default: false
  command:
    description:
      - The command named in RV(summary_block) and in the custom stat C(meshmend) (C(diagnose), C(remediate),
        C(connectivity)).
    type: str
    default: diagnose
  previous_findings:
    description:
      - The findings of a diagnosis made before a remediation (RV(findings) of that earlier run).
      - When given, the reports get a C(Before / after remediation) section comparing them with this
        diagnosis (fixed, remaining and new findings) and RV(remediation) is returned.
      - The C(meshmend.multicluster.remediate) role sets it on its second diagnosis.
    type: list
    elements: dict
  remediation:
    description:
      - What the remediation did, shown in the before/after section. Used only with O(previous_findings).
      - C(outcomes) (one dict per applied action, from the C(meshmend.multicluster.remediation_outcome) filter),
        C(check_mode) (nothing was written; the section says the "after" is a preview), C(categories) asked,
        and the plan's C(skipped), C(not_asked) and C(manual) lists (C(meshmend.multicluster.remediation_plan)).
    type: dict
  analyze:
    description:
      - V(false) reads no facts and runs no check; the connectivity results (O(extra_findings), O(tests),
        O(probes), O(workloads)) are merged into the report already in O(report_dir) (see O(merge)).
        The C(meshmend.multicluster.connectivity) role uses it so.
      - In check mode, with V(false), the task is skipped (the connectivity tests did not run).
    type: bool
    default: true
  extra_findings:
    description:
      - C(connectivity.*) findings of the connectivity tests (RV(meshmend.multicluster.connectivity_probe#module:findings)),
        merged into the reports; those of an earlier run are replaced.
    type: list
    elements: dict
    default: []
  merge:
    description:
      - With O(analyze=false), keep what the report already in O(report_dir) holds (diagnose's findings);
        V(false) writes a report of the connectivity results only.
    type: bool
    default: true
extends_documentation_fragment:
  - meshmend.multicluster.report
  - meshmend.multicluster.report.connectivity
attributes:
  action:
    support: full
    description: Runs as an action plugin on the controller.
  check_mode:
    support: full
    description: Reads facts only; the reports are written in check mode too.
  diff_mode:
    support: none
    description: Writes report files only; there is nothing to diff on the clusters.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
seealso:
  - module: meshmend.multicluster.cluster_info
  - plugin: meshmend.multicluster.findings_query
    plugin_type: filter
notes:
  - Roles and playbooks normally use it through the C(meshmend.multicluster.diagnose) role.
"""

EXAMPLES = r"""
- name: Gather every cluster (one module call per host)
  meshmend.multicluster.cluster_info:
    kubeconfig: "{{ kubeconfig }}"
    context: "{{ kube_context }}"
  register: cluster_info

- name: Analyze all clusters at once and write the reports
  meshmend.multicluster.mesh_report:
    report_dir: reports
    fail_on: error
  run_once: true
  register: mesh_report

- name: Fail when an error was found
  ansible.builtin.fail:
    msg: "{{ mesh_report.msg }}"
  run_once: true
  when: mesh_report.threshold_exceeded
"""

RETURN = r"""
findings:
  description:
    - Every finding, sorted (errors first, then cluster, peer, id). Fields as in docs/findings.md, plus C(key).
    - C(target) is the object the finding is about; C(fix), set where a remediate C(category) can fix it, is what
      that category needs (the remediation_plan filter reads it; evidence and words are for people).
  returned: always
  type: list
  elements: dict
  sample:
    - id: remote_secret.missing
      severity: error
      cluster: cluster2
      peer: cluster1
      resource: Secret/istio-system/istio-remote-secret-cluster1
      target: {kind: Secret, namespace: istio-system, name: istio-remote-secret-cluster1}
      message: No remote secret in cluster2/istio-system provides cluster1
      evidence: {expected_key: cluster1, expected_key_from: cluster}
      remedy: "If the secret is missing, create it: istioctl create-remote-secret ..."
      category: remote_secrets
      fix: {peer: cluster1, key: cluster1, namespace: istio-system, name: istio-remote-secret-cluster1,
            peer_namespace: istio-system}
      caused_by: []
      key: remote_secret.missing@cluster2->cluster1
root_causes:
  description:
    - The findings that explain others, worst first, each once with what it explains (C(explains) how many
      findings, C(dependents) the clusters they are on, C(symptoms) one group per finding id with C(count),
      C(clusters), C(peers) and the finding C(keys)). The JSON report holds the same list.
  returned: always
  type: list
  elements: dict
  sample:
    - key: cluster.unreachable@cluster7
      id: cluster.unreachable
      severity: error
      cluster: cluster7
      peer: null
      resource: null
      message: "The controller cannot reach the API server of cluster7 (connection refused): nothing else is known about it."
      remedy: Check the kubeconfig/context of cluster7 ...
      category: null
      explains: 18
      dependents: [cluster1, cluster2, cluster3, cluster4, cluster5, cluster6, cluster8, cluster9, cluster10]
      symptoms:
        - id: remote_secret.api_unreachable
          severity: error
          count: 9
          clusters: [cluster1, cluster2, cluster3, cluster4, cluster5, cluster6, cluster8, cluster9, cluster10]
          peers: [cluster7]
          keys: [remote_secret.api_unreachable@cluster1->cluster7]
connectivity:
  description: Connectivity test cases by status (C(counts)) and how many were merged (C(tests)).
  returned: when connectivity results were given
  type: dict
  sample: {counts: {passed: 4, failed: 1, skipped: 2}, tests: 7}
model:
  description:
    - >-
      The mesh model the checks derived, once (docs/architecture.md). C(clusters) (per cluster C(state), C(installed),
      C(role), C(cluster_id), C(expected_id), C(network), C(serving), C(declared), C(alias_of), C(endpoints_probe)),
      C(networks) with their C(gateway_addresses), C(multi_network), C(duplicate_ids) and C(links) (C(source) to
      C(target), meaning istiod in source reads target, with C(state) and the finding C(ids) on the pair; above 12
      clusters only the links that are not ok, the others counted in C(link_summary)). As the JSON report carries
      it: bounded at any mesh size (the per-entry list of remote secrets stays in the reports' cluster summaries).
  returned: when O(analyze=true)
  type: dict
  sample:
    clusters:
      cluster1: {state: full, installed: true, role: primary, cluster_id: cluster1, network: network1, serving: [cluster1]}
    multi_network: true
    networks: {network1: {clusters: [cluster1], gateway_addresses: [172.18.1.10]}}
    links: [{source: cluster2, target: cluster1, state: error, ids: [remote_secret.missing], secret: null}]
summary:
  description: Counts by severity (C(counts)), worst severity, cluster count, unreachable clusters and counts per cluster.
  returned: always
  type: dict
  sample:
    counts: {error: 1, warning: 0, info: 0, total: 1}
    worst: error
    clusters: 2
    unreachable: []
    by_cluster: {cluster1: {error: 0, warning: 0, info: 0}, cluster2: {error: 1, warning: 0, info: 0}}
clusters:
  description: The clusters analyzed (play hosts).
  returned: always
  type: list
  elements: str
  sample: [cluster1, cluster2]
out_of_play:
  description: Inventory clusters left out of the play (C(--limit)).
  returned: always
  type: list
  elements: str
  sample: [cluster3]
fail_on:
  description: The O(fail_on) applied.
  returned: always
  type: str
  sample: error
threshold_exceeded:
  description: True when a finding at or above O(fail_on) exists; the play should then fail.
  returned: always
  type: bool
  sample: true
timing:
  description: Seconds spent in the analysis (C(analysis_s)), per check area (C(areas)) and in each cluster's gather (C(gather_s)).
  returned: always
  type: dict
  sample: {analysis_s: 0.004, areas: {trust: 0.0004}, gather_s: {cluster1: 0.21}}
requests:
  description: API requests each cluster's gather made (C(per_cluster)), their C(total) and C(max).
  returned: always
  type: dict
  sample: {per_cluster: {cluster1: 12, cluster2: 12}, total: 24, max: 12}
report_files:
  description: Path of each report written, by format; empty when O(report_dir) is not set.
  returned: always
  type: dict
  sample: {json: /tmp/reports/meshmend-report.json, html: /tmp/reports/meshmend-report.html}
lines:
  description:
    - What the play prints. Each root cause once, with the symptoms it explains grouped below it (C(explains N x ...)),
      then one line per other finding, then one line per connectivity test case (failures first).
  returned: always
  type: list
  elements: str
  sample:
    - "error cluster.unreachable cluster7: The controller cannot reach ... [root cause of 18 finding(s) on 9 cluster(s)]"
    - "  explains 9 x error remote_secret.api_unreachable on cluster1, cluster2, cluster3, ... -> cluster7"
    - "warning trust.cacerts_missing cluster1: no plug-in CA"
remediation:
  description:
    - The before/after section, as in the JSON report. C(before) and C(after) are counts by severity;
      C(fixed), C(remaining) and C(new) are finding keys, described in C(findings); C(outcomes) the actions
      applied (or simulated when C(check_mode), then C(would_fix) lists the keys they would fix);
      C(skipped), C(not_asked) and C(manual) come from the plan
      (C(manual) items carry C(steps) and C(open), whether the finding is still there).
  returned: when O(previous_findings) is given
  type: dict
  sample:
    before: {error: 3, warning: 1, info: 0, total: 4}
    after: {error: 0, warning: 0, info: 0, total: 0}
    fixed: [eastwest_gateway.external_ip_pending@cluster2]
    remaining: []
    new: []
    findings:
      eastwest_gateway.external_ip_pending@cluster2:
        key: eastwest_gateway.external_ip_pending@cluster2
        id: eastwest_gateway.external_ip_pending
        severity: error
        cluster: cluster2
        peer: null
        message: east-west gateway istio-system/istio-eastwestgateway has no external address
    changed: 1
    failed: 0
    check_mode: false
    would_fix: []
    categories: [gateway_addresses]
    outcomes:
      - cluster: cluster2
        category: gateway_addresses
        module: eastwest_gateway_address
        peer: null
        description: externalIPs 172.18.2.100 on istio-system/istio-eastwestgateway
        fixes: [eastwest_gateway.external_ip_pending@cluster2]
        changed: true
        failed: false
        skipped: false
        msg: null
    skipped: []
    not_asked: []
    manual: []
    lines: ["applied 1 action(s): 1 changed, 0 unchanged, 0 failed"]
summary_block:
  description:
    - The console summary of the run, what the C(meshmend.multicluster.summary) callback prints at the end - the
      verdict and the exit status it gives, the clusters that could not be read, each root cause once with what it
      explains, one mark per check grouped by area, and the report files.
  returned: unless O(preflight=true)
  type: list
  elements: str
  sample:
    - "meshmend diagnose: 10 cluster(s), 19 error(s), 0 warning(s), 0 info"
    - "exit policy: fail_on=error -> exit 2 (findings at or over the threshold, or a fix that failed)"
    - "clusters: 9 read, 1 unreachable: cluster3"
msg:
  description: One-line summary.
  returned: always
  type: str
  sample: "2 cluster(s): 1 error(s), 0 warning(s), 0 info"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.report.argspec import MESH_REPORT_ARGSPEC


def main():
    module = AnsibleModule(argument_spec=MESH_REPORT_ARGSPEC, supports_check_mode=True)
    module.fail_json(msg="meshmend.multicluster.mesh_report must be run as an action plugin on the controller: "
                         "call it by its name in a task, not through a module-only path")


if __name__ == "__main__":
    main()
