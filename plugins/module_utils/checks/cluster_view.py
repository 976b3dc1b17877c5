# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One cluster of the mesh model (``ClusterView``) and what it is made of: its remote-secret entries
(``SecretEntry``), the probe its endpoints are judged on (``Probe``) and the small parsers they share.

Everything here is derived from one cluster's own facts; what needs every cluster (roles bound to
primaries, networks, secret targets) is in :mod:`.model`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import (
    CONTROL_PLANE_CLUSTERS_ANNOTATION, DEFAULT_ISTIO_NAMESPACE, NETWORK_LABEL,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import (
    as_dict, as_list, dig,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig import is_loopback_server


def parse_time(value):
    """An ISO-8601 / RFC 3339 timestamp (or datetime) as a naive UTC datetime, None if unparsable."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z",
                "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            parsed = datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return parsed
    return None


def service_of_host(address):
    """(service, namespace or None) of a discoveryAddress such as ``istiod-remote.istio-system.svc:15012``.

    (None, None) for an address that is not an in-cluster Service name (an IP or an external
    hostname): proxies dialing it do not talk to an in-cluster istiod Service.
    """
    if not address:
        return None, None
    host = str(address).strip()
    if host.startswith("["):
        return None, None
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if ":" in host or all(ch.isdigit() or ch == "." for ch in host):
        return None, None
    parts = host.split(".")
    if len(parts) == 1:
        return parts[0], None
    if len(parts) == 2 or parts[2] == "svc":
        return parts[0], parts[1]
    return None, None


class SecretEntry:
    """One data key of one remote secret in a primary, with the peer it is meant for.

    ``target`` is matched strongest evidence first: the server the kubeconfig points at (the
    probe's match, or a peer's API server URL), then the key as a cluster ID, then the
    ``networking.istio.io/cluster`` annotation, the ``istio-remote-secret-<name>`` Secret name, and
    last the key as an inventory name. A kubeconfig that points back at its own cluster has no target.
    """

    # one per primary and peer: 250,000 at 500 clusters, each without a __dict__ of its own
    __slots__ = ("owner", "secret", "entry", "namespace", "name", "key", "target", "matched_by")

    def __init__(self, owner, secret, entry):
        self.owner = owner
        self.secret = as_dict(secret)
        self.entry = as_dict(entry)
        self.namespace = self.secret.get("namespace")
        self.name = self.secret.get("name")
        self.key = self.entry.get("key")
        self.target = None
        self.matched_by = None

    @property
    def ref(self):
        return "%s/%s" % (self.namespace, self.name)

    @property
    def server(self):
        return self.entry.get("server")

    @property
    def error(self):
        return self.entry.get("error")

    @property
    def loopback(self):
        return bool(self.entry.get("loopback")) or is_loopback_server(self.server)

    @property
    def probe(self):
        return as_dict(self.entry.get("probe")) if self.entry.get("probe") else None

    @property
    def in_istiod_namespace(self):
        return self.namespace == self.owner.istio_namespace

    def summary(self):
        """What a person may see of the entry (no credential: a fingerprint stands for it)."""
        e = self.entry
        probe = self.probe or {}
        return {"secret": self.ref, "key": self.key, "fingerprint": e.get("fingerprint"),
                "server": e.get("server"), "auth": e.get("auth"), "error": e.get("error"),
                "probe_ok": probe.get("ok") if self.probe is not None else None,
                "matched_by": self.matched_by}


def split_host(host):
    """(name, namespace) of ``helloworld.sample.svc.cluster.local`` / ``helloworld.sample``."""
    parts = str(host or "").split(".")
    if len(parts) < 2:
        return parts[0] if parts and parts[0] else None, None
    return parts[0], parts[1]


class Probe:
    """The service a client proxy is judged on: its host, the rows the proxy holds for it and how it was
    chosen (``probe_service``: the option; ``auto``: a service of the mesh's own), or why none was."""

    def __init__(self, proxy, host=None, rows=(), chosen=None, skipped=None, causes=()):
        self.proxy = as_dict(proxy)
        self.causes = list(causes)
        self.host = host
        self.rows = [as_dict(r) for r in rows if as_dict(r).get("address")]
        self.chosen = chosen
        self.skipped = skipped

    @property
    def pod(self):
        return str(self.proxy.get("pod") or "")

    def to_dict(self):
        return {"client": self.pod or None, "client_from": self.proxy.get("client_from"), "service": self.host,
                "chosen": self.chosen, "skipped": self.skipped}


class ClusterView:
    """One cluster in play, with what is derived from its own facts."""

    def __init__(self, name, facts):
        self.name = name
        self.facts = facts if isinstance(facts, dict) else {}
        f = self.facts
        # A gather that reached the API server but stopped part way (error set): what it read is
        # incomplete and the reads it never made are not listed as failed, so judging it would
        # report absences that are only unread. It counts as unreachable; a cluster ID it read
        # before stopping is kept for the peers' key checks.
        self.stopped = not f.get("partial") and f.get("reachable") is not False and bool(f.get("error"))
        if f.get("partial"):
            self.state = "partial"
        elif f.get("reachable") is False or self.stopped:
            self.state = "unreachable"
        else:
            self.state = "full"
        self.declared = as_dict(f.get("declared"))
        self.istio_namespace = f.get("istio_namespace") or DEFAULT_ISTIO_NAMESPACE
        self.server = f.get("server")
        self.context = f.get("context") or name
        self.install_marks = self._install_marks() if (self.full or self.stopped) else []
        self.installed = self._installed()
        # cluster ID: known (read from the cluster or given for a partial peer), else expected
        read = self.state == "full" or self.stopped
        self.cluster_id = f.get("cluster_id") if self.state != "unreachable" or self.stopped else None
        if read and not (self.has_section("istiod") or self.has_section("configmaps")):
            self.cluster_id = None   # nothing that sets the ID was read: the default would be a guess
        if read and not (f.get("istiod") or self.selectorless_services or self.install_marks):
            self.cluster_id = None   # no Istio: the gathered default ID means nothing
        if self.cluster_id:
            self.expected_id, self.expected_id_source = self.cluster_id, "cluster"
        elif self.declared.get("cluster_id"):
            self.expected_id, self.expected_id_source = self.declared["cluster_id"], "declared"
        else:
            self.expected_id, self.expected_id_source = name, "inventory name"
        self.role = None
        self.remote_intent = []
        self.bound_local = []
        if self.full:
            self._derive_role()
        self.network, self.network_source = self._intended_network()
        self.serving = []          # filled by Mesh: primaries whose istiod serves these proxies
        self.serving_primary = None   # the one primary named for a remote (controlPlaneClusters or the only one)
        self.entries = []          # filled by Mesh: SecretEntry of every remote secret (primaries)
        self.probe = None          # filled by Mesh: the service the client proxy is judged on (Probe)
        self.alias_of = None       # filled by Mesh: the host this one reaches the same cluster as
        self.cache = {}            # per-cluster indexes built lazily by the checks

    @property
    def full(self):
        return self.state == "full"

    @property
    def judged(self):
        """Full and Istio not known to be absent: the clusters the per-cluster checks judge."""
        return self.full and self.installed is not False

    # -- reads ---------------------------------------------------------------------------
    def has_section(self, section):
        """True when gather read ``section`` (option sections; keys of sections left out are null)."""
        sections = self.facts.get("sections")
        return not isinstance(sections, list) or section in sections

    def read_failed(self, *resources):
        """True when a read of one of ``resources`` (plural names, group optional) failed."""
        wanted = set(r.split(".", 1)[0] for r in resources)
        for err in as_list(self.facts.get("read_errors")):
            res = str(as_dict(err).get("resource") or "").split(".", 1)[0]
            if res in wanted:
                return True
        return False

    @property
    def istiod(self):
        return self.facts.get("istiod") if self.full else None

    @property
    def istiod_name(self):
        return as_dict(self.istiod).get("name") or "istiod"

    @property
    def istio_version(self):
        return as_dict(self.facts.get("istiod")).get("version")

    @property
    def selectorless_services(self):
        return [s for s in as_list(self.facts.get("control_plane_services")) if as_dict(s).get("selectorless")]

    def _install_marks(self):
        """What a remote install leaves even when its wiring to the primary is broken (the selector-less
        Service gone): remotePilotAddress, the controlPlaneClusters annotation, istiodRemote enabled, a
        discoveryAddress naming istiod-remote."""
        marks = []
        rpa = self.injector_global.get("remotePilotAddress")
        if rpa:
            marks.append("values.global.remotePilotAddress=%s" % rpa)
        anns = self.namespace_annotations
        if anns.get(CONTROL_PLANE_CLUSTERS_ANNOTATION):
            marks.append("annotation %s=%s" % (CONTROL_PLANE_CLUSTERS_ANNOTATION, anns[CONTROL_PLANE_CLUSTERS_ANNOTATION]))
        if dig(self.facts, "injector_values", "istiodRemote", "enabled") is True:
            marks.append("values.istiodRemote.enabled=true")
        service, _ns = service_of_host(self.discovery_address)
        if service == "istiod-remote":
            marks.append("discoveryAddress %s" % self.discovery_address)
        return marks

    def _installed(self):
        """True / False, or None when the reads that decide it failed or the cluster was not read.

        A remote whose wiring broke is still installed (its marks say so): it is diagnosed as that
        wiring (primary_remote.*), never as Istio missing."""
        if not self.full:
            return None
        f = self.facts
        if f.get("istiod") or self.selectorless_services or self.install_marks:
            return True
        if self.read_failed("deployments", "services") or not (
                self.has_section("istiod") and self.has_section("services")):
            return None
        return False

    @property
    def injector_global(self):
        return as_dict(dig(self.facts, "injector_values", "global"))

    @property
    def namespace_labels(self):
        return as_dict(dig(self.facts, "namespace", "labels"))

    @property
    def namespace_annotations(self):
        return as_dict(dig(self.facts, "namespace", "annotations"))

    @property
    def namespace_label_network(self):
        return self.namespace_labels.get(NETWORK_LABEL)

    @property
    def values_network(self):
        return self.injector_global.get("network") or None

    @property
    def effective_network(self):
        """The network the install gives the cluster (facts), else the declared one."""
        if self.full:
            return (self.facts.get("network") or self.namespace_label_network
                    or self.values_network or self.declared.get("network"))
        return self.declared.get("network")

    def _intended_network(self):
        """(network, source) the cluster is meant to be on: declared, else values.global.network, else label."""
        if self.declared.get("network"):
            return self.declared["network"], "declared (meshmend_network)"
        if self.values_network:
            return self.values_network, "values.global.network"
        if self.namespace_label_network:
            return self.namespace_label_network, "istio-system label"
        network = self.effective_network
        return network, ("effective" if network else None)

    @property
    def discovery_address(self):
        return (self.facts.get("discovery_address")
                or dig(self.facts, "mesh_config", "defaultConfig", "discoveryAddress"))

    @property
    def gateways(self):
        """The east-west gateway Services (facts), or None when they were not read."""
        gws = self.facts.get("gateways")
        return [as_dict(g) for g in gws] if isinstance(gws, list) else None

    # -- roles ---------------------------------------------------------------------------
    def _derive_role(self):
        """primary | remote | remote_bound_local (istiod_remote_missing) | None (no Istio).

        A cluster is meant to be remote when the inventory says so or the install left a
        remote's marks (remotePilotAddress, a selector-less control-plane Service, the
        controlPlaneClusters annotation, istiodRemote enabled). Its proxies are bound to an
        in-cluster istiod when a local istiod runs and the discoveryAddress names an
        in-cluster Service that selects it (istio-facts section 5: istiod vs istiod-remote).
        """
        f = self.facts
        declared_role = self.declared.get("role")
        intent = []
        if declared_role == "remote":
            intent.append("declared role remote")
        if declared_role != "primary":
            intent.extend(m for m in self.install_marks if not m.startswith("discoveryAddress"))
            for svc in self.selectorless_services:
                intent.append("selector-less Service %s/%s" % (self.istio_namespace, svc.get("name")))
            intent.extend(m for m in self.install_marks if m.startswith("discoveryAddress"))
        self.remote_intent = intent
        has_istiod = bool(f.get("istiod"))
        selectorless = set(s.get("name") for s in self.selectorless_services)
        bound = []
        if has_istiod:
            addresses = [("mesh defaultConfig", self.discovery_address or
                          "istiod.%s.svc:15012" % self.istio_namespace)]
            for pod in as_list(f.get("sidecar_pods")):
                if as_dict(pod).get("discovery_address"):
                    addresses.append(("Pod %s/%s" % (pod.get("namespace"), pod.get("name")),
                                      pod["discovery_address"]))
            for where, address in addresses:
                svc, _ns = service_of_host(address)
                if svc and svc.startswith("istiod") and svc not in selectorless:
                    bound.append("%s discoveryAddress %s" % (where, address))
        self.bound_local = bound
        if intent:
            self.role = "remote_bound_local" if bound else "remote"
        elif has_istiod:
            self.role = "primary"
        elif selectorless or self.install_marks:
            self.role = "remote"   # though declared a primary (cluster.declared_role_mismatch says so)
        else:
            self.role = None

    @property
    def control_plane_service(self):
        """The selector-less Service the proxies of a remote dial (the one discoveryAddress names, else the
        first), or None."""
        named, _ns = service_of_host(self.discovery_address or "istiod.%s.svc:15012" % self.istio_namespace)
        services = self.selectorless_services
        for svc in services:
            if svc.get("name") == named:
                return svc
        return services[0] if services else None

    @property
    def control_plane_targets(self):
        """Where a remote's proxies are sent: the IPs (or ExternalName) behind its selector-less istiod Service;
        None when not read; [] when it leads nowhere."""
        svc = self.control_plane_service
        if svc is None:
            return None
        if svc.get("external_name"):
            return [svc["external_name"]]
        return list(svc["endpoints"]) if isinstance(svc.get("endpoints"), list) else None

    @property
    def is_primary(self):
        return self.role == "primary"

    @property
    def is_remote(self):
        return self.role in ("remote", "remote_bound_local")

    def to_dict(self):
        istiod = as_dict(self.facts.get("istiod"))
        sidecars = {}
        for pod in as_list(self.facts.get("sidecar_pods")):
            placement = as_dict(pod).get("sidecar") or "container"
            sidecars[placement] = sidecars.get(placement, 0) + 1
        return {
            "state": self.state,
            "stopped": self.stopped,
            "installed": self.installed,
            "role": self.role,
            "remote_because": list(self.remote_intent),
            "cluster_id": self.cluster_id,
            "expected_id": self.expected_id,
            "expected_id_from": self.expected_id_source,
            "network": self.network,
            "network_from": self.network_source,
            "mesh_id": self.facts.get("mesh_id") if self.full else None,
            "declared": dict(self.declared),
            "istio_namespace": self.istio_namespace,
            "istio_version": self.istio_version,
            "istiod_ready": (istiod.get("ready_replicas"), istiod.get("replicas")) if istiod else None,
            "server": self.server,
            "context": self.facts.get("context"),
            "serving": list(self.serving),
            "sidecars": sidecars,
            "endpoints_probe": self.probe.to_dict() if self.probe is not None else None,
            "alias_of": self.alias_of,
        }
