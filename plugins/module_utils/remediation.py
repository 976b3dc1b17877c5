# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remediation planning: findings + facts -> a plan of safe fixes (pure, no I/O).

The plan is what the ``remediate`` role executes. It is built on the controller from the
findings of one diagnosis and the facts of every cluster, so the same input always gives
the same plan, and it is tested without any cluster.

Only three categories are ever fixed automatically (DESIGN.md section 3):

- ``network_labels``: ``topology.istio.io/network`` on istiod's namespace and on the
  east-west gateway Service(s), set to the cluster's network;
- ``gateway_addresses``: ``spec.externalIPs`` on a gateway Service with no address;
- ``remote_secrets``: ``istio-remote-secret-<peer>`` created or re-keyed in a primary.

Everything else becomes a *manual* step with the guide's instructions: a plan never
contains a delete, never touches certificates, never changes an install's values.

The module also holds the pure helpers of the remote secret module (kubeconfig built the
way ``istioctl create-remote-secret`` builds it, loopback detection, credential-free
summaries for diffs), so they are unit-tested here rather than through a cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import ipaddress

try:  # PyYAML ships with ansible-core; guarded for ansible-test's import sanity.
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover
    yaml = None
    HAS_YAML = False

from ansible_collections.meshmend.multicluster.plugins.module_utils import kubeconfig as _kubeconfig
from ansible_collections.meshmend.multicluster.plugins.module_utils.certs import fingerprint
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import (
    REMEDIATE_CATEGORIES,
)

NETWORK_LABEL = "topology.istio.io/network"
MULTICLUSTER_LABEL = "istio/multiCluster"
CLUSTER_ANNOTATION = "networking.istio.io/cluster"
READER_SERVICE_ACCOUNT = "istio-reader-service-account"
READER_TOKEN_SECRET = "istio-reader-service-account-istio-remote-secret-token"
DEFAULT_ISTIO_NAMESPACE = "istio-system"

# Which category fixes which finding id. Findings may carry their own ``category``
# (the checks set it); this map is the fallback and the single place that says what is safe.
FIXED_BY = {
    "network.namespace_label_missing": "network_labels",
    "network.namespace_label_mismatch": "network_labels",
    "eastwest_gateway.network_label_missing": "network_labels",
    "eastwest_gateway.network_label_mismatch": "network_labels",
    "eastwest_gateway.external_ip_pending": "gateway_addresses",
    "remote_secret.missing": "remote_secrets",
    "remote_secret.wrong_namespace": "remote_secrets",
    "remote_secret.key_mismatch": "remote_secrets",
    "remote_secret.invalid_kubeconfig": "remote_secrets",
    "remote_secret.loopback_server": "remote_secrets",
    "remote_secret.local_key": "remote_secrets",
}

_NAMESPACE_LABEL_IDS = ("network.namespace_label_missing", "network.namespace_label_mismatch")
_GATEWAY_LABEL_IDS = ("eastwest_gateway.network_label_missing", "eastwest_gateway.network_label_mismatch")

