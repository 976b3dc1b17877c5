# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reports of meshmend: one document, four renderings (JSON, Markdown, HTML with a picture, JUnit).

The package, in the order data flows through it:

- ``argspec``: the options of the ``mesh_report`` / ``connectivity_report`` actions, the file names;
- ``document``: ``build_report(facts_by_cluster, findings, model, ...)``, the JSON-safe document every
  renderer reads, from the findings and the mesh model the checks derived (``checks.diagnose``): roles,
  identities, networks and remote-secret links are read from the model, never worked out again;
  ``analyze`` runs the checks once; ``facts_from_result`` reads a host's registered gather;
- ``summary``: per-cluster summaries of the facts (a whitelist, bounded in size at any mesh size);
- ``causes``: root causes first (``root_causes``: each finding that explains others, once, with the
  symptoms it explains grouped by id), the guide's order, the lines the play prints;
- ``remediation``: the before/after section of the remediate role's second diagnosis;
- ``connectivity``: the connectivity tests' findings and cases merged into a report;
- ``markdown``, ``junit``: those renderings, in Python;
- ``picture`` (the layout of the mesh picture) and ``html``: the page and the SVG from Jinja2 templates
  (``templates/``; a ``template_dir`` of one's own overrides a template by name).

``render_all(report, ...)`` renders the formats asked for. Pure functions: the action plugins
(plugins/action/mesh_report.py, connectivity_report.py) read the facts and write the files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.meshmend.multicluster.plugins.module_utils.report.argspec import (  # noqa: F401
    COLLECTION_DOCS_PATH, CONNECTIVITY_REPORT_ARGSPEC, FAIL_ON_CHOICES, LOCAL_DOCS, MESH_REPORT_ARGSPEC,
    PUBLISHED_DOCS_URL, REPORT_FILES,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.causes import (  # noqa: F401
    AREA_ORDER, AREA_TITLES, DIAGNOSE_AREAS, area_of, cause_tree, guide_order_key, root_causes, summary_lines,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.document import (  # noqa: F401
    REPORT_SCHEMA, analyze, build_report, facts_from_result, missing_facts,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.html import (  # noqa: F401
    TemplateError, render_html, render_svg,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.junit import render_junit  # noqa: F401
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.markdown import render_markdown  # noqa: F401
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.summary import summarize_facts  # noqa: F401


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"


def render_all(report, docs_url=COLLECTION_DOCS_PATH, formats=None, title="meshmend diagnosis", template_dir=None):
    """``{format: text}`` for the requested formats (default: all four)."""
    renderers = {
        "json": lambda: render_json(report),
        "markdown": lambda: render_markdown(report, docs_url=docs_url),
        "html": lambda: render_html(report, docs_url=docs_url, title=title, template_dir=template_dir),
        "junit": lambda: render_junit(report),
    }
    return dict((fmt, renderers[fmt]()) for fmt in (formats or REPORT_FILES))
