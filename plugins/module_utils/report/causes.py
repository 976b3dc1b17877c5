# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Root causes first: the findings that explain others, each shown once with what it explains.

The checks link every finding to the findings that explain it (``caused_by``, the guide's decision
tree). Nothing is matched again here: the links are followed up to the findings nothing explains.
Those that explain at least one other finding are the root causes; their symptoms are grouped under
them by finding id (``remote_secret.api_unreachable`` x 9 on cluster1..cluster10), so a cluster that is
down is named once, not once per peer. Findings that neither explain nor are explained stand alone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import finding_key, natural_key

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
    """The report section of a finding id: its prefix (``remote_secret.missing`` -> ``remote_secret``)."""
    return (finding_id or "").split(".", 1)[0]


def _area_rank(area):
    try:
        return AREA_ORDER.index(area)
    except ValueError:
        return len(AREA_ORDER)


def guide_order_key(f):
    return (_area_rank(area_of(f["id"])), _SEV_RANK.get(f["severity"], 9),
            f.get("cluster") or "", f.get("peer") or "", f["id"])


def key_of(f):
    return f.get("key") or finding_key(f)


def where(f):
    """``cluster1`` or ``cluster1 → cluster2`` (``mesh`` for a finding on no cluster)."""
    text = f.get("cluster") or "mesh"
    if f.get("peer"):
        text += " \u2192 %s" % f["peer"]
    return text


def names_category(f):
    """True when the remedy should add its remediate category (the text does not say it yet)."""
    return bool(f.get("category")) and f["category"] not in (f.get("remedy") or "")


def cause_tree(findings):
    """Findings as a forest: symptoms at the roots, their ``caused_by`` below.

    Returns a list of nodes ``{"finding": f, "causes": [node...], "missing": [key...]}``
    in the guide's order (``missing``: causes named but not in ``findings``). A cause that
    explains several symptoms shows under each; cycles are cut; findings only reachable
    through a cycle still show at the top.
    """
    by_key = dict((key_of(f), f) for f in findings)
    referenced = set()
    for f in findings:
        referenced.update(k for k in f.get("caused_by") or [] if k in by_key)

    def node(f, seen):
        seen = seen | {key_of(f)}
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

    tree = [node(f, frozenset()) for f in sorted((f for f in findings if key_of(f) not in referenced),
                                                 key=guide_order_key)]
    shown = set()

    def walk(n):
        shown.add(key_of(n["finding"]))
        for c in n["causes"]:
            walk(c)
    for n in tree:
        walk(n)
    for f in sorted(findings, key=guide_order_key):
        if key_of(f) not in shown:
            n = node(f, frozenset())
            tree.append(n)
            walk(n)
    return tree


def _ancestors(causes_of):
    """{key: every finding reachable through caused_by} (a key is its own ancestor only in a cycle)."""
    out = {}
    for start in causes_of:
        seen, stack = set(), list(causes_of[start])
        while stack:
            k = stack.pop()
            if k in seen:
                continue
            seen.add(k)
            stack.extend(causes_of[k])
        out[start] = seen
    return out


def _roots_of(causes_of, ancestors, by_key):
    """{key: the keys of its ultimate causes} ({key} itself for a finding nothing explains)."""
    out = {}
    for k, anc in ancestors.items():
        if not anc:
            out[k] = [k]
            continue
        roots = [a for a in anc if not causes_of[a]]
        if not roots:
            # only a cycle above: its first member in the guide's order stands for it
            cycle = [a for a in anc if a in ancestors[a]]
            roots = [min(cycle, key=lambda a: guide_order_key(by_key[a]))]
        out[k] = roots
    return out


def _brief(f):
    fields = ("key", "id", "severity", "cluster", "peer", "resource", "message", "remedy", "category")
    return dict((k, f.get(k)) for k in fields)


