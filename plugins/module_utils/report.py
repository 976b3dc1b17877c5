# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report renderers of the diagnose pipeline (DESIGN.md sections 1 and 3).

Pure functions: ``build_report`` turns facts + findings into one JSON-safe document,
and ``render_json`` / ``render_markdown`` / ``render_html`` / ``render_junit`` turn that
document into text. No I/O here: the ``mesh_report`` action plugin writes the files.

The facts summary copies a fixed list of fields out of the facts (never the whole
facts): facts hold no credential, and a whitelist keeps it that way in the reports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import html
import json
import math
import xml.etree.ElementTree as ET

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import (
    CATALOGUE, REMEDIATE_CATEGORIES, SEVERITIES, finding_key, natural_key, should_fail, sort_findings,
    worst_severity,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.remediation import compare_findings

REPORT_SCHEMA = 1
REPORT_FILES = {
    "json": "meshmend-report.json",
    "markdown": "meshmend-report.md",
    "html": "meshmend-report.html",
    "junit": "meshmend-junit.xml",
}
DEFAULT_DOCS_URL = "docs/findings.md"
FAIL_ON_CHOICES = ("never", "warning", "error")

# Options of the mesh_report action (plugins/action/mesh_report.py); the doc-only module
# plugins/modules/mesh_report.py declares the same spec so its documentation is checked.
MESH_REPORT_ARGSPEC = dict(
    facts_var=dict(type="str", default="cluster_info"),
    facts=dict(type="dict"),
    hosts=dict(type="list", elements="str"),
    inventory_hosts=dict(type="list", elements="str"),
    report_dir=dict(type="path"),
    formats=dict(type="list", elements="str", default=list(REPORT_FILES), choices=list(REPORT_FILES)),
    fail_on=dict(type="str", default="error", choices=list(FAIL_ON_CHOICES)),
    check_options=dict(type="dict", default={}),
    time_areas=dict(type="bool", default=True),
    docs_url=dict(type="str", default=DEFAULT_DOCS_URL),
    title=dict(type="str", default="meshmend diagnosis"),
    # Set by the remediate role on its second diagnosis: the report gets a before/after section.
    previous_findings=dict(type="list", elements="dict"),
    remediation=dict(type="dict"),
)

# The troubleshooting guide's order: prerequisites first, then the guide's sections
# (firewall/connectivity, locality, root of trust, endpoints -> remote secrets /
# primary-remote, raw pod IPs -> gateway address / network of pods).
AREA_ORDER = ("cluster", "istio", "mesh", "connectivity", "locality", "trust", "endpoints",
              "remote_secret", "primary_remote", "eastwest_gateway", "network")
AREA_TITLES = {
    "cluster": "Cluster access",
    "istio": "Istio installation",
    "mesh": "Mesh identity",
    "connectivity": "Connectivity between clusters",
    "locality": "Locality load balancing",
    "trust": "Root of trust",
    "endpoints": "Proxy endpoints",
    "remote_secret": "Remote secrets",
    "primary_remote": "Primary-remote control plane",
    "eastwest_gateway": "East-west gateways",
    "network": "Network of pods and namespace",
}
# Areas the read-only diagnosis checks (connectivity.* comes from the active tests).
DIAGNOSE_AREAS = tuple(a for a in AREA_ORDER if a != "connectivity")
_SEV_RANK = {"error": 0, "warning": 1, "info": 2}


def area_of(finding_id):
    """``remote_secret.missing`` -> ``remote_secret``."""
    return (finding_id or "").split(".", 1)[0]


def _area_rank(area):
    try:
        return AREA_ORDER.index(area)
    except ValueError:
        return len(AREA_ORDER)


def guide_order_key(f):
    return (_area_rank(area_of(f["id"])), _SEV_RANK.get(f["severity"], 9),
            f.get("cluster") or "", f.get("peer") or "", f["id"])


# ---------------------------------------------------------------------------
# Facts summary (whitelisted fields only)

def _targets_of(model, cluster):
    """{(secret namespace, name, key): peer} of the remote-secret entries the model matched in ``cluster``."""
    return dict(((e["namespace"], e["name"], e["key"]), e["target"]) for e in model.get("remote_secrets") or []
                if e.get("cluster") == cluster and e.get("target"))


def summarize_facts(facts, view=None, targets=None):
    """Compact, credential-free summary of one cluster's facts for the reports.

    ``view`` is the cluster's entry of the mesh model (role, identity as the checks derived them);
    ``targets`` maps (secret namespace, name, key) to the peer the model matched the entry to.
    """
    facts = facts or {}
    view = view or {}
    targets = targets or {}
    istiod = facts.get("istiod") or {}
    summary = {
        "cluster": facts.get("cluster"),
        "context": facts.get("context"),
        "server": facts.get("server"),
        "reachable": bool(facts.get("reachable")),
        "error": facts.get("error"),
        "read_errors": len(facts.get("read_errors") or []),
        "kubernetes_version": facts.get("kubernetes_version"),
        "cluster_id": facts.get("cluster_id"),
        "network": facts.get("network"),
        "mesh_id": facts.get("mesh_id"),
        "role": view.get("role"),
        "declared": facts.get("declared"),
        "istiod": ({"name": istiod.get("name"), "version": istiod.get("version"),
                    "ready_replicas": istiod.get("ready_replicas"), "replicas": istiod.get("replicas")}
                   if facts.get("istiod") else None),
        "discovery_address": facts.get("discovery_address"),
        "requests": facts.get("requests"),
        "duration_s": facts.get("duration_s"),
    }
    gateways = []
    for gw in facts.get("gateways") or []:
        gateways.append({
            "namespace": gw.get("namespace"),
            "name": gw.get("name"),
            "type": gw.get("type"),
            "network_label": gw.get("network_label"),
            "gateway_port": gw.get("gateway_port"),
            "ports": [p.get("port") for p in gw.get("ports") or [] if isinstance(p, dict)],
            "addresses": [a.get("value") for a in gw.get("addresses") or [] if isinstance(a, dict)],
            "pending": bool(gw.get("pending")),
            "hostname_only": bool(gw.get("hostname_only")),
        })
    summary["gateways"] = gateways
    secrets = []
    for sec in facts.get("remote_secrets") or []:
        keys = []
        for entry in sec.get("entries") or []:
            probe = entry.get("probe") or {}
            keys.append({
                "key": entry.get("key"),
                "fingerprint": entry.get("fingerprint"),
                "server": entry.get("server"),
                "auth": entry.get("auth"),
                "error": entry.get("error"),
                "target": targets.get((sec.get("namespace"), sec.get("name"), entry.get("key"))),
                "probe_ok": probe.get("ok") if entry.get("probe") else None,
                "probe_error": probe.get("error") if entry.get("probe") else None,
            })
        secrets.append({"namespace": sec.get("namespace"), "name": sec.get("name"), "keys": keys})
    summary["remote_secrets"] = secrets
    cacerts = facts.get("cacerts") or {}
    summary["roots"] = {
        "cacerts_root": (cacerts.get("root") or {}).get("fingerprint"),
        "cacerts_ca": (cacerts.get("ca") or {}).get("fingerprint"),
        "ca_root_cert": (facts.get("ca_root_cert") or {}).get("fingerprint"),
        "chain_valid": cacerts.get("chain_valid") if facts.get("cacerts") else None,
    }
    proxy = facts.get("proxy")
    if proxy:
        rows = []
        for ep in proxy.get("endpoints") or []:
            loc = ep.get("locality") or {}
            rows.append({"address": ep.get("address"), "port": ep.get("port"), "status": ep.get("status"),
                         "locality": "/".join(x for x in (loc.get("region"), loc.get("zone")) if x) or None})
        summary["proxy"] = {"pod": proxy.get("pod"), "service": proxy.get("service"), "port": proxy.get("port"),
                            "error": proxy.get("error"), "endpoints": rows}
    else:
        summary["proxy"] = None
    return summary


# ---------------------------------------------------------------------------
# The report document

def severity_counts(findings):
    counts = dict((s, 0) for s in SEVERITIES)
    for f in findings:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    return counts


def build_report(facts_by_cluster, findings, out_of_play=None, fail_on="error", timing=None,
                 generated_at=None, areas=None, previous_findings=None, remediation=None, model=None):
    """The JSON-safe report document every renderer reads.

    ``findings``: finding dicts (``Finding.to_dict()``). ``timing``: ``{"analysis_s": x,
    "areas": {area: s}}`` as measured by the caller. ``out_of_play``: inventory clusters
    left out of the play (``--limit``). ``previous_findings`` (the findings before a
    remediation) and ``remediation`` (what the remediate role did) add ``report["remediation"]``,
    the before/after section (see ``remediation_section``).
    """
    findings = sort_findings([dict(f) for f in findings])
    for f in findings:
        f.setdefault("key", finding_key(f))
    if generated_at is None:
        generated_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    in_play = sorted(facts_by_cluster, key=natural_key)
    counts = severity_counts(findings)
    counts["total"] = len(findings)
    if model is None:
        # the model of these facts, its links' states set by these findings
        from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.model import Mesh
        model = Mesh(facts_by_cluster, {"out_of_play": out_of_play or []}).to_dict(findings)
    views = model.get("clusters") or {}
    summaries = dict((name, summarize_facts(facts_by_cluster[name], views.get(name), _targets_of(model, name)))
                     for name in in_play)
    requests = dict((name, summaries[name]["requests"]) for name in in_play)
    req_values = [v for v in requests.values() if isinstance(v, (int, float))]
    timing = dict(timing or {})
    timing["gather_s"] = dict((name, summaries[name]["duration_s"]) for name in in_play)
    report = {
        "schema": REPORT_SCHEMA,
        "generator": "meshmend.multicluster.mesh_report",
        "generated_at": generated_at,
        "clusters": {"in_play": in_play, "out_of_play": sorted(out_of_play or [], key=natural_key)},
        "areas": list(areas or DIAGNOSE_AREAS),
        "fail_on": fail_on,
        "failed": should_fail(findings, fail_on),
        "summary": {
            "counts": counts,
            "worst": worst_severity(findings),
            "clusters": len(in_play),
            # a gather that stopped part way (error set) is reported unreachable too
            "unreachable": sorted(n for n in in_play
                                  if not summaries[n]["reachable"] or (facts_by_cluster[n] or {}).get("error")),
            "by_cluster": dict((n, severity_counts([f for f in findings if f.get("cluster") == n]))
                               for n in in_play),
        },
        "findings": findings,
        "facts": summaries,
        "timing": timing,
        # the mesh model the checks derived (roles, identities, networks, remote-secret links); the
        # per-entry list stays out (the facts summaries carry each entry with its target)
        "model": dict((k, v) for k, v in model.items() if k != "remote_secrets"),
        "requests": {"per_cluster": requests, "total": sum(req_values),
                     "max": max(req_values) if req_values else None},
    }
    if previous_findings is not None:
        report["remediation"] = remediation_section(previous_findings, findings, remediation)
    return report


# ---------------------------------------------------------------------------
# Before / after remediation (the remediate role's second diagnosis)

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
    listed = set(section["fixed"]) | set(section["remaining"]) | set(section["new"])
    section["findings"] = dict((k, v) for k, v in by_key.items() if k in listed)
    section["outcomes"] = outcomes
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


def finding_lines(findings):
    """One line per finding for the play output: ``error remote_secret.missing cluster2 -> cluster1: ...``."""
    return ["%s %s %s: %s" % (f["severity"], f["id"], _where(f).replace("\u2192", "->"), f.get("message"))
            for f in findings]


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"


# ---------------------------------------------------------------------------
# symptom -> cause -> remedy

def cause_tree(findings):
    """Findings as a forest: symptoms at the roots, their ``caused_by`` below.

    Returns a list of nodes ``{"finding": f, "causes": [node...], "missing": [key...]}``
    in the guide's order. A cause that explains several symptoms shows under each;
    cycles are cut; findings only reachable through a cycle still show at the top.
    """
    by_key = dict((f.get("key") or finding_key(f), f) for f in findings)
    referenced = set()
    for f in findings:
        referenced.update(k for k in f.get("caused_by") or [] if k in by_key)

    def node(f, seen):
        key = f.get("key") or finding_key(f)
        seen = seen | {key}
        causes, missing = [], []
        for ck in f.get("caused_by") or []:
            if ck in seen:
                continue
            if ck in by_key:
                causes.append(node(by_key[ck], seen))
            else:
                missing.append(ck)
        causes.sort(key=lambda n: guide_order_key(n["finding"]))
        return {"finding": f, "causes": causes, "missing": missing}

    roots = [f for f in findings if (f.get("key") or finding_key(f)) not in referenced]
    tree = [node(f, frozenset()) for f in sorted(roots, key=guide_order_key)]
    shown = set()

    def walk(n):
        shown.add(n["finding"].get("key") or finding_key(n["finding"]))
        for c in n["causes"]:
            walk(c)
    for n in tree:
        walk(n)
    for f in sorted(findings, key=guide_order_key):
        key = f.get("key") or finding_key(f)
        if key not in shown:
            n = node(f, frozenset())
            tree.append(n)
            walk(n)
    return tree


def _where(f):
    where = f.get("cluster") or "mesh"
    if f.get("peer"):
        where += " \u2192 %s" % f["peer"]
    return where


def _names_category(f):
    """True when the remedy should add its remediate category (the text does not say it yet)."""
    return bool(f.get("category")) and f["category"] not in (f.get("remedy") or "")


def _anchor(docs_url, fid):
    return "%s#%s" % (docs_url, fid)


# ---------------------------------------------------------------------------
# Markdown

def _md(text):
    """Inline Markdown text: keep it on one line, neutralise table pipes and HTML."""
    if text is None:
        return ""
    text = str(text).replace("\r", " ").replace("\n", " ")
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _md_code(text):
    text = _md(text).replace("`", "'")
    return "`%s`" % text if text else ""


_SEV_MARK = {"error": "\u274c error", "warning": "\u26a0\ufe0f warning", "info": "\u2139\ufe0f info"}


def _md_evidence(evidence):
    if not evidence:
        return ""
    parts = []
    for k in sorted(evidence):
        v = evidence[k]
        if not isinstance(v, str):
            v = json.dumps(v, sort_keys=True, default=str)
        if len(v) > 200:
            v = v[:197] + "..."
        parts.append("%s=%s" % (k, v))
    return _md_code("; ".join(parts))


def _md_node(n, depth, docs_url, lines):
    f = n["finding"]
    pad = "  " * depth
    label = "caused by" if depth else _SEV_MARK.get(f["severity"], f["severity"])
    if depth:
        label += " (%s)" % f["severity"]
    lines.append("%s- **%s** [`%s`](%s) on **%s**: %s" % (
        pad, label, f["id"], _anchor(docs_url, f["id"]), _md(_where(f)), _md(f.get("message"))))
    if f.get("resource"):
        lines.append("%s  - resource: %s" % (pad, _md_code(f["resource"])))
    if f.get("evidence"):
        lines.append("%s  - evidence: %s" % (pad, _md_evidence(f["evidence"])))
    for c in n["causes"]:
        _md_node(c, depth + 1, docs_url, lines)
    for k in n["missing"]:
        lines.append("%s  - caused by %s (not in this report)" % (pad, _md_code(k)))
    if f.get("remedy") and (not n["causes"] or depth):
        cat = " (remediate category `%s`)" % f["category"] if _names_category(f) else ""
        lines.append("%s  - **remedy**: %s%s" % (pad, _md(f["remedy"]), cat))


def _gateway_text(summary):
    parts = []
    for gw in summary.get("gateways") or []:
        if gw["pending"]:
            parts.append("%s: pending" % gw["name"])
        elif gw["addresses"]:
            parts.append("%s: %s" % (gw["name"], ", ".join(str(a) for a in gw["addresses"])))
        else:
            parts.append("%s: no address" % gw["name"])
    return "; ".join(parts) or "none"


def _secrets_text(summary):
    parts = []
    for sec in summary.get("remote_secrets") or []:
        keys = ",".join(str(k.get("key")) for k in sec["keys"])
        parts.append("%s/%s [%s]" % (sec["namespace"], sec["name"], keys))
    return "; ".join(parts) or "none"


# Before / after remediation, shared by Markdown and HTML

CHECK_MODE_LEAD = "Check mode: nothing was written"
CHECK_MODE_NOTE = ("(every write was a server-side dry run). "
                   "The \"after\" is a preview: the clusters are unchanged, so their findings are the same; "
                   "the actions show what a run without --check would change.")
MANUAL_NOTE = "No remediate category fixes these findings: follow the steps (the troubleshooting guide's)."


def _item_where(item):
    return _where({"cluster": item.get("cluster"), "peer": item.get("peer")})


def _manual_state(m, check_mode=False):
    if m.get("open") and m.get("resolved_by_plan"):
        return ("still open, expected to clear with the planned fixes" if check_mode
                else "still open, though the plan fixed its causes")
    if m.get("open"):
        return "still open"
    return "cleared with its causes" if m.get("resolved_by_plan") else "cleared"


def _outcome_result(o, check_mode):
    """(css state, text) of one applied action."""
    if o.get("failed"):
        return "failed", "failed: %s" % (o.get("msg") or "no message")
    if o.get("skipped"):
        return "skipped", "skipped"
    if o.get("changed"):
        return "changed", "would change" if check_mode else "changed"
    return "ok", "no change needed" if check_mode else "unchanged"


def _key_finding(rem, key):
    """The brief finding of a key (id parsed from the key when the section has no entry)."""
    f = (rem.get("findings") or {}).get(key)
    if f:
        return f
    fid, _sep, rest = str(key).partition("@")
    cluster, _sep, peer = rest.partition("->")
    return {"key": key, "id": fid, "severity": None, "cluster": cluster or None, "peer": peer or None,
            "message": None}


def _count_text(rem, sev):
    return "%d \u2192 %d" % ((rem.get("before") or {}).get(sev, 0), (rem.get("after") or {}).get(sev, 0))


def _md_finding_link(docs_url, fid):
    if not fid:
        return "-"
    return "[%s](%s)" % (_md_code(fid), _md(_anchor(docs_url, fid)))


def _md_remediation(rem, docs_url):
    check = rem.get("check_mode")
    lines = ["## Before / after remediation%s" % (" (check mode: preview, nothing written)" if check else ""), ""]
    if check:
        lines += ["> **%s** %s" % (_md(CHECK_MODE_LEAD), _md(CHECK_MODE_NOTE)), ""]
    cats = rem.get("categories") or []
    lines.append("Categories asked: %s. Actions: %d, %s %d, failed %d." % (
        ", ".join(_md_code(c) for c in cats) or "none", len(rem.get("outcomes") or []),
        "would change" if check else "changed", rem.get("changed", 0), rem.get("failed", 0)))
    lines += ["", "| findings | before | after |", "|---|---|---|"]
    for sev in SEVERITIES:
        lines.append("| %s | %d | %d |" % (
            sev, (rem.get("before") or {}).get(sev, 0), (rem.get("after") or {}).get(sev, 0)))
    lines.append("")
    infos = 0
    groups = (("Fixed", rem.get("fixed")), ("Remaining", rem.get("remaining")), ("New", rem.get("new")))
    if check:
        groups = (("Would be fixed by the actions", rem.get("would_fix")),) + groups
    for label, keys in groups:
        shown = []
        for k in keys or []:
            f = _key_finding(rem, k)
            if label == "Remaining" and f.get("severity") == "info":
                infos += 1  # info findings are by design: counted, not listed
                continue
            shown.append(f)
        lines.append("### %s (%d)" % (label, len(shown)))
        lines.append("")
        if not shown:
            lines.append("none")
        for f in shown:
            sev = (" (%s)" % _md(f["severity"])) if f.get("severity") else ""
            lines.append("- %s%s on **%s**%s" % (_md_finding_link(docs_url, f["id"]), sev, _md(_where(f)),
                                                 (": " + _md(f["message"])) if f.get("message") else ""))
        if label == "Remaining" and infos:
            lines.append("- and %d info finding(s) (by design, not listed)" % infos)
        lines.append("")
    lines += ["### Actions", ""]
    if not rem.get("outcomes"):
        lines += ["No action was planned.", ""]
    else:
        lines += ["| cluster | category | what | result |", "|---|---|---|---|"]
        for o in rem["outcomes"]:
            state, text = _outcome_result(o, check)
            lines.append("| %s | %s | %s | %s |" % (
                _md(o.get("cluster")), _md_code(o.get("category")), _md(o.get("description")),
                ("**%s**" % _md(text)) if state == "failed" else _md(text)))
        lines.append("")
    for title, items in (("Skipped", rem.get("skipped")), ("Not asked", rem.get("not_asked"))):
        if not items:
            continue
        lines += ["### %s" % title, "", "| finding | where | category | reason |", "|---|---|---|---|"]
        for it in items:
            lines.append("| %s | %s | %s | %s |" % (
                _md_finding_link(docs_url, it.get("id")), _md(_item_where(it)), _md_code(it.get("category")),
                _md(it.get("reason"))))
        lines.append("")
    if rem.get("manual"):
        lines += ["### Manual steps", "", _md(MANUAL_NOTE), ""]
        for m in rem["manual"]:
            state = _manual_state(m, check)
            lines.append("- %s (%s) on **%s** (%s)%s" % (
                _md_finding_link(docs_url, m.get("id")), _md(m.get("severity")), _md(_where(m)), _md(state),
                (": " + _md(m["message"])) if m.get("message") else ""))
            for step in m.get("steps") or []:
                lines.append("  - %s" % _md(step))
            if m.get("caused_by"):
                lines.append("  - caused by %s" % ", ".join(
                    "%s on %s" % (_md_finding_link(docs_url, c["id"]), _md(_where(c)))
                    for c in (_key_finding(rem, k) for k in m["caused_by"])))
        lines.append("")
    return lines


def render_markdown(report, docs_url=DEFAULT_DOCS_URL):
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
                     ", ".join(_md_code(n) for n in report["clusters"]["out_of_play"]))
        lines.append("")
    if report.get("remediation"):
        lines += _md_remediation(report["remediation"], docs_url)
    lines += ["## Clusters", "",
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
            _md(_gateway_text(f)), _md(_secrets_text(f)),
            str(bc.get("error", 0)), str(bc.get("warning", 0)), _md(f["requests"])]))
    lines.append("")
    lines += ["## Findings", ""]
    if not report["findings"]:
        lines += ["No findings: cross-cluster load balancing has nothing in its way that meshmend checks.", ""]
    tree = cause_tree(report["findings"])
    current = None
    for n in tree:
        area = area_of(n["finding"]["id"])
        if area != current:
            current = area
            lines += ["", "### %s" % AREA_TITLES.get(area, area), ""]
        _md_node(n, 0, docs_url, lines)
    lines.append("")
    timing = report.get("timing") or {}
    if timing.get("areas"):
        lines += ["## Timing", "", "| check area | seconds |", "|---|---|"]
        for area in timing["areas"]:
            lines.append("| %s | %.4f |" % (_md(area), timing["areas"][area]))
        lines.append("")
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