# The guide's manual steps for what no category fixes (or what a category could not).
MANUAL_STEPS = {
    "cluster.unreachable": [
        "Check the kubeconfig and context of this host (host vars kubeconfig / kube_context) and that the API server answers.",
    ],
    "cluster.forbidden": [
        "Grant the credentials read access to the resource named in the evidence (get/list), then diagnose again.",
    ],
    "istio.not_installed": [
        "Install Istio in this cluster (istioctl install with values.global.meshID, multiCluster.clusterName and network set).",
    ],
    "cluster.duplicate_id": [
        "Give every cluster its own cluster ID: reinstall istiod with values.global.multiCluster.clusterName=<unique name>.",
        "Then regenerate the remote secrets that name the old ID (remediate category remote_secrets).",
    ],
    "mesh.id_mismatch": [
        "Reinstall Istio so every cluster has the same values.global.meshID.",
    ],
    "remote_secret.local_key": [
        "The secret's data key is this cluster's own ID, so istiod ignores it: make the cluster IDs unique,"
        " or regenerate the secret with istioctl create-remote-secret --name=<peer cluster ID> against the peer.",
    ],
    "remote_secret.api_unreachable": [
        "Make the peer's API server reachable from istiod (firewall, address in the kubeconfig, credentials);"
        " the evidence says where it was tried from.",
    ],
    "remote_secret.istiod_error": [
        "Read the istiod log line in the evidence; fix the remote secret it names, then restart nothing: istiod retries.",
    ],
    "remote_secret.not_synced": [
        "istiod cannot list the remote cluster: check that its API server is reachable from istiod and the token is valid.",
    ],
    "primary_remote.istiod_remote_missing": [
        "Install the remote cluster with values.global.remotePilotAddress=<primary's east-west gateway address>"
        " (istioctl install -f remote.yaml), so its proxies reach the primary's istiod.",
        "Expose istiod on the primary: kubectl apply -n istio-system -f samples/multicluster/expose-istiod.yaml.",
    ],
    "network.pod_network_unset": [
        "Set values.global.network on the install, then restart the workloads so injection sets ISTIO_META_NETWORK.",
    ],
    "eastwest_gateway.missing": [
        "Install the east-west gateway: samples/multicluster/gen-eastwest-gateway.sh --network <network> | istioctl install -y -f -.",
    ],
    "eastwest_gateway.hostname_only": [
        "Keep RESOLVE_HOSTNAME_GATEWAYS on (Istio >= 1.13) and make the hostname resolvable from istiod,"
        " or give the gateway an IP (spec.externalIPs, remediate category gateway_addresses with force).",
    ],
    "eastwest_gateway.port_missing": [
        "Add port 15443 (name tls) to the gateway Service, or set label networking.istio.io/gatewayPort to the port it exposes.",
    ],
    "eastwest_gateway.expose_gateway_missing": [
        "Expose services through the gateway: kubectl apply -n istio-system -f samples/multicluster/expose-services.yaml.",
    ],
    "trust.cacerts_missing": [
        "Plug in a shared CA: create Secret cacerts in istio-system from the same root in every cluster, then restart istiod.",
    ],
    "trust.root_mismatch": [
        "Give every cluster intermediate certificates signed by one root (Plug-in Certs), create Secret cacerts in each,"
        " restart istiod, then restart the workloads so they get new certificates.",
    ],
    "trust.chain_invalid": [
        "Regenerate cacerts: ca-cert.pem must be signed by root-cert.pem and not expired; restart istiod.",
    ],
    "trust.cert_expiring": [
        "Rotate the intermediate CA in cacerts before it expires; restart istiod.",
    ],
    "endpoints.remote_missing": [
        "Fix its causes (remote secrets, primary-remote layout); istiod then sends the remote endpoints.",
    ],
    "endpoints.remote_pod_ips": [
        "Fix its causes (gateway address, network labels); istiod then routes remote endpoints through the gateway.",
    ],
    "connectivity.pod_to_pod_blocked": [
        "Open the firewall between the clusters' pod networks (single-network mesh), or declare separate networks.",
    ],
    "connectivity.gateway_blocked": [
        "Open port 15443 to the peer's east-west gateway address.",
    ],
    "connectivity.tls_error": [
        "Check for an L7 load balancer in front of 15443 (use an L4 one) and for a root of trust mismatch.",
    ],
    "connectivity.local_only": [
        "See the endpoints findings: traffic only reaches local versions.",
    ],
}


class PlanError(ValueError):
    """Input the planner cannot use (unknown category...): the message says what to change."""


def _get(finding, name):
    return finding.get(name) if isinstance(finding, dict) else getattr(finding, name, None)


def _key(finding):
    key = _get(finding, "key")
    if key:
        return key
    key = "%s@%s" % (_get(finding, "id"), _get(finding, "cluster") or "")
    if _get(finding, "peer"):
        key += "->%s" % _get(finding, "peer")
    return key


