# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shipped RBAC (docs/rbac/meshmend-*/) as data: which manifest and which rule a failed request needs.

Pure functions, no I/O. The input is a ``read_errors`` entry of docs/facts.md (also what
``ClusterError.to_dict()`` gives for a failed write): ``verb``, ``resource`` (plural, ``pods/exec`` for
a subresource), ``group``, ``namespace``, ``name``, ``code``.

- :func:`needed_rule` -> ``(manifest, rule)``, e.g. ``("docs/rbac/meshmend-diagnose/",
  "get,create pods/exec (istio-system)")``, or None when no shipped rule covers the request. A manifest is
  a directory, one object per file, applied with ``kubectl apply -f DIR``.
- :func:`needed_rules` -> the distinct ``(manifest, rule)`` of several errors, in manifest order.
- :func:`remedy` -> the sentence for a finding's remedy (``cluster.forbidden``, a failed remediation).

``RULES`` mirrors the manifests rule by rule (a unit test holds them equal). The rule texts are the
manifest's own words: verbs, resources (``.group`` when not core), ``[resourceNames]``, and the scope in
brackets: ``cluster-wide`` for a ClusterRole, the namespace of a Role.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCS = "docs/rbac"
MANIFESTS = {
    "diagnose": DOCS + "/meshmend-diagnose/",
    "remediate": DOCS + "/meshmend-remediate/",
    "connectivity": DOCS + "/meshmend-connectivity/",
}
SERVICE_ACCOUNT_NAMESPACE = "meshmend"

# The namespaces and names the manifests ship with, and the role options that change them.
DEFAULT_NAMES = {
    "istio-system": "istio-system",            # diagnose_istio_namespace, connectivity_istio_namespace
    "sample": "sample",                        # the namespace of diagnose_probe_client
    "uninjected-sample": "uninjected-sample",  # connectivity_namespace
}

# Kubernetes authorizes a WebSocket exec/attach/portforward as get (the GET) and create (1.35+).
CONNECT_SUBRESOURCES = ("pods/exec", "pods/attach", "pods/portforward")


def _rule(use, kind, role, namespace, group, resources, verbs, names=None):
    return {"use": use, "kind": kind, "role": role, "namespace": namespace, "group": group,
            "resources": tuple(resources), "verbs": tuple(verbs), "names": tuple(names or ())}


# One entry per rule of docs/rbac/meshmend-*/, in the order kubectl applies them (file name, then rule).
RULES = (
    # meshmend-diagnose/
    _rule("diagnose", "ClusterRole", "meshmend-diagnose", None, "", ["services"], ["list"]),
    _rule("diagnose", "ClusterRole", "meshmend-diagnose", None, "", ["secrets"], ["list"]),
    _rule("diagnose", "ClusterRole", "meshmend-diagnose", None, "", ["pods"], ["list"]),
    _rule("diagnose", "ClusterRole", "meshmend-diagnose", None, "", ["nodes"], ["list"]),
    _rule("diagnose", "ClusterRole", "meshmend-diagnose", None, "networking.istio.io",
          ["gateways", "destinationrules"], ["list"]),
    _rule("diagnose", "Role", "meshmend-diagnose", "istio-system", "", ["namespaces"], ["get"]),
    _rule("diagnose", "Role", "meshmend-diagnose", "istio-system", "apps", ["deployments"], ["list"]),
    _rule("diagnose", "Role", "meshmend-diagnose", "istio-system", "", ["configmaps"], ["list"]),
    _rule("diagnose", "Role", "meshmend-diagnose", "istio-system", "", ["secrets"], ["get"], ["cacerts"]),
    _rule("diagnose", "Role", "meshmend-diagnose", "istio-system", "", ["pods/log"], ["get"]),
    _rule("diagnose", "Role", "meshmend-diagnose", "istio-system", "", ["pods/exec"], ["get", "create"]),
    _rule("diagnose", "Role", "meshmend-diagnose-probe", "sample", "", ["pods/exec"], ["get", "create"]),
    # meshmend-remediate/ (it also binds the roles of meshmend-diagnose/)
    _rule("remediate", "Role", "meshmend-remediate", "istio-system", "", ["namespaces"], ["patch"]),
    _rule("remediate", "Role", "meshmend-remediate", "istio-system", "", ["services"], ["get", "patch"],
          ["istio-eastwestgateway"]),
    _rule("remediate", "Role", "meshmend-remediate", "istio-system", "", ["secrets"], ["create"]),
    _rule("remediate", "Role", "meshmend-remediate", "istio-system", "", ["secrets"], ["get", "patch"]),
    _rule("remediate", "Role", "meshmend-remediate", "istio-system", "", ["serviceaccounts"], ["get"],
          ["istio-reader-service-account"]),
    # meshmend-connectivity/
    _rule("connectivity", "ClusterRole", "meshmend-connectivity", None, "", ["namespaces"], ["create"]),
    _rule("connectivity", "ClusterRole", "meshmend-connectivity", None, "", ["namespaces"], ["get", "delete"],
          ["uninjected-sample"]),
    _rule("connectivity", "ClusterRole", "meshmend-connectivity", None, "", ["serviceaccounts", "services"],
          ["create"]),
    _rule("connectivity", "ClusterRole", "meshmend-connectivity", None, "apps", ["deployments"], ["create"]),
    _rule("connectivity", "ClusterRole", "meshmend-connectivity", None, "", ["pods"], ["list"]),
    _rule("connectivity", "ClusterRole", "meshmend-connectivity", None, "", ["pods/exec"], ["get", "create"]),
    _rule("connectivity", "Role", "meshmend-connectivity", "istio-system", "", ["namespaces"], ["get"]),
    _rule("connectivity", "Role", "meshmend-connectivity", "istio-system", "", ["services"], ["list"]),
    _rule("connectivity", "Role", "meshmend-connectivity", "istio-system", "", ["configmaps"], ["get"],
          ["istio-sidecar-injector"]),
)

