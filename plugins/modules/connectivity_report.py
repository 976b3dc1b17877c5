#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: connectivity_report
short_description: Merge the connectivity tests' findings and cases into meshmend's report files
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - Writes C(meshmend-report.json), C(meshmend-report.md), C(meshmend-report.html) and C(meshmend-junit.xml)
    in O(report_dir), the files diagnose writes. When diagnose's report is already there, its findings,
    clusters and facts are kept and the C(connectivity.*) findings of an earlier connectivity run are
    replaced by these (O(merge)).
  - The JUnit file gets a C(connectivity) suite with one test case per cluster pair and test.
  - An action plugin, it runs on the controller (where the report templates are) and touches no cluster. It is
    M(meshmend.multicluster.mesh_report) with O(meshmend.multicluster.mesh_report#module:analyze=false), which the
    C(meshmend.multicluster.connectivity) role calls; this name stays for playbooks that use it.
extends_documentation_fragment:
  - meshmend.multicluster.attributes
  - meshmend.multicluster.report
  - meshmend.multicluster.report.connectivity
options:
  report_dir:
    description:
      - Directory of the report files; created when missing.
    type: path
    required: true
  findings:
    description:
      - C(connectivity.*) findings (RV(meshmend.multicluster.connectivity_probe#module:findings) of every cluster).
    type: list
    elements: dict
    default: []
  clusters:
    description:
      - The clusters the tests ran on (default the keys of O(probes) and O(workloads)).
    type: list
    elements: str
    default: []
  fail_on:
    description:
      - Severity from which RV(threshold_exceeded) is true (as diagnose's C(meshmend_fail_on)).
    type: str
    choices: [never, warning, error]
    default: error
  merge:
    description:
      - Keep what an existing report in O(report_dir) holds (diagnose's findings); V(false) replaces it.
    type: bool
    default: true
attributes:
  action:
    support: full
    description: Runs as an action plugin on the controller.
  check_mode:
    support: none
    details:
      - Reports an active test that check mode does not run (the task is skipped).
  diff_mode:
    support: none
  platform:
    platforms: posix
    details:
      - Writes the report files where it runs (the controller).
seealso:
  - module: meshmend.multicluster.connectivity_probe
  - module: meshmend.multicluster.mesh_report
"""

EXAMPLES = r"""
- name: Merge every cluster's connectivity results into the report
  meshmend.multicluster.connectivity_report:
    report_dir: reports
    probes: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars)
                | map(attribute='probe', default={}))) }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
report_files:
  description: The files written, by format.
  returned: always
  type: dict
  sample: {json: reports/meshmend-report.json, markdown: reports/meshmend-report.md,
           html: reports/meshmend-report.html, junit: reports/meshmend-junit.xml}
merged:
  description: An existing report was merged.
  returned: always
  type: bool
  sample: true
summary:
  description: Counts of findings by severity over the merged report.
  returned: always
  type: dict
  sample: {counts: {error: 1, warning: 0, info: 0, total: 1}, worst: error}
tests:
  description: Connectivity test cases by status.
  returned: always
  type: dict
  sample: {passed: 4, failed: 1, skipped: 2}
lines:
  description: One line per test case (status, test, pair, message), for the play's output.
  returned: always
  type: list
  elements: str
  sample: ["PASSED  connectivity.mesh cluster1 -> cluster2: 10/20 answers from cluster2 (v2)"]
threshold_exceeded:
  description: A finding at or above O(fail_on) exists (the play fails on it).
  returned: always
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.report.argspec import CONNECTIVITY_REPORT_ARGSPEC


def main():
    module = AnsibleModule(argument_spec=CONNECTIVITY_REPORT_ARGSPEC, supports_check_mode=False)
    module.fail_json(msg="meshmend.multicluster.connectivity_report must be run as an action plugin on the controller: "
                         "call it by its name in a task, not through a module-only path")


if __name__ == "__main__":
    main()