def category_of(finding):
    """The remediate category that fixes ``finding``, or None (manual).

    A finding that carries a ``category`` key decides for itself (None: the check judged it
    unsafe, e.g. a remote secret that duplicate cluster IDs would make useless); the map is
    the fallback for findings made without one.
    """
    if isinstance(finding, dict) and "category" in finding:
        category = finding.get("category")
        return category if category in REMEDIATE_CATEGORIES else None
    category = _get(finding, "category")
    if category in REMEDIATE_CATEGORIES:
        return category
    return FIXED_BY.get(_get(finding, "id"))


def _evidence_services(finding, key):
    """Service refs (``ns/name``) listed in a gateway finding's evidence (one finding covers them all)."""
    refs = []
    for item in ((_get(finding, "evidence") or {}).get(key) or []):
        ref = item.get("service") if isinstance(item, dict) else item
        if isinstance(ref, str) and "/" in ref and ref not in refs:
            refs.append(ref)
    return refs


def parse_resource(resource):
    """``kind/namespace/name`` or ``kind/name`` -> (kind, namespace, name); Nones when absent."""
    if not resource or not isinstance(resource, str):
        return None, None, None
    parts = resource.split("/")
    if len(parts) >= 3:
        return parts[0], parts[1], "/".join(parts[2:])
    if len(parts) == 2:
        return parts[0], None, parts[1]
    return None, None, parts[0]


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


def _cluster_network(facts):
    """(network, source): the declared network wins, else the install's values.global.network."""
    declared = (facts.get("declared") or {}).get("network")
    if declared:
        return declared, "declared"
    values = facts.get("injector_values") or {}
    network = (values.get("global") or {}).get("network")
    if network:
        return network, "values.global.network"
    return None, None


def _gateway_entry(facts, namespace, name):
    for gw in facts.get("gateways") or []:
        if gw.get("name") == name and (namespace is None or gw.get("namespace") == namespace):
            return gw
    return None


def _plan_network_labels(cluster, facts, findings, force, actions, skipped):
    network, source = _cluster_network(facts)
    if not network:
        for f in findings:
            skipped.append(_skip(f, "network_labels",
                                 "the network of %s is unknown: set host var meshmend_network "
                                 "(or values.global.network in the install)" % cluster))
        return
    istio_ns = facts.get("istio_namespace") or DEFAULT_ISTIO_NAMESPACE
    # Replacing a different value is explicit: the operator declared the network, or asked for force.
    may_replace = bool(force) or source == "declared"
    label_namespace = False
    gateways = []
    fixes = []
    for f in findings:
        fid = _get(f, "id")
        if fid in _NAMESPACE_LABEL_IDS:
            current = ((facts.get("namespace") or {}).get("labels") or {}).get(NETWORK_LABEL)
            if current and current != network and not may_replace:
                skipped.append(_skip(f, "network_labels",
                                     "namespace %s in %s holds %s=%s, the install says %s: set host var "
                                     "meshmend_network or meshmend_remediate_force=true to replace it"
                                     % (istio_ns, cluster, NETWORK_LABEL, current, network)))
                continue
            label_namespace = True
            fixes.append(_key(f))
        elif fid in _GATEWAY_LABEL_IDS:
            refs = _evidence_services(f, "services")
            if not refs:
                _kind, gw_ns, gw_name = parse_resource(_get(f, "resource"))
                if gw_name:
                    refs = ["%s/%s" % (gw_ns or istio_ns, gw_name)]
            if not refs:
                skipped.append(_skip(f, "network_labels", "the finding names no gateway Service"))
                continue
            refused = []
            for ref in refs:
                gw_ns, gw_name = ref.split("/", 1)
                current = ((_gateway_entry(facts, gw_ns, gw_name) or {}).get("labels") or {}).get(NETWORK_LABEL)
                if current and current != network and not may_replace:
                    refused.append("Service %s in %s holds %s=%s" % (ref, cluster, NETWORK_LABEL, current))
                elif ref not in gateways:
                    gateways.append(ref)
            if refused:
                skipped.append(_skip(f, "network_labels",
                                     "%s, the install says %s: set host var meshmend_network or "
                                     "meshmend_remediate_force=true to replace it" % ("; ".join(refused), network),
                                     partial=len(refused) < len(refs)))
                if len(refused) == len(refs):
                    continue
            fixes.append(_key(f))
    if not fixes:
        return
    actions.append({
        "cluster": cluster,
        "category": "network_labels",
        "module": "network_label_fix",
        "params": {
            "network": network,
            "namespace": istio_ns,
            "label_namespace": label_namespace,
            "gateway_services": gateways,
            "force": may_replace,
        },
        "network_source": source,
        "fixes": fixes,
        "description": "label %s%s with %s=%s (%s)" % (
            ("namespace %s" % istio_ns) if label_namespace else "",
            ((" and " if label_namespace else "") + "Service " + ", ".join(gateways)) if gateways else "",
            NETWORK_LABEL, network, source),
    })


