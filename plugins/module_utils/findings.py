# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one findings model of meshmend (DESIGN.md section 5).

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

SEVERITIES = ("error", "warning", "info")
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}

# The fixed catalogue (DESIGN.md section 5): id -> (severity, one-line meaning).
# Ids are a contract: add new ones, never rename.
CATALOGUE = {
    "cluster.unreachable": ("error", "the controller cannot reach this cluster's API server"),
    "cluster.forbidden": ("error", "the credentials lack a read the checks need"),
    "istio.not_installed": ("error", "no istiod and no remote control-plane Service in istio-system"),
    "cluster.duplicate_id": ("error", "two clusters share one cluster ID"),
    "mesh.id_mismatch": ("error", "meshID differs between clusters"),
    "remote_secret.missing": ("error", "no istio/multiCluster=true Secret in istiod's namespace provides the peer"),
    "remote_secret.wrong_namespace": ("error", "a remote secret for the peer exists, but outside istiod's namespace"),
    "remote_secret.key_mismatch": ("error", "a remote secret's data key is not the peer's cluster ID"),
    "remote_secret.local_key": ("error", "a data key equals this cluster's own ID (istiod ignores it)"),
    "remote_secret.invalid_kubeconfig": ("error", "empty, unparsable, or auth istiod refuses"),
    "remote_secret.loopback_server": ("error", "the kubeconfig's server is a loopback address"),
    "remote_secret.api_unreachable": ("error", "the kubeconfig's server or credentials fail"),
    "remote_secret.istiod_error": ("error", "istiod's log holds a remote-cluster failure line"),
    "remote_secret.not_synced": ("warning", "istiod reports the remote cluster not synced"),
    "primary_remote.istiod_remote_missing": ("error", "a remote cluster's proxies talk to an in-cluster istiod"),
    "network.namespace_label_missing": ("error", "multi-network mesh, istio-system lacks topology.istio.io/network"),
    "network.namespace_label_mismatch": ("error", "istio-system's network label disagrees with the install or the declared network"),
    "network.pod_network_unset": ("error", "sidecar pods without ISTIO_META_NETWORK, or one that disagrees with the cluster's network"),
    "eastwest_gateway.missing": ("error", "multi-network mesh, no east-west gateway in this cluster"),
    "eastwest_gateway.external_ip_pending": ("error", "gateway has no address: LoadBalancer pending, no externalIPs"),
    "eastwest_gateway.hostname_only": ("warning", "only a hostname address (needs RESOLVE_HOSTNAME_GATEWAYS)"),
    "eastwest_gateway.network_label_missing": ("error", "gateway Service lacks topology.istio.io/network"),
    "eastwest_gateway.network_label_mismatch": ("error", "gateway Service's network label is not this cluster's network"),
    "eastwest_gateway.port_missing": ("error", "gateway Service lacks 15443 (or its gatewayPort)"),
    "eastwest_gateway.expose_gateway_missing": ("error", "no AUTO_PASSTHROUGH Gateway on 15443 selecting the east-west gateway"),
    "trust.cacerts_missing": ("warning", "no plug-in CA: istiod signs with its own root"),
    "trust.root_mismatch": ("error", "root certificates differ between clusters"),
    "trust.chain_invalid": ("error", "ca-cert is not signed by root-cert, or a certificate is expired"),
    "trust.cert_expiring": ("warning", "a CA certificate expires within 30 days"),
    "endpoints.remote_missing": ("error", "a proxy holds only local endpoints of a service that runs in other clusters"),
    "endpoints.remote_pod_ips": ("error", "a proxy in a multi-network mesh holds raw pod IPs of another network"),
    "locality.prefers_local": ("info", "locality load balancing keeps traffic local by design"),
    "connectivity.pod_to_pod_blocked": ("error", "an uninjected pod cannot reach a pod IP in the peer cluster"),
    "connectivity.gateway_blocked": ("error", "the peer's east-west gateway address:15443 cannot be reached"),
    "connectivity.tls_error": ("error", "mesh traffic to the peer fails with a TLS error"),
    "connectivity.local_only": ("warning", "mesh traffic reached only local versions"),
    # Added beyond DESIGN.md section 5 (same rule: add, never rename).
    "cluster.read_failed": ("warning", "a read the checks need failed for another reason than RBAC"),
    "cluster.declared_id_mismatch": ("error", "the cluster ID differs from the inventory's meshmend_cluster_id"),
    "cluster.declared_role_mismatch": ("warning", "the cluster's role differs from the inventory's meshmend_cluster_role"),
    "mesh.declared_id_mismatch": ("error", "the mesh ID differs from the inventory's meshmend_mesh_id"),
    "remote_secret.unknown_cluster": ("info", "a remote secret names a cluster that is not in the inventory"),
    "remote_secret.peers_out_of_play": ("info", "peers left out by --limit were not checked"),
    "trust.root_not_in_use": ("warning", "cacerts holds a root istiod does not distribute (istio-ca-root-cert differs)"),
}

