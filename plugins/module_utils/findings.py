# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one findings model of meshmend (docs/findings.md).

A finding names a symptom or a cause seen on one cluster (and, for pairwise checks,
one peer). Symptoms point at the findings that explain them through ``caused_by``
(a list of finding *keys*, see :func:`finding_key`), so a report reads like the
troubleshooting guide: "only local endpoints -> no remote secret for cluster2".

Findings travel between modules, action plugins and reports as plain dicts
(``Finding.to_dict()``); ``Finding.from_dict`` reads them back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.meshmend.multicluster.plugins.module_utils.catalogue import (
    CATALOGUE, REMEDIATE_CATEGORIES,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import resource_ref

SEVERITIES = ("error", "warning", "info")
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


class FindingError(ValueError):
    """A finding that breaks the model (unknown severity, missing id...)."""


def finding_key(finding):
    """Stable key of a finding: ``id@cluster`` or ``id@cluster->peer``.

    ``caused_by`` lists keys, so a symptom can point at the exact cause on the exact
    cluster pair, and reports can resolve the link.
    """
    if isinstance(finding, Finding):
        fid, cluster, peer = finding.id, finding.cluster, finding.peer
    else:
        fid, cluster, peer = finding["id"], finding.get("cluster"), finding.get("peer")
    key = "%s@%s" % (fid, cluster or "")
    if peer:
        key += "->%s" % peer
    return key


def field_of(finding, name):
    """One field of a finding, whether it travels as a dict or is a Finding; None when it has none."""
    return finding.get(name) if isinstance(finding, dict) else getattr(finding, name, None)


def key_of(finding):
    """The key a finding goes by: the one it carries (a report's own wins), else the one finding_key words."""
    return field_of(finding, "key") or finding_key(finding)


class Finding:
    """One finding: the fields of docs/findings.md.

    - ``id``: a catalogue id; ``severity``: error|warning|info (defaults to the catalogue's).
    - ``cluster``: the cluster (inventory host) the finding is about; ``peer``: the other cluster of a
      pairwise finding, else None.
    - ``target``: the object it is about, ``{"kind", "namespace", "name"}`` (namespace None for
      cluster-scoped objects), or None; ``resource`` is the same as ``Kind/namespace/name`` text.
    - ``message``, ``remedy``: words for people (from the catalogue's templates).
    - ``evidence``: what was seen, for people only (never a credential: fingerprints stand in).
    - ``category``: the remediate category that fixes it, or None (manual).
    - ``fix``: what that category needs to fix it, set by the check (remediation plans from this,
      never from the words or the evidence), or None.
    - ``caused_by``: finding keys of the causes.
    """

    __slots__ = ("id", "severity", "cluster", "peer", "target", "message", "evidence", "remedy",
                 "category", "fix", "caused_by", "fields")

    def __init__(self, id, cluster, message, severity=None, peer=None, resource=None, evidence=None,
                 remedy=None, category=None, caused_by=None, target=None, fix=None):
        if not id:
            raise FindingError("a finding needs an id")
        if severity is None:
            if id not in CATALOGUE:
                raise FindingError("finding %s is not in the catalogue: give it a severity" % id)
            severity = CATALOGUE[id].severity
        if severity not in SEVERITIES:
            raise FindingError("finding %s has severity %r, expected one of %s"
                               % (id, severity, ", ".join(SEVERITIES)))
        if category is not None and category not in REMEDIATE_CATEGORIES:
            raise FindingError("finding %s names remediate category %r, expected one of %s"
                               % (id, category, ", ".join(REMEDIATE_CATEGORIES)))
        if target is None and resource:
            target = parse_resource(resource)
        self.id = id
        self.severity = severity
        self.cluster = cluster
        self.peer = peer
        self.target = dict(target) if target else None
        self.message = message
        self.evidence = dict(evidence or {})
        self.remedy = remedy
        self.category = category
        self.fix = dict(fix) if fix else None
        self.caused_by = list(caused_by or [])
        self.fields = None   # the catalogue template fields it was worded with (not part of the finding)

    @property
    def key(self):
        return finding_key(self)

    @property
    def resource(self):
        t = self.target
        return resource_ref(t["kind"], t.get("namespace"), t["name"]) if t else None

    def to_dict(self):
        return {
            "id": self.id,
            "severity": self.severity,
            "cluster": self.cluster,
            "peer": self.peer,
            "resource": self.resource,
            "target": dict(self.target) if self.target else None,
            "message": self.message,
            "evidence": self.evidence,
            "remedy": self.remedy,
            "category": self.category,
            "fix": dict(self.fix) if self.fix else None,
            "caused_by": list(self.caused_by),
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, data):
        return cls(
            id=data.get("id"), cluster=data.get("cluster"), message=data.get("message"),
            severity=data.get("severity"), peer=data.get("peer"), resource=data.get("resource"),
            evidence=data.get("evidence"), remedy=data.get("remedy"), category=data.get("category"),
            caused_by=data.get("caused_by"), target=data.get("target"), fix=data.get("fix"),
        )

    def __repr__(self):
        return "Finding(%s)" % self.key

    def __eq__(self, other):
        return isinstance(other, Finding) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(self.key)


def target(kind, namespace, name):
    """A finding's ``target``: the object it is about."""
    return {"kind": kind, "namespace": namespace or None, "name": name}


def parse_resource(resource):
    """``Kind/namespace/name`` or ``Kind/name`` -> a target dict (None when empty)."""
    if not resource or not isinstance(resource, str):
        return None
    parts = resource.split("/")
    if len(parts) >= 3:
        return target(parts[0], parts[1], "/".join(parts[2:]))
    if len(parts) == 2:
        return target(parts[0], None, parts[1])
    return target(None, None, parts[0])


def make_finding(fid, cluster, peer=None, target=None, evidence=None, variant=None, remedy_variant=None,
                 category="default", fix=None, caused_by=None, **fields):
    """A finding whose message and remedy come from its catalogue entry's templates.

    ``fields`` fill the templates, with ``cluster`` and ``peer`` always there. ``category``: the
    entry's default unless the check decides otherwise (None: this instance is not safe to fix).
    """
    entry = CATALOGUE[fid]
    values = dict(fields)
    values.setdefault("cluster", cluster)
    values.setdefault("peer", peer)
    message = entry.render("message", variant, values)
    remedy = entry.render("remedy", remedy_variant if remedy_variant is not None else variant, values)
    finding = Finding(fid, cluster, message, peer=peer, target=target, evidence=evidence, remedy=remedy,
                      category=entry.category if category == "default" else category, fix=fix, caused_by=caused_by)
    finding.fields = values
    return finding


_DIGITS = re.compile(r"(\d+)")


def natural_key(name):
    """``cluster2`` before ``cluster10``: names compared with their numbers as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in _DIGITS.split(name or "") if part]


def sort_findings(findings):
    """Errors first, then by cluster, peer (natural order) and id: the order every report uses."""
    return sorted(findings, key=lambda f: (
        _SEVERITY_RANK.get(f["severity"] if isinstance(f, dict) else f.severity, 9),
        natural_key(f["cluster"] if isinstance(f, dict) else f.cluster),
        natural_key(f["peer"] if isinstance(f, dict) else f.peer),
        f["id"] if isinstance(f, dict) else f.id,
    ))


def worst_severity(findings):
    """The most severe severity among findings (dicts or Finding), or None."""
    ranks = [_SEVERITY_RANK[f["severity"] if isinstance(f, dict) else f.severity] for f in findings]
    if not ranks:
        return None
    return SEVERITIES[min(ranks)]


def should_fail(findings, fail_on):
    """The exit policy: ``fail_on`` is never|warning|error (the worst severity that fails a run)."""
    if fail_on == "never":
        return False
    if fail_on not in ("warning", "error"):
        raise FindingError("fail_on must be never, warning or error, not %r" % (fail_on,))
    threshold = _SEVERITY_RANK[fail_on]
    return any(_SEVERITY_RANK[f["severity"] if isinstance(f, dict) else f.severity] <= threshold
               for f in findings)