# ---------------------------------------------------------------------------
# JUnit

def render_junit(report, fail_on=None):
    """One testcase per check area per cluster.

    A testcase passes when the area has no finding on that cluster; otherwise one
    testcase per finding id, named ``area/id``. Errors are ``<failure>``; warnings
    are ``<failure>`` only when fail_on is ``warning`` (else reported in system-out,
    like info findings): the JUnit verdict matches the exit status policy, except
    that errors stay failures even with fail_on=never (the report does not hide them).
    Out-of-play clusters get ``<skipped>`` cases; so do the other areas of an
    unreachable cluster.
    """
    fail_on = fail_on or report.get("fail_on") or "error"
    areas = report.get("areas") or list(DIAGNOSE_AREAS)
    by_cluster = {}
    for f in report["findings"]:
        by_cluster.setdefault(f.get("cluster") or "mesh", []).append(f)
    root = ET.Element("testsuites", name="meshmend diagnose")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
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
        findings = by_cluster.get(cname, [])
        facts = report["facts"].get(cname) or {}
        unreachable = facts and not facts.get("reachable")
        present_areas = list(areas)
        for f in findings:
            if area_of(f["id"]) not in present_areas:
                present_areas.append(area_of(f["id"]))
        for area in present_areas:
            in_area = [f for f in findings if area_of(f["id"]) == area]
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
                body = "\n".join(_junit_text(f) for f in group)
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
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("errors", "0")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _junit_text(f):
    lines = ["[%s] %s on %s: %s" % (f["severity"], f["id"], _where(f), f.get("message"))]
    if f.get("resource"):
        lines.append("  resource: %s" % f["resource"])
    if f.get("evidence"):
        lines.append("  evidence: %s" % json.dumps(f["evidence"], sort_keys=True, default=str))
    if f.get("caused_by"):
        lines.append("  caused by: %s" % ", ".join(f["caused_by"]))
    if f.get("remedy"):
        lines.append("  remedy: %s" % f["remedy"])
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# HTML with an SVG picture of the mesh

