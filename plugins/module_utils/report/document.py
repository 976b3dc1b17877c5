# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report document: one JSON-safe dict that every renderer reads.

``build_report(facts_by_cluster, findings, model=...)`` puts together the findings (sorted, each with
its key), the root causes (``causes.root_causes``), bounded per-cluster summaries of the facts
(``summary.summarize_facts``), the mesh model the checks derived (roles, identities, networks,
remote-secret links: read, never derived again), counts, timing and API requests. Links are kept one by
one for small meshes and always when broken; the healthy ones of a large mesh are counted, by state and
by network (``model.link_summary``), so the document stays linear in the number of clusters.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import time

from ansible_collections.meshmend.multicluster.plugins.module_utils import jsontext
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import (
    finding_key, natural_key, should_fail, sort_findings, worst_severity,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.causes import (
    DIAGNOSE_AREAS, root_causes,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.remediation import remediation_section
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.summary import (
    entries_by_cluster, severity_counts, summarize_facts, unreachable_clusters,
)

REPORT_SCHEMA = 2
# Up to this many clusters in play, every remote-secret link is kept (and drawn); beyond, the healthy
# ones are counted.
LINK_DETAIL_CLUSTERS = 12
_STATES = ("ok", "warning", "error")


def now_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def link_summary(model, detailed):
    """(links kept, summary): every link when ``detailed``, else those not ok; counts by state, by
    network pair (the pairs with a problem, with their healthy links too) and per network (outgoing
    and incoming). One pass over the N x (N-1) links, a second one only when a link is broken."""
    views = model.get("clusters") or {}
    net = {}
    for name, view in views.items():
        view = view or {}
        net[name] = view.get("network") or ("no network" if view.get("state") == "full" else "unknown")
    index = dict((state, i) for i, state in enumerate(_STATES))
    links = model.get("links") or []
    counts, kept, outgoing, incoming, broken = [0, 0, 0], [], {}, {}, set()
    for lk in links:
        i = index.get(lk.get("state"), 1)
        counts[i] += 1
        source, target = lk.get("source"), lk.get("target")
        (outgoing.get(source) or outgoing.setdefault(source, [0, 0, 0]))[i] += 1
        (incoming.get(target) or incoming.setdefault(target, [0, 0, 0]))[i] += 1
        if i:
            broken.add((net.get(source, "unknown"), net.get(target, "unknown")))
        if i or detailed:
            kept.append(lk)
    pairs = dict((pair, [0, 0, 0]) for pair in broken)
    if pairs:
        for lk in links:
            pair = pairs.get((net.get(lk.get("source"), "unknown"), net.get(lk.get("target"), "unknown")))
            if pair is not None:
                pair[index.get(lk.get("state"), 1)] += 1
    networks = {}
    for way, per_cluster in (("outgoing", outgoing), ("incoming", incoming)):
        for name, c in per_cluster.items():
            total = networks.setdefault(net.get(name, "unknown"), {"outgoing": [0, 0, 0], "incoming": [0, 0, 0]})
            total[way] = [a + b for a, b in zip(total[way], c)]
    by_network = [dict([("source", s), ("target", t)] + list(zip(_STATES, c))) for (s, t), c in sorted(
        pairs.items(), key=lambda kv: (natural_key(kv[0][0]), natural_key(kv[0][1])))]
    return kept, {"counts": dict(zip(_STATES, counts)), "complete": bool(detailed), "by_network": by_network,
                  "networks": dict((n, dict((way, dict(zip(_STATES, networks[n][way])))
                                            for way in ("outgoing", "incoming")))
                                   for n in sorted(networks, key=natural_key))}


def report_model(model, in_play):
    """The model as the report carries it: no per-entry list (the summaries list the entries that
    matter), links bounded by ``link_summary``."""
    kept, summary = link_summary(model, len(in_play) <= LINK_DETAIL_CLUSTERS)
    out = dict((k, v) for k, v in model.items() if k not in ("remote_secrets", "links"))
    out["links"] = kept
    out["link_summary"] = summary
    return out


def summarize(findings, in_play, unreachable=()):
    """``report["summary"]``: counts by severity, the worst, and counts per cluster in play."""
    counts = severity_counts(findings)
    counts["total"] = len(findings)
    by_cluster = dict((n, severity_counts(())) for n in in_play)
    for f in findings:
        if f.get("cluster") in by_cluster:
            by_cluster[f["cluster"]][f["severity"]] += 1
    return {"counts": counts, "worst": worst_severity(findings), "clusters": len(in_play),
            "unreachable": sorted(unreachable, key=natural_key), "by_cluster": by_cluster}


def build_report(facts_by_cluster, findings, model=None, out_of_play=None, fail_on="error", timing=None,
                 generated_at=None, areas=None, previous_findings=None, remediation=None):
    """The JSON-safe report document every renderer reads.

    ``findings``: finding dicts (``Finding.to_dict()``). ``model``: the mesh model of the same run
    (``checks.diagnose(...).model``); when not given it is that of ``facts_by_cluster``, its links'
    states set by ``findings``. ``timing``: ``{"analysis_s": x, "areas": {area: s}}`` as measured by
    the caller. ``out_of_play``: inventory clusters left out of the play (``--limit``).
    ``previous_findings`` (the findings before a remediation) and ``remediation`` (what the remediate
    role did) add ``report["remediation"]``, the before/after section.
    """
    findings = sort_findings([dict(f) for f in findings])
    for f in findings:
        f.setdefault("key", finding_key(f))
    in_play = sorted(facts_by_cluster, key=natural_key)
    if model is None:
        from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.model import Mesh
        model = Mesh(facts_by_cluster, {"out_of_play": out_of_play or []}).to_dict(findings)
    views = model.get("clusters") or {}
    entries = entries_by_cluster(model)
    summaries = dict((name, summarize_facts(facts_by_cluster[name], views.get(name), entries.get(name)))
                     for name in in_play)
    requests = dict((name, summaries[name]["requests"]) for name in in_play)
    req_values = [v for v in requests.values() if isinstance(v, (int, float))]
    timing = dict(timing or {})
    timing["gather_s"] = dict((name, summaries[name]["duration_s"]) for name in in_play)
    report = {
        "schema": REPORT_SCHEMA,
        "generator": "meshmend.multicluster.mesh_report",
        "generated_at": generated_at or now_text(),
        "clusters": {"in_play": in_play, "out_of_play": sorted(out_of_play or [], key=natural_key)},
        "areas": list(areas or DIAGNOSE_AREAS),
        "fail_on": fail_on,
        "failed": should_fail(findings, fail_on),
        "summary": summarize(findings, in_play, unreachable_clusters(facts_by_cluster, summaries)),
        "root_causes": root_causes(findings),
        "findings": findings,
        "facts": summaries,
        "timing": timing,
        "model": report_model(model, in_play),
        "requests": {"per_cluster": requests, "total": sum(req_values),
                     "max": max(req_values) if req_values else None},
    }
    if previous_findings is not None:
        report["remediation"] = remediation_section(previous_findings, findings, remediation)
    return report


# ---------------------------------------------------------------------------
# Controller-side plumbing used by the mesh_report action (pure, testable)

def missing_facts(cluster, reason):
    """Facts for a play host whose gather left nothing usable (it failed, was skipped or
    the host was unreachable for Ansible): the checks then report ``cluster.unreachable``."""
    return {"schema": 1, "cluster": cluster, "context": None, "server": None, "reachable": False,
            "error": "cluster %s: no facts gathered: %s" % (cluster, reason), "read_errors": [],
            "requests": 0, "duration_s": None}


def share_peer_values(facts, strings):
    """Keep one copy of each string the facts repeat for every peer, in ``strings`` (a dict shared by every
    cluster of a run): a remote secret's names and each entry's server, fingerprints and user, an Envoy row's
    address, status and cluster, a clusterz line. Every cluster holds them for every peer: at 500 clusters
    250,000 of each, a few hundred distinct. ``facts`` must be the caller's own (just parsed): it is changed."""
    keep = strings.setdefault

    def share(mapping):
        # the texts of parsed JSON are plain str: their class is checked, not isinstance (1.8 million calls at 500)
        for key, value in mapping.items():
            if value.__class__ is str:
                mapping[key] = keep(value, value)

    for secret in facts.get("remote_secrets") or []:
        if isinstance(secret, dict):
            share(secret)
            for part in ("labels", "annotations"):
                if isinstance(secret.get(part), dict):
                    share(secret[part])
            for entry in secret.get("entries") or []:
                if isinstance(entry, dict):
                    share(entry)
    proxy = facts.get("proxy")
    if isinstance(proxy, dict):
        for rows in [proxy.get("endpoints") or []] + list((proxy.get("services") or {}).values()):
            for row in rows if isinstance(rows, list) else []:
                if isinstance(row, dict):
                    share(row)
                    if isinstance(row.get("locality"), dict):
                        share(row["locality"])
    for line in facts.get("clusterz") or []:
        if isinstance(line, dict):
            share(line)
    return facts


def facts_from_result(cluster, result, strings=None):
    """The facts out of one host's registered cluster_info result; with ``strings`` (a dict kept for the run),
    the facts parsed from ``facts_json`` share the strings they repeat for every peer (share_peer_values)."""
    if not isinstance(result, dict):
        return missing_facts(cluster, "the gather task registered nothing (host failed or unreachable before it)")
    if result.get("skipped"):
        return missing_facts(cluster, "the gather task was skipped")
    facts = result.get("facts")
    if facts is None and isinstance(result.get("facts_json"), str):   # cluster_info facts_format=json
        try:
            facts = jsontext.loads(result["facts_json"])
        except ValueError as exc:
            return missing_facts(cluster, "the registered facts_json is not JSON (%s)" % exc)
        if strings is not None and isinstance(facts, dict):
            share_peer_values(facts, strings)
    if not isinstance(facts, dict):
        msg = result.get("msg") or ("the gather task failed" if result.get("failed") else "the result holds no facts")
        return missing_facts(cluster, msg)
    if facts.get("cluster") != cluster:
        # Findings name clusters by inventory hostname (docs/facts.md).
        facts = dict(facts, cluster=cluster)
    return facts


def analyze(facts_by_cluster, diagnose, options=None, time_areas=True, clock=None):
    """Run the check catalogue ONCE over every cluster (``diagnose``: ``checks.diagnose``).

    Returns ``(finding dicts, {"analysis_s": x, "areas": {area: s}}, model)``.
    """
    clock = clock or time.perf_counter
    start = clock()
    result = diagnose(facts_by_cluster, dict(options or {}))
    timing = {"analysis_s": round(clock() - start, 6), "areas": dict(result.timings) if time_areas else {}}
    return [f.to_dict() if hasattr(f, "to_dict") else dict(f) for f in result.findings], timing, result.model