def _plan_gateway_addresses(cluster, facts, findings, address, force, actions, skipped):
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
    istio_ns = facts.get("istio_namespace") or DEFAULT_ISTIO_NAMESPACE
    targets = {}
    for f in findings:
        refs = _evidence_services(f, "gateways")
        if not refs:
            _kind, gw_ns, gw_name = parse_resource(_get(f, "resource"))
            if gw_name:
                refs = ["%s/%s" % (gw_ns or istio_ns, gw_name)]
        if not refs:
            skipped.append(_skip(f, "gateway_addresses", "the finding names no gateway Service"))
            continue
        for ref in refs:
            targets.setdefault(ref, []).append(f)
    if len(targets) > 1:
        # One host var, one address: giving the same IP to two gateways would be wrong.
        for fs in targets.values():
            for f in fs:
                skipped.append(_skip(f, "gateway_addresses",
                                     "%d gateway Services in %s have no address and host var "
                                     "meshmend_eastwest_gateway_ip gives one: set them by hand (%s)"
                                     % (len(targets), cluster, ", ".join(sorted(targets)))))
        return
    for ref, fs in targets.items():
        gw_ns, gw_name = ref.split("/", 1)
        actions.append({
            "cluster": cluster,
            "category": "gateway_addresses",
            "module": "eastwest_gateway_address",
            "params": {"namespace": gw_ns, "name": gw_name, "address": str(address).strip(),
                       "force": bool(force)},
            "fixes": [_key(f) for f in fs],
            "description": "set spec.externalIPs of Service %s to [%s]" % (ref, str(address).strip()),
        })


