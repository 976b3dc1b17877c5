# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes basics, written once: object metadata, label selectors, pods, name and label syntax.

Pure functions over API objects as plain dicts (what a LIST returns). Gather, the checks,
remediation, connectivity and the modules all read objects through these.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re


def as_dict(value):
    return value if isinstance(value, dict) else {}


def as_list(value):
    return value if isinstance(value, list) else []


def dig(data, *path):
    """``data[path[0]][path[1]]...`` or None where a step is missing or not a dict."""
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def meta(obj):
    return as_dict(as_dict(obj).get("metadata"))


def name_of(obj):
    return meta(obj).get("name")


def labels_of(obj):
    return as_dict(meta(obj).get("labels"))


def annotations_of(obj):
    return as_dict(meta(obj).get("annotations"))


def ref(namespace, name):
    """``namespace/name`` (``name`` alone for cluster-scoped objects)."""
    return "%s/%s" % (namespace, name) if namespace else str(name)


def resource_ref(kind, namespace, name):
    """``Kind/namespace/name``; cluster-scoped objects: ``Kind/name`` (the findings' ``resource``)."""
    if namespace:
        return "%s/%s/%s" % (kind, namespace, name)
    return "%s/%s" % (kind, name)


# --------------------------------------------------------------------------- label selectors

def _requirements(selector):
    """Equality-based selector (``a=b,c!=d,e,!f``) as (key, op, value) triples."""
    out = []
    for part in [p.strip() for p in str(selector or "").split(",") if p.strip()]:
        if "!=" in part:
            key, value = part.split("!=", 1)
            out.append((key.strip(), "!=", value.strip()))
        elif "=" in part:
            key, value = part.split("=", 1)
            out.append((key.strip().rstrip("="), "=", value.strip().lstrip("=")))
        elif part.startswith("!"):
            out.append((part[1:].strip(), "!", None))
        else:
            out.append((part, "exists", None))
    return out


def selector_matches(labels, selector):
    """True when ``labels`` satisfy ``selector``: a matchLabels dict or an equality-based string.

    An empty selector matches everything, as the API server's does.
    """
    labels = as_dict(labels)
    if isinstance(selector, dict):
        return all(labels.get(k) == v for k, v in selector.items())
    for key, op, value in _requirements(selector):
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
        if op == "!" and key in labels:
            return False
        if op == "exists" and key not in labels:
            return False
    return True


def selects(selector, labels):
    """A non-empty matchLabels ``selector`` that ``labels`` satisfy (an empty one selects nothing here:
    Services and Istio Gateways without a selector do not pick pods)."""
    return bool(as_dict(selector)) and selector_matches(labels, selector)


# --------------------------------------------------------------------------- pods

def pod_running(pod):
    """Phase Running and not being deleted."""
    return dig(pod, "status", "phase") == "Running" and not meta(pod).get("deletionTimestamp")


def pod_ready(pod):
    """Running and the Ready condition True (what ``kubectl wait --for=condition=Ready`` checks)."""
    if not pod_running(pod):
        return False
    for cond in as_list(dig(pod, "status", "conditions")):
        if as_dict(cond).get("type") == "Ready":
            return str(cond.get("status")).lower() == "true"
    return False


def pod_problem(pod):
    """Why a pod is not Ready, in kubectl's words (``ImagePullBackOff``, ``Pending``...)."""
    status = as_dict(as_dict(pod).get("status"))
    statuses = [(True, as_dict(cs)) for cs in as_list(status.get("initContainerStatuses"))]
    statuses += [(False, as_dict(cs)) for cs in as_list(status.get("containerStatuses"))]
    for init, cs in statuses:
        state = as_dict(cs.get("state"))
        done = as_dict(state.get("terminated"))
        if init and done and done.get("exitCode") == 0:
            continue   # an init container that completed (istio-init): as it should be
        for key in ("waiting", "terminated"):
            if state.get(key):
                reason = state[key].get("reason") or key
                message = state[key].get("message")
                return "%s: %s%s" % (cs.get("name"), reason, (" (%s)" % message) if message else "")
        # a running container that is not ready: a regular one, or a native sidecar (a running init container)
        if not cs.get("ready") and (not init or "running" in state):
            return "%s: not ready" % cs.get("name")
    for cond in as_list(status.get("conditions")):
        cond = as_dict(cond)
        if str(cond.get("status")).lower() != "true" and (cond.get("reason") or cond.get("message")):
            return "%s: %s" % (cond.get("type"), cond.get("message") or cond.get("reason"))
    return status.get("phase") or "no status yet"


