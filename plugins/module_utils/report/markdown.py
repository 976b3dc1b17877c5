# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Markdown report: root causes first, then the clusters, then the other findings by area.

Every value is written through ``_md`` (one line, table pipes and HTML neutralised): a message or a
name cannot break the document.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.meshmend.multicluster.plugins.module_utils.report.argspec import COLLECTION_DOCS_PATH
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.causes import (
    AREA_TITLES, area_of, cause_tree, names_category, names_text, standalone, symptom_where, where,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.connectivity import sorted_cases
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.remediation import remediation_view
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.summary import gateway_text, secrets_text

_SEV_MARK = {"error": "\u274c error", "warning": "\u26a0\ufe0f warning", "info": "\u2139\ufe0f info"}
# Names listed in full up to this many in a root cause's line (every one is in the JSON report).
NAMES_LIMIT = 40


def _md(text):
    """Inline Markdown text: keep it on one line, neutralise table pipes and HTML."""
    if text is None:
        return ""
    text = str(text).replace("\r", " ").replace("\n", " ")
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _code(text):
    text = _md(text).replace("`", "'")
    return "`%s`" % text if text else ""


def anchor(docs_url, fid):
    return "%s#%s" % (docs_url, fid)


def _link(docs_url, fid):
    if not fid:
        return "-"
    return "[%s](%s)" % (_code(fid), _md(anchor(docs_url, fid)))


def _evidence(evidence):
    parts = []
    for k in sorted(evidence):
        v = evidence[k]
        if not isinstance(v, str):
            v = json.dumps(v, sort_keys=True, default=str)
        if len(v) > 200:
            v = v[:197] + "..."
        parts.append("%s=%s" % (k, v))
    return _code("; ".join(parts))


def _remedy(f, pad):
    cat = " (remediate category `%s`)" % f["category"] if names_category(f) else ""
    return "%s  - **remedy**: %s%s" % (pad, _md(f["remedy"]), cat)


def _details(f, pad, lines):
    if f.get("resource"):
        lines.append("%s  - resource: %s" % (pad, _code(f["resource"])))
    if f.get("evidence"):
        lines.append("%s  - evidence: %s" % (pad, _evidence(f["evidence"])))


def _node(n, depth, docs_url, lines):
    f = n["finding"]
    pad = "  " * depth
    label = "caused by" if depth else _SEV_MARK.get(f["severity"], f["severity"])
    if depth:
        label += " (%s)" % f["severity"]
    lines.append("%s- **%s** [`%s`](%s) on **%s**: %s" % (
        pad, label, f["id"], anchor(docs_url, f["id"]), _md(where(f)), _md(f.get("message"))))
    _details(f, pad, lines)
    for c in n["causes"]:
        _node(c, depth + 1, docs_url, lines)
    for k in n["missing"]:
        lines.append("%s  - caused by %s (not in this report)" % (pad, _code(k)))
    if f.get("remedy") and (not n["causes"] or depth):
        lines.append(_remedy(f, pad))


def _root_causes(report, docs_url):
    roots = report.get("root_causes") or []
    if not roots:
        return []
    by_key = dict((f["key"], f) for f in report["findings"])
    explained = sum(rc["explains"] for rc in roots)
    lines = ["## Root causes", "",
             "%d finding(s) explain %d other(s): fix these first; what each explains is listed under it, "
             "not again below." % (len(roots), explained), ""]
    for rc in roots:
        f = by_key.get(rc["key"], rc)
        lines.append("- **%s** [`%s`](%s) on **%s**: %s" % (
            _SEV_MARK.get(rc["severity"], rc["severity"]), rc["id"], anchor(docs_url, rc["id"]), _md(where(rc)),
            _md(rc.get("message"))))
        _details(f, "", lines)
        if rc.get("remedy"):
            lines.append(_remedy(rc, ""))
        lines.append("  - **explains %d finding(s) on %d cluster(s)**: %s" % (
            rc["explains"], len(rc["dependents"]), _md(names_text(rc["dependents"], NAMES_LIMIT))))
        for s in rc["symptoms"]:
            seen_on = _md(symptom_where(s, NAMES_LIMIT))
            text = "    - %s (%s) \u00d7 %d on %s" % (_link(docs_url, s["id"]), _md(s["severity"]), s["count"], seen_on)
            if s["count"] == 1:
                text += ": %s" % _md(by_key.get(s["keys"][0], {}).get("message"))
            lines.append(text)
    lines.append("")
    return lines


def _remediation(rem, docs_url):
    v = remediation_view(rem)
    check = v["check_mode"]
    lines = ["## Before / after remediation%s" % (" (check mode: preview, nothing written)" if check else ""), ""]
    if check:
        lines += ["> **%s** %s" % (_md(v["lead"]), _md(v["note"])), ""]
    lines.append("Categories asked: %s. Actions: %d, %s %d, failed %d." % (
        ", ".join(_code(c) for c in v["categories"]) or "none", v["actions"],
        "would change" if check else "changed", v["changed"], v["failed"]))
    lines += ["", "| findings | before | after |", "|---|---|---|"]
    lines += ["| %s | %d | %d |" % (c["severity"], c["before"], c["after"]) for c in v["counts"]]
    lines.append("")
    for g in v["groups"]:
        lines += ["### %s (%d)" % (g["label"], len(g["findings"])), ""]
        if not g["findings"]:
            lines.append("none")
        for f in g["findings"]:
            sev = (" (%s)" % _md(f["severity"])) if f.get("severity") else ""
            lines.append("- %s%s on **%s**%s" % (_link(docs_url, f["id"]), sev, _md(f["where"]),
                                                 (": " + _md(f["message"])) if f.get("message") else ""))
        if g["infos"]:
            lines.append("- and %d info finding(s) (by design, not listed)" % g["infos"])
        lines.append("")
    lines += ["### Actions", ""]
    if not v["outcomes"]:
        lines += ["No action was planned.", ""]
    else:
        lines += ["| cluster | category | what | result |", "|---|---|---|---|"]
        for o in v["outcomes"]:
            lines.append("| %s | %s | %s | %s |" % (
                _md(o.get("cluster")), _code(o.get("category")), _md(o.get("description")),
                ("**%s**" % _md(o["result"])) if o["state"] == "failed" else _md(o["result"])))
        lines.append("")
    for t in v["tables"]:
        lines += ["### %s" % t["title"], "", "| finding | where | category | reason |", "|---|---|---|---|"]
        for it in t["items"]:
            lines.append("| %s | %s | %s | %s |" % (_link(docs_url, it.get("id")), _md(it["where"]),
                                                    _code(it.get("category")), _md(it.get("reason"))))
        lines.append("")
    if v["manual"]:
        lines += ["### Manual steps", "", _md(v["manual_note"]), ""]
        for m in v["manual"]:
            lines.append("- %s (%s) on **%s** (%s)%s" % (
                _link(docs_url, m.get("id")), _md(m.get("severity")), _md(m["where"]), _md(m["state"]),
                (": " + _md(m["message"])) if m.get("message") else ""))
            lines += ["  - %s" % _md(step) for step in m.get("steps") or []]
            if m["causes"]:
                lines.append("  - caused by %s" % ", ".join(
                    "%s on %s" % (_link(docs_url, c["id"]), _md(c["where"])) for c in m["causes"]))
        lines.append("")
    return lines


def _clusters(report):
    s = report["summary"]
    lines = ["## Clusters", "",
             "| cluster | reachable | network | cluster ID | mesh ID | role | istiod | east-west gateway "
             "| remote secrets | errors | warnings | API requests |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in report["clusters"]["in_play"]:
        f = report["facts"][name]
        bc = s["by_cluster"].get(name, {})
        lines.append("| %s |" % " | ".join([
            _md(name), "yes" if f["reachable"] else "**no**", _md(f["network"] or "-"),
            _md(f["cluster_id"] or "-"), _md(f["mesh_id"] or "-"), _md(f["role"] or "-"),
            _md((f["istiod"] or {}).get("version") or ("-" if not f["istiod"] else "?")),
            _md(gateway_text(f)), _md(secrets_text(f)),
            str(bc.get("error", 0)), str(bc.get("warning", 0)), _md(f["requests"])]))
    lines.append("")
    return lines


def _connectivity(report):
    rows = sorted_cases(report)
    if not rows:
        return []
    lines = ["## Connectivity tests", "",
             "One row per cluster pair and test (the guide's traffic tests; `%s`)."
             % (report.get("connectivity") or {}).get("generated_at"), "",
             "| test | pair | result | what was seen |", "|---|---|---|---|"]
    for c in rows:
        msg = " ".join(str(c.get("message") or "").split())
        lines.append("| %s | %s | %s | %s |" % (
            _md(str(c.get("classname") or "").replace("connectivity.", "")),
            _md(str(c.get("name")).replace("->", "\u2192")), _md(c.get("status")), _md(msg[:400])))
    lines.append("")
    return lines


def render_markdown(report, docs_url=COLLECTION_DOCS_PATH):
    s = report["summary"]
    c = s["counts"]
    lines = ["# meshmend diagnosis", ""]
    lines.append("Generated %s for %d cluster(s): **%d error(s), %d warning(s), %d info**. "
                 "Exit policy `fail_on=%s`: %s." % (
                     report["generated_at"], s["clusters"], c["error"], c["warning"], c["info"],
                     report["fail_on"], "fails" if report["failed"] else "passes"))
    lines.append("")
    if report["clusters"]["out_of_play"]:
        lines.append("Out of play (not diagnosed, e.g. `--limit`): %s. Pairwise checks against them were not run." %
                     ", ".join(_code(n) for n in report["clusters"]["out_of_play"]))
        lines.append("")
    lines += _root_causes(report, docs_url)
    if report.get("remediation"):
        lines += _remediation(report["remediation"], docs_url)
    lines += _clusters(report)
    others = standalone(report)
    lines += ["## Findings" if not report.get("root_causes") else "## Other findings", ""]
    if not report["findings"]:
        lines += ["No findings: cross-cluster load balancing has nothing in its way that meshmend checks.", ""]
    elif not others:
        lines += ["None: every finding is listed under its root cause above.", ""]
    current = None
    for n in cause_tree(others):
        area = area_of(n["finding"]["id"])
        if area != current:
            current = area
            lines += ["", "### %s" % AREA_TITLES.get(area, area), ""]
        _node(n, 0, docs_url, lines)
    lines.append("")
    lines += _connectivity(report)
    timing = report.get("timing") or {}
    if timing.get("areas"):
        lines += ["## Timing", "", "| check area | seconds |", "|---|---|"]
        for area in timing["areas"]:
            lines.append("| %s | %.4f |" % (_md(area), timing["areas"][area]))
        lines.append("")
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"