def _e(text):
    return html.escape("" if text is None else str(text), quote=True)


def mesh_links(report):
    """Remote-secret links ``A -> B`` (istiod in A reads B) with their state, as the checks' model has them:
    a link exists where a secret provides B or a remote-secret finding names the pair; ``error`` when an
    error finding names it, ``warning`` for warnings or no secret, else ``ok``."""
    return list((report.get("model") or {}).get("links") or [])


_CSS = """
:root{--bg:#f6f7fb;--card:#fff;--ink:#1d2433;--muted:#667085;--line:#d0d5dd;--ok:#12b76a;--warn:#f79009;--err:#d92d20;--info:#2e90fa;--net:#eef4ff}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#101828;color:#fff;padding:20px 32px}header h1{margin:0;font-size:22px;font-weight:650}header p{margin:4px 0 0;color:#d0d5dd}
main{padding:24px 32px;max-width:1400px;margin:auto}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:20px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 18px;min-width:140px}
.card b{display:block;font-size:26px;line-height:1.2}.card span{color:var(--muted)}
.card.error b{color:var(--err)}.card.warning b{color:var(--warn)}.card.info b{color:var(--info)}.card.pass b{color:var(--ok)}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 22px;margin-bottom:20px}
h2{margin:0 0 12px;font-size:18px}h3{margin:18px 0 8px;font-size:15px;color:#344054}
.svgwrap{overflow-x:auto}svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #eaecf0;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f9fafb;color:#475467;font-weight:600}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f2f4f7;border-radius:4px;padding:1px 4px;word-break:break-all}
.sev{display:inline-block;border-radius:999px;padding:0 8px;font-size:12px;font-weight:600;color:#fff}
.sev.error{background:var(--err)}.sev.warning{background:var(--warn)}.sev.info{background:var(--info)}
details{border:1px solid #eaecf0;border-left:4px solid var(--line);border-radius:8px;padding:8px 12px;margin:8px 0;background:#fff}
details.error{border-left-color:var(--err)}details.warning{border-left-color:var(--warn)}details.info{border-left-color:var(--info)}
details details{margin-left:8px;background:#fcfcfd}summary{cursor:pointer}summary .where{color:var(--muted)}
.remedy{background:#ecfdf3;border:1px solid #abefc6;border-radius:6px;padding:6px 10px;margin-top:6px}
.remedy b{color:#067647}.muted{color:var(--muted)}.cause-label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.ok{color:var(--ok)}.bad{color:var(--err)}
.notice{background:#fffaeb;border:1px solid #fedf89;border-radius:6px;padding:8px 12px}
.tag{display:inline-block;border-radius:999px;padding:0 8px;font-size:12px;font-weight:600;background:#fef0c7;color:#b54708}
ul.would li,ul.fixed li,ul.remaining li,ul.new li{margin:4px 0}ol.steps{margin:6px 0}
"""