def env_map(container):
    """Plain env values only (``valueFrom`` omitted: it may reference a Secret)."""
    return dict((e.get("name"), e.get("value")) for e in as_list(as_dict(container).get("env"))
                if isinstance(e, dict) and e.get("name") and "value" in e and "valueFrom" not in e)


def owner_deployment(pod):
    """``namespace/name`` of the Deployment owning a pod through its ReplicaSet, else None.

    A Deployment's ReplicaSet is named ``<deployment>-<pod-template-hash>``.
    """
    md = meta(pod)
    pth = as_dict(md.get("labels")).get("pod-template-hash")
    for owner in as_list(md.get("ownerReferences")):
        rs = as_dict(owner).get("name") or ""
        if owner.get("kind") == "ReplicaSet" and pth and rs.endswith("-" + pth):
            return ref(md.get("namespace"), rs[:-len(pth) - 1])
    return None


# --------------------------------------------------------------------------- syntax (apimachinery's rules)
# k8s.io/apimachinery/pkg/util/validation/validation.go: the messages are the API server's own.

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253


def label_value_errors(value):
    """The API server's complaints about a label value (empty list: valid)."""
    value = "" if value is None else str(value)
    errors = []
    if len(value) > LABEL_VALUE_MAX:
        errors.append("must be no more than %d characters" % LABEL_VALUE_MAX)
    if not _LABEL_VALUE.match(value):
        errors.append("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                      "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                      "'my_value',  or '12345', regex used for validation is "
                      "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
    return errors


def label_key_errors(key):
    """The API server's complaints about a label key ``[prefix/]name`` (empty list: valid)."""
    key = "" if key is None else str(key)
    prefix, _sep, name = key.rpartition("/")
    errors = []
    if prefix:
        errors.extend("prefix part " + e for e in dns1123_subdomain_errors(prefix))
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > LABEL_VALUE_MAX:
        errors.append("name part must be no more than %d characters" % LABEL_VALUE_MAX)
    elif not _QUALIFIED_NAME.match(name):
        errors.append("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                      "end with an alphanumeric character")
    return errors


def dns1123_subdomain_errors(value):
    """Complaints about an object name that must be a DNS-1123 subdomain (Secrets, Services...)."""
    value = "" if value is None else str(value)
    errors = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errors.append("must be no more than %d characters" % DNS1123_SUBDOMAIN_MAX)
    if not _DNS1123_SUBDOMAIN.match(value):
        errors.append("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                      "'.', and must start and end with an alphanumeric character")
    return errors


_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def secret_key_errors(key):
    """The API server's complaints about a Secret / ConfigMap data key (IsConfigMapKey; empty list: valid)."""
    key = "" if key is None else str(key)
    errors = []
    if len(key) > DNS1123_SUBDOMAIN_MAX:
        errors.append("must be no more than %d characters" % DNS1123_SUBDOMAIN_MAX)
    if not _SECRET_KEY.match(key):
        errors.append("a valid config key must consist of alphanumeric characters, '-', '_' or '.'")
    if key in (".", "..") or key.startswith(".."):
        errors.append("must not be '.' or '..' or start with '..'")
    return errors


def is_dns1123_label(value):
    return bool(value) and len(value) <= LABEL_VALUE_MAX and bool(_DNS1123_LABEL.match(value))


# --------------------------------------------------------------------------- words for users, not Python's

def kind_words(value):
    """What a value is, in YAML's words ("a list"), never a Python class name (``_AnsibleTaggedDict``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    return "an unsupported value"


def plain_error(exc):
    """An exception about data of the wrong shape, in words (no ``'list' object has no attribute 'get'``)."""
    if isinstance(exc, KeyError):
        return "the field %s is missing" % exc
    if isinstance(exc, IndexError):
        return "a list is shorter than expected"
    if isinstance(exc, (TypeError, AttributeError)):
        return "a field holds a value of the wrong type"
    return str(exc)[:300] or "unreadable"
