# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""end_unreachable: a cluster cluster_info could not read becomes an unreachable host (documentation:
plugins/modules/end_unreachable.py)."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.meshmend.multicluster.plugins.plugin_utils.forks import load_template_plugins
from ansible_collections.meshmend.multicluster.plugins.plugin_utils.unreachable import verdict

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
