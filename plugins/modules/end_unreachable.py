#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

DOCUMENTATION = r"""
---
module: end_unreachable
short_description: Count a cluster that could not be read as unreachable in Ansible's recap
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - M(meshmend.multicluster.cluster_info) returns a cluster it cannot read as a result (C(reachable=false)), so that
    every cluster is analyzed and reported together; Ansible then counts that host C(ok).
  - Given that registered result, this action ends the play for the host when the cluster could not be read, the
    way Ansible ends it for an unreachable host, so the recap counts it in C(unreachable) and later tasks skip it.
    A cluster that was read is left alone (C(ok), nothing changed).
  - The remediate role runs it last, after the reports; the diagnose role lets M(meshmend.multicluster.cluster_info)
    do the same (its O(meshmend.multicluster.cluster_info#module:end_unreachable) option) and runs this only for the
    one cluster it kept in play for the analysis. Their summary and exit status do not change.
  - Runs on the controller as an action plugin and makes no request.
extends_documentation_fragment:
  - meshmend.multicluster.attributes
options:
  result:
    description:
      - This host's registered result of M(meshmend.multicluster.cluster_info).
    type: dict
    required: true
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: none
  platform:
    platforms: controller
seealso:
  - module: meshmend.multicluster.cluster_info
"""

EXAMPLES = r"""
- name: Read every cluster, the unreachable ones included
  meshmend.multicluster.cluster_info:
    context: "{{ kube_context }}"
  register: gathered

- name: The recap counts the clusters that could not be read as unreachable
  meshmend.multicluster.end_unreachable:
    result: "{{ gathered }}"
"""

RETURN = r"""
reachable:
  description: Whether the cluster was read. When false the host is unreachable and C(msg) says why.
  returned: always
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(result=dict(type="dict", required=True)), supports_check_mode=True)
    module.fail_json(msg="meshmend.multicluster.end_unreachable must be run as an action plugin on the controller: "
                         "call it by its name in a task, not through a module-only path")


if __name__ == "__main__":
    main()
