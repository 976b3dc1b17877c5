# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layout of the mesh picture: where each network, cluster, gateway and link goes.

``layout(report)`` returns plain data (boxes, paths, labels, badges) that the SVG template draws
(templates/mesh.svg.j2): the geometry is decided here, the look there.

Readable from 2 to 500 clusters:

- clusters are grouped by network in panels; up to ``BOX_CLUSTERS`` clusters each gets a box with its
  identity and east-west gateway, beyond that a small tile (name and counts; the rest is in its tooltip
  and in the clusters table);
- a cluster is red for its own errors only: one whose findings are all explained by a root cause on
  another cluster (its peers when that one is down) is marked affected, naming that cluster;
- above ``COLLAPSE_CLUSTERS`` clusters only the clusters worth a look are drawn (their own errors or
  warnings, unreachable, at the end of a broken link); the others are counted by state in one panel;
- up to ``LINK_CLUSTERS`` clusters every remote-secret link is drawn; beyond that the healthy ones
  are counted, not drawn, and only the broken ones are;
- broken links that converge on one cluster (a cluster down: every peer fails to read it) or leave one
  (a primary without its secrets) are bundled into one badge on that cluster, ``BUNDLE`` or more;
- a link's label is placed where it overlaps no other label and no box, else left to its tooltip.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import natural_key
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.causes import names_text

BOX_CLUSTERS = 24
COLLAPSE_CLUSTERS = 100
# The picture fits the page's width (no sideways scrolling): panels wrap at this x.
MAX_WIDTH = 1240
LINK_CLUSTERS = 6
BUNDLE = 3
COLORS = {"ok": "#12b76a", "warning": "#f79009", "error": "#d92d20"}
_SPECIAL = ("no network", "unreachable", "out of play")


def clip(text, n):
    text = "" if text is None else str(text)
    return text if len(text) <= n else text[:n - 1] + "\u2026"


def _text_width(text, size):
    return len(text) * size * 0.6


def _groups(report):
    facts = report["facts"]
    groups = {}
    for name in report["clusters"]["in_play"]:
        net = facts[name].get("network") if facts[name].get("reachable") else None
        label = net if net else ("unreachable" if not facts[name].get("reachable") else "no network")
        groups.setdefault(label, []).append(name)
    order = sorted(groups, key=lambda g: (g in _SPECIAL, natural_key(g)))
    if report["clusters"]["out_of_play"]:
        groups["out of play"] = list(report["clusters"]["out_of_play"])
        order.append("out of play")
    return groups, order


class _Geometry:
    """Sizes of one drawing mode: boxes (few clusters) or tiles (many)."""

    def __init__(self, boxes, links_drawn):
        self.boxes = boxes
        if boxes:
            self.w, self.h, self.gap, self.pad, self.head, self.max_w = 230, 92, 26, 18, 34, MAX_WIDTH
            self.panel_gap = 130 if links_drawn else 50
            self.row_gap = 90 if links_drawn else 30
        else:
            self.w, self.h, self.gap, self.pad, self.head, self.max_w = 150, 40, 10, 10, 26, MAX_WIDTH
            self.panel_gap = 24
            self.row_gap = 30

    def cols(self, n):
        if self.boxes:
            return 1 if n <= 3 else (2 if n <= 8 else 3)
        return max(1, min(n, 8, int(math.ceil(math.sqrt(n)))))