# Which manifests' rules a use holds, searched in this order (remediate binds the diagnose roles: a read
# of its diagnoses is named in meshmend-diagnose/).
SEARCH = {
    "diagnose": ("diagnose",),
    "remediate": ("diagnose", "remediate"),
    "connectivity": ("connectivity",),
}


def _text(value):
    return value if isinstance(value, str) and value else None


def rule_text(rule, names=None):
    """``get,create pods/exec (istio-system)`` with the shipped names replaced by ``names``' values."""
    names = dict(DEFAULT_NAMES, **(names or {}))
    res = ",".join("%s.%s" % (r, rule["group"]) if rule["group"] else r for r in rule["resources"])
    text = "%s %s" % (",".join(rule["verbs"]), res)
    if rule["names"]:
        text += " [%s]" % ",".join(names.get(n, n) for n in rule["names"])
    scope = names.get(rule["namespace"], rule["namespace"]) if rule["namespace"] else "cluster-wide"
    return "%s (%s)" % (text, scope)


def _request(error):
    """(verbs any of which the request needs a rule for, group, resource, namespace RBAC sees, name)."""
    verb = _text(error.get("verb")) or "get"
    resource = _text(error.get("resource")) or ""
    group = error.get("group") or ""
    namespace = _text(error.get("namespace"))
    name = _text(error.get("name"))
    if resource == "namespaces" and not namespace and name:
        # /api/v1/namespaces/NAME is authorized in namespace NAME: a Role there can grant it
        namespace = name
    verbs = (verb,)
    if resource in CONNECT_SUBRESOURCES:
        verbs = ("get", "create")
    return verbs, group, resource, namespace, name


def _matches(rule, request, names):
    verbs, group, resource, namespace, name = request
    if rule["group"] != group or resource not in rule["resources"]:
        return False
    if not any(v in rule["verbs"] for v in verbs):
        return False
    if rule["namespace"] is not None and names.get(rule["namespace"], rule["namespace"]) != namespace:
        return False
    if rule["names"] and name not in [names.get(n, n) for n in rule["names"]]:
        return False
    return True


def find_rule(error, use="diagnose", names=None):
    """The entry of RULES that grants the failed request of ``error`` for ``use``, or None."""
    if not isinstance(error, dict):
        return None
    names = dict(DEFAULT_NAMES, **(names or {}))
    request = _request(error)
    for manifest_use in SEARCH.get(use, (use,)):
        for rule in RULES:
            if rule["use"] == manifest_use and _matches(rule, request, names):
                return rule
    return None


def needed_rule(error, use="diagnose", names=None):
    """(manifest, rule text) of the shipped rule a failed request needs, or None.

    ``use``: diagnose (cluster.forbidden), remediate (a failed fix or its diagnoses), connectivity.
    ``names``: the shipped names as the run used them, e.g. ``{"istio-system": "istio-control",
    "sample": "apps"}`` (from diagnose_istio_namespace and the probe client's namespace).
    """
    rule = find_rule(error, use, names)
    if rule is None:
        return None
    return MANIFESTS[rule["use"]], rule_text(rule, names)


def needed_rules(errors, use="diagnose", names=None):
    """The distinct (manifest, rule text) of ``errors`` (403s only), in manifest and rule order.

    Returns (found, unknown): ``unknown`` are the 403 errors no shipped rule covers.
    """
    found, unknown = [], []
    for e in errors or []:
        if not isinstance(e, dict) or e.get("code") != 403:
            continue
        rule = find_rule(e, use, names)
        if rule is None:
            unknown.append(e)
        elif rule not in found:
            found.append(rule)
    found.sort(key=RULES.index)
    return [(MANIFESTS[r["use"]], rule_text(r, names)) for r in found], unknown


def service_account(use):
    return "%s/meshmend-%s" % (SERVICE_ACCOUNT_NAMESPACE, use)


def remedy(errors, context, use="diagnose", names=None):
    """The remedy sentence naming the manifest(s) and rule(s), or None when no shipped rule covers any.

    ``Apply docs/rbac/meshmend-diagnose/ to context cluster1 (kubectl --context cluster1 apply -f ...)
    and run with a token of ServiceAccount meshmend/meshmend-diagnose (docs/rbac/README.md); it grants
    what these credentials miss: list secrets (cluster-wide); get,create pods/exec (istio-system).``
    """
    found, _unknown = needed_rules(errors, use, names)
    if not found:
        return None
    manifests = []
    for entry in found:
        if entry[0] not in manifests:
            manifests.append(entry[0])
    if use == "remediate" and MANIFESTS["remediate"] not in manifests:
        manifests.append(MANIFESTS["remediate"])   # it binds the diagnose roles, it does not replace them
    if use == "remediate" and MANIFESTS["diagnose"] not in manifests:
        manifests.insert(0, MANIFESTS["diagnose"])
    return ("Apply %s to context %s (kubectl --context %s apply -f %s) and run with a token of ServiceAccount "
            "%s (%s/README.md); %s what these credentials miss: %s." % (
                " and ".join(manifests), context, context, " -f ".join(manifests), service_account(use), DOCS,
                "it grants" if len(manifests) == 1 else "they grant", "; ".join(entry[1] for entry in found)))
