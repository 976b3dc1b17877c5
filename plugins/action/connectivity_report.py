# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""connectivity_report: the connectivity tests' results merged into the report files, on the controller.

The same path as ``mesh_report`` with ``analyze: false`` (plugins/action/mesh_report.py): the
reports are rendered by plugins/module_utils/report/ from its templates, which only the controller
has. Documentation: plugins/modules/connectivity_report.py.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

import os

from ansible.plugins.action import ActionBase

from ansible_collections.meshmend.multicluster.plugins.action.mesh_report import (
    check_template_dir, merge_connectivity, read_existing, write_reports,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report import CONNECTIVITY_REPORT_ARGSPEC
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.connectivity import case_lines


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(CONNECTIVITY_REPORT_ARGSPEC)
    # Check mode runs no traffic test: there is nothing to merge (the task is skipped).
    _supports_check_mode = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars or {})
        validation, args = self.validate_argument_spec(argument_spec=CONNECTIVITY_REPORT_ARGSPEC)
        p = validation.validated_parameters
        check_template_dir(p["template_dir"])
        directory = os.path.abspath(os.path.expanduser(p["report_dir"]))
        existing = None
        if p["merge"]:
            existing, warning = read_existing(directory)
            if warning:
                self._display.warning(warning)
        args = dict(extra_findings=p["findings"], tests=p["tests"], probes=p["probes"], workloads=p["workloads"],
                    fail_on=p["fail_on"])
        report, tests = merge_connectivity(existing, args, p["clusters"])
        files = write_reports(report, directory, p["docs_url"], None, "meshmend connectivity", p["template_dir"])
        counts = report["summary"]["counts"]
        found = [f for f in report["findings"] if str(f.get("id")).startswith("connectivity.")]
        result.update(changed=True, report_files=files, merged=existing is not None,
                      summary={"counts": counts, "worst": report["summary"]["worst"]},
                      tests=report["connectivity"]["counts"], lines=case_lines(tests),
                      threshold_exceeded=report["failed"],
                      msg="%d connectivity finding(s); report: %d error(s), %d warning(s), %d info"
                      % (len(found), counts["error"], counts["warning"], counts["info"]))
        return result
