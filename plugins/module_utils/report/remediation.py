# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Before / after remediation: the section the remediate role's second diagnosis adds to the reports.

``remediation_section`` builds ``report["remediation"]`` (data); ``remediation_view`` turns it into
what the Markdown and HTML renderers show (groups of findings, action results, manual steps), so both
say the same thing in the same words.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import (
    REMEDIATE_CATEGORIES, SEVERITIES, finding_key, natural_key,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.remediation_outcomes import compare_findings
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.causes import where

CHECK_MODE_LEAD = "Check mode: nothing was written"
CHECK_MODE_NOTE = ("(every write was a server-side dry run). "
                   "The \"after\" is a preview: the clusters are unchanged, so their findings are the same; "
                   "the actions show what a run without --check would change.")
MANUAL_NOTE = "No remediate category fixes these findings: follow the steps (the troubleshooting guide's)."

_OUTCOME_FIELDS = ("cluster", "category", "module", "peer", "description", "fixes", "changed", "failed",
                   "skipped", "msg")
_ITEM_FIELDS = ("key", "id", "cluster", "peer", "category", "reason", "partial")
_MANUAL_FIELDS = ("key", "id", "cluster", "peer", "severity", "message", "steps", "caused_by", "resolved_by_plan")


def _truthy(value):
    """Booleans that went through templating may arrive as strings."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _dicts(value, fields):
    """The dict items of ``value`` reduced to ``fields`` (a bad item is dropped, not a traceback)."""
    if not isinstance(value, (list, tuple)):
        return []
    return [dict((k, item.get(k)) for k in fields) for item in value if isinstance(item, dict)]


def _category_rank(category):
    return REMEDIATE_CATEGORIES.index(category) if category in REMEDIATE_CATEGORIES else len(REMEDIATE_CATEGORIES)


def _brief(f):
    return {"key": f.get("key") or finding_key(f), "id": f.get("id"), "severity": f.get("severity"),
            "cluster": f.get("cluster"), "peer": f.get("peer"), "message": f.get("message")}


def remediation_section(previous_findings, findings, remediation=None):
    """``report["remediation"]``: the findings before a remediation against those after it.

    ``compare_findings`` (the same comparison the remediate role prints) gives the counts
    and the fixed / remaining / new keys; added here: ``findings`` (key -> id, severity,
    cluster, peer, message of every key listed, for the links), ``outcomes`` (one per applied
    action), ``skipped``, ``not_asked``, ``manual`` and ``categories`` from the plan, and
    ``check_mode`` (then nothing was written and "after" is a preview of the same state).
    """
    remediation = remediation if isinstance(remediation, dict) else {}
    previous = [dict(f) for f in previous_findings or [] if isinstance(f, dict) and f.get("id")]
    current = [dict(f) for f in findings or []]
    for f in previous + current:
        f.setdefault("key", finding_key(f))
    check_mode = _truthy(remediation.get("check_mode"))
    outcomes = _dicts(remediation.get("outcomes"), _OUTCOME_FIELDS)
    for o in outcomes:
        o["changed"], o["failed"], o["skipped"] = (_truthy(o["changed"]), _truthy(o["failed"]),
                                                   _truthy(o["skipped"]))
        o["fixes"] = [str(k) for k in o["fixes"] or [] if k]
    # The plan's order: cluster, then category in the order the role applies them, then peer.
    outcomes.sort(key=lambda o: (natural_key(o["cluster"] or ""), _category_rank(o["category"]),
                                 natural_key(o["peer"] or "")))
    section = compare_findings(previous, current, outcomes, check_mode=check_mode)
    section["before"]["total"] = len(previous)
    section["after"]["total"] = len(current)
    by_key = dict((f["key"], _brief(f)) for f in previous)
    by_key.update((f["key"], _brief(f)) for f in current)
    listed = set(section["fixed"]) | set(section["not_confirmed"]) | set(section["remaining"]) | set(section["new"])
    section["findings"] = dict((k, v) for k, v in by_key.items() if k in listed)
    section["check_mode"] = check_mode
    # Check mode: the findings the simulated actions would fix (they are still there, nothing was written).
    section["would_fix"] = sorted(set(k for o in outcomes if o["changed"] and not o["failed"] for k in o["fixes"])
                                  & set(section["remaining"])) if check_mode else []
    for k in section["would_fix"]:
        section["findings"].setdefault(k, by_key[k])
    section["categories"] = [str(c) for c in remediation.get("categories") or [] if c]
    section["skipped"] = _dicts(remediation.get("skipped"), _ITEM_FIELDS)
    section["not_asked"] = _dicts(remediation.get("not_asked"), _ITEM_FIELDS)
    manual = _dicts(remediation.get("manual"), _MANUAL_FIELDS)
    after_keys = set(f["key"] for f in current)
    for m in manual:
        m["steps"] = [str(x) for x in m["steps"] or [] if x]
        m["caused_by"] = [str(x) for x in m["caused_by"] or [] if x]
        m["resolved_by_plan"] = _truthy(m["resolved_by_plan"])
        # Whether the finding is still there after the fixes (a symptom may clear with its cause).
        m["open"] = m["key"] in after_keys
    section["manual"] = manual
    return section


# ---------------------------------------------------------------------------
# What the renderers show

def _manual_state(m, check_mode=False):
    if m.get("open") and m.get("resolved_by_plan"):
        return ("still open, expected to clear with the planned fixes" if check_mode
                else "still open, though the plan fixed its causes")
    if m.get("open"):
        return "still open"
    return "cleared with its causes" if m.get("resolved_by_plan") else "cleared"


# css state of each action verdict (remediation_outcomes.action_verdict)
_VERDICT_CSS = {"fixed": "changed", "would change": "changed", "failed": "failed", "skipped": "skipped",
                "not confirmed": "failed", "not fixed": "failed", "unchanged": "ok", "no change needed": "ok"}


def _outcome_result(o, check_mode):
    """(css state, text) of one applied action: what the second diagnosis confirmed, not only the write."""
    verdict = o.get("verdict") or ("would change" if check_mode and o.get("changed") else "unchanged")
    if verdict == "failed":
        return "failed", "failed: %s" % (o.get("msg") or "no message")
    if verdict == "not confirmed":
        return "failed", "not confirmed (cluster unreadable)"
    if verdict == "not fixed":
        return "failed", "written, but the finding remains"
    return _VERDICT_CSS.get(verdict, "ok"), verdict


def _key_finding(rem, key):
    """The brief finding of a key (id parsed from the key when the section has no entry)."""
    f = (rem.get("findings") or {}).get(key)
    if f:
        return dict(f, where=where(f))
    fid, _sep, rest = str(key).partition("@")
    cluster, _sep, peer = rest.partition("->")
    f = {"key": key, "id": fid, "severity": None, "cluster": cluster or None, "peer": peer or None, "message": None}
    f["where"] = where(f)
    return f


def remediation_view(rem):
    """``report["remediation"]`` as the renderers show it (a dict of lists of plain values)."""
    check = bool(rem.get("check_mode"))
    groups = [("Fixed", rem.get("fixed")),
              ("Not confirmed (cluster unreadable or fix failed)", rem.get("not_confirmed")),
              ("Remaining", rem.get("remaining")), ("New", rem.get("new"))]
    if check:
        groups.insert(0, ("Would be fixed by the actions", rem.get("would_fix")))
    view_groups = []
    for label, keys in groups:
        found = [_key_finding(rem, k) for k in keys or []]
        # remaining info findings are by design: counted, not listed
        shown = [f for f in found if not (label == "Remaining" and f.get("severity") == "info")]
        view_groups.append({"label": label, "css": label.split()[0].lower(), "findings": shown,
                            "infos": len(found) - len(shown) if label == "Remaining" else 0})
    outcomes = []
    for o in rem.get("outcomes") or []:
        state, text = _outcome_result(o, check)
        outcomes.append(dict(o, state=state, result=text))
    tables = []
    for title, items in (("Skipped", rem.get("skipped")), ("Not asked", rem.get("not_asked"))):
        if items:
            tables.append({"title": title, "items": [dict(it, where=where({"cluster": it.get("cluster"),
                                                                           "peer": it.get("peer")}))
                                                     for it in items]})
    manual = []
    for m in rem.get("manual") or []:
        manual.append(dict(m, where=where(m), state=_manual_state(m, check),
                           causes=[_key_finding(rem, k) for k in m.get("caused_by") or []]))
    return {
        "check_mode": check,
        "lead": CHECK_MODE_LEAD, "note": CHECK_MODE_NOTE, "manual_note": MANUAL_NOTE,
        "categories": list(rem.get("categories") or []),
        "actions": len(rem.get("outcomes") or []),
        "changed": rem.get("changed", 0), "failed": rem.get("failed", 0),
        "counts": [{"severity": sev, "before": (rem.get("before") or {}).get(sev, 0),
                    "after": (rem.get("after") or {}).get(sev, 0)} for sev in SEVERITIES],
        "fixed": len(rem.get("fixed") or []), "not_confirmed": len(rem.get("not_confirmed") or []),
        "new": len(rem.get("new") or []),
        "groups": view_groups, "outcomes": outcomes, "tables": tables, "manual": manual,
    }
