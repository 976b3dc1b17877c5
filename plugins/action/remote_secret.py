# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""remote_secret runs as a module; this action adds a play's group/kubernetes.core.k8s connection defaults."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.plugin_utils.k8s_defaults import KubernetesCoreDefaultsAction
from ansible_collections.meshmend.multicluster.plugins.plugin_utils.forks import load_template_plugins


# Ansible imports this plugin in its main process before it forks the workers (plugin_utils/forks.py).
load_template_plugins()


class ActionModule(KubernetesCoreDefaultsAction):
    """meshmend.multicluster.remote_secret with kubernetes.core's group defaults (lowest precedence)."""