def _plan_remote_secrets(cluster, facts, findings, facts_by_cluster, actions, skipped):
    istio_ns = facts.get("istio_namespace") or DEFAULT_ISTIO_NAMESPACE
    if facts.get("role") not in (None, "primary"):
        for f in findings:
            skipped.append(_skip(f, "remote_secrets",
                                 "%s is a %s cluster: only primaries read remote secrets" % (cluster, facts.get("role"))))
        return
    by_peer = {}
    for f in findings:
        peer = _get(f, "peer")
        if not peer:
            skipped.append(_skip(f, "remote_secrets", "the finding names no peer cluster"))
            continue
        by_peer.setdefault(peer, []).append(f)
    for peer in sorted(by_peer):
        fs = by_peer[peer]
        peer_facts = facts_by_cluster.get(peer)
        if not peer_facts:
            for f in fs:
                skipped.append(_skip(f, "remote_secrets",
                                     "peer %s is not in play (not in the inventory or --limit): its token cannot be read" % peer))
            continue
        if not peer_facts.get("reachable", True):
            for f in fs:
                skipped.append(_skip(f, "remote_secrets",
                                     "peer %s is unreachable: its token cannot be read" % peer))
            continue
        # The key the checks expect (the peer's cluster ID as the check judged it), else the facts'.
        peer_id = None
        for f in fs:
            peer_id = peer_id or (_get(f, "evidence") or {}).get("expected_key")
        peer_id = peer_id or peer_facts.get("cluster_id") or peer
        if peer_id == facts.get("cluster_id"):
            for f in fs:
                skipped.append(_skip(f, "remote_secrets",
                                     "%s and %s share cluster ID %s, so istiod would ignore the secret: "
                                     "make the cluster IDs unique first" % (cluster, peer, peer_id)))
            continue
        secret_name = "istio-remote-secret-%s" % peer
        for f in fs:
            # Re-key or regenerate the very secret the finding names when it is in istiod's namespace.
            if _get(f, "id") in ("remote_secret.key_mismatch", "remote_secret.invalid_kubeconfig",
                                 "remote_secret.loopback_server", "remote_secret.local_key"):
                _kind, ns, name = parse_resource(_get(f, "resource"))
                if name and ns == istio_ns:
                    secret_name = name
        actions.append({
            "cluster": cluster,
            "category": "remote_secrets",
            "module": "remote_secret",
            "peer": peer,
            "params": {"peer_name": peer, "cluster_id": peer_id, "namespace": istio_ns,
                       "name": secret_name,
                       "peer_namespace": peer_facts.get("istio_namespace") or DEFAULT_ISTIO_NAMESPACE},
            "fixes": [_key(f) for f in fs],
            "description": "create or update Secret %s/%s in %s from %s's istio-reader-service-account (key %s)"
                           % (istio_ns, secret_name, cluster, peer, peer_id),
        })
        for f in fs:
            if _get(f, "id") == "remote_secret.wrong_namespace":
                _kind, ns, name = parse_resource(_get(f, "resource"))
                skipped.append(_skip(f, "remote_secrets",
                                     "a correct secret is created in %s; the stray Secret %s/%s is left in place"
                                     " (remediate never deletes): delete it by hand" % (istio_ns, ns, name),
                                     partial=True))