def _svg_text(x, y, text, size=12, weight="normal", fill="#1d2433", anchor="start", cls=None):
    return '<text x="%.1f" y="%.1f" font-size="%d" font-weight="%s" fill="%s" text-anchor="%s"%s>%s</text>' % (
        x, y, size, weight, fill, anchor, ' class="%s"' % cls if cls else "", _e(text))


def _clip(text, n):
    text = "" if text is None else str(text)
    return text if len(text) <= n else text[:n - 1] + "\u2026"


def render_svg(report, max_links=None):
    """The mesh picture: clusters as boxes grouped by network, east-west gateways with
    their addresses, remote-secret links (arrow A -> B: istiod in A reads B).

    Broken parts are red: a cluster with an error finding, a remote-secret link with an
    error, a gateway without an address. With many clusters only broken links are drawn
    (``max_links``, default: all links up to 12 clusters) so the picture stays readable.
    """
    facts = report["facts"]
    in_play = report["clusters"]["in_play"]
    by_cluster = report["summary"]["by_cluster"]
    groups = {}
    for name in in_play:
        net = facts[name].get("network") if facts[name].get("reachable") else None
        label = net if net else ("unreachable" if not facts[name].get("reachable") else "no network")
        groups.setdefault(label, []).append(name)
    order = sorted(groups, key=lambda g: (g in ("no network", "unreachable"), natural_key(g)))
    if report["clusters"]["out_of_play"]:
        groups["out of play"] = list(report["clusters"]["out_of_play"])
        order.append("out of play")

    box_w, box_h, gap, pad, head = 230, 92, 26, 18, 34
    max_w = 1300
    if max_links is None:
        max_links = 10 ** 6 if len(in_play) <= 12 else 0
    # Room between network panels for the links; tighter when only broken links are drawn.
    panel_gap = 130 if max_links else 50
    panels = []
    x, y, row_h = 20, 20, 0
    for g in order:
        names = groups[g]
        n = len(names)
        cols = 1 if n <= 3 else (2 if n <= 8 else 3)
        rows = int(math.ceil(n / float(cols)))
        pw = cols * box_w + (cols - 1) * gap + 2 * pad
        ph = head + rows * box_h + (rows - 1) * gap + pad
        if x + pw > max_w and x > 20:
            x, y, row_h = 20, y + row_h + 30, 0
        panels.append((g, names, x, y, pw, ph, cols))
        x += pw + panel_gap
        row_h = max(row_h, ph)
    width = max([p[2] + p[4] for p in panels] + [1060]) + 20
    height = y + row_h + 70

    pos = {}
    panel_svg = []
    for g, names, px, py, pw, ph, cols in panels:
        special = g in ("out of play", "unreachable", "no network")
        panel_svg.append('<g class="network" data-network="%s">' % _e(g))
        panel_svg.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="14" fill="%s" stroke="%s" '
                         'stroke-width="1.5"%s/>' % (px, py, pw, ph, "#f2f4f7" if special else "#eef4ff",
                                                     "#98a2b3" if special else "#84adff",
                                                     ' stroke-dasharray="6 4"' if special else ""))
        title = g if special else "network %s" % g
        panel_svg.append(_svg_text(px + pad, py + 22, _clip(title, 40), size=13, weight="600",
                                   fill="#475467" if special else "#1849a9"))
        panel_svg.append("</g>")
        for i, name in enumerate(names):
            cx = px + pad + (i % cols) * (box_w + gap)
            cy = py + head + (i // cols) * (box_h + gap)
            pos[name] = (cx, cy)
    # Links first so boxes draw over the line ends.
    links = mesh_links(report)
    drawn = [lk for lk in links if lk["source"] in pos and lk["target"] in pos]
    healthy = [lk for lk in drawn if lk["state"] == "ok"]
    broken = [lk for lk in drawn if lk["state"] != "ok"]
    hidden = 0
    if len(healthy) > max_links:
        hidden = len(healthy)
        healthy = []
    under, over = [], []
    for lk in healthy + broken:
        # Healthy links go under the boxes; broken ones over them, so a fault is never hidden.
        link_svg = under if lk["state"] == "ok" else over
        sx, sy = pos[lk["source"]]
        tx, ty = pos[lk["target"]]
        x1, y1 = sx + box_w / 2.0, sy + box_h / 2.0
        x2, y2 = tx + box_w / 2.0, ty + box_h / 2.0
        dx, dy = x2 - x1, y2 - y1
        dist = math.hypot(dx, dy) or 1.0
        # Clip both ends to the boxes' borders, then bend to the right so A->B and B->A separate.
        t1 = min((box_w / 2.0 + 4) / abs(dx) if dx else 1e9, (box_h / 2.0 + 4) / abs(dy) if dy else 1e9)
        ax, ay = x1 + dx * t1, y1 + dy * t1
        bx, by = x2 - dx * t1, y2 - dy * t1
        nx, ny = -dy / dist, dx / dist
        bend = 22 if dist > 60 else 8
        mx, my = (ax + bx) / 2.0 + nx * bend, (ay + by) / 2.0 + ny * bend
        color = {"ok": "#12b76a", "warning": "#f79009", "error": "#d92d20"}[lk["state"]]
        dash = ' stroke-dasharray="7 5"' if lk["secret"] is None else ""
        tip = "remote secret: istiod in %s reads %s (%s)%s" % (
            lk["source"], lk["target"], lk["secret"] or "missing",
            (": " + ", ".join(lk["ids"])) if lk["ids"] else "")
        link_svg.append('<g class="link link-%s" data-source="%s" data-target="%s"><title>%s</title>'
                        '<path d="M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f" fill="none" stroke="%s" stroke-width="%s"%s '
                        'marker-end="url(#arrow-%s)"/>' % (
                            lk["state"], _e(lk["source"]), _e(lk["target"]), _e(tip), ax, ay, mx, my, bx, by,
                            color, "2.5" if lk["state"] != "ok" else "1.6", dash, lk["state"]))
        if lk["state"] != "ok":
            label = "missing" if lk["secret"] is None else ", ".join(i.split(".", 1)[-1] for i in lk["ids"])
            # Label on the outer side of the bend, clear of the curve.
            lx, ly = mx + nx * 10, my + ny * 10 + (4 if ny > 0 else -4)
            link_svg.append(_svg_text(lx, ly, _clip(label, 34), size=11, weight="600", fill=color,
                                      anchor="middle", cls="link-label"))
        link_svg.append("</g>")
    box_svg = []
    for g, names, px, py, pw, ph, cols in panels:
        for name in names:
            cx, cy = pos[name]
            box_svg.append(_cluster_box(report, name, cx, cy, box_w, box_h, g == "out of play",
                                        by_cluster.get(name, {})))
    legend_y = height - 34
    legend = [
        '<g class="legend" transform="translate(20,%.1f)">' % legend_y,
        '<path d="M0,8 L40,8" stroke="#12b76a" stroke-width="1.6" marker-end="url(#arrow-ok)"/>',
        _svg_text(48, 12, "remote secret: istiod in A reads B", size=11, fill="#475467"),
        '<path d="M270,8 L310,8" stroke="#d92d20" stroke-width="2.5" stroke-dasharray="7 5" marker-end="url(#arrow-error)"/>',
        _svg_text(318, 12, "missing or failing link", size=11, fill="#475467"),
        '<rect x="480" y="0" width="16" height="16" rx="3" fill="#fef3f2" stroke="#d92d20" stroke-width="2"/>',
        _svg_text(502, 12, "cluster with errors", size=11, fill="#475467"),
        '<rect x="630" y="2" width="28" height="12" rx="6" fill="#fff" stroke="#7a5af8"/>',
        _svg_text(664, 12, "east-west gateway address", size=11, fill="#475467"),
    ]
    if hidden:
        legend.append(_svg_text(840, 12, "%d healthy links not drawn (%d clusters)" % (hidden, len(in_play)),
                                size=11, fill="#667085"))
    legend.append("</g>")
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="mesh picture" '
           'font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif" '
           'width="%d" height="%d" viewBox="0 0 %d %d">' % (width, height, width, height),
           "<defs>"]
    for state, color in (("ok", "#12b76a"), ("warning", "#f79009"), ("error", "#d92d20")):
        svg.append('<marker id="arrow-%s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="10" markerHeight="10" '
                   'markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>' % (state, color))
    svg.append('<filter id="shadow" x="-10%" y="-10%" width="120%" height="130%">'
               '<feDropShadow dx="0" dy="1" stdDeviation="1.5" flood-color="#101828" flood-opacity="0.12"/></filter>')
    svg.append("</defs>")
    # Drawing order: network panels, healthy links, boxes over their ends, broken links on top.
    svg.extend(panel_svg)
    svg.extend(under)
    svg.extend(box_svg)
    svg.extend(over)
    svg.extend(legend)
    svg.append("</svg>")
    return "\n".join(svg)


