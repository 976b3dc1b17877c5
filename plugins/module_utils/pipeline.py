# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diagnose pipeline as one Python call: clients or facts -> findings, the mesh model and the report.

The ``cluster_info`` and ``mesh_report`` actions run these steps split over Ansible's hosts (one gather
per host, the analysis once on the controller); a test, a script or another tool can run them here:

    facts = gather_clusters({"cluster1": client1, "cluster2": client2})
    report = diagnose_facts(facts)              # report["findings"], report["root_causes"], report["model"]
    files = render_all(report, formats=["json", "markdown", "html", "junit"])   # report package
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.report import analyze, build_report


def gather_clusters(clients, options=None):
    """{cluster name: facts} for ``{cluster name: client_transport.KubeClient}`` (one read-only pass each, in turn).

    ``options`` are gather's (docs/facts.md), shared by every cluster; a cluster's own ``declared`` values
    may be given as ``options["declared_by_cluster"][name]``. Each cluster's API servers of the others are
    its peers, so a remote secret's server is named after the inventory cluster it points at.
    """
    from ansible_collections.meshmend.multicluster.plugins.module_utils.gather import gather_cluster
    options = dict(options or {})
    declared = options.pop("declared_by_cluster", None) or {}
    peers = [{"name": name, "server": client.server} for name, client in clients.items()]
    facts = {}
    for name, client in clients.items():
        facts[name] = gather_cluster(client, dict(options, peers=peers, declared=declared.get(name) or {}))
        facts[name]["cluster"] = name
    return facts


def diagnose_facts(facts_by_cluster, check_options=None, out_of_play=(), fail_on="error", time_areas=True,
                   previous_findings=None, remediation=None):
    """The report document (report package) of the facts of every cluster in play: the checks run once
    over all of them (``checks.diagnose``), the report reads their findings and mesh model.

    ``report["findings"]`` (dicts), ``report["root_causes"]``, ``report["model"]`` (bounded for the report),
    ``report["failed"]`` (the ``fail_on`` policy applied). Raises the checks' ``ChecksError`` on bad input.
    """
    from ansible_collections.meshmend.multicluster.plugins.module_utils import checks
    options = dict(check_options or {})
    options.setdefault("out_of_play", list(out_of_play))
    findings, timing, model = analyze(facts_by_cluster, checks.diagnose, options, time_areas=time_areas)
    return build_report(facts_by_cluster, findings, model=model, out_of_play=list(out_of_play), fail_on=fail_on,
                        timing=timing, previous_findings=previous_findings, remediation=remediation)
