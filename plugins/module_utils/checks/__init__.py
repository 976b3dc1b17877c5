# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check catalogue: pure functions over the facts of every cluster in play.

``diagnose(facts_by_cluster, options)`` is the one entry point: it builds the mesh model
(``model.Mesh``: roles, identities, networks, remote-secret targets, derived once), runs every
registered check over it (``registry``; one small function per finding id, in any order), links
each finding to its causes (the guide's decision tree, ``caused_by`` keys ``id@cluster[->peer]``)
and returns the findings with the model that reports and remediation read.
``run_checks`` returns the findings only.

Facts are those of docs/facts.md; a peer may be partial (``{"cluster", "cluster_id", "partial":
True}``) and is then only used for what it holds. An unreachable cluster yields
``cluster.unreachable`` and nothing else.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import time

from ansible_collections.meshmend.multicluster.plugins.module_utils.catalogue import CATALOGUE, DESIGN_IDS
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.model import Mesh
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.cluster_view import parse_time
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.registry import (  # noqa: F401
    AREA_NAMES, PREFIX_AREA, REGISTRY, area_of, link_causes,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import sort_findings
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import kind_words
# Importing the areas registers their checks.
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import (  # noqa: F401 pylint: disable=unused-import
    cluster, endpoints, gateway, locality, network, primary_remote, remote_secret, trust,
)

# Always reported whatever ``areas`` says: they explain why other checks were skipped.
_ALWAYS = ("cluster.unreachable", "cluster.forbidden", "cluster.read_failed")

# Every id the checks can raise (the catalogue minus connectivity.*, which the active tests raise).
CHECKED_IDS = tuple(sorted(fid for c in REGISTRY for fid in c.ids))
# Ids added to the catalogue since the fixed set, with their severities.
EXTRA_SEVERITIES = dict((fid, CATALOGUE[fid].severity) for fid in CATALOGUE if fid not in DESIGN_IDS)


class ChecksError(ValueError):
    """Bad input to the checks (the message names what is wrong)."""


class Diagnosis:
    """What one analysis found: ``findings`` (sorted Finding objects), ``model`` (the mesh model as a
    JSON-safe dict, see model.Mesh.to_dict) and ``timings`` (seconds per area and for the model)."""

    __slots__ = ("findings", "model", "timings")

    def __init__(self, findings, model, timings):
        self.findings = findings
        self.model = model
        self.timings = timings


def _normalize_areas(areas):
    if areas is None:
        return set(AREA_NAMES)
    if isinstance(areas, str):
        areas = [a for a in areas.replace(",", " ").split() if a]
    wanted = set()
    for a in areas:
        name = PREFIX_AREA.get(a, a)
        if name not in AREA_NAMES:
            raise ChecksError("unknown check area %r: expected some of %s" % (a, ", ".join(AREA_NAMES)))
        wanted.add(name)
    return wanted


def _validate(facts_by_cluster, options):
    if not isinstance(facts_by_cluster, dict):
        raise ChecksError("facts_by_cluster must be a dict of cluster name -> facts, not %s"
                          % kind_words(facts_by_cluster))
    for name, facts in facts_by_cluster.items():
        if not isinstance(facts, dict):
            raise ChecksError("facts of cluster %s must be a dict, not %s" % (name, kind_words(facts)))
    if options is not None and not isinstance(options, dict):
        raise ChecksError("options must be a dict, not %s" % kind_words(options))
    options = dict(options or {})
    if options.get("now") is not None and parse_time(options["now"]) is None:
        raise ChecksError("option now must be a datetime or an ISO 8601 timestamp, not %r" % (options["now"],))
    try:
        if int(options.get("expiry_days") if options.get("expiry_days") is not None else 30) < 0:
            raise ValueError()
    except (TypeError, ValueError):
        raise ChecksError("option expiry_days must be a whole number of days >= 0, not %r"
                          % (options.get("expiry_days"),))
    out_of_play = options.get("out_of_play")
    if out_of_play is not None and not isinstance(out_of_play, (list, tuple, set)):
        raise ChecksError("option out_of_play must be a list of cluster names, not %s" % kind_words(out_of_play))
    return options


def diagnose(facts_by_cluster, options=None):
    """Findings and the mesh model for the facts of every cluster in play.

    options: ``areas`` (names of AREA_NAMES or finding id prefixes, default all), ``out_of_play``
    (cluster names known but not gathered), ``now`` (datetime for expiry), ``expiry_days``
    (default 30), ``probe_service`` (default helloworld.sample, when no proxy was probed).
    """
    options = _validate(facts_by_cluster, options)
    wanted = _normalize_areas(options.get("areas"))
    # The analysis makes N x (N-1) small objects that live until it ends: the cyclic collector, which would
    # scan them all again and again while they are made, is paused meanwhile (it halves the time at 500
    # clusters) and frees the model's own cycles (a view and its entries) once it runs again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _diagnose(facts_by_cluster, options, wanted)
    finally:
        if collecting:
            gc.enable()


def _diagnose(facts_by_cluster, options, wanted):
    clock = time.perf_counter
    timings = {}
    start = clock()
    mesh = Mesh(facts_by_cluster, options)
    timings["mesh_model"] = round(clock() - start, 6)
    found = {}
    for name in AREA_NAMES:
        timings[name] = 0.0
    for registered in REGISTRY:
        start = clock()
        for finding in registered.fn(mesh):
            found.setdefault(finding.key, finding)
        timings[registered.area] = round(timings[registered.area] + clock() - start, 6)
    link_causes(found)
    kept = dict((k, f) for k, f in found.items() if f.id in _ALWAYS or area_of(f.id) in wanted)
    for f in kept.values():
        f.caused_by = [k for k in f.caused_by if k in kept]
    findings = sort_findings(list(kept.values()))
    return Diagnosis(findings, mesh.to_dict(findings), timings)


def run_checks(facts_by_cluster, options=None):
    """The findings of :func:`diagnose` (sorted, one per id/cluster/peer). ``options["timings"]``, a
    dict, is filled with seconds per area."""
    result = diagnose(facts_by_cluster, dict((k, v) for k, v in (options or {}).items() if k != "timings")
                      if isinstance(options, dict) else options)
    if isinstance(options, dict) and isinstance(options.get("timings"), dict):
        options["timings"].update(result.timings)
    return result.findings