def _cluster_box(report, name, x, y, w, h, out_of_play, counts):
    f = report["facts"].get(name) or {}
    errors, warnings = counts.get("error", 0), counts.get("warning", 0)
    if out_of_play:
        fill, stroke, state = "#f9fafb", "#98a2b3", "out-of-play"
    elif errors or not f.get("reachable"):
        fill, stroke, state = "#fef3f2", "#d92d20", "error"
    elif warnings:
        fill, stroke, state = "#fffaeb", "#f79009", "warning"
    else:
        fill, stroke, state = "#ffffff", "#12b76a", "ok"
    parts = ['<g class="cluster cluster-%s" data-cluster="%s"><title>%s</title>' % (
        state, _e(name), _e("%s: %d error(s), %d warning(s)" % (name, errors, warnings)))]
    parts.append('<rect x="%.1f" y="%.1f" width="%d" height="%d" rx="10" fill="%s" stroke="%s" stroke-width="%s" '
                 'filter="url(#shadow)"%s/>' % (x, y, w, h, fill, stroke, "2.5" if state == "error" else "1.5",
                                                ' stroke-dasharray="5 4"' if out_of_play else ""))
    parts.append(_svg_text(x + 12, y + 20, _clip(name, 26), size=14, weight="700", cls="cluster-name"))
    if out_of_play:
        parts.append(_svg_text(x + 12, y + 40, "out of play: not diagnosed", size=11, fill="#667085"))
        parts.append("</g>")
        return "".join(parts)
    if not f.get("reachable"):
        parts.append(_svg_text(x + 12, y + 40, "API server unreachable", size=11, weight="600", fill="#d92d20"))
        parts.append(_svg_text(x + 12, y + 56, _clip(f.get("error") or "", 36), size=10, fill="#667085"))
    else:
        istiod = f.get("istiod") or {}
        line = "id %s \u00b7 %s" % (f.get("cluster_id") or "?", f.get("role") or "no istio")
        if istiod.get("version"):
            line += " \u00b7 %s" % istiod["version"]
        parts.append(_svg_text(x + 12, y + 38, _clip(line, 38), size=11, fill="#475467"))
        gws = f.get("gateways") or []
        gy = y + 50
        if not gws:
            parts.append(_svg_text(x + 12, gy + 12, "no east-west gateway", size=11, fill="#667085"))
        for gw in gws[:1]:
            if gw["pending"] or not gw["addresses"]:
                text, gstroke, gfill, tfill = "gateway <pending>", "#d92d20", "#fef3f2", "#d92d20"
            else:
                text = "\u21c4 %s:%s" % (", ".join(str(a) for a in gw["addresses"][:2]), gw.get("gateway_port") or 15443)
                gstroke, gfill, tfill = "#7a5af8", "#f4f3ff", "#5925dc"
            text = _clip(text, 32)
            parts.append('<g class="gateway" data-pending="%s"><rect x="%.1f" y="%.1f" width="%d" height="18" '
                         'rx="9" fill="%s" stroke="%s"/>' % ("true" if gw["pending"] else "false",
                                                             x + 10, gy, min(w - 20, 18 + 6.5 * len(text)), gfill, gstroke))
            parts.append(_svg_text(x + 18, gy + 13, text, size=11, weight="600", fill=tfill))
            parts.append("</g>")
        badge = []
        if errors:
            badge.append("%d error%s" % (errors, "" if errors == 1 else "s"))
        if warnings:
            badge.append("%d warning%s" % (warnings, "" if warnings == 1 else "s"))
        parts.append(_svg_text(x + 12, y + h - 8, " \u00b7 ".join(badge) or "\u2713 healthy", size=11, weight="600",
                               fill="#d92d20" if errors else ("#b54708" if warnings else "#067647")))
    parts.append("</g>")
    return "".join(parts)