def _plan_restarts(findings, facts_by_cluster, actions, skipped):
    """Restart stale sidecars only where injection now gives the right network (else it changes nothing)."""
    for f in findings:
        if _get(f, "id") != "network.pod_network_unset":
            continue
        cluster = _get(f, "cluster")
        facts = facts_by_cluster.get(cluster) or {}
        if not facts.get("reachable", True):
            continue
        network, source = _cluster_network(facts)
        injected = ((facts.get("injector_values") or {}).get("global") or {}).get("network")
        if not network or injected != network:
            skipped.append(_skip(f, "network_labels",
                                 "restarting would not help: values.global.network of %s is %s, not %s; fix the "
                                 "install (istio-sidecar-injector values), then remediate restarts the workloads"
                                 % (cluster, injected or "unset", network or "(unknown)")))
            continue
        actions.append({
            "cluster": cluster,
            "category": "network_labels",
            "module": "deployment_restart",
            "params": {"network": network,
                       "istio_namespace": facts.get("istio_namespace") or DEFAULT_ISTIO_NAMESPACE},
            "network_source": source,
            "fixes": [_key(f)],
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
        proxy = [c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == "istio-proxy"]
        if not proxy:
            continue
        env = dict((e.get("name"), e.get("value")) for e in proxy[0].get("env") or [] if isinstance(e, dict))
        value = env.get("ISTIO_META_NETWORK") or None
        if value == network:
            continue
        ns = meta.get("namespace")
        deployment = None
        pth = (meta.get("labels") or {}).get("pod-template-hash")
        for ref in meta.get("ownerReferences") or []:
            rs = ref.get("name") or ""
            if ref.get("kind") == "ReplicaSet" and pth and rs.endswith("-" + pth):
                deployment = "%s/%s" % (ns, rs[:-len(pth) - 1])
        ref = "%s/%s" % (ns, meta.get("name"))
        stale.append({"pod": ref, "network_env": value, "deployment": deployment})
        if deployment is None:
            unowned.append(ref)
    return stale, unowned


def _skip(finding, category, reason, partial=False):
    return {"key": _key(finding), "id": _get(finding, "id"), "cluster": _get(finding, "cluster"),
            "peer": _get(finding, "peer"), "category": category, "reason": reason, "partial": partial}


def build_plan(findings, facts_by_cluster, categories=None, gateway_addresses=None, force=False,
               restart_workloads=False):
    """Turn one diagnosis into a plan.

    - ``findings``: finding dicts (or Finding objects) of every cluster.
    - ``facts_by_cluster``: cluster name -> facts (docs/facts.md).
    - ``categories``: the categories asked for (None: all three).
    - ``gateway_addresses``: cluster -> host var ``meshmend_eastwest_gateway_ip`` (None when unset).
    - ``force``: replace a different existing label or address (host var / role var).
    - ``restart_workloads``: with ``network_labels`` asked, restart the Deployments whose sidecars carry a
      stale ISTIO_META_NETWORK (``network.pod_network_unset``) once the install's values.global.network is right.

    Returns a JSON-safe dict: ``actions`` (one per cluster and category, or per cluster and
    peer for remote secrets), ``by_cluster`` (cluster -> actions, what each host runs),
    ``not_asked`` (fixable findings of a category not asked), ``skipped`` (fixable but not safely:
    the reason says what to set), ``manual`` (everything else, with the guide's steps).
    """
    asked = normalize_categories(categories)
    facts_by_cluster = facts_by_cluster or {}
    gateway_addresses = gateway_addresses or {}
    findings = list(findings or [])

    grouped = {}
    not_asked = []
    manual = []
    for f in findings:
        category = category_of(f)
        cluster = _get(f, "cluster")
        if category is None:
            continue
        if category not in asked:
            not_asked.append(_skip(f, category, "category %s was not asked for" % category))
            continue
        grouped.setdefault((cluster, category), []).append(f)

    actions = []
    skipped = []
    for (cluster, category) in sorted(grouped, key=lambda k: (k[0] or "", REMEDIATE_CATEGORIES.index(k[1]))):
        fs = grouped[(cluster, category)]
        facts = facts_by_cluster.get(cluster)
        if not facts or not facts.get("reachable", True):
            for f in fs:
                skipped.append(_skip(f, category, "no facts for %s (unreachable or not in play)" % cluster))
            continue
        if category == "network_labels":
            _plan_network_labels(cluster, facts, fs, force, actions, skipped)
        elif category == "gateway_addresses":
            _plan_gateway_addresses(cluster, facts, fs, gateway_addresses.get(cluster), force, actions, skipped)
        else:
            _plan_remote_secrets(cluster, facts, fs, facts_by_cluster, actions, skipped)

    if restart_workloads and "network_labels" in asked:
        _plan_restarts(findings, facts_by_cluster, actions, skipped)

    planned = set()
    for a in actions:
        planned.update(a["fixes"])
    listed = set(s["key"] for s in skipped + not_asked if not s.get("partial"))
    partial = dict((s["key"], s["reason"]) for s in skipped if s.get("partial"))
    for f in findings:
        key = _key(f)
        if _get(f, "severity") == "info" or key in listed:
            continue  # by design, or already explained in skipped / not_asked
        if key in planned and key not in partial:
            continue
        causes = list(_get(f, "caused_by") or [])
        steps = list(MANUAL_STEPS.get(_get(f, "id")) or ([_get(f, "remedy")] if _get(f, "remedy") else []))
        if key in partial:
            steps = [partial[key]]
        manual.append({
            "key": key, "id": _get(f, "id"), "cluster": _get(f, "cluster"), "peer": _get(f, "peer"),
            "severity": _get(f, "severity"), "message": _get(f, "message"),
            "steps": steps,
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
        "summary": {
            "actions": len(actions),
            "fixes": len(planned),
            "skipped": len(skipped),
            "not_asked": len(not_asked),
            "manual": len(manual),
        },
    }


def host_actions(plan, cluster, category=None):
    """The actions one host runs (optionally of one category): what the role loops over."""
    return [a for a in (plan or {}).get("by_cluster", {}).get(cluster, [])
            if category is None or a["category"] == category]


# --- remote secrets: what `istioctl create-remote-secret` writes, and safe summaries -------------

def build_remote_kubeconfig(cluster_id, server, ca_data_b64, token):
    """The kubeconfig istioctl puts in a remote secret: one cluster, one token user.

    ``ca_data_b64`` is certificate-authority-data (base64 PEM). Deterministic output, so an
    unchanged peer gives an unchanged secret (idempotence).
    """
    if not HAS_YAML:  # pragma: no cover
        raise RuntimeError("PyYAML is required")
    cluster_entry = {"server": server}
    if ca_data_b64:
        cluster_entry["certificate-authority-data"] = ca_data_b64
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"cluster": cluster_entry, "name": cluster_id}],
        "contexts": [{"context": {"cluster": cluster_id, "user": cluster_id}, "name": cluster_id}],
        "current-context": cluster_id,
        "preferences": {},
        "users": [{"name": cluster_id, "user": {"token": token}}],
    }
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False)


