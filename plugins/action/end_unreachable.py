# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""end_unreachable: a cluster cluster_info could not read becomes an unreachable host (documentation:
plugins/modules/end_unreachable.py)."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.meshmend.multicluster.plugins.module_utils.report.document import facts_from_result
from ansible_collections.meshmend.multicluster.plugins.plugin_utils.forks import load_template_plugins

ARGSPEC = dict(result=dict(type="dict", required=True))


# Ansible imports this plugin in its main process before it forks the workers (plugin_utils/forks.py).
load_template_plugins()


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        validation = ArgumentSpecValidator(ARGSPEC).validate(self._task.args)
        if validation.error_messages:
            result.update(failed=True, msg="end_unreachable: %s" % "; ".join(validation.error_messages))
            return result
        return dict(result, **verdict(validation.validated_parameters["result"]))


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