def _html_node(n, depth, docs_url):
    f = n["finding"]
    out = ['<details class="%s"%s>' % (_e(f["severity"]), " open" if depth < 2 else "")]
    label = '<span class="cause-label">caused by</span> ' if depth else ""
    out.append('<summary>%s<span class="sev %s">%s</span> <a href="%s"><code>%s</code></a> '
               '<span class="where">%s</span> \u2014 %s</summary>' % (
                   label, _e(f["severity"]), _e(f["severity"]), _e(_anchor(docs_url, f["id"])), _e(f["id"]),
                   _e(_where(f)), _e(f.get("message"))))
    if f.get("resource"):
        out.append('<div>resource <code>%s</code></div>' % _e(f["resource"]))
    if f.get("evidence"):
        out.append('<div class="muted">evidence <code>%s</code></div>' % _e(
            json.dumps(f["evidence"], sort_keys=True, default=str)))
    for c in n["causes"]:
        out.append(_html_node(c, depth + 1, docs_url))
    for k in n["missing"]:
        out.append('<div class="muted">caused by <code>%s</code> (not in this report)</div>' % _e(k))
    if f.get("remedy") and (not n["causes"] or depth):
        cat = (' <span class="muted">(remediate category <code>%s</code>)</span>' % _e(f["category"])
               if _names_category(f) else "")
        out.append('<div class="remedy"><b>Remedy</b> %s%s</div>' % (_e(f["remedy"]), cat))
    out.append("</details>")
    return "".join(out)


