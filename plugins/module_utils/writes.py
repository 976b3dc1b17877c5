# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Safe writes for remediation.

Every write here:

- is computed from a fresh read and carries that read's ``metadata.resourceVersion``, so a
  change made by someone else in between gives 409 Conflict instead of a lost update;
- on 409 re-reads, recomputes (the change may now be unnecessary, or refused) and retries a
  bounded number of times, then fails with a message naming the cluster and the object;
- in check mode is sent with ``dryRun=All``: the API server validates and admits it and
  persists nothing, so check mode shows real errors without writing;
- is a PATCH (merge patch of only the fields the fix owns) or a create: never a replace, never a delete.

The callers pass a *compute* function (object -> change, or None when there is nothing to
do), which keeps the decision (idempotence, force) next to the data it was made from.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.meshmend.multicluster.plugins.module_utils.client import ClusterError
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import (
    label_key_errors, label_value_errors, labels_of,
)

MERGE_PATCH = "application/merge-patch+json"
FIELD_MANAGER = "meshmend"
DEFAULT_RETRIES = 3


class WriteConflict(Exception):
    """The object kept changing under us: retries exhausted, nothing was overwritten."""

    def __init__(self, cluster, what, attempts):
        self.cluster = cluster
        self.what = what
        self.attempts = attempts
        super(WriteConflict, self).__init__(
            "%s in cluster %s was modified by someone else %d time(s) while meshmend was writing it "
            "(409 Conflict on its resourceVersion): nothing was overwritten; run remediate again"
            % (what, cluster, attempts))


class RefusedChange(Exception):
    """A compute function refuses the change (e.g. it would replace a value without force)."""


class WriteResult:
    """Outcome of one write: ``before``/``after`` objects, ``changed``, ``attempts``."""

    __slots__ = ("before", "after", "changed", "attempts", "created")

    def __init__(self, before, after, changed, attempts, created=False):
        self.before = before
        self.after = after
        self.changed = changed
        self.attempts = attempts
        self.created = created


def _cluster(client):
    return getattr(client, "cluster", None) or getattr(client, "context", None) or "?"


def read(client, path):
    """GET ``path``; None when the object does not exist (other errors propagate)."""
    return client.get_or_none(path)


def resource_version(obj):
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


def patch_object(client, path, compute, what, check_mode=False, retries=DEFAULT_RETRIES, current=None):
    """Merge-patch ``path`` with ``compute(obj)``, preconditioned on obj's resourceVersion.

    ``compute`` gets a copy of the live object and returns a merge patch dict, or None/{}
    when the object is already as wanted. ``current`` is an object already read (its
    resourceVersion may be stale: then the first attempt ends in 409 and a fresh read).
    ``what`` names the object in messages (``Service istio-system/istio-eastwestgateway``).
    """
    attempts = 0
    obj = current
    while attempts <= retries:
        if obj is None:
            obj = read(client, path)
            if obj is None:
                raise ClusterError("not_found", "%s: %s not found" % (_cluster(client), what), 404, "NotFound",
                                   cluster=_cluster(client))
        patch = compute(copy.deepcopy(obj))
        if not patch:
            return WriteResult(obj, obj, False, attempts)
        body = copy.deepcopy(patch)
        rv = resource_version(obj)
        if rv:
            body.setdefault("metadata", {})["resourceVersion"] = rv
        attempts += 1
        try:
            after = client.request("PATCH", path, body=body, content_type=MERGE_PATCH,
                                   dry_run=check_mode, field_manager=FIELD_MANAGER)
        except ClusterError as exc:
            if exc.kind == "conflict":
                obj = None  # someone else wrote it: decide again from what is there now
                continue
            raise
        return WriteResult(obj, after, True, attempts)
    raise WriteConflict(_cluster(client), what, attempts)


def ensure_object(client, collection_path, name, build, what, check_mode=False, retries=DEFAULT_RETRIES):
    """Create ``name`` in ``collection_path``, or merge-patch it with ``build(obj)``.

    ``build(None)`` returns the whole object to create; ``build(obj)`` for a live object returns a merge
    patch of only what the caller owns (other keys, other writers' changes stay), or None when the object is
    already right. A patch carries the read's resourceVersion; a create racing another create
    (409 AlreadyExists), a stale patch (409 Conflict) or an object deleted meanwhile re-reads and rebuilds.
    """
    path = "%s/%s" % (collection_path.rstrip("/"), name)
    attempts = 0
    while attempts <= retries:
        obj = read(client, path)
        wanted = build(copy.deepcopy(obj) if obj is not None else None)
        if not wanted:
            return WriteResult(obj, obj, False, attempts)
        attempts += 1
        try:
            if obj is None:
                after = client.request("POST", collection_path, body=wanted, dry_run=check_mode,
                                       field_manager=FIELD_MANAGER)
                return WriteResult(None, after, True, attempts, created=True)
            body = copy.deepcopy(wanted)
            body.setdefault("metadata", {})["resourceVersion"] = resource_version(obj)
            after = client.request("PATCH", path, body=body, content_type=MERGE_PATCH, dry_run=check_mode,
                                   field_manager=FIELD_MANAGER)
            return WriteResult(obj, after, True, attempts)
        except ClusterError as exc:
            if exc.kind in ("conflict", "not_found"):
                continue
            raise
    raise WriteConflict(_cluster(client), what, attempts)


def label_patch(obj, key, value, force, what):
    """Merge patch setting label ``key=value`` on obj; None if already set; refuse to replace without force."""
    # checked here, the one place labels are written: a value the API server would refuse (over 63
    # characters, spaces) is refused before any request, in its words
    errors = label_key_errors(key) + label_value_errors(value)
    if errors:
        raise RefusedChange("%s: label %s=%r is not valid in Kubernetes: %s" % (what, key, value, "; ".join(errors)))
    current = labels_of(obj).get(key)
    if current == value:
        return None
    if current is not None and not force:
        raise RefusedChange("%s already has label %s=%s, not %s: meshmend does not replace a different "
                            "value unless force=true" % (what, key, current, value))
    return {"metadata": {"labels": {key: value}}}
