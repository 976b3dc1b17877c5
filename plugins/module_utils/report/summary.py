# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-cluster summaries of the facts for the reports: a whitelist, bounded in size.

Only the fields named here are copied out of the facts (never the facts themselves): facts hold no
credential, and a whitelist keeps it that way in the reports. What the checks derived (role,
identity, network, which peer a remote-secret entry is meant for and its state) comes from the mesh
model (``checks.model.Mesh.to_dict``), never worked out again here.

Bounded: a primary of an N-cluster mesh holds N-1 remote-secret entries and its proxy N endpoint rows,
so N clusters would fill the report with N x (N-1) rows. Up to ``DETAIL_LIMIT`` entries per cluster are
listed as they are; beyond that only the entries with a problem are listed and the healthy ones counted
(``remote_secrets_total``); the same for endpoint rows (``proxy.endpoints_total``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import SEVERITIES

DETAIL_LIMIT = 16
ENDPOINT_LIMIT = 20


def severity_counts(findings):
    counts = dict((s, 0) for s in SEVERITIES)
    for f in findings:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    return counts


def entries_by_cluster(model):
    """{cluster: [model entry]} of the model's remote-secret entries (one pass over N x (N-1))."""
    out = {}
    for e in (model or {}).get("remote_secrets") or []:
        cluster = e.get("cluster")
        if cluster in out:
            out[cluster].append(e)
        else:
            out[cluster] = [e]
    return out


def _gateways(facts):
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
    return gateways


def _secret_key(entry, model_entry):
    probe = entry.get("probe") or {}
    return {
        "key": entry.get("key"),
        "fingerprint": entry.get("fingerprint"),
        "server": entry.get("server"),
        "auth": entry.get("auth"),
        "error": entry.get("error"),
        "target": model_entry.get("target"),
        "state": model_entry.get("state"),
        "probe_ok": probe.get("ok") if entry.get("probe") else None,
        "probe_error": probe.get("error") if entry.get("probe") else None,
    }


def _remote_secrets(facts, entries):
    """(listed secrets, totals): every entry when they are few, else those whose state is not ok.

    ``entries``: the model's entries of this cluster (the peer each is meant for and its state); an entry
    the model does not judge (the cluster is not a judged primary) counts as not ok. Large meshes are
    counted from the model's entries and only the facts of the entries not ok are read again."""
    secrets = [s for s in facts.get("remote_secrets") or [] if isinstance(s, dict)]
    total = sum(len(s.get("entries") or []) for s in secrets)
    detailed = total <= DETAIL_LIMIT
    if detailed:
        wanted = dict(((e.get("namespace"), e.get("name"), e.get("key")), e) for e in entries)
    else:
        wanted = dict(((e.get("namespace"), e.get("name"), e.get("key")), e) for e in entries
                      if e.get("state") != "ok" or e.get("error"))
    judged = len(entries) == total
    listed, ok = [], (total - len(wanted)) if (judged and not detailed) else 0
    for sec in secrets:
        if not detailed and judged and not any(k[0] == sec.get("namespace") and k[1] == sec.get("name")
                                               for k in wanted):
            continue
        keys = []
        for entry in sec.get("entries") or []:
            if not isinstance(entry, dict):
                continue
            model_entry = wanted.get((sec.get("namespace"), sec.get("name"), entry.get("key")))
            healthy = bool(model_entry) and model_entry.get("state") == "ok" and not entry.get("error")
            if detailed or not judged:
                ok += 1 if healthy else 0
            if detailed or model_entry is not None or not judged and not healthy:
                keys.append(_secret_key(entry, model_entry or {}))
        if keys or (detailed and not sec.get("entries")):
            listed.append({"namespace": sec.get("namespace"), "name": sec.get("name"), "keys": keys})
    totals = {"secrets": len(secrets), "entries": total, "ok": ok,
              "listed": sum(len(s["keys"]) for s in listed), "complete": detailed}
    return listed, totals


def _proxy(facts):
    proxy = facts.get("proxy")
    if not proxy:
        return None
    rows, by_status = [], {}
    endpoints = [ep for ep in proxy.get("endpoints") or [] if isinstance(ep, dict)]
    for ep in endpoints:
        status = ep.get("status")
        by_status[str(status)] = by_status.get(str(status), 0) + 1
        if len(rows) < ENDPOINT_LIMIT:
            loc = ep.get("locality") or {}
            rows.append({"address": ep.get("address"), "port": ep.get("port"), "status": status,
                         "locality": "/".join(x for x in (loc.get("region"), loc.get("zone")) if x) or None})
    return {"pod": proxy.get("pod"), "service": proxy.get("service"), "port": proxy.get("port"),
            "error": proxy.get("error"), "endpoints": rows, "endpoints_total": len(endpoints),
            "endpoints_by_status": by_status}


def summarize_facts(facts, view=None, entries=None):
    """Compact, credential-free summary of one cluster's facts for the reports.

    ``view`` is the cluster's entry of the mesh model (role, identity and network as the checks
    derived them); ``entries`` the model's remote-secret entries of the cluster (the peer each is meant
    for and its state).
    """
    facts = facts or {}
    view = view or {}
    istiod = facts.get("istiod") or {}
    reachable = bool(facts.get("reachable"))
    summary = {
        "cluster": facts.get("cluster"),
        "context": facts.get("context"),
        "server": facts.get("server"),
        "reachable": reachable,
        "error": facts.get("error"),
        "read_errors": len(facts.get("read_errors") or []),
        "kubernetes_version": facts.get("kubernetes_version"),
        # identity and network as the checks derived them (the model); the facts' own without a model
        "cluster_id": view.get("cluster_id") if view else facts.get("cluster_id"),
        "network": view.get("network") if view else facts.get("network"),
        "mesh_id": view.get("mesh_id") if view else facts.get("mesh_id"),
        "role": view.get("role"),
        "state": view.get("state"),
        "declared": facts.get("declared"),
        "istiod": ({"name": istiod.get("name"), "version": istiod.get("version"),
                    "ready_replicas": istiod.get("ready_replicas"), "replicas": istiod.get("replicas")}
                   if facts.get("istiod") else None),
        "discovery_address": facts.get("discovery_address"),
        "requests": facts.get("requests"),
        "duration_s": facts.get("duration_s"),
        "gateways": _gateways(facts),
    }
    summary["remote_secrets"], summary["remote_secrets_total"] = _remote_secrets(facts, entries or [])
    cacerts = facts.get("cacerts") or {}
    summary["roots"] = {
        "cacerts_root": (cacerts.get("root") or {}).get("fingerprint"),
        "cacerts_ca": (cacerts.get("ca") or {}).get("fingerprint"),
        "ca_root_cert": (facts.get("ca_root_cert") or {}).get("fingerprint"),
        "chain_valid": cacerts.get("chain_valid") if facts.get("cacerts") else None,
    }
    summary["proxy"] = _proxy(facts)
    return summary


def unreachable_clusters(facts_by_cluster, summaries):
    """In-play clusters that were not read: unreachable, or a gather that stopped part way (error set)."""
    return [n for n in summaries
            if not summaries[n]["reachable"] or (facts_by_cluster.get(n) or {}).get("error")]


def gateway_text(summary):
    parts = []
    for gw in summary.get("gateways") or []:
        if gw["pending"]:
            parts.append("%s: pending" % gw["name"])
        elif gw["addresses"]:
            parts.append("%s: %s" % (gw["name"], ", ".join(str(a) for a in gw["addresses"])))
        else:
            parts.append("%s: no address" % gw["name"])
    return "; ".join(parts) or "none"


def secrets_text(summary):
    """Every secret with its keys when the summary lists them all, else counts and the problem entries."""
    totals = summary.get("remote_secrets_total") or {}
    listed = summary.get("remote_secrets") or []
    if totals.get("complete", True):
        parts = []
        for sec in listed:
            keys = ",".join(str(k.get("key")) for k in sec["keys"])
            parts.append("%s/%s [%s]" % (sec["namespace"], sec["name"], keys))
        return "; ".join(parts) or "none"
    text = "%d secret(s), %d entr%s, %d ok" % (totals.get("secrets", 0), totals.get("entries", 0),
                                               "y" if totals.get("entries") == 1 else "ies", totals.get("ok", 0))
    problems = ["%s/%s [%s]" % (sec["namespace"], sec["name"], ",".join(str(k.get("key")) for k in sec["keys"]))
                for sec in listed]
    if problems:
        shown = problems[:5]
        text += "; not ok: " + "; ".join(shown) + (" and %d more" % (len(problems) - 5) if len(problems) > 5 else "")
    return text
