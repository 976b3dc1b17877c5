# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check registry: one small function per finding id (or closely tied ids), registered with them.

A check is ``fn(mesh) -> iterable of Finding`` (``checks/model.Mesh`` is its one input). Checks do not
see each other's findings and may run in any order: the causes a finding lists are candidates, and
:func:`link_causes` keeps those that were found once every check ran.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.catalogue import CATALOGUE

# Finding id prefix -> the area that checks it (``areas`` options and per-area timing use these names).
PREFIX_AREA = {
    "cluster": "cluster", "istio": "cluster", "mesh": "cluster",
    "primary_remote": "primary_remote", "remote_secret": "remote_secret", "network": "network",
    "eastwest_gateway": "gateway", "trust": "trust", "locality": "locality", "endpoints": "endpoints",
}
AREA_NAMES = ("cluster", "primary_remote", "remote_secret", "network", "gateway", "trust", "locality", "endpoints")


class Check:
    __slots__ = ("ids", "fn", "area")

    def __init__(self, ids, fn):
        self.ids = tuple(ids)
        self.fn = fn
        self.area = area_of(ids[0])

    @property
    def name(self):
        return self.fn.__name__


REGISTRY = []


def area_of(finding_id):
    """The check area of a finding id (``eastwest_gateway.missing`` -> ``gateway``), or None."""
    return PREFIX_AREA.get(str(finding_id).split(".", 1)[0])


def check(*ids):
    """Register ``fn`` as the check that raises ``ids`` (every id must be in the catalogue)."""
    for fid in ids:
        if fid not in CATALOGUE:
            raise ValueError("check for %s: not in the catalogue (add it to catalogue.py first)" % fid)

    def register(fn):
        REGISTRY.append(Check(ids, fn))
        return fn
    return register


def _scoped_keys(fid, scope, finding):
    cluster, peer = finding.cluster, finding.peer
    if scope == "pair" and peer:
        return ["%s@%s->%s" % (fid, cluster, peer)]
    if scope == "peer" and peer:
        return ["%s@%s" % (fid, peer)]
    if scope == "shared_id" and peer:
        return ["%s@%s->%s" % (fid, cluster, peer), "%s@%s->%s" % (fid, peer, cluster)]
    return []


def link_causes(found):
    """Resolve every finding's ``caused_by`` against what was found (``found``: key -> Finding).

    Candidates are the finding's own (set by its check) and its catalogue entry's ``causes``; a
    candidate that was not found, or the finding itself, is dropped; order is kept. An entry with a
    ``no_cause`` remedy variant is worded with it when no cause is left.
    """
    for f in found.values():
        candidates = list(f.caused_by)
        for fid, scope in CATALOGUE[f.id].causes if f.id in CATALOGUE else ():
            candidates.extend(_scoped_keys(fid, scope, f))
        seen = set([f.key])
        f.caused_by = [k for k in candidates if k in found and not (k in seen or seen.add(k))]
        entry = CATALOGUE.get(f.id)
        if not f.caused_by and entry is not None and "no_cause" in (entry.remedy or {}) and f.fields is not None:
            # the remedy that says where to look when none of the guide's causes was found
            f.remedy = entry.render("remedy", "no_cause", f.fields)
