# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the report actions and the names of the report files.

``MESH_REPORT_ARGSPEC`` is read by the ``mesh_report`` action plugin and by its doc-only module
(plugins/modules/mesh_report.py), ``CONNECTIVITY_REPORT_ARGSPEC`` likewise for ``connectivity_report``:
one spec each, so the documentation sanity test checks what the action really accepts. This module
imports nothing else of the package, so the doc-only modules stay light.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

REPORT_FILES = {
    "json": "meshmend-report.json",
    "markdown": "meshmend-report.md",
    "html": "meshmend-report.html",
    "junit": "meshmend-junit.xml",
}
FAIL_ON_CHOICES = ("never", "warning", "error")
# Where finding ids link to by default: the published catalogue, which opens from a report anywhere
# (a CI artifact, a mail). ``local`` links to the collection's own copy, relative to the report.
PUBLISHED_DOCS_URL = "https://github.com/meshmend/multicluster/blob/main/docs/findings.md"
LOCAL_DOCS = "local"
# The relative path of the catalogue inside the collection (what ``local`` points at).
COLLECTION_DOCS_PATH = "docs/findings.md"

_CONNECTIVITY_OPTIONS = dict(
    # connectivity.* findings and test cases of the active tests (roles/connectivity)
    extra_findings=dict(type="list", elements="dict", default=[]),
    tests=dict(type="list", elements="dict", default=[]),
    probes=dict(type="dict", default={}),
    workloads=dict(type="dict", default={}),
    merge=dict(type="bool", default=True),
)

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
    docs_url=dict(type="str", default=PUBLISHED_DOCS_URL),
    template_dir=dict(type="path"),
    title=dict(type="str", default="meshmend diagnosis"),
    # Set by the remediate role on its second diagnosis: the report gets a before/after section.
    previous_findings=dict(type="list", elements="dict"),
    remediation=dict(type="dict"),
    # false: no facts are read and nothing is analysed; the connectivity results are merged into
    # the report already in report_dir (what the connectivity role does).
    analyze=dict(type="bool", default=True),
    # true: only check what a mistyped option would break (report folder writable, templates), before
    # any cluster is read; nothing is analysed or written (the roles' first task).
    preflight=dict(type="bool", default=False),
    # The command named in the console summary and the exit verdict (diagnose, remediate, connectivity).
    command=dict(type="str", default="diagnose"),
    **_CONNECTIVITY_OPTIONS
)

CONNECTIVITY_REPORT_ARGSPEC = dict(
    report_dir=dict(type="path", required=True),
    findings=dict(type="list", elements="dict", default=[]),
    tests=dict(type="list", elements="dict", default=[]),
    probes=dict(type="dict", default={}),
    workloads=dict(type="dict", default={}),
    clusters=dict(type="list", elements="str", default=[]),
    fail_on=dict(type="str", choices=list(FAIL_ON_CHOICES), default="error"),
    merge=dict(type="bool", default=True),
    docs_url=dict(type="str", default=PUBLISHED_DOCS_URL),
    template_dir=dict(type="path"),
)
