# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""remediation_plan: one diagnosis (findings + mesh model) -> the remediate role's plan (docs: remediation_plan.yml).

A filter because the plan is pure computation on the controller: no module process, no
cluster access. The logic lives in module_utils/remediation.py.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.model import Mesh
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import kind_words
from ansible_collections.meshmend.multicluster.plugins.module_utils.remediation import PlanError, build_plan
from ansible_collections.meshmend.multicluster.plugins.module_utils.remediation_outcomes import (
    compare_findings, outcome_from_result,
)


def _plain(value):
    if isinstance(value, Mapping):
        return dict((to_native(k) if isinstance(k, str) else k, _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return to_native(value)
    return value


def _host_value(hostvars, host, name):
    try:
        host_vars = hostvars[host]
    except (KeyError, TypeError):
        return None
    try:
        return host_vars.get(name) if hasattr(host_vars, "get") else host_vars[name]
    except Exception:  # undefined variable
        return None


def remediation_plan(diagnosis, model=None, categories=None, gateway_addresses=None, force=False,
                     restart_workloads=False, facts=None, hostvars=None, hosts=None, facts_var="cluster_info",
                     address_var="meshmend_eastwest_gateway_ip"):
    """See remediation_plan.yml."""
    findings = diagnosis
    if isinstance(diagnosis, Mapping) and "findings" in diagnosis:
        findings = diagnosis["findings"]
        if model is None:
            model = diagnosis.get("model")
    if not isinstance(findings, (list, tuple)):
        raise AnsibleFilterError("remediation_plan: expected the diagnose role's meshmend_diagnosis (or a list of "
                                 "findings), got %s" % kind_words(findings))
    findings = _plain(findings)
    addresses = dict(_plain(gateway_addresses or {}))
    if model is None:
        # Findings without their model (1.0 style): the model of the facts registered by the gather.
        facts = dict(_plain(facts or {}))
        for host in hosts or []:
            host = to_native(host)
            if hostvars is not None and host not in facts:
                registered = _plain(_host_value(hostvars, host, facts_var) or {})
                if isinstance(registered, dict) and isinstance(registered.get("facts"), dict):
                    facts[host] = registered["facts"]
            if hostvars is not None and host not in addresses:
                addr = _host_value(hostvars, host, address_var)
                if addr:
                    addresses[host] = to_native(addr)
        model = Mesh(facts).to_dict(findings)
    try:
        return build_plan(findings, _plain(model), categories=_plain(categories), gateway_addresses=addresses,
                          force=bool(force), restart_workloads=bool(restart_workloads))
    except PlanError as exc:
        raise AnsibleFilterError("remediation_plan: %s" % exc)


def remediation_outcome(result):
    """See remediation_outcome.yml."""
    return outcome_from_result(_plain(result))


def remediation_compare(before, after, outcomes=None, check_mode=False):
    """See remediation_compare.yml."""
    return compare_findings(_plain(before), _plain(after), _plain(outcomes), check_mode=bool(check_mode))


class FilterModule(object):
    """meshmend remediation filters."""

    def filters(self):
        return {
            "remediation_plan": remediation_plan,
            "remediation_outcome": remediation_outcome,
            "remediation_compare": remediation_compare,
        }
