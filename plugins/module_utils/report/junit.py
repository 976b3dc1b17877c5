# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JUnit report: one test suite per cluster, one test case per check area per cluster, and, when
the connectivity tests ran, a ``connectivity`` suite with one test case per cluster pair and test."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import xml.etree.ElementTree as ET

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import worst_severity
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.causes import (
    DIAGNOSE_AREAS, area_of, where,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.connectivity import is_connectivity

_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _text(f):
    lines = ["[%s] %s on %s: %s" % (f["severity"], f["id"], where(f), f.get("message"))]
    if f.get("resource"):
        lines.append("  resource: %s" % f["resource"])
    if f.get("evidence"):
        lines.append("  evidence: %s" % json.dumps(f["evidence"], sort_keys=True, default=str))
    if f.get("caused_by"):
        lines.append("  caused by: %s" % ", ".join(f["caused_by"]))
    if f.get("remedy"):
        lines.append("  remedy: %s" % f["remedy"])
    return "\n".join(lines)


def _cluster_suites(root, report, findings, areas, fail_on, totals):
    by_cluster = {}
    for f in findings:
        by_cluster.setdefault(f.get("cluster") or "mesh", []).append(f)
    area_time = (report.get("timing") or {}).get("areas") or {}

    def suite(name):
        return ET.SubElement(root, "testsuite", name=name, timestamp=report["generated_at"])

    def finish(ts, counts):
        for k in ("tests", "failures", "skipped"):
            ts.set(k, str(counts[k]))
            totals[k] += counts[k]
        ts.set("errors", "0")

    clusters = list(report["clusters"]["in_play"])
    extra = sorted(set(by_cluster) - set(clusters))
    for cname in clusters + extra:
        ts = suite(cname)
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        in_cluster = by_cluster.get(cname, [])
        facts = report["facts"].get(cname) or {}
        unreachable = facts and not facts.get("reachable")
        present_areas = list(areas)
        for f in in_cluster:
            if area_of(f["id"]) not in present_areas:
                present_areas.append(area_of(f["id"]))
        for area in present_areas:
            in_area = [f for f in in_cluster if area_of(f["id"]) == area]
            if not in_area:
                tc = ET.SubElement(ts, "testcase", classname=cname, name=area,
                                   time="%.4f" % float(area_time.get(area) or 0))
                counts["tests"] += 1
                if unreachable and area != "cluster":
                    ET.SubElement(tc, "skipped", message="cluster %s is unreachable: not checked" % cname)
                    counts["skipped"] += 1
                continue
            ids = []
            for f in in_area:
                if f["id"] not in ids:
                    ids.append(f["id"])
            for fid in ids:
                group = [f for f in in_area if f["id"] == fid]
                tc = ET.SubElement(ts, "testcase", classname=cname, name="%s/%s" % (area, fid), time="0")
                counts["tests"] += 1
                body = "\n".join(_text(f) for f in group)
                sev = worst_severity(group)
                if sev == "error" or (sev == "warning" and fail_on == "warning"):
                    fail = ET.SubElement(tc, "failure", type=sev,
                                         message="; ".join(str(f.get("message")) for f in group)[:1000])
                    fail.text = body
                    counts["failures"] += 1
                else:
                    out = ET.SubElement(tc, "system-out")
                    out.text = body
        finish(ts, counts)
    for cname in report["clusters"]["out_of_play"]:
        ts = suite(cname)
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for area in areas:
            tc = ET.SubElement(ts, "testcase", classname=cname, name=area, time="0")
            ET.SubElement(tc, "skipped", message="cluster %s was out of play (--limit): not diagnosed" % cname)
            counts["tests"] += 1
            counts["skipped"] += 1
        finish(ts, counts)


def _connectivity_suite(root, report, fail_on, totals):
    """One testcase per cluster pair and test. A failed case whose finding is a warning is a failure
    only with fail_on=warning, as in the cluster suites."""
    severity = dict((f["key"], f["severity"]) for f in report["findings"] if is_connectivity(f))
    suite = ET.SubElement(root, "testsuite", name="connectivity", timestamp=str(report.get("generated_at")))
    counts = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
    for case in (report.get("connectivity") or {}).get("tests") or []:
        tc = ET.SubElement(suite, "testcase", classname=case["classname"], name=case["name"],
                           time="%.3f" % float(case.get("time") or 0))
        counts["tests"] += 1
        status = case.get("status")
        sev = severity.get(case.get("finding"), "error")
        if status == "failed" and (sev == "error" or (sev == "warning" and fail_on == "warning")):
            el = ET.SubElement(tc, "failure", type=sev, message=str(case.get("message") or "")[:1000])
            el.text = case.get("output") or ""
            counts["failures"] += 1
        elif status == "error":
            el = ET.SubElement(tc, "error", message=str(case.get("message") or "")[:1000])
            el.text = case.get("output") or ""
            counts["errors"] += 1
        elif status == "skipped":
            ET.SubElement(tc, "skipped", message=str(case.get("message") or "")[:1000])
            counts["skipped"] += 1
        else:
            out = ET.SubElement(tc, "system-out")
            prefix = "[%s] " % sev if status == "failed" else ""
            out.text = prefix + str(case.get("message") or "") + ("\n" + case["output"] if case.get("output") else "")
    for k, v in counts.items():
        suite.set(k, str(v))
        totals[k] += v


def render_junit(report, fail_on=None):
    """One testcase per check area per cluster.

    A testcase passes when the area has no finding on that cluster; otherwise one
    testcase per finding id, named ``area/id``. Errors are ``<failure>``; warnings
    are ``<failure>`` only when fail_on is ``warning`` (else reported in system-out,
    like info findings): the JUnit verdict matches the exit status policy, except
    that errors stay failures even with fail_on=never (the report does not hide them).
    Out-of-play clusters get ``<skipped>`` cases; so do the other areas of an
    unreachable cluster. With connectivity tests (``report["connectivity"]``) their findings
    go to the ``connectivity`` suite, one case per pair and test, not to the cluster suites.
    """
    fail_on = fail_on or report.get("fail_on") or "error"
    tested = "connectivity" in report
    findings = [f for f in report["findings"] if not (tested and is_connectivity(f))]
    areas = [a for a in report.get("areas") or [] if not (tested and a == "connectivity")] or list(DIAGNOSE_AREAS)
    totals = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
    only_tests = tested and report.get("areas") == ["connectivity"]
    root = ET.Element("testsuites", name="meshmend connectivity" if only_tests else "meshmend diagnose")
    if not only_tests:
        _cluster_suites(root, report, findings, areas, fail_on, totals)
    if tested:
        _connectivity_suite(root, report, fail_on, totals)
    for k in ("tests", "failures", "skipped", "errors"):
        root.set(k, str(totals[k]))
    return _HEADER + ET.tostring(root, encoding="unicode") + "\n"
