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
  - Runs where the report directory is (the controller, with C(delegate_to=localhost)); touches no cluster.
extends_documentation_fragment:
  - meshmend.multicluster.attributes
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
  tests:
    description:
      - Test cases (RV(meshmend.multicluster.connectivity_probe#module:tests) of every cluster).
    type: list
    elements: dict
    default: []
  probes:
    description:
      - Registered results of M(meshmend.multicluster.connectivity_probe) by cluster; their findings and tests are
        added to O(findings) and O(tests). A failed or missing result becomes an error test case naming the cluster.
    type: dict
    default: {}
  workloads:
    description:
      - Registered results of M(meshmend.multicluster.connectivity_workload) (state present) by cluster; a failed
        set-up becomes an error test case with the module's message.
    type: dict
    default: {}
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
  docs_url:
    description:
      - Where finding ids link to (one anchor per id).
    type: str
    default: docs/findings.md
attributes:
  check_mode:
    support: none
    details:
      - Reports an active test that check mode does not run.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details:
      - Writes the report files where it runs (the controller).
seealso:
  - module: meshmend.multicluster.connectivity_probe
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

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity import (
    ConnectivityError, case_lines, collect_results, merge_report, render_report,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import FindingError

FILES = {"json": "meshmend-report.json", "markdown": "meshmend-report.md",
         "html": "meshmend-report.html", "junit": "meshmend-junit.xml"}


def _write_atomic(path, text):
    fd, tmp = tempfile.mkstemp(prefix=".meshmend-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    module = AnsibleModule(argument_spec=dict(
        report_dir=dict(type="path", required=True),
        findings=dict(type="list", elements="dict", default=[]),
        tests=dict(type="list", elements="dict", default=[]),
        probes=dict(type="dict", default={}),
        workloads=dict(type="dict", default={}),
        clusters=dict(type="list", elements="str", default=[]),
        fail_on=dict(type="str", choices=["never", "warning", "error"], default="error"),
        merge=dict(type="bool", default=True),
        docs_url=dict(type="str", default="docs/findings.md"),
    ), supports_check_mode=False)
    p = module.params
    directory = os.path.abspath(p["report_dir"])
    existing = None
    json_path = os.path.join(directory, FILES["json"])
    if p["merge"] and os.path.exists(json_path):
        try:
            with open(json_path) as handle:
                existing = json.load(handle)
        except (OSError, ValueError) as exc:
            module.warn("cannot read the existing report %s (%s): writing a new one" % (json_path, exc))
    try:
        found, cases = collect_results(p["probes"], p["workloads"])
        findings = list(p["findings"]) + found
        tests = list(p["tests"]) + cases
        clusters = sorted(set(p["clusters"]) | set(p["probes"]) | set(p["workloads"]))
        report = merge_report(existing, findings, tests, clusters, fail_on=p["fail_on"])
        rendered = render_report(report, docs_url=p["docs_url"])
    except (ConnectivityError, FindingError, KeyError, TypeError, ValueError) as exc:
        module.fail_json(msg="connectivity_report: cannot build the report: %s: %s" % (type(exc).__name__, exc))
    files = {}
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory)
        for fmt, text in rendered.items():
            path = os.path.join(directory, FILES[fmt])
            _write_atomic(path, text)
            files[fmt] = path
    except OSError as exc:
        module.fail_json(msg="connectivity_report: cannot write the reports to %s: %s" % (directory, exc))
    counts = report["summary"]["counts"]
    module.exit_json(changed=True, report_files=files, merged=existing is not None,
                     summary={"counts": counts, "worst": report["summary"]["worst"]},
                     tests=report["connectivity"]["counts"], lines=case_lines(tests), threshold_exceeded=report["failed"],
                     msg="%d connectivity finding(s); report: %d error(s), %d warning(s), %d info"
                     % (len(findings), counts["error"], counts["warning"], counts["info"]))


if __name__ == "__main__":
    main()
