# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remediation planning: findings + the mesh model -> a plan of safe fixes (pure, no I/O).

The plan is what the ``remediate`` role executes. It is built on the controller from one
diagnosis (its findings, whose ``fix`` says what each needs, and its mesh model), so the same
input always gives the same plan, and it is tested without any cluster.

Only three categories are ever fixed automatically:

- ``network_labels``: ``topology.istio.io/network`` on istiod's namespace and on the
  east-west gateway Service(s), set to the cluster's network;
- ``gateway_addresses``: ``spec.externalIPs`` on a gateway Service with no address;
- ``remote_secrets``: ``istio-remote-secret-<peer cluster ID>`` created or re-keyed in a primary.

Everything else becomes a *manual* step with the finding's remedy: a plan never
contains a delete, never touches certificates, never changes an install's values.

The module also holds the pure helpers of the remote secret module (kubeconfig built the
way ``istioctl create-remote-secret`` builds it, loopback detection, credential-free
summaries for diffs), so they are unit-tested here rather than through a cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import (
    REMEDIATE_CATEGORIES, field_of, key_of, natural_key,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import (
    DEFAULT_ISTIO_NAMESPACE, NETWORK_LABEL, remote_secret_name, sidecar_container, sidecar_env,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import (
    label_value_errors, owner_deployment,
)


class PlanError(ValueError):
    """Input the planner cannot use (unknown category...): the message says what to change."""


def category_of(finding):
    """The remediate category the check judged safe for ``finding``, or None (manual)."""
    category = field_of(finding, "category")
    return category if category in REMEDIATE_CATEGORIES else None


def normalize_categories(categories):
    """Validate the asked categories (a list, a comma-separated string, or None = all)."""
    if categories is None:
        return list(REMEDIATE_CATEGORIES)
    if isinstance(categories, str):
        categories = [c.strip() for c in categories.split(",") if c.strip()]
    unknown = [c for c in categories if c not in REMEDIATE_CATEGORIES]
    if unknown:
        raise PlanError("unknown remediate categor%s %s: choose from %s"
                        % ("y" if len(unknown) == 1 else "ies", ", ".join(map(str, unknown)),
                           ", ".join(REMEDIATE_CATEGORIES)))
    return [c for c in REMEDIATE_CATEGORIES if c in categories]


def validate_gateway_address(address):
    """Return None when ``address`` can be a Service externalIP, else why not (the API's own rules)."""
    try:
        ip = ipaddress.ip_address(str(address).strip())
    except ValueError:
        return "%r is not an IP address" % (address,)
    if ip.is_unspecified:
        return "%s is the unspecified address" % ip
    if ip.is_loopback:
        return "%s may not be in the loopback range (127.0.0.0/8, ::1/128)" % ip
    if ip.is_link_local:
        return "%s may not be in the link-local range" % ip
    if ip.is_multicast:
        return "%s may not be a multicast address" % ip
    return None


def _skip(finding, category, reason, partial=False):
    return {"key": key_of(finding), "id": field_of(finding, "id"), "cluster": field_of(finding, "cluster"),
            "peer": field_of(finding, "peer"), "category": category, "reason": reason, "partial": partial}


def _fix(finding):
    fix = field_of(finding, "fix")
    return fix if isinstance(fix, dict) else None


def _ref(obj):
    return "%s/%s" % (obj.get("namespace"), obj.get("name")) if obj.get("namespace") else obj.get("name")


def _plan_network_labels(cluster, view, findings, force, actions, skipped):
    istio_ns = view.get("istio_namespace") or DEFAULT_ISTIO_NAMESPACE
    label_namespace, gateways, fixes, network, source = False, [], [], None, None
    for f in findings:
        fix = _fix(f)
        if fix is None or not fix.get("value"):
            skipped.append(_skip(f, "network_labels", "the network of %s is unknown: set host var meshmend_network "
                                                      "(or values.global.network in the install)" % cluster))
            continue
        network, source = fix["value"], fix.get("value_from") or ""
        bad = label_value_errors(network)
        if bad:
            skipped.append(_skip(f, "network_labels", "the network %r (%s) is not a valid label value: %s; fix "
                                                      "host var meshmend_network" % (network, source, "; ".join(bad))))
            continue
        # Replacing a different value is explicit: the operator declared the network, or asked for force.
        may_replace = bool(force) or source.startswith("declared")
        objects = [o for o in fix.get("objects") or [] if isinstance(o, dict)]
        refused = ["%s %s in %s holds %s=%s" % (o.get("kind"), _ref(o), cluster, NETWORK_LABEL, o["current"])
                   for o in objects if o.get("current") and o["current"] != network and not may_replace]
        if refused:
            skipped.append(_skip(f, "network_labels",
                                 "%s, the install says %s: set host var meshmend_network or "
                                 "meshmend_remediate_force=true to replace it" % ("; ".join(refused), network),
                                 partial=len(refused) < len(objects)))
            if len(refused) == len(objects):
                continue
        for o in objects:
            if o.get("current") and o["current"] != network and not may_replace:
                continue
            if o.get("kind") == "Namespace":
                label_namespace = True
            elif _ref(o) not in gateways:
                gateways.append(_ref(o))
        fixes.append(key_of(f))
    if not fixes:
        return
    may_replace = bool(force) or (source or "").startswith("declared")
    what = " and ".join(x for x in (("namespace %s" % istio_ns) if label_namespace else "",
                                    ("Service " + ", ".join(gateways)) if gateways else "") if x)
    actions.append({
        "cluster": cluster, "category": "network_labels", "module": "network_label_fix",
        "params": {"network": network, "namespace": istio_ns, "label_namespace": label_namespace,
                   "gateway_services": gateways, "force": may_replace},
        "network_source": source, "fixes": fixes,
        "description": "label %s with %s=%s (%s)" % (what, NETWORK_LABEL, network, source),
    })


def _plan_gateway_addresses(cluster, findings, address, force, actions, skipped):
    if not address:
        for f in findings:
            skipped.append(_skip(f, "gateway_addresses",
                                 "no address for the gateway of %s: set host var meshmend_eastwest_gateway_ip" % cluster))
        return
    why = validate_gateway_address(address)
    if why:
        for f in findings:
            skipped.append(_skip(f, "gateway_addresses",
                                 "host var meshmend_eastwest_gateway_ip of %s is unusable: %s" % (cluster, why)))
        return
    targets = {}
    for f in findings:
        services = [s for s in (_fix(f) or {}).get("services") or [] if isinstance(s, dict) and s.get("name")]
        if not services:
            skipped.append(_skip(f, "gateway_addresses", "the finding names no gateway Service"))
            continue
        for svc in services:
            targets.setdefault(_ref(svc), (svc, []))[1].append(f)
    if len(targets) > 1:
        # One host var, one address: giving the same IP to two gateways would be wrong.
        for f in findings:
            if (_fix(f) or {}).get("services"):
                skipped.append(_skip(f, "gateway_addresses",
                                     "%d gateway Services in %s have no address and host var "
                                     "meshmend_eastwest_gateway_ip gives one: set them by hand (%s)"
                                     % (len(targets), cluster, ", ".join(sorted(targets)))))
        return
    for ref, (svc, fs) in targets.items():
        actions.append({
            "cluster": cluster, "category": "gateway_addresses", "module": "eastwest_gateway_address",
            "params": {"namespace": svc.get("namespace"), "name": svc["name"], "address": str(address).strip(),
                       "force": bool(force)},
            "fixes": [key_of(f) for f in fs],
            "description": "set spec.externalIPs of Service %s to [%s]" % (ref, str(address).strip()),
        })


def _plan_remote_secrets(cluster, view, findings, model, actions, skipped):
    role = view.get("role")
    if role not in (None, "primary"):
        for f in findings:
            skipped.append(_skip(f, "remote_secrets",
                                 "%s is a %s cluster: only primaries read remote secrets" % (cluster, role)))
        return
    by_peer = {}
    for f in findings:
        fix = _fix(f)
        if fix is None or not fix.get("peer"):
            skipped.append(_skip(f, "remote_secrets", "the finding names no peer cluster"))
            continue
        by_peer.setdefault(fix["peer"], []).append(f)
    clusters = model.get("clusters") or {}
    for peer in sorted(by_peer, key=natural_key):
        fs = by_peer[peer]
        peer_view = clusters.get(peer)
        if not peer_view:
            for f in fs:
                skipped.append(_skip(f, "remote_secrets", "peer %s is not in play (not in the inventory or --limit): "
                                                          "its token cannot be read" % peer))
            continue
        if peer_view.get("state") != "full":
            for f in fs:
                skipped.append(_skip(f, "remote_secrets", "peer %s is unreachable: its token cannot be read" % peer))
            continue
        fixes = [_fix(f) for f in fs]
        key, namespace = fixes[0]["key"], fixes[0].get("namespace") or DEFAULT_ISTIO_NAMESPACE
        # keys istiod cannot use for this peer, per secret, and the peer's secrets it can use already
        bad, usable = {}, set()
        for x in fixes:
            for item in x.get("bad_keys") or []:
                bad.setdefault(item.get("name"), set()).add(item.get("key"))
            usable.update(x.get("usable") or [])
        named = [x["name"] for x in fixes if x.get("name") and x["name"] != remote_secret_name(x["key"])]
        # One secret is written from the peer's reader token (the one a finding names, else the new one); istiod
        # ignores a second secret for one cluster ID, so every other unusable key of this peer is removed, all in
        # this run (one fixed per run never converged). Nothing is written when a usable secret is there.
        target = None if usable else (sorted(bad, key=natural_key)[0] if bad else
                                      (named[0] if named else fixes[0]["name"]))
        peer_ns = fixes[0].get("peer_namespace") or DEFAULT_ISTIO_NAMESPACE
        if target:
            actions.append({
                "cluster": cluster, "category": "remote_secrets", "module": "remote_secret", "peer": peer,
                "params": {"peer_name": peer, "cluster_id": key, "namespace": namespace, "name": target,
                           "peer_namespace": peer_ns,
                           # only the wrong keys the diagnosis saw are dropped: any other key is someone else's
                           "remove_keys": sorted(k for k in bad.get(target, ()) if k != key)},
                "fixes": [key_of(f) for f in fs],
                "description": "create or update Secret %s/%s in %s from %s's istio-reader-service-account (key %s)"
                               % (namespace, target, cluster, peer, key),
            })
        for name in sorted(bad, key=natural_key):
            if name == target:
                continue
            keys = sorted(bad[name])
            actions.append({
                "cluster": cluster, "category": "remote_secrets", "module": "remote_secret", "peer": peer,
                "params": {"peer_name": peer, "cluster_id": key, "namespace": namespace, "name": name,
                           "peer_namespace": peer_ns, "remove_keys": keys, "write_key": False},
                "fixes": [key_of(f) for f in fs],
                "description": "remove key(s) %s of %s, which istiod cannot use, from Secret %s/%s in %s (%s)"
                               % (", ".join(keys), peer, namespace, name, cluster,
                                  "Secret %s/%s serves it" % (namespace, target or sorted(usable)[0])),
            })
        for f in fs:
            if field_of(f, "id") == "remote_secret.wrong_namespace":
                stray = field_of(f, "target") or {}
                skipped.append(_skip(f, "remote_secrets",
                                     "a correct secret is created in %s; the stray Secret %s/%s is left in place"
                                     " (remediate never deletes): delete it by hand"
                                     % (namespace, stray.get("namespace"), stray.get("name")), partial=True))


def _plan_restarts(findings, model, actions, skipped):
    """Restart stale sidecars only where injection now gives the right network (else it changes nothing)."""
    clusters = model.get("clusters") or {}
    for f in findings:
        fix = _fix(f)
        if field_of(f, "id") != "network.pod_network_unset" or not fix or not fix.get("restart"):
            continue
        cluster = field_of(f, "cluster")
        if (clusters.get(cluster) or {}).get("state") != "full":
            continue
        network, injected = fix.get("network"), fix.get("injected_network")
        if not network or injected != network:
            skipped.append(_skip(f, "network_labels",
                                 "restarting would not help: values.global.network of %s is %s, not %s; fix the "
                                 "install (istio-sidecar-injector values), then remediate restarts the workloads"
                                 % (cluster, injected or "unset", network or "(unknown)")))
            continue
        actions.append({
            "cluster": cluster, "category": "network_labels", "module": "deployment_restart",
            "params": {"network": network, "istio_namespace": fix.get("istio_namespace") or DEFAULT_ISTIO_NAMESPACE},
            "network_source": fix.get("value_from"), "fixes": [key_of(f)],
            "description": "restart the Deployments whose sidecars lack ISTIO_META_NETWORK=%s" % network,
        })


def stale_network_pods(pods, network):
    """Running sidecar pods whose ISTIO_META_NETWORK is not ``network``, with their owning Deployment.

    Returns (stale, unowned): stale = [{pod, network_env, deployment}] (deployment ``ns/name`` or None),
    unowned = pods no Deployment owns (a ReplicaSet named ``<deployment>-<pod-template-hash>``).
    """
    stale, unowned = [], []
    for pod in pods or []:
        meta = pod.get("metadata") or {}
        if (pod.get("status") or {}).get("phase") not in (None, "Running") or meta.get("deletionTimestamp"):
            continue
        if sidecar_container(pod) is None:
            continue
        value = sidecar_env(pod).get("ISTIO_META_NETWORK") or None
        if value == network:
            continue
        deployment = owner_deployment(pod)
        ref = "%s/%s" % (meta.get("namespace"), meta.get("name"))
        stale.append({"pod": ref, "network_env": value, "deployment": deployment})
        if deployment is None:
            unowned.append(ref)
    return stale, unowned


def build_plan(findings, model, categories=None, gateway_addresses=None, force=False, restart_workloads=False):
    """Turn one diagnosis into a plan.

    - ``findings``: finding dicts (or Finding objects) of every cluster; a finding's ``category`` says whether
      it is safe to fix and its ``fix`` what the category needs (set by the check; the words and the
      evidence are never read).
    - ``model``: the mesh model of the same diagnosis (``checks.diagnose(...).model``): clusters' state and
      role, and each cluster's declared gateway address (host var ``meshmend_eastwest_gateway_ip``).
    - ``categories``: the categories asked for (None: all three).
    - ``gateway_addresses``: cluster -> address, overriding the model's declared ones.
    - ``force``: replace a different existing label or address.
    - ``restart_workloads``: with ``network_labels`` asked, restart the Deployments whose sidecars carry a
      stale ISTIO_META_NETWORK (``network.pod_network_unset``) once the install's values.global.network is right.

    Returns a JSON-safe dict: ``actions`` (one per cluster and category, or per cluster and
    peer for remote secrets), ``by_cluster`` (cluster -> actions, what each host runs),
    ``not_asked`` (fixable findings of a category not asked), ``skipped`` (fixable but not safely:
    the reason says what to set), ``manual`` (everything else, with the remedy's words).
    """
    asked = normalize_categories(categories)
    model = model if isinstance(model, dict) else {}
    clusters = model.get("clusters") or {}
    addresses = dict((name, (view.get("declared") or {}).get("gateway_ip")) for name, view in clusters.items())
    addresses.update(gateway_addresses or {})
    findings = list(findings or [])

    grouped = {}
    not_asked = []
    for f in findings:
        category = category_of(f)
        if category is None:
            continue
        if category not in asked:
            not_asked.append(_skip(f, category, "category %s was not asked for" % category))
            continue
        grouped.setdefault((field_of(f, "cluster"), category), []).append(f)

    actions, skipped = [], []
    for (cluster, category) in sorted(grouped, key=lambda k: (natural_key(k[0]), REMEDIATE_CATEGORIES.index(k[1]))):
        fs = grouped[(cluster, category)]
        view = clusters.get(cluster) or {}
        if view.get("state") != "full":
            for f in fs:
                skipped.append(_skip(f, category, "no facts for %s (unreachable or not in play)" % cluster))
            continue
        if category == "network_labels":
            _plan_network_labels(cluster, view, fs, force, actions, skipped)
        elif category == "gateway_addresses":
            _plan_gateway_addresses(cluster, fs, addresses.get(cluster), force, actions, skipped)
        else:
            _plan_remote_secrets(cluster, view, fs, model, actions, skipped)

    if restart_workloads and "network_labels" in asked:
        _plan_restarts(findings, model, actions, skipped)

    planned = set()
    for a in actions:
        planned.update(a["fixes"])
    listed = set(s["key"] for s in skipped + not_asked if not s.get("partial"))
    partial = dict((s["key"], s["reason"]) for s in skipped if s.get("partial"))
    manual = []
    for f in findings:
        key = key_of(f)
        if field_of(f, "severity") == "info" or key in listed:
            continue  # by design, or already explained in skipped / not_asked
        if key in planned and key not in partial:
            continue
        causes = list(field_of(f, "caused_by") or [])
        manual.append({
            "key": key, "id": field_of(f, "id"), "cluster": field_of(f, "cluster"), "peer": field_of(f, "peer"),
            "severity": field_of(f, "severity"), "message": field_of(f, "message"),
            "steps": [partial[key]] if key in partial else ([field_of(f, "remedy")] if field_of(f, "remedy") else []),
            "caused_by": causes,
            # A symptom whose causes are all planned is expected to clear with them.
            "resolved_by_plan": bool(causes) and all(c in planned for c in causes),
        })

    by_cluster = {}
    for a in actions:
        by_cluster.setdefault(a["cluster"], []).append(a)
    lines = ["plan: %d action(s) for %d finding(s) in categories %s" % (len(actions), len(planned), ", ".join(asked))]
    lines += ["fix  %s [%s]: %s" % (a["cluster"], a["category"], a["description"]) for a in actions]
    lines += ["skip %s: %s" % (s["key"], s["reason"]) for s in skipped]
    lines += ["not asked %s (category %s)" % (s["key"], s["category"]) for s in not_asked]
    lines += ["manual %s%s: %s" % (m["key"], " (expected to clear with the planned fixes)" if m["resolved_by_plan"] else "",
                                   " ".join(m["steps"]) or m["message"]) for m in manual]
    return {
        "lines": lines,
        "categories": asked,
        "actions": actions,
        "by_cluster": by_cluster,
        "skipped": skipped,
        "not_asked": not_asked,
        "manual": manual,
        "summary": {"actions": len(actions), "fixes": len(planned), "skipped": len(skipped),
                    "not_asked": len(not_asked), "manual": len(manual)},
    }