def parse_kubeconfig_essentials(text):
    """(server, ca_data_b64, token, auth_kind) of a kubeconfig's current context; Nones when absent.

    Only for comparing an existing secret with the one we would write: values are never
    returned to the user, only their fingerprints (see summarize_kubeconfig). A thin wrapper of
    kubeconfig.essentials, which reads through the one loader with its size and alias limits.
    """
    return _kubeconfig.essentials(text)


def summarize_kubeconfig(text):
    """Credential-free view of a kubeconfig for diffs and results: server, auth kind, fingerprints.

    A thin wrapper of kubeconfig.diff_summary (the one loader, with its limits)."""
    return _kubeconfig.diff_summary(text)


def decode_secret_data(secret):
    """data of a Secret object, base64-decoded to str (undecodable values -> None)."""
    out = {}
    for key, value in ((secret or {}).get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value).decode("utf-8")
        except Exception:  # binary or broken: treat as unparsable kubeconfig
            out[key] = None
    for key, value in ((secret or {}).get("stringData") or {}).items():
        out[key] = value
    return out


def summarize_secret(secret):
    """Credential-free view of a remote secret: metadata, key names and per-key fingerprints."""
    if secret is None:
        return None
    meta = secret.get("metadata") or {}
    data = decode_secret_data(secret)
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "labels": dict(meta.get("labels") or {}),
        "annotations": dict(meta.get("annotations") or {}),
        "keys": sorted(data),
        "entries": {k: summarize_kubeconfig(v) for k, v in sorted(data.items())},
    }


def wanted_remote_secret(existing, name, namespace, cluster_id, kubeconfig_text, token_known=True, rekey=True):
    """The remote secret to write, or None when ``existing`` is already right: (wanted, removed_keys).

    - absent: a new Secret as istioctl makes it (label, annotation, one data key = the peer's cluster ID);
    - present: labels and annotations kept and completed; the data value kept when it gives istiod the
      same server, CA and token (formatting aside), else replaced; with ``rekey`` the other keys are removed
      (a secret made for this peer under a wrong key). ``token_known=False`` (check mode before the peer's
      token exists) always counts as a change.
    """
    encoded = base64.b64encode(kubeconfig_text.encode("utf-8")).decode("ascii")
    if existing is None:
        return ({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                 "metadata": {"name": name, "namespace": namespace,
                              "labels": {MULTICLUSTER_LABEL: "true"},
                              "annotations": {CLUSTER_ANNOTATION: cluster_id}},
                 "data": {cluster_id: encoded}}, [])
    obj = dict(existing)
    meta = dict(obj.get("metadata") or {})
    labels = dict(meta.get("labels") or {})
    annotations = dict(meta.get("annotations") or {})
    data = dict(obj.get("data") or {})
    current = decode_secret_data({"data": data}).get(cluster_id)
    keep_value = token_known and same_kubeconfig(current, kubeconfig_text)
    extra = sorted(k for k in data if k != cluster_id) if rekey else []
    if (labels.get(MULTICLUSTER_LABEL) == "true" and annotations.get(CLUSTER_ANNOTATION) == cluster_id
            and keep_value and not extra and not obj.get("stringData")):
        return None, []
    labels[MULTICLUSTER_LABEL] = "true"
    annotations[CLUSTER_ANNOTATION] = cluster_id
    meta["labels"] = labels
    meta["annotations"] = annotations
    for key in extra:
        data.pop(key)
    if not keep_value:
        data[cluster_id] = encoded
    obj["metadata"] = meta
    obj["data"] = data
    obj.pop("stringData", None)
    return obj, extra