def root_causes(findings):
    """``report["root_causes"]``: every finding that explains others, with what it explains.

    Each item is the finding (key, id, severity, cluster, peer, resource, message, remedy, category;
    the rest is in ``findings`` under the same key) plus ``explains`` (how many findings it explains, through any number of links),
    ``dependents`` (the clusters those findings are on, natural order) and ``symptoms``: one group per
    finding id, in the guide's order, ``{"id", "severity" (the worst), "count", "clusters", "peers",
    "keys"}``. Sorted: worst severity first, then the one that explains most, then the guide's order.
    A symptom with two root causes is listed under both.
    """
    findings = [f for f in findings if isinstance(f, dict) and f.get("id")]
    by_key = dict((key_of(f), f) for f in findings)
    causes_of = dict((k, [c for c in (f.get("caused_by") or []) if c in by_key and c != k])
                     for k, f in by_key.items())
    roots_of = _roots_of(causes_of, _ancestors(causes_of), by_key)
    explained = {}
    for k, roots in roots_of.items():
        for r in roots:
            if r != k:
                explained.setdefault(r, []).append(k)
    items = []
    for r, keys in explained.items():
        groups = {}
        for k in keys:
            f = by_key[k]
            groups.setdefault(f["id"], []).append(f)
        symptoms = []
        for fid, fs in sorted(groups.items(), key=lambda kv: min(guide_order_key(f) for f in kv[1])):
            fs.sort(key=lambda f: (natural_key(f.get("cluster")), natural_key(f.get("peer"))))
            symptoms.append({
                "id": fid,
                "severity": min((f["severity"] for f in fs), key=lambda s: _SEV_RANK.get(s, 9)),
                "count": len(fs),
                "clusters": _unique(f.get("cluster") for f in fs),
                "peers": _unique(f.get("peer") for f in fs),
                "keys": [key_of(f) for f in fs],
            })
        item = _brief(by_key[r])
        item["key"] = r
        dependents = sorted(set(by_key[k].get("cluster") or "mesh" for k in keys), key=natural_key)
        item.update(explains=len(keys), dependents=dependents, symptoms=symptoms)
        items.append(item)
    items.sort(key=lambda i: (_SEV_RANK.get(i["severity"], 9), -i["explains"], guide_order_key(i)))
    return items


def _unique(values):
    return sorted(set(v for v in values if v), key=natural_key)


def explained_keys(report):
    """Keys of the findings listed under a root cause (shown there, not again)."""
    return set(k for rc in report.get("root_causes") or [] for s in rc["symptoms"] for k in s["keys"])


def standalone(report):
    """Findings that are neither a root cause nor explained by one, in the report's order."""
    grouped = explained_keys(report) | set(rc["key"] for rc in report.get("root_causes") or [])
    return [f for f in report["findings"] if key_of(f) not in grouped]


def names_text(names, limit=12):
    """``a, b, c`` or ``a, b, ... and 40 more``: a list of names kept short on one line."""
    names = list(names)
    if len(names) <= limit:
        return ", ".join(names)
    return "%s and %d more" % (", ".join(names[:limit]), len(names) - limit)


def symptom_where(group, limit=12):
    """Where a group of symptoms was seen: the clusters, and the one peer they share when they do."""
    text = names_text(group["clusters"], limit) or "mesh"
    if len(group["peers"]) == 1:
        text += " \u2192 %s" % group["peers"][0]
    elif group["peers"]:
        text += " \u2192 %s" % names_text(group["peers"], limit)
    return text


def summary_lines(report, limit=12):
    """The lines the play prints: each root cause once with what it explains, then the other findings."""
    lines = []
    for rc in report.get("root_causes") or []:
        lines.append("%s %s %s: %s [root cause of %d finding(s) on %d cluster(s)]" % (
            rc["severity"], rc["id"], where(rc).replace("\u2192", "->"), rc.get("message"), rc["explains"],
            len(rc["dependents"])))
        for s in rc["symptoms"]:
            seen_on = symptom_where(s, limit).replace("\u2192", "->")
            lines.append("  explains %d x %s %s on %s" % (s["count"], s["severity"], s["id"], seen_on))
    for f in standalone(report):
        lines.append("%s %s %s: %s" % (f["severity"], f["id"], where(f).replace("\u2192", "->"), f.get("message")))
    return lines