def _html_finding_link(docs_url, fid):
    if not fid:
        return "-"
    return '<a href="%s"><code>%s</code></a>' % (_e(_anchor(docs_url, fid)), _e(fid))


def _html_remediation(rem, docs_url):
    check = rem.get("check_mode")
    out = ['<section class="remediation" id="remediation"><h2>Before / after remediation%s</h2>' % (
        " <span class=\"tag\">check mode: preview</span>" if check else "")]
    if check:
        out.append('<p class="notice"><b>%s</b> %s</p>' % (_e(CHECK_MODE_LEAD), _e(CHECK_MODE_NOTE)))
    cats = rem.get("categories") or []
    out.append("<p>Categories asked: %s \u00b7 %d action(s), %d %s, %d failed</p>" % (
        ", ".join("<code>%s</code>" % _e(c) for c in cats) or "none", len(rem.get("outcomes") or []),
        rem.get("changed", 0), "would change" if check else "changed", rem.get("failed", 0)))
    out.append('<div class="cards">')
    for sev in SEVERITIES:
        out.append('<div class="card %s"><b>%s</b><span>%s before \u2192 after</span></div>' % (
            _e(sev), _e(_count_text(rem, sev)), _e(sev)))
    for label, keys in (("fixed", rem.get("fixed")), ("new", rem.get("new"))):
        out.append('<div class="card %s"><b>%d</b><span>%s</span></div>' % (
            "pass" if label == "fixed" else ("error" if keys else ""), len(keys or []), label))
    out.append("</div>")
    groups = (("Fixed", rem.get("fixed")), ("Remaining", rem.get("remaining")), ("New", rem.get("new")))
    if check:
        groups = (("Would be fixed by the actions", rem.get("would_fix")),) + groups
    for label, keys in groups:
        shown = [f for f in (_key_finding(rem, k) for k in keys or [])
                 if not (label == "Remaining" and f.get("severity") == "info")]
        infos = len(keys or []) - len(shown)
        out.append('<h3>%s (%d)</h3>' % (_e(label), len(shown)))
        if not shown:
            out.append('<p class="muted">none</p>')
        else:
            out.append('<ul class="%s">' % _e(label.split()[0].lower()))
            for f in shown:
                sev = f.get("severity")
                out.append('<li>%s %s <span class="where">%s</span>%s</li>' % (
                    ('<span class="sev %s">%s</span>' % (_e(sev), _e(sev))) if sev else "",
                    _html_finding_link(docs_url, f.get("id")), _e(_where(f)),
                    (" \u2014 %s" % _e(f["message"])) if f.get("message") else ""))
            out.append("</ul>")
        if label == "Remaining" and infos:
            out.append('<p class="muted">and %d info finding(s) (by design, not listed)</p>' % infos)
    out.append("<h3>Actions</h3>")
    if not rem.get("outcomes"):
        out.append('<p class="muted">No action was planned.</p>')
    else:
        out.append("<table><thead><tr><th>cluster</th><th>category</th><th>what</th><th>fixes</th><th>result</th>"
                   "</tr></thead><tbody>")
        for o in rem["outcomes"]:
            state, text = _outcome_result(o, check)
            out.append('<tr class="outcome-%s"><td>%s</td><td><code>%s</code></td><td>%s</td><td>%s</td>'
                       '<td class="%s">%s</td></tr>' % (
                           _e(state), _e(o.get("cluster")), _e(o.get("category")), _e(o.get("description")),
                           ", ".join("<code>%s</code>" % _e(k) for k in o.get("fixes") or []) or "-",
                           "bad" if state == "failed" else ("ok" if state == "changed" else "muted"), _e(text)))
        out.append("</tbody></table>")
    for title, items in (("Skipped", rem.get("skipped")), ("Not asked", rem.get("not_asked"))):
        if not items:
            continue
        out.append("<h3>%s</h3><table><thead><tr><th>finding</th><th>where</th><th>category</th><th>reason</th>"
                   "</tr></thead><tbody>" % _e(title))
        for it in items:
            out.append("<tr><td>%s</td><td>%s</td><td><code>%s</code></td><td>%s</td></tr>" % (
                _html_finding_link(docs_url, it.get("id")), _e(_item_where(it)), _e(it.get("category")),
                _e(it.get("reason"))))
        out.append("</tbody></table>")
    if rem.get("manual"):
        out.append('<h3>Manual steps</h3><p class="muted">%s</p>' % _e(MANUAL_NOTE))
        for m in rem["manual"]:
            state = _manual_state(m, check)
            sev = m.get("severity")
            out.append('<details class="%s" open><summary>%s %s <span class="where">%s</span> (%s)%s</summary>' % (
                _e(sev or ""), ('<span class="sev %s">%s</span>' % (_e(sev), _e(sev))) if sev else "",
                _html_finding_link(docs_url, m.get("id")), _e(_where(m)), _e(state),
                (" \u2014 %s" % _e(m["message"])) if m.get("message") else ""))
            if m.get("steps"):
                out.append('<ol class="steps">%s</ol>' % "".join("<li>%s</li>" % _e(x) for x in m["steps"]))
            if m.get("caused_by"):
                out.append('<div class="muted">caused by %s</div>' % ", ".join(
                    "%s on %s" % (_html_finding_link(docs_url, c["id"]), _e(_where(c)))
                    for c in (_key_finding(rem, k) for k in m["caused_by"])))
            out.append("</details>")
    out.append("</section>")
    return "".join(out)