def same_kubeconfig(existing_text, wanted_text):
    """True when two kubeconfigs give istiod the same server, CA and token (formatting aside)."""
    a = parse_kubeconfig_essentials(existing_text)
    b = parse_kubeconfig_essentials(wanted_text)
    return a[0] is not None and a == b


# --- outcomes and before/after ------------------------------------------------------------------

def outcome_from_result(result):
    """One applied action's outcome from a registered loop result (no diff, no module output)."""
    result = result or {}
    action = result.get("item") or {}
    failed = bool(result.get("failed"))
    return {
        "cluster": action.get("cluster"),
        "category": action.get("category"),
        "module": action.get("module"),
        "peer": action.get("peer"),
        "description": action.get("description"),
        "fixes": list(action.get("fixes") or []),
        "changed": bool(result.get("changed")) and not failed,
        "failed": failed,
        "skipped": bool(result.get("skipped")),
        "msg": result.get("msg") if failed else None,
    }


def _counts(findings):
    out = {"error": 0, "warning": 0, "info": 0}
    for f in findings:
        sev = _get(f, "severity")
        if sev in out:
            out[sev] += 1
    return out


def compare_findings(before, after, outcomes=None, check_mode=False):
    """Before/after of a remediation: fixed, remaining and new finding keys, plus readable lines."""
    before = list(before or [])
    after = list(after or [])
    outcomes = list(outcomes or [])
    before_keys = dict((_key(f), f) for f in before)
    after_keys = dict((_key(f), f) for f in after)
    fixed = sorted(k for k in before_keys if k not in after_keys)
    remaining = sorted(k for k in before_keys if k in after_keys)
    new = sorted(k for k in after_keys if k not in before_keys)
    cb, ca = _counts(before), _counts(after)
    changed = [o for o in outcomes if o.get("changed")]
    failed = [o for o in outcomes if o.get("failed")]
    lines = []
    if check_mode:
        lines.append("check mode: nothing was written (server-side dry run); %d action(s) would change something"
                     % len(changed))
    else:
        lines.append("applied %d action(s): %d changed, %d unchanged, %d failed" % (
            len(outcomes), len(changed), len(outcomes) - len(changed) - len(failed), len(failed)))
    lines += ["%s %s [%s]: %s%s" % ("would change" if check_mode else "changed", o["cluster"], o["category"],
                                    o["description"], "") for o in changed]
    lines += ["FAILED %s [%s]: %s" % (o["cluster"], o["category"], o.get("msg")) for o in failed]
    lines.append("before: %d error(s), %d warning(s); after: %d error(s), %d warning(s)" % (
        cb["error"], cb["warning"], ca["error"], ca["warning"]))
    lines += ["fixed     %s" % k for k in fixed]
    lines += ["remaining %s" % k for k in remaining if _get(after_keys[k], "severity") != "info"]
    lines += ["new       %s" % k for k in new]
    return {"before": cb, "after": ca, "fixed": fixed, "remaining": remaining, "new": new,
            "changed": len(changed), "failed": len(failed), "check_mode": bool(check_mode), "lines": lines}
