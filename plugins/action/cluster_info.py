# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cluster_info on the controller, without a module process, when the host is local.

Every cluster host uses ``ansible_connection: local`` (one host per cluster, the modules talk to
the API server from the controller). Running the gather inside Ansible's worker saves a Python
start and the kubernetes import (about 0.5 s of CPU) per cluster. Ansible's strategy imports this
file in the main process before it forks the workers, so the import below is paid once per run,
not once per host. Any other connection runs the module as usual.

Either way a play's ``module_defaults`` for ``group/kubernetes.core.k8s`` add the connection options
the task lacks (plugins/plugin_utils/k8s_defaults.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import os

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.meshmend.multicluster.plugins.module_utils.client import HAS_KUBERNETES
from ansible_collections.meshmend.multicluster.plugins.module_utils.cluster_info import (
    GATHER_IMPORT_ERROR, ClusterInfoError, argument_spec, facts_in_format, run,
)
from ansible_collections.meshmend.multicluster.plugins.plugin_utils.k8s_defaults import with_kubernetes_core_defaults
from ansible_collections.meshmend.multicluster.plugins.plugin_utils.forks import load_template_plugins
from ansible_collections.meshmend.multicluster.plugins.plugin_utils.unreachable import verdict

MODULE = "meshmend.multicluster.cluster_info"


class _Warnings(object):
    """What run() needs of an AnsibleModule: warnings and the values never to show."""

    def __init__(self):
        self.warnings = []
        self.no_log_values = set()

    def warn(self, msg):
        self.warnings.append(msg)


def _wanted(args, name, default):
    try:
        return boolean(args.get(name, default), strict=False)
    except TypeError:
        return default


def ended_if_unreachable(result, args):
    """``result``, made an unreachable host's when the task asks (end_unreachable) and the cluster could not be
    read: Ansible's recap counts it, later tasks skip it, and the facts are still registered."""
    if _wanted(args, "end_unreachable", False) and result.get("reachable") is False and not result.get("failed"):
        result.update(verdict(result))
    return result


def off_console(result, args):
    """``result``, censored for the console and callbacks when the task asks (facts_on_console: false) and
    the cluster was read: Ansible then hands callbacks only the warnings, and registers the whole result."""
    if not _wanted(args, "facts_on_console", True) and result.get("reachable") is True and not result.get("failed"):
        result["_ansible_no_log"] = True
    return result


# Ansible imports this plugin in its main process before it forks the workers (plugin_utils/forks.py).
load_template_plugins()


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        # This worker is a fork of Ansible's main process, which by now holds every cluster read so far (registered
        # results, one entry per peer): Python's collector would walk all of it, and so copy every page of it into
        # this worker. What the worker inherited is left out of its collections; what it allocates is collected.
        gc.freeze()
        args = with_kubernetes_core_defaults(self._task, self._templar, self._task.args)
        return off_console(ended_if_unreachable(self._gather(args, tmp, task_vars), args), args)

    def _gather(self, args, tmp, task_vars):
        if self._connection.transport != "local" or not HAS_KUBERNETES or GATHER_IMPORT_ERROR is not None:
            # Remote hosts, or the library missing here: the module reports it in its own words.
            return self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        result = super(ActionModule, self).run(tmp, task_vars)
        # The task's `environment:` (K8S_AUTH_* fallbacks among them) applies as it would to a module.
        # This worker process runs this one task for this one host, so changing its environment is safe.
        environment = {}
        self._compute_environment_string(environment)
        os.environ.update(dict((k, str(v)) for k, v in environment.items()))
        validation = ArgumentSpecValidator(argument_spec()).validate(args)
        if validation.error_messages:
            result.update(failed=True, msg="cluster_info: %s" % "; ".join(validation.error_messages))
            return result
        sink = _Warnings()
        sink.no_log_values.update(validation._no_log_values)
        try:
            result.update(run(validation.validated_parameters, sink))
        except ClusterInfoError as exc:
            result.update(failed=True, msg=str(exc))
        if sink.warnings:
            result["warnings"] = sink.warnings
        # As AnsibleModule.exit_json does: no value of a no_log option, or of a credential read
        # on the way (kubeconfig secrets), ever leaves in the result (redact.py: the same, in linear time).
        return facts_in_format(result, validation.validated_parameters, sink.no_log_values)