def render_html(report, docs_url=DEFAULT_DOCS_URL, title="meshmend diagnosis"):
    s = report["summary"]
    c = s["counts"]
    verdict = "fails" if report["failed"] else "passes"
    body = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>%s</title><style>%s</style></head><body>" % (_e(title), _CSS),
            "<header><h1>%s</h1><p>%s \u00b7 %d cluster(s) in play%s \u00b7 fail_on=%s: %s</p></header><main>" % (
                _e(title), _e(report["generated_at"]), s["clusters"],
                (" \u00b7 out of play: %s" % ", ".join(report["clusters"]["out_of_play"]))
                if report["clusters"]["out_of_play"] else "", _e(report["fail_on"]), verdict)]
    body.append('<div class="cards">')
    for sev in SEVERITIES:
        body.append('<div class="card %s"><b>%d</b><span>%s</span></div>' % (sev, c.get(sev, 0), sev))
    body.append('<div class="card %s"><b>%s</b><span>exit policy</span></div>' % (
        "error" if report["failed"] else "pass", "FAIL" if report["failed"] else "PASS"))
    reqs = report.get("requests") or {}
    if reqs.get("total") is not None:
        body.append('<div class="card"><b>%s</b><span>API requests (max %s per cluster)</span></div>' % (
            _e(reqs.get("total")), _e(reqs.get("max"))))
    body.append("</div>")
    if report.get("remediation"):
        body.append(_html_remediation(report["remediation"], docs_url))
    body.append('<section><h2>The mesh</h2><div class="svgwrap">%s</div></section>' % render_svg(report))
    body.append("<section><h2>Findings: symptom \u2192 cause \u2192 remedy</h2>")
    if not report["findings"]:
        body.append('<p class="ok">No findings: nothing meshmend checks stands in the way of cross-cluster '
                    'load balancing.</p>')
    current = None
    for n in cause_tree(report["findings"]):
        area = area_of(n["finding"]["id"])
        if area != current:
            current = area
            body.append("<h3>%s</h3>" % _e(AREA_TITLES.get(area, area)))
        body.append(_html_node(n, 0, docs_url))
    body.append("</section>")
    body.append("<section><h2>Clusters</h2><table><thead><tr><th>cluster</th><th>network</th><th>cluster ID</th>"
                "<th>mesh ID</th><th>role</th><th>istiod</th><th>east-west gateway</th><th>remote secrets</th>"
                "<th>root fingerprint</th><th>errors</th><th>warnings</th><th>API requests</th><th>gather s</th>"
                "</tr></thead><tbody>")
    for name in report["clusters"]["in_play"]:
        f = report["facts"][name]
        bc = s["by_cluster"].get(name, {})
        roots = f.get("roots") or {}
        body.append("<tr><td><b>%s</b>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                    "<td>%s</td><td><code>%s</code></td><td class=\"%s\">%d</td><td>%d</td><td>%s</td><td>%s</td></tr>" % (
                        _e(name), "" if f["reachable"] else ' <span class="bad">unreachable</span>',
                        _e(f.get("network") or "-"), _e(f.get("cluster_id") or "-"), _e(f.get("mesh_id") or "-"),
                        _e(f.get("role") or "-"), _e((f.get("istiod") or {}).get("version") or "-"),
                        _e(_gateway_text(f)), _e(_secrets_text(f)),
                        _e(roots.get("ca_root_cert") or roots.get("cacerts_root") or "-"),
                        "bad" if bc.get("error") else "", bc.get("error", 0), bc.get("warning", 0),
                        _e(f.get("requests")), _e(f.get("duration_s"))))
    for name in report["clusters"]["out_of_play"]:
        body.append('<tr><td><b>%s</b></td><td colspan="12" class="muted">out of play: not diagnosed</td></tr>'
                    % _e(name))
    body.append("</tbody></table></section>")
    timing = report.get("timing") or {}
    if timing.get("areas"):
        body.append("<section><h2>Check timing</h2><table><thead><tr><th>area</th><th>seconds</th></tr></thead><tbody>")
        for area in timing["areas"]:
            body.append("<tr><td>%s</td><td>%.4f</td></tr>" % (_e(area), timing["areas"][area]))
        body.append("</tbody></table></section>")
    body.append("</main></body></html>")
    return "\n".join(body) + "\n"


def render_all(report, docs_url=DEFAULT_DOCS_URL, formats=None, title="meshmend diagnosis"):
    """``{format: text}`` for the requested formats (default: all four)."""
    formats = list(formats or REPORT_FILES)
    renderers = {
        "json": lambda: render_json(report),
        "markdown": lambda: render_markdown(report, docs_url=docs_url),
        "html": lambda: render_html(report, docs_url=docs_url, title=title),
        "junit": lambda: render_junit(report),
    }
    return dict((fmt, renderers[fmt]()) for fmt in formats)


def catalogue_severity(finding_id):
    entry = CATALOGUE.get(finding_id)
    return entry[0] if entry else None


# ---------------------------------------------------------------------------
# Controller-side plumbing used by the mesh_report action (pure, testable)

def missing_facts(cluster, reason):
    """Facts for a play host whose gather left nothing usable (it failed, was skipped or
    the host was unreachable for Ansible): the checks then report ``cluster.unreachable``."""
    return {"schema": 1, "cluster": cluster, "context": None, "server": None, "reachable": False,
            "error": "cluster %s: no facts gathered: %s" % (cluster, reason), "read_errors": [],
            "requests": 0, "duration_s": None}


def facts_from_result(cluster, result):
    """The facts out of one host's registered cluster_info result."""
    if not isinstance(result, dict):
        return missing_facts(cluster, "the gather task registered nothing (host failed or unreachable before it)")
    if result.get("skipped"):
        return missing_facts(cluster, "the gather task was skipped")
    facts = result.get("facts")
    if not isinstance(facts, dict):
        msg = result.get("msg") or ("the gather task failed" if result.get("failed") else "the result holds no facts")
        return missing_facts(cluster, msg)
    if facts.get("cluster") != cluster:
        # Findings name clusters by inventory hostname (docs/facts.md).
        facts = dict(facts, cluster=cluster)
    return facts


def _finding_dict(f):
    return f.to_dict() if hasattr(f, "to_dict") else dict(f)


def analyze(facts_by_cluster, diagnose, options=None, time_areas=True, clock=None):
    """Run the check catalogue ONCE over every cluster (``diagnose``: ``checks.diagnose``).

    Returns ``(finding dicts, {"analysis_s": x, "areas": {area: s}}, model)``.
    """
    import time
    clock = clock or time.perf_counter
    start = clock()
    result = diagnose(facts_by_cluster, dict(options or {}))
    timing = {"analysis_s": round(clock() - start, 6), "areas": dict(result.timings) if time_areas else {}}
    return [_finding_dict(f) for f in result.findings], timing, result.model
