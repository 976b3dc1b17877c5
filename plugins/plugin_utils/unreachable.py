# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When a cluster that could not be read becomes an unreachable host: one verdict for cluster_info's
``end_unreachable`` option and the end_unreachable action."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.report.document import facts_from_result


def verdict(gathered):
    """The task result for one host's cluster_info result: unreachable only when it says it could not read the
    cluster (a gather that failed for another reason is a failure, reported as such, not an unreachable host)."""
    if gathered.get("reachable") is not False:
        return {"changed": False, "reachable": True}
    cluster = gathered.get("cluster") or "the cluster"
    facts = facts_from_result(cluster, gathered)   # either facts_format, as mesh_report reads it
    reason = " ".join(str(facts.get("error") or "no reason given").split())
    return {"changed": False, "reachable": False, "unreachable": True,
            "msg": "%s could not be read: %s" % (cluster, reason[:500])}
