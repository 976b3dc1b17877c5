# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options of the reports, shared by mesh_report and connectivity_report (report/argspec.py).
    DOCUMENTATION = r"""
options:
  docs_url:
    description:
      - Where finding ids link to in the Markdown and HTML reports (C(#<id>) is appended).
      - The default is the published catalogue, so the links work wherever the report is opened (a CI artifact,
        a mail). V(local) links to the collection's own C(docs/findings.md), relative to O(report_dir), for
        reports read on the machine that wrote them (V(docs/findings.md), the former default, means the same).
      - Any other value is used as given, for example a path relative to the report directory.
    type: str
    default: https://github.com/meshmend/multicluster/blob/main/docs/findings.md
  template_dir:
    description:
      - A folder of Jinja2 templates for the HTML report, searched before the built-in ones. A file there
        replaces the built-in template of the same name (C(report.html.j2) the page, C(style.css.j2),
        C(macros.html.j2), C(root_causes.html.j2), C(remediation.html.j2), C(mesh.svg.j2) the picture,
        C(findings.html.j2), C(clusters.html.j2), C(connectivity.html.j2)). Copy a built-in one from the
        collection's C(plugins/module_utils/report/templates/) to start.
      - Templates render with autoescape on, in Jinja2's sandbox. An unusable folder or template fails the task
        before anything is written.
    type: path
"""

    # The connectivity tests' results (roles/connectivity), merged into the reports.
    CONNECTIVITY = r"""
options:
  tests:
    description:
      - Connectivity test cases (RV(meshmend.multicluster.connectivity_probe#module:tests) of every cluster), giving
        a C(connectivity) JUnit suite with one case per cluster pair and test, and a table in the Markdown and HTML
        reports.
    type: list
    elements: dict
    default: []
  probes:
    description:
      - Registered results of M(meshmend.multicluster.connectivity_probe) by cluster; their findings and tests are
        added to those given. A failed or missing result becomes an error test case naming the cluster.
    type: dict
    default: {}
  workloads:
    description:
      - Registered results of M(meshmend.multicluster.connectivity_workload) (state present) by cluster; a failed
        set-up becomes an error test case with the module's message.
    type: dict
    default: {}
"""