# The ids DESIGN.md section 5 fixes.
DESIGN_IDS = tuple(CATALOGUE)[:36]

# Remediate categories (DESIGN.md section 3).
REMEDIATE_CATEGORIES = ("network_labels", "gateway_addresses", "remote_secrets")


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


class Finding:
    """One finding. Fields are those of DESIGN.md section 5, plus ``category``.

    - ``id``: a catalogue id (CATALOGUE) or a new one.
    - ``severity``: error|warning|info; defaults to the catalogue's.
    - ``cluster``: the cluster (inventory host) the finding is about.
    - ``peer``: the other cluster for pairwise findings, else None.
    - ``resource``: ``kind/namespace/name`` (``kind/name`` for cluster-scoped), or None.
    - ``message``: one sentence in the guide's words.
    - ``evidence``: dict of what was seen (never a credential: fingerprints only).
    - ``remedy``: what to do, in words.
    - ``category``: the remediate category that fixes it, or None (manual).
    - ``caused_by``: finding keys of the causes.
    """

    __slots__ = ("id", "severity", "cluster", "peer", "resource", "message",
                 "evidence", "remedy", "category", "caused_by")

    def __init__(self, id, cluster, message, severity=None, peer=None, resource=None,
                 evidence=None, remedy=None, category=None, caused_by=None):
        if not id:
            raise FindingError("a finding needs an id")
        if severity is None:
            if id not in CATALOGUE:
                raise FindingError("finding %s is not in the catalogue: give it a severity" % id)
            severity = CATALOGUE[id][0]
        if severity not in SEVERITIES:
            raise FindingError("finding %s has severity %r, expected one of %s"
                               % (id, severity, ", ".join(SEVERITIES)))
        if category is not None and category not in REMEDIATE_CATEGORIES:
            raise FindingError("finding %s names remediate category %r, expected one of %s"
                               % (id, category, ", ".join(REMEDIATE_CATEGORIES)))
        self.id = id
        self.severity = severity
        self.cluster = cluster
        self.peer = peer
        self.resource = resource
        self.message = message
        self.evidence = dict(evidence or {})
        self.remedy = remedy
        self.category = category
        self.caused_by = list(caused_by or [])

    @property
    def key(self):
        return finding_key(self)

    def to_dict(self):
        return {
            "id": self.id,
            "severity": self.severity,
            "cluster": self.cluster,
            "peer": self.peer,
            "resource": self.resource,
            "message": self.message,
            "evidence": self.evidence,
            "remedy": self.remedy,
            "category": self.category,
            "caused_by": list(self.caused_by),
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, data):
        return cls(
            id=data.get("id"), cluster=data.get("cluster"), message=data.get("message"),
            severity=data.get("severity"), peer=data.get("peer"), resource=data.get("resource"),
            evidence=data.get("evidence"), remedy=data.get("remedy"),
            category=data.get("category"), caused_by=data.get("caused_by"),
        )

    def __repr__(self):
        return "Finding(%s)" % self.key

    def __eq__(self, other):
        return isinstance(other, Finding) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(self.key)


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
    """Exit-status rule of DESIGN.md section 3: ``fail_on`` is never|warning|error."""
    if fail_on == "never":
        return False
    if fail_on not in ("warning", "error"):
        raise FindingError("fail_on must be never, warning or error, not %r" % (fail_on,))
    threshold = _SEVERITY_RANK[fail_on]
    return any(_SEVERITY_RANK[f["severity"] if isinstance(f, dict) else f.severity] <= threshold
               for f in findings)
