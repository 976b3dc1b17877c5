# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The console summary an operator reads at the end of a run, and the exit statuses.

One block (printed by the ``meshmend.multicluster.summary`` callback, or by the roles' last task when
that callback is not enabled): the verdict and the exit status it gives, the root causes with what they
explain, one mark per check grouped by area (as ``linkerd multicluster check`` does), the clusters that
could not be read, and the report files. Pure: the report document in, lines out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.catalogue import CATALOGUE
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import natural_key
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.causes import (
    AREA_ORDER, AREA_TITLES, area_of, explained_keys, key_of, names_text, standalone, summary_lines, where,
)

# One meaning per exit status (README, "Exit statuses"). 1 and 5 are Ansible's own codes for the same
# meanings (a generic error, bad options), so a typo on the command line and one in -e agree.
EXIT_CLEAN = 0
EXIT_FINDINGS = 2
EXIT_USAGE = 5
EXIT_COULD_NOT_RUN = 1
EXIT_STATUSES = {
    "clean": EXIT_CLEAN,
    "findings": EXIT_FINDINGS,
    "usage": EXIT_USAGE,
    "error": EXIT_COULD_NOT_RUN,
}
EXIT_MEANINGS = {
    EXIT_CLEAN: "clean: nothing at or over the threshold",
    EXIT_FINDINGS: "findings at or over the threshold, or a fix that failed",
    EXIT_USAGE: "bad usage, found before any cluster was touched",
    EXIT_COULD_NOT_RUN: "the tool could not run",
}
# The custom stat (ansible.builtin.set_stats / an action's ansible_stats) the callback reads.
STAT_NAME = "meshmend"
MARKS = {"ok": "[ok]", "error": "[x]", "warning": "[!]", "info": "[i]", "skip": "[-]"}


def verdict(command, status, lines, reason=""):
    """The custom stat a role publishes: what the callback prints and the exit status it sets."""
    return {"command": command, "status": status, "exit": EXIT_STATUSES[status], "reason": reason,
            "lines": list(lines)}


def _worst(findings):
    for sev in ("error", "warning", "info"):
        if any(f["severity"] == sev for f in findings):
            return sev
    return "ok"


def check_marks(report):
    """``[(area title, [(mark, id, text)])]``: every catalogue check of the report's areas, grouped by
    area in the guide's order; a check that raised nothing is ``[ok]`` (folded into one line per area)."""
    areas = list(report.get("areas") or [])
    if report.get("connectivity") and "connectivity" not in areas:
        areas.append("connectivity")
    by_id = {}
    explained = explained_keys(report)
    for f in report.get("findings") or []:
        by_id.setdefault(f["id"], []).append(f)
    out = []
    for area in sorted(set(areas), key=lambda a: AREA_ORDER.index(a) if a in AREA_ORDER else len(AREA_ORDER)):
        ids = sorted(fid for fid in CATALOGUE if area_of(fid) == area)
        rows, passed = [], 0
        for fid in ids:
            found = by_id.get(fid)
            if not found:
                passed += 1
                continue
            clusters = sorted(set(f.get("cluster") or "mesh" for f in found), key=natural_key)
            text = "%d on %s" % (len(found), names_text(clusters, 6))
            grouped = sum(1 for f in found if key_of(f) in explained)
            if grouped:
                text += " (%s explained by a root cause above)" % ("all" if grouped == len(found) else grouped)
            rows.append((MARKS[_worst(found)], fid, text))
        if passed:
            rows.append((MARKS["ok"], "", "%d check(s) passed" % passed))
        out.append((AREA_TITLES.get(area, area), rows))
    return out


def summary_block(report, command="diagnose", files=None, fail_on=None, status=None, extra=()):
    """The block printed at the end of a run (a list of lines, no trailing newline)."""
    counts = report["summary"]["counts"]
    fail_on = fail_on or report.get("fail_on") or "error"
    if status is None:
        status = "findings" if report.get("failed") else "clean"
    code = EXIT_STATUSES[status]
    in_play = report["clusters"]["in_play"]
    unreachable = report["summary"].get("unreachable") or []
    lines = ["meshmend %s: %d cluster(s), %d error(s), %d warning(s), %d info" % (
        command, len(in_play), counts["error"], counts["warning"], counts["info"])]
    lines.append("exit policy: fail_on=%s -> exit %d (%s)" % (fail_on, code, EXIT_MEANINGS[code]))
    read = len(in_play) - len(unreachable)
    text = "clusters: %d read" % read
    if unreachable:
        text += ", %d unreachable: %s" % (len(unreachable), names_text(unreachable))
    out_of_play = report["clusters"].get("out_of_play") or []
    if out_of_play:
        text += "; out of play: %s" % names_text(out_of_play)
    lines.append(text)
    roots = report.get("root_causes") or []
    if roots:
        lines.append("root causes (%d), each once with what it explains:" % len(roots))
        lines.extend("  " + line for line in summary_lines({"root_causes": roots, "findings": []}))
    alone = standalone(report)
    if alone:
        lines.append("other findings (%d):" % len(alone))
        for f in alone[:20]:
            lines.append("  %s %s %s: %s" % (f["severity"], f["id"], where(f).replace("\u2192", "->"),
                                             f.get("message")))
        if len(alone) > 20:
            lines.append("  ... and %d more in the reports" % (len(alone) - 20))
    lines.append("checks:")
    for title, rows in check_marks(report):
        lines.append("  %s" % title)
        for mark, fid, text in rows:
            lines.append("    %s %s%s" % (mark, (fid + " ") if fid else "", text))
    lines.extend(extra)
    if files:
        lines.append("reports: %s" % ", ".join(files[k] for k in sorted(files)))
    return lines
