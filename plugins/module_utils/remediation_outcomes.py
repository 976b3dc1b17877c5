# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a remediation run did: each action's outcome from its module result, and the before/after verdict
(an action is fixed only when its write succeeded and the second diagnosis confirms it)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import field_of, key_of


def outcome_from_result(result):
    """One applied action's outcome from a registered loop result (no diff, no module output)."""
    result = result or {}
    action = result.get("item") or {}
    failed = bool(result.get("failed"))
    return {
        "cluster": action.get("cluster"),
        "category": action.get("category"),
        "module": action.get("module"),
        "peer": action.get("peer"),
        "description": action.get("description"),
        "fixes": list(action.get("fixes") or []),
        "changed": bool(result.get("changed")) and not failed,
        "failed": failed,
        "skipped": bool(result.get("skipped")),
        "msg": result.get("msg") if failed else None,
    }


def _counts(findings):
    out = {"error": 0, "warning": 0, "info": 0}
    for f in findings:
        sev = field_of(f, "severity")
        if sev in out:
            out[sev] += 1
    return out


def _unreadable(findings):
    """Clusters the diagnosis could not read: their findings (and those about them) are unknown."""
    return set(field_of(f, "cluster") for f in findings if field_of(f, "id") == "cluster.unreachable")


def action_verdict(outcome, after_keys, unreadable, check_mode=False):
    """What one applied action achieved: ``fixed`` only when its write succeeded and the second diagnosis
    of its cluster (and peer) no longer holds what it fixes; else ``failed``, ``not confirmed``
    (a cluster it concerns could not be read again), ``not fixed`` (written, the finding remains),
    ``unchanged``, ``skipped``, or in check mode ``would change`` / ``no change needed``."""
    if outcome.get("failed"):
        return "failed"
    if outcome.get("skipped"):
        return "skipped"
    if check_mode:
        return "would change" if outcome.get("changed") else "no change needed"
    if outcome.get("cluster") in unreadable or (outcome.get("peer") and outcome.get("peer") in unreadable):
        return "not confirmed"
    if any(k in after_keys for k in outcome.get("fixes") or []):
        return "not fixed"
    return "fixed" if outcome.get("changed") else "unchanged"


def compare_findings(before, after, outcomes=None, check_mode=False):
    """Before/after of a remediation: fixed, remaining and new finding keys, plus readable lines.

    A finding gone after the remediation is ``fixed`` only when the second diagnosis could read its
    cluster and peer and no failed action was to fix it; otherwise it is ``not_confirmed`` (a cluster
    down between plan and apply makes its findings vanish, it does not fix them). Every outcome gets a
    ``verdict`` (``action_verdict``); the counts cover the outcomes of every cluster given.
    """
    before = list(before or [])
    after = list(after or [])
    outcomes = [dict(o) for o in outcomes or [] if isinstance(o, dict)]
    before_keys = dict((key_of(f), f) for f in before)
    after_keys = dict((key_of(f), f) for f in after)
    unreadable = _unreadable(after)
    failed_fixes = set(k for o in outcomes if o.get("failed") for k in o.get("fixes") or [])
    gone = sorted(k for k in before_keys if k not in after_keys)
    not_confirmed = [k for k in gone if k in failed_fixes or field_of(before_keys[k], "cluster") in unreadable
                     or (field_of(before_keys[k], "peer") and field_of(before_keys[k], "peer") in unreadable)]
    fixed = [k for k in gone if k not in set(not_confirmed)]
    remaining = sorted(k for k in before_keys if k in after_keys)
    new = sorted(k for k in after_keys if k not in before_keys)
    cb, ca = _counts(before), _counts(after)
    for o in outcomes:
        o["verdict"] = action_verdict(o, after_keys, unreadable, check_mode)
    verdicts = {}
    for o in outcomes:
        verdicts[o["verdict"]] = verdicts.get(o["verdict"], 0) + 1
    changed = [o for o in outcomes if o.get("changed")]
    failed = [o for o in outcomes if o.get("failed")]
    clusters = len(set(o.get("cluster") for o in outcomes))
    lines = []
    if check_mode:
        lines.append("check mode: nothing was written (server-side dry run); %d action(s) on %d cluster(s) would "
                     "change something" % (len(changed), len(set(o.get("cluster") for o in changed))))
    else:
        lines.append("applied %d action(s) on %d cluster(s): %d changed, %d unchanged, %d failed" % (
            len(outcomes), clusters, len(changed), len(outcomes) - len(changed) - len(failed), len(failed)))
        lines.append("confirmed by the second diagnosis: %s" % (", ".join(
            "%d %s" % (verdicts[v], v) for v in ("fixed", "not fixed", "not confirmed", "unchanged", "failed",
                                                 "skipped") if verdicts.get(v)) or "nothing to confirm"))
    lines += ["%s %s [%s]: %s" % ("would change" if check_mode else o["verdict"], o.get("cluster"),
                                  o.get("category"), o.get("description"))
              for o in outcomes if o.get("changed") or (not check_mode and o["verdict"] == "not confirmed")]
    lines += ["FAILED %s [%s]: %s" % (o.get("cluster"), o.get("category"), o.get("msg")) for o in failed]
    if unreadable:
        lines.append("not confirmed: the second diagnosis could not read %s" % ", ".join(
            sorted(c for c in unreadable if c)))
    lines.append("before: %d error(s), %d warning(s); after: %d error(s), %d warning(s)" % (
        cb["error"], cb["warning"], ca["error"], ca["warning"]))
    lines += ["fixed     %s" % k for k in fixed]
    lines += ["not confirmed %s" % k for k in not_confirmed]
    lines += ["remaining %s" % k for k in remaining if field_of(after_keys[k], "severity") != "info"]
    lines += ["new       %s" % k for k in new]
    return {"before": cb, "after": ca, "fixed": fixed, "not_confirmed": not_confirmed, "remaining": remaining,
            "new": new, "changed": len(changed), "failed": len(failed), "actions": len(outcomes),
            "clusters": clusters, "unreadable": sorted(c for c in unreadable if c), "verdicts": verdicts,
            "outcomes": outcomes, "check_mode": bool(check_mode), "lines": lines}
