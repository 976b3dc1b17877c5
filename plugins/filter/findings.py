# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over meshmend findings and facts (docs in the YAML files beside this one).

``json_query`` lives in community.general, not in ansible-core, so the collection
brings its own JMESPath filter for users who embed diagnose results in automation.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

try:
    import jmespath
    HAS_JMESPATH = True
except ImportError:  # pragma: no cover - jmespath is in requirements.txt
    HAS_JMESPATH = False

from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import kind_words
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import (
    SEVERITIES, sort_findings,
)

_RANK = dict((s, i) for i, s in enumerate(SEVERITIES))


def _plain(value):
    """Ansible hands filters tagged/lazy subclasses of dict, list and str; jmespath
    type-checks by exact type name, so convert to plain Python first."""
    if isinstance(value, Mapping):
        return dict((to_native(k) if isinstance(k, str) else k, _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _findings_of(data, filter_name):
    """Accept a list of findings, a mesh_report result or a report (``findings`` key)."""
    if isinstance(data, Mapping) and "findings" in data:
        data = data["findings"]
    if not isinstance(data, (list, tuple)):
        raise AnsibleFilterError("%s expects a list of findings or a dict with a findings key, got %s"
                                 % (filter_name, kind_words(data)))
    findings = _plain(data)
    for i, f in enumerate(findings):
        if not isinstance(f, dict) or "id" not in f or "severity" not in f:
            raise AnsibleFilterError("%s: item %d is not a finding (needs id and severity): %.200r"
                                     % (filter_name, i, f))
    return findings


def findings_query(data, expr):
    """Select from findings, facts or a report with a JMESPath expression."""
    if not HAS_JMESPATH:
        raise AnsibleFilterError("findings_query needs the jmespath library: pip install jmespath")
    if not isinstance(expr, str) or not expr.strip():
        raise AnsibleFilterError("findings_query needs a JMESPath expression (a non-empty string)")
    try:
        return jmespath.search(expr, _plain(data))
    except jmespath.exceptions.JMESPathError as e:
        raise AnsibleFilterError("findings_query: bad JMESPath expression %r: %s" % (expr, to_native(e)))
    except (TypeError, ValueError) as e:
        raise AnsibleFilterError("findings_query: %r failed on this data: %s" % (expr, to_native(e)))


def findings_by_severity(data, severity="error", at_least=False):
    """Findings of one severity (or a list of severities); ``at_least`` includes worse ones."""
    findings = _findings_of(data, "findings_by_severity")
    wanted = [severity] if isinstance(severity, str) else list(severity or [])
    for s in wanted:
        if s not in _RANK:
            raise AnsibleFilterError("findings_by_severity: severity must be one of %s, not %r"
                                     % (", ".join(SEVERITIES), s))
    if at_least:
        if len(wanted) != 1:
            raise AnsibleFilterError("findings_by_severity: at_least takes one severity")
        limit = _RANK[wanted[0]]
        return sort_findings([f for f in findings if _RANK.get(f["severity"], 9) <= limit])
    return sort_findings([f for f in findings if f["severity"] in wanted])


def findings_summary(data):
    """Counts by severity plus total and the ids seen: ``{error: 1, warning: 0, info: 0, total: 1, ids: [...]}``."""
    findings = _findings_of(data, "findings_summary")
    counts = dict((s, 0) for s in SEVERITIES)
    ids = []
    for f in findings:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
        if f["id"] not in ids:
            ids.append(f["id"])
    counts["total"] = len(findings)
    counts["ids"] = sorted(ids)
    return counts


class FilterModule(object):
    """meshmend findings filters."""

    def filters(self):
        return {
            "findings_query": findings_query,
            "findings_by_severity": findings_by_severity,
            "findings_summary": findings_summary,
        }
