# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connectivity tests in the reports: their findings and one test case per cluster pair.

``collect_results`` turns every cluster's registered connectivity_probe / connectivity_workload
results into findings and test cases; ``merge_report`` puts them into a report document (diagnose's,
already in the report folder, or a new one), replacing the ``connectivity.*`` findings of an earlier
run. The renderers show the cases: a Markdown and an HTML table, and a ``connectivity`` JUnit suite.
Which diagnose findings explain a connectivity finding is the connectivity judge's call
(``connectivity.link_causes``), made here only because both sets meet here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity import (
    ConnectivityError, count_by, link_causes, test_case,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import (
    Finding, finding_key, natural_key, should_fail, sort_findings,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.causes import root_causes
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.document import (
    REPORT_SCHEMA, build_report, now_text, summarize,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.summary import summarize_facts

STATUS_ORDER = {"error": 0, "failed": 1, "skipped": 2, "passed": 3}


def is_connectivity(finding):
    return str(finding.get("id") or "").startswith("connectivity.")


def collect_results(probes, workloads=None):
    """Every cluster's registered results -> ``(findings, tests)`` for the report.

    ``probes`` / ``workloads``: cluster -> registered result of connectivity_probe /
    connectivity_workload (``{}`` when the task never ran there). A cluster whose set-up or
    probe failed gets an ``error`` case with the module's message, so it cannot pass silently.
    """
    findings, tests = [], []
    workloads = workloads or {}
    for cluster in sorted(set(probes or {}) | set(workloads), key=natural_key):
        w = workloads.get(cluster) or {}
        pr = (probes or {}).get(cluster) or {}
        if w.get("failed") or w.get("unreachable"):
            tests.append(test_case("setup", cluster, None, "error",
                                   "test workload in %s: %s" % (cluster, w.get("msg") or "failed")))
            continue
        if pr.get("failed") or pr.get("unreachable"):
            tests.append(test_case("probe", cluster, None, "error",
                                   "probes from %s: %s" % (cluster, pr.get("msg") or "failed")))
            continue
        if not pr or pr.get("skipped"):
            tests.append(test_case("probe", cluster, None, "error",
                                   "no probe result from %s (the host failed or was interrupted before the tests)"
                                   % cluster))
            continue
        findings.extend(pr.get("findings") or [])
        tests.extend(pr.get("tests") or [])
    return findings, tests


def case_lines(tests, findings=None):
    """One line per test case, failures first: what the play prints. With ``findings``, a failed case
    names the severity and id of its finding: that severity, not the case, meets ``fail_on`` or not."""
    by_key = dict((f.get("key"), f) for f in findings or [] if isinstance(f, dict))
    lines = []
    for case in sorted(tests or [], key=lambda c: (STATUS_ORDER.get(c.get("status"), 9), c.get("classname") or "",
                                                   c.get("name") or "")):
        msg = " ".join(str(case.get("message") or "").split())
        found = by_key.get(case.get("finding"))
        lines.append("%-7s %s %s%s: %s" % (
            str(case.get("status")).upper(), case.get("classname"), case.get("name"),
            (" [%s %s]" % (found["severity"], found["id"])) if found else "", msg[:300]))
    return lines


def sorted_cases(report):
    return sorted((report.get("connectivity") or {}).get("tests") or [],
                  key=lambda c: (c.get("classname") or "", c.get("name") or "", STATUS_ORDER.get(c.get("status"), 9)))


def merge_report(existing, findings, tests, clusters, fail_on="error", generated_at=None):
    """The report document with this run's connectivity findings and test cases.

    ``existing``: the report document already in the report directory (diagnose's), or None.
    Its findings of other areas, its facts summaries and clusters are kept; earlier
    ``connectivity.*`` findings and cases are replaced by this run's. Pure: the caller reads
    and writes the files.
    """
    findings = [dict(f) for f in findings or []]
    for f in findings:
        if not is_connectivity(f):
            raise ConnectivityError("finding %s is not a connectivity finding" % f.get("id"))
        Finding.from_dict(f)  # validates id/severity
        f.setdefault("key", finding_key(f))
    generated_at = generated_at or now_text()
    if existing and isinstance(existing, dict) and existing.get("schema") == REPORT_SCHEMA \
            and isinstance(existing.get("findings"), list):
        report = dict(existing)
        kept = [f for f in report["findings"] if not is_connectivity(f)]
        in_play = sorted(set(report.get("clusters", {}).get("in_play") or []) | set(clusters), key=natural_key)
        facts = dict(report.get("facts") or {})
        out_of_play = sorted(set(report.get("clusters", {}).get("out_of_play") or []) - set(in_play),
                             key=natural_key)
    else:
        report = build_report(dict((c, {"cluster": c, "reachable": True}) for c in clusters), [],
                              fail_on=fail_on, generated_at=generated_at, areas=["connectivity"])
        report["generator"] = "meshmend.multicluster.connectivity_report"
        kept, in_play, facts, out_of_play = [], sorted(clusters, key=natural_key), dict(report["facts"]), []
    for c in in_play:
        facts.setdefault(c, summarize_facts({"cluster": c, "reachable": True}))
    merged = sort_findings(kept + link_causes(findings, kept))
    areas = list(report.get("areas") or [])
    if "connectivity" not in areas:
        areas.append("connectivity")
    summary = summarize(merged, in_play, (report.get("summary") or {}).get("unreachable") or [])
    report.update(
        findings=merged, facts=facts, areas=areas, fail_on=fail_on, summary=summary,
        root_causes=root_causes(merged),
        clusters={"in_play": in_play, "out_of_play": out_of_play},
        failed=should_fail(merged, fail_on),
        connectivity={"generated_at": generated_at, "tests": list(tests or []),
                      "counts": count_by(tests or [], "status")},
    )
    report.setdefault("generated_at", generated_at)
    return report
