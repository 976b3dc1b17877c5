# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check catalogue: pure functions over the facts of every cluster in play.

``run_checks(facts_by_cluster, options)`` is the one entry point (diagnose, the standalone
modules and the tests call it). Areas run in the order of the guide's decision tree, causes
first, so that symptoms (endpoints.*) can link to the findings that explain them
(``caused_by`` holds finding keys ``id@cluster[->peer]``).

Facts are those of docs/facts.md; a peer may be partial (``{"cluster", "cluster_id",
"partial": True}``) and is then only used for what it holds. An unreachable cluster yields
``cluster.unreachable`` and nothing else.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import (
    CATALOGUE, sort_findings,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks._mesh import (
    EXTRA_SEVERITIES, Mesh, parse_time,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import (
    cluster, endpoints, gateway, locality, network, primary_remote, remote_secret, trust,
)

# Area name -> module, in run order (causes before the symptoms that link to them).
AREAS = (
    ("cluster", cluster),
    ("primary_remote", primary_remote),
    ("remote_secret", remote_secret),
    ("network", network),
    ("gateway", gateway),
    ("trust", trust),
    ("locality", locality),
    ("endpoints", endpoints),
)
AREA_NAMES = tuple(name for name, _mod in AREAS)

# Finding id prefix -> area (``areas`` may name either).
_PREFIX_AREA = {
    "cluster": "cluster", "istio": "cluster", "mesh": "cluster",
    "primary_remote": "primary_remote", "remote_secret": "remote_secret", "network": "network",
    "eastwest_gateway": "gateway", "trust": "trust", "locality": "locality", "endpoints": "endpoints",
}

# Always reported whatever ``areas`` says: they explain why other checks were skipped.
_ALWAYS = ("cluster.unreachable", "cluster.forbidden", "cluster.read_failed")

# Every id these checks can raise (the catalogue minus connectivity.*, plus the additions).
CHECKED_IDS = tuple(sorted(
    [i for i in CATALOGUE if not i.startswith("connectivity.")] + list(EXTRA_SEVERITIES)))


class ChecksError(ValueError):
    """Bad input to run_checks (the message names what is wrong)."""


def area_of(finding_id):
    return _PREFIX_AREA.get(str(finding_id).split(".", 1)[0])


def _normalize_areas(areas):
    if areas is None:
        return set(AREA_NAMES)
    if isinstance(areas, str):
        areas = [a for a in areas.replace(",", " ").split() if a]
    wanted = set()
    for a in areas:
        name = _PREFIX_AREA.get(a, a)
        if name not in AREA_NAMES:
            raise ChecksError("unknown check area %r: expected some of %s" % (a, ", ".join(AREA_NAMES)))
        wanted.add(name)
    return wanted


def run_checks(facts_by_cluster, options=None):
    """Findings (sorted, one per id/cluster/peer) for the facts of every cluster in play.

    options: ``areas`` (names of AREAS or finding id prefixes, default all), ``out_of_play``
    (cluster names known but not gathered), ``now`` (datetime for expiry), ``expiry_days``
    (default 30), ``probe_service`` (default helloworld.sample, when no proxy was probed),
    ``timings`` (a dict filled with seconds per area, for the report's per-check timing).
    """
    if not isinstance(facts_by_cluster, dict):
        raise ChecksError("facts_by_cluster must be a dict of cluster name -> facts, not %s"
                          % type(facts_by_cluster).__name__)
    for name, facts in facts_by_cluster.items():
        if not isinstance(facts, dict):
            raise ChecksError("facts of cluster %s must be a dict, not %s" % (name, type(facts).__name__))
    if options is not None and not isinstance(options, dict):
        raise ChecksError("options must be a dict, not %s" % type(options).__name__)
    options = dict(options or {})
    wanted = _normalize_areas(options.get("areas"))
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
        raise ChecksError("option out_of_play must be a list of cluster names, not %s" % type(out_of_play).__name__)
    timings = options.get("timings") if isinstance(options.get("timings"), dict) else None
    clock = time.perf_counter
    start = clock()
    mesh = Mesh(facts_by_cluster, options)
    if timings is not None:
        timings["mesh_model"] = round(clock() - start, 6)
    found = {}
    for name, module in AREAS:
        # every area runs: later areas need the earlier findings as causes
        start = clock()
        for finding in module.check(mesh, found):
            found.setdefault(finding.key, finding)
        if timings is not None:
            timings[name] = round(clock() - start, 6)
    kept = {k: f for k, f in found.items() if f.id in _ALWAYS or area_of(f.id) in wanted}
    for f in kept.values():
        f.caused_by = [k for k in f.caused_by if k in kept and k != f.key]
    return sort_findings(list(kept.values()))