def _panels(groups, order, geo):
    panels, pos = [], {}
    x, y, row_h = 20, 20, 0
    for g in order:
        names = groups[g]
        if not names:
            continue
        cols = geo.cols(len(names))
        rows = int(math.ceil(len(names) / float(cols)))
        pw = cols * geo.w + (cols - 1) * geo.gap + 2 * geo.pad
        ph = geo.head + rows * geo.h + (rows - 1) * geo.gap + geo.pad
        if x + pw > geo.max_w and x > 20:
            x, y, row_h = 20, y + row_h + geo.row_gap, 0
        special = g in _SPECIAL
        title = g if special else "network %s" % g
        panels.append({"network": g, "x": x, "y": y, "w": pw, "h": ph, "special": special,
                       "title": clip(title, max(8, int((pw - 2 * geo.pad) / 7.5))),
                       "count": len(names), "lines": []})
        for i, name in enumerate(names):
            pos[name] = (x + geo.pad + (i % cols) * (geo.w + geo.gap), y + geo.head + (i // cols) * (geo.h + geo.gap))
        x += pw + geo.panel_gap
        row_h = max(row_h, ph)
    width = max([p["x"] + p["w"] for p in panels] + [MAX_WIDTH]) + 20
    return panels, pos, width, (y + row_h) if panels else 0


def _summary_panel(hidden, states, bottom, geo):
    """The panel that counts the clusters not drawn, by state (collapsed pictures)."""
    nets = sorted(set(net for net, _name in hidden))
    by_state = {}
    for _net, name in hidden:
        state, _lent, roots = states[name]
        label = ("affected by %s" % names_text(roots, 2)) if state == "affected" else \
            {"ok": "healthy", "out-of-play": "out of play"}.get(state, state)
        by_state[label] = by_state.get(label, 0) + 1
    y = bottom + (30 if bottom else 20)
    lines = ["%d %s" % (n, label) for label, n in sorted(by_state.items(), key=lambda kv: (-kv[1], kv[0]))]
    h = 34 + 18 * len(lines) + 10
    return {"network": "collapsed", "x": 20, "y": y, "w": MAX_WIDTH - 20, "h": h, "special": True,
            "title": "%d more cluster(s) on %d network(s), not drawn: nothing of their own to look at"
                     % (len(hidden), len(nets)),
            "count": len(hidden),
            "lines": [dict(x=20 + geo.pad, y=y + 34 + 18 * i + 12, text=text) for i, text in enumerate(lines)]}


def _box_state(facts, counts, out_of_play, borrowed):
    """A box's state from the findings on its cluster; ``borrowed``: how many of them are explained by a
    root cause on another cluster (they do not make it red)."""
    if out_of_play:
        return "out-of-play"
    if not facts.get("reachable"):
        return "error"
    own = dict((sev, counts.get(sev, 0) - borrowed.get(sev, 0)) for sev in ("error", "warning"))
    if own["error"]:
        return "error"
    if own["warning"]:
        return "warning"
    return "affected" if borrowed.get("error") or borrowed.get("warning") else "ok"


_FILL = {"out-of-play": ("#f9fafb", "#98a2b3"), "error": ("#fef3f2", "#d92d20"),
         "warning": ("#fffaeb", "#f79009"), "ok": ("#ffffff", "#12b76a"), "affected": ("#fff6ed", "#fb6514")}


def _borrowed(report):
    """{cluster: ({severity: n}, [root cause clusters])}: findings explained by a root cause elsewhere."""
    by_key = dict((f["key"], f) for f in report["findings"])
    out = {}
    for rc in report.get("root_causes") or []:
        for group in rc["symptoms"]:
            for key in group["keys"]:
                f = by_key.get(key)
                if f is None or f.get("cluster") == rc.get("cluster"):
                    continue
                counts, roots = out.setdefault(f.get("cluster"), ({}, []))
                counts[f["severity"]] = counts.get(f["severity"], 0) + 1
                if rc.get("cluster") and rc["cluster"] not in roots:
                    roots.append(rc["cluster"])
    return out


def _badge(errors, warnings, roots=None):
    parts = []
    if errors:
        parts.append("%d error%s" % (errors, "" if errors == 1 else "s"))
    if warnings:
        parts.append("%d warning%s" % (warnings, "" if warnings == 1 else "s"))
    text = " \u00b7 ".join(parts) or "\u2713 healthy"
    if roots:
        text = "%s from %s" % (text, names_text(roots, 1))
    return text


def _texts(name, x, y, geo, facts, state, counts, roots):
    """The text lines of one cluster box or tile, and its gateway pills (boxes only)."""
    errors, warnings = counts.get("error", 0), counts.get("warning", 0)
    badge_fill = {"error": "#d92d20", "warning": "#b54708", "affected": "#c4320a"}.get(state, "#067647")
    roots = roots if state == "affected" else None
    if not geo.boxes:
        lines = [dict(x=x + 8, y=y + 16, text=clip(name, 20), size=12, weight="700", fill="#1d2433",
                      cls="cluster-name")]
        if state == "out-of-play":
            lines.append(dict(x=x + 8, y=y + 32, text="out of play", size=10, weight="normal", fill="#667085", cls=""))
        elif not facts.get("reachable"):
            lines.append(dict(x=x + 8, y=y + 32, text="unreachable", size=10, weight="600", fill="#d92d20", cls=""))
        else:
            text = "affected by %s" % names_text(roots, 1) if roots else _badge(errors, warnings)
            lines.append(dict(x=x + 8, y=y + 32, text=clip(text, 25), size=10, weight="600", fill=badge_fill, cls=""))
        return lines, []
    lines = [dict(x=x + 12, y=y + 20, text=clip(name, 26), size=14, weight="700", fill="#1d2433", cls="cluster-name")]
    if state == "out-of-play":
        lines.append(dict(x=x + 12, y=y + 40, text="out of play: not diagnosed", size=11, weight="normal",
                          fill="#667085", cls=""))
        return lines, []
    gateways = []
    if not facts.get("reachable"):
        lines.append(dict(x=x + 12, y=y + 40, text="API server unreachable", size=11, weight="600", fill="#d92d20",
                          cls=""))
        lines.append(dict(x=x + 12, y=y + 56, text=clip(facts.get("error") or "", 36), size=10, weight="normal",
                          fill="#667085", cls=""))
    else:
        istiod = facts.get("istiod") or {}
        line = "id %s \u00b7 %s" % (facts.get("cluster_id") or "?", facts.get("role") or "no istio")
        if istiod.get("version"):
            line += " \u00b7 %s" % istiod["version"]
        lines.append(dict(x=x + 12, y=y + 38, text=clip(line, 38), size=11, weight="normal", fill="#475467", cls=""))
        gws = facts.get("gateways") or []
        gy = y + 50
        if not gws:
            lines.append(dict(x=x + 12, y=gy + 12, text="no east-west gateway", size=11, weight="normal",
                              fill="#667085", cls=""))
        for gw in gws[:1]:
            if gw["pending"] or not gw["addresses"]:
                text, stroke, fill, tfill = "gateway <pending>", "#d92d20", "#fef3f2", "#d92d20"
            else:
                text = "\u21c4 %s:%s" % (", ".join(str(a) for a in gw["addresses"][:2]), gw.get("gateway_port") or 15443)
                stroke, fill, tfill = "#7a5af8", "#f4f3ff", "#5925dc"
            text = clip(text, 32)
            gateways.append(dict(pending=bool(gw["pending"]), x=x + 10, y=gy, w=min(geo.w - 20, 18 + 6.5 * len(text)),
                                 fill=fill, stroke=stroke, text=dict(x=x + 18, y=gy + 13, text=text, fill=tfill)))
    lines.append(dict(x=x + 12, y=y + geo.h - 8, text=clip(_badge(errors, warnings, roots), 36), size=11,
                      weight="600", fill=badge_fill, cls=""))
    return lines, gateways


def _states(report, groups):
    """{cluster: (state, findings explained elsewhere by severity, the clusters of those root causes)}."""
    facts_all = report["facts"]
    by_cluster = report["summary"]["by_cluster"]
    borrowed = _borrowed(report)
    out = {}
    for g, names in groups.items():
        for name in names:
            lent, roots = borrowed.get(name, ({}, []))
            out[name] = (_box_state(facts_all.get(name) or {}, by_cluster.get(name, {}), g == "out of play", lent),
                         lent, roots)
    return out


def _clusters(report, groups, order, pos, geo, states):
    facts_all = report["facts"]
    by_cluster = report["summary"]["by_cluster"]
    out = []
    for g in order:
        for name in groups[g]:
            x, y = pos[name]
            facts = facts_all.get(name) or {}
            counts = by_cluster.get(name, {})
            state, lent, roots = states[name]
            fill, stroke = _FILL[state]
            lines, gateways = _texts(name, x, y, geo, facts, state, counts, roots)
            tip = "%s: %d error(s), %d warning(s)" % (name, counts.get("error", 0), counts.get("warning", 0))
            if roots:
                tip += ", %d explained by the root cause on %s" % (sum(lent.values()), names_text(roots, 5))
            if not geo.boxes and state != "out-of-play":
                tip += "; network %s; role %s; cluster ID %s" % (facts.get("network") or "-", facts.get("role") or "-",
                                                                 facts.get("cluster_id") or "-")
            out.append(dict(name=name, x=x, y=y, w=geo.w, h=geo.h, state=state, fill=fill, stroke=stroke,
                            stroke_width="2.5" if state == "error" else "1.5",
                            dashed=state in ("out-of-play", "affected"),
                            rx=10 if geo.boxes else 6, tip=tip, lines=lines, gateways=gateways))
    return out


class _Labels:
    """Greedy placement of link labels: a label goes where it overlaps nothing placed before."""

    def __init__(self, boxes):
        self.taken = list(boxes)

    @staticmethod
    def _overlaps(a, b):
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    def place(self, cx, cy, nx, ny, text, size=11):
        w, h = _text_width(text, size), size + 4
        for k in (0, 1, -1, 2, -2, 3, -3, 4, -4):
            x, y = cx + nx * 14 * k, cy + ny * 14 * k
            rect = (x - w / 2.0 - 2, y - h + 3, x + w / 2.0 + 2, y + 3)
            if not any(self._overlaps(rect, t) for t in self.taken):
                self.taken.append(rect)
                return x, y
        return None


def _link(lk, pos, geo, labels):
    sx, sy = pos[lk["source"]]
    tx, ty = pos[lk["target"]]
    x1, y1 = sx + geo.w / 2.0, sy + geo.h / 2.0
    x2, y2 = tx + geo.w / 2.0, ty + geo.h / 2.0
    dx, dy = x2 - x1, y2 - y1
    dist = math.hypot(dx, dy) or 1.0
    # Clip both ends to the boxes' borders, then bend to the right so A->B and B->A separate.
    t1 = min((geo.w / 2.0 + 4) / abs(dx) if dx else 1e9, (geo.h / 2.0 + 4) / abs(dy) if dy else 1e9)
    t1 = min(t1, 0.45)
    ax, ay = x1 + dx * t1, y1 + dy * t1
    bx, by = x2 - dx * t1, y2 - dy * t1
    nx, ny = -dy / dist, dx / dist
    bend = 22 if dist > 60 else 8
    mx, my = (ax + bx) / 2.0 + nx * bend, (ay + by) / 2.0 + ny * bend
    state = lk["state"] if lk["state"] in COLORS else "warning"
    tip = "remote secret: istiod in %s reads %s (%s)%s" % (
        lk["source"], lk["target"], lk.get("secret") or "missing",
        (": " + ", ".join(lk.get("ids") or [])) if lk.get("ids") else "")
    label = None
    if state != "ok" and geo.boxes:
        text = clip("missing" if lk.get("secret") is None else
                    ", ".join(i.split(".", 1)[-1] for i in lk.get("ids") or []), 34)
        # On the outer side of the bend, clear of the curve, of the boxes and of the other labels.
        at = labels.place(mx + nx * 10, my + ny * 10 + (4 if ny > 0 else -4), nx, ny, text)
        if at:
            label = dict(x=at[0], y=at[1], text=text)
    return dict(source=lk["source"], target=lk["target"], state=state, color=COLORS[state], tip=tip,
                d="M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f" % (ax, ay, mx, my, bx, by),
                width="2.5" if state != "ok" else "1.6", dashed=lk.get("secret") is None, label=label)


def _bundles(broken):
    """(links drawn one by one, bundles ``(cluster, "in" | "out", links)``): BUNDLE or more broken links
    into one cluster (else out of one) become one badge on it."""
    into, outof = {}, {}
    for lk in broken:
        into.setdefault(lk["target"], []).append(lk)
    bundles, rest = [], []
    for target, links in sorted(into.items(), key=lambda kv: natural_key(kv[0])):
        if len(links) >= BUNDLE:
            bundles.append((target, "in", links))
        else:
            rest.extend(links)
    single = []
    for lk in rest:
        outof.setdefault(lk["source"], []).append(lk)
    for source, links in sorted(outof.items(), key=lambda kv: natural_key(kv[0])):
        if len(links) >= BUNDLE:
            bundles.append((source, "out", links))
        else:
            single.extend(links)
    return single, bundles


def _badge_of(name, direction, links, pos, geo):
    x, y = pos[name]
    worst = "error" if any(lk["state"] == "error" for lk in links) else "warning"
    ids = sorted(set(i for lk in links for i in lk.get("ids") or []))
    others = sorted((lk["source"] if direction == "in" else lk["target"] for lk in links), key=natural_key)
    plural = "" if len(links) == 1 else "s"
    arrow = "\u21d0" if direction == "in" else "\u21d2"
    text = "%s %d broken link%s" % (arrow, len(links), plural) if geo.boxes else "%s %d" % (arrow, len(links))
    if direction == "in":
        tip = "%d cluster(s) cannot read %s: %s" % (len(links), name, names_text(others, 30))
    else:
        tip = "istiod in %s cannot read %d cluster(s): %s" % (name, len(links), names_text(others, 30))
    if ids:
        tip += " (%s)" % ", ".join(ids)
    size = 11 if geo.boxes else 10
    w = _text_width(text, size) + 14
    if geo.boxes:
        bx, by = x + geo.w - w - 6, y + 6
    else:
        bx, by = x + geo.w - w - 4, y + 3
    return dict(cluster=name, direction=direction, state=worst, color=COLORS[worst], count=len(links),
                x=bx, y=by, w=w, h=size + 6, text=text, size=size, tip=tip)


def layout(report):
    """The picture as data for templates/mesh.svg.j2 (see the module docstring)."""
    in_play = report["clusters"]["in_play"]
    groups, order = _groups(report)
    total = len(in_play) + len(report["clusters"]["out_of_play"])
    model = report.get("model") or {}
    link_info = model.get("link_summary") or {}
    detailed = len(in_play) <= LINK_CLUSTERS and (link_info.get("complete", True))
    geo = _Geometry(total <= BOX_CLUSTERS, detailed)
    states = _states(report, groups)
    links = [lk for lk in model.get("links") or [] if lk.get("source") in states and lk.get("target") in states]
    healthy = [lk for lk in links if lk.get("state") == "ok"]
    broken = [lk for lk in links if lk.get("state") != "ok"]
    single, bundles = _bundles(broken)
    hidden = []
    if total > COLLAPSE_CLUSTERS:
        ends = set(lk["source"] for lk in single) | set(lk["target"] for lk in single) | set(b[0] for b in bundles)
        for g in order:
            keep = [n for n in groups[g] if n in ends or states[n][0] in ("error", "warning")]
            hidden.extend((g, n) for n in groups[g] if n not in keep)
            groups[g] = keep
    panels, pos, width, bottom = _panels(groups, order, geo)
    if hidden:
        panels.append(_summary_panel(hidden, states, bottom, geo))
        bottom = panels[-1]["y"] + panels[-1]["h"]
    clusters = _clusters(report, groups, order, pos, geo, states)
    counts = link_info.get("counts") or {"ok": len(healthy), "warning": 0, "error": len(broken)}
    not_drawn = 0 if detailed else counts.get("ok", 0)
    if not detailed:
        healthy = []
    badges = [_badge_of(name, direction, links, pos, geo) for name, direction, links in bundles]
    labels = _Labels([(c["x"], c["y"], c["x"] + c["w"], c["y"] + c["h"]) for c in clusters] +
                     [(b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"]) for b in badges] +
                     [(p["x"], p["y"], p["x"] + 20 + _text_width(p["title"], 13), p["y"] + geo.head - 4)
                      for p in panels])
    under = [_link(lk, pos, geo, labels) for lk in healthy if lk["source"] in pos and lk["target"] in pos]
    over = [_link(lk, pos, geo, labels) for lk in single]
    height = bottom + 80
    legend = {"y": height - 34, "hidden": None,
              "counts": "links: %d ok \u00b7 %d warning \u00b7 %d error" % (
                  counts.get("ok", 0), counts.get("warning", 0), counts.get("error", 0))}
    if not_drawn:
        legend["hidden"] = "%d healthy links not drawn (%d clusters)" % (not_drawn, len(in_play))
    return {"width": width, "height": height, "boxes": geo.boxes, "panels": panels, "clusters": clusters,
            "links_under": under, "links_over": over, "bundles": badges, "legend": legend,
            "colors": COLORS, "collapsed": len(hidden)}
