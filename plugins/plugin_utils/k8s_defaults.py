# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A play's ``module_defaults`` for ``group/kubernetes.core.k8s``, applied to meshmend's cluster modules.

Ansible resolves ``group/kubernetes.core.k8s`` from kubernetes.core's own ``meta/runtime.yml`` only: no
other collection can add members to it (``extend_group`` in meshmend's runtime.yml works the other way
round: ``group/meshmend.multicluster.k8s`` then also covers kubernetes.core's modules). So the action
plugin of each meshmend cluster module reads the task's ``module_defaults`` itself and takes the
connection options set there for kubernetes.core's group, with the lowest precedence: an option given
to the task, set for the module by name or for ``group/meshmend.multicluster.k8s`` wins.

Only kubernetes.core's connection options are taken (its other options, such as ``namespace`` or
``wait``, mean something else or nothing to meshmend's modules).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

KUBERNETES_CORE_GROUP = "group/kubernetes.core.k8s"

# kubernetes.core's connection options (its doc fragment k8s_auth_options), with their aliases; the same
# names as meshmend's (plugins/doc_fragments/auth.py).
CONNECTION_OPTIONS = {
    "host": (), "api_key": (), "kubeconfig": (), "context": (), "username": (), "password": (),
    "client_cert": ("cert_file",), "client_key": ("key_file",), "ca_cert": ("ssl_ca_cert",),
    "validate_certs": ("verify_ssl",), "proxy": (), "no_proxy": (), "proxy_headers": (),
    "persist_config": (), "impersonate_user": (), "impersonate_groups": (),
}


def _names(option):
    return (option,) + CONNECTION_OPTIONS[option]


def group_defaults(module_defaults):
    """The connection options of every ``group/kubernetes.core.k8s`` entry (later entries win), untemplated."""
    if isinstance(module_defaults, dict):
        module_defaults = [module_defaults]
    merged = {}
    for entry in module_defaults or []:
        if isinstance(entry, dict) and isinstance(entry.get(KUBERNETES_CORE_GROUP), dict):
            merged.update(entry[KUBERNETES_CORE_GROUP])
    picked = {}
    for option in CONNECTION_OPTIONS:
        for name in _names(option):
            if name in merged:
                picked[option] = merged[name]
    return picked


def missing_from(args, defaults):
    """The defaults whose option (under any of its names) the task's arguments do not already set."""
    given = set(args or {})
    return dict((option, value) for option, value in defaults.items() if not given.intersection(_names(option)))


def with_kubernetes_core_defaults(task, templar, args):
    """ARGS plus the connection options a play set for ``group/kubernetes.core.k8s`` that ARGS lacks."""
    extra = missing_from(args, group_defaults(getattr(task, "module_defaults", None)))
    if not extra:
        return args
    merged = dict(args or {})
    merged.update(templar.template(extra))
    return merged


class KubernetesCoreDefaultsAction(ActionBase):
    """Runs the module as Ansible's ``normal`` action does, with kubernetes.core's group defaults added."""

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super(KubernetesCoreDefaultsAction, self).run(tmp, task_vars)
        del tmp
        wrap_async = self._task.async_val and not self._connection.has_native_async
        args = with_kubernetes_core_defaults(self._task, self._templar, self._task.args)
        result = merge_hash(result, self._execute_module(module_args=args, task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
