# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh model: everything derived from the facts, derived once, before any check runs.

``Mesh(facts_by_cluster, options)`` reads the facts of every cluster in play (docs/facts.md) and
works out, in this order: each cluster's state (full, unreachable, partial), whether Istio is
installed, its role (primary, remote, remote bound to a local istiod), identity (cluster ID and
the ID peers must key it by), network, which primaries serve its proxies; the mesh's networks and
their gateway addresses; clusters that share an ID; and every remote-secret entry with the peer it
is meant for. The checks read this; so do the reports and remediation, through ``to_dict()``:
nobody derives these again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.meshmend.multicluster.plugins.module_utils import gateways as _gateways
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import (
    CLUSTER_ANNOTATION, CONTROL_PLANE_CLUSTERS_ANNOTATION, DEFAULT_ISTIO_NAMESPACE, NETWORK_LABEL,
    REMOTE_SECRET_PREFIX,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import natural_key
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import (
    as_dict, as_list, dig, is_dns1123_label, selects,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig import is_loopback_server
from ansible_collections.meshmend.multicluster.plugins.module_utils.urls import normalize_server, server_host

MODEL_SCHEMA = 1


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


class Mesh:
    """Every cluster in play plus options, with what is derived across clusters; the checks' one input."""

    def __init__(self, facts_by_cluster, options=None):
        options = dict(options or {})
        self.clusters = {}
        for name in sorted(facts_by_cluster or {}):
            facts = facts_by_cluster[name]
            cname = as_dict(facts).get("cluster") or name
            self.clusters[name] = ClusterView(name if name else cname, facts)
        self.out_of_play = sorted(set(options.get("out_of_play") or []) - set(self.clusters))
        self.aliases = self._aliases()
        now = options.get("now")
        self.now = parse_time(now) if now is not None else datetime.datetime.now(
            datetime.timezone.utc).replace(tzinfo=None)
        self.expiry_days = int(options["expiry_days"]) if options.get("expiry_days") is not None else 30
        self.probe_service = options.get("probe_service") or "helloworld.sample"
        self._by_server = None
        self._gateway_addresses = {}
        self.networks = self._networks()
        self.multi_network = self._multi_network()
        self.duplicate_ids = self._duplicate_ids()
        for c in self.clusters.values():
            c.serving = [p.name for p in self._serving_primaries(c)]
            c.serving_primary = self._primary_of(c) if c.is_remote else None
        for c in self.primaries():
            c.entries = self._secret_entries(c)
        for c in self.judged():
            c.probe = self._probe(c)

    # -- aliases: several inventory hosts, one cluster --------------------------------------
    def _aliases(self):
        """{host: the host it is diagnosed as} for hosts that reach one cluster (same API server, same cluster ID),
        as a kubeconfig with contexts `prod-east` and an EKS ARN for one API server does. The one kept is a valid
        Kubernetes name when there is one (it names remote secrets), else the first in natural order."""
        groups = {}
        for c in self.clusters.values():
            if c.full and c.installed and c.cluster_id and normalize_server(c.server):
                groups.setdefault((normalize_server(c.server), c.cluster_id), []).append(c.name)
        out = {}
        for names in groups.values():
            if len(names) < 2:
                continue
            keep = sorted(names, key=lambda n: (not is_dns1123_label(n), natural_key(n)))[0]
            for n in names:
                if n != keep:
                    out[n] = keep
                    self.clusters[n].alias_of = keep
        return out

    # -- selections (an alias is diagnosed as the host it is an alias of) -------------------
    def all(self):
        return [c for c in self.clusters.values() if c.alias_of is None]

    def full(self):
        return [c for c in self.all() if c.full]

    def judged(self):
        """Full clusters with Istio not known to be absent (the ones per-cluster checks judge)."""
        return [c for c in self.all() if c.judged]

    def primaries(self):
        return [c for c in self.all() if c.full and c.is_primary]

    def peers_of(self, cluster):
        return [c for c in self.all() if c.name != cluster.name]

    def by_server(self, url):
        if self._by_server is None:
            self._by_server = {}
            for c in self.all():
                norm = normalize_server(c.server)
                if norm:
                    self._by_server.setdefault(norm, c)
        norm = normalize_server(url)
        return self._by_server.get(norm) if norm else None

    # -- identities ------------------------------------------------------------------------
    def _duplicate_ids(self):
        """{cluster ID: [names]} for IDs two or more installed clusters share (read or given)."""
        groups = {}
        for c in self.all():
            if c.state in ("full", "partial") and c.cluster_id and c.installed is not False:
                groups.setdefault(c.cluster_id, []).append(c.name)
        return dict((cid, sorted(names)) for cid, names in groups.items() if len(names) > 1)

    def shares_id(self, a, b):
        """True when clusters ``a`` and ``b`` (names) share a cluster ID."""
        return any(a in names and b in names for names in self.duplicate_ids.values())

    # -- networks --------------------------------------------------------------------------
    def _networks(self):
        """Every network the clusters are on: their install's network, the declared one, gateway
        Services istiod takes as a network's gateway, and meshNetworks. A workload's own label or
        ISTIO_META_NETWORK does not make a network: one mislabelled pod is not a second network."""
        nets = set()
        for c in self.clusters.values():
            if c.full:
                for value in (c.facts.get("network"), c.namespace_label_network, c.values_network):
                    if value:
                        nets.add(value)
                for gw in c.gateways or []:
                    if gw.get("network_label") and self._serves_as_gateway(gw):
                        nets.add(gw["network_label"])
            if c.declared.get("network"):
                nets.add(c.declared["network"])
        return nets

    @staticmethod
    def _serves_as_gateway(gw):
        """istiod takes a Service labelled with a network as that network's gateway only when it exposes
        the gateway port (15443 or its gatewayPort label) or HBONE's 15008 (network.go)."""
        ports = set(as_dict(p).get("port") for p in as_list(gw.get("ports")))
        port = gw.get("gateway_port") or _gateways.DEFAULT_GATEWAY_PORT
        return bool(ports & {port, _gateways.HBONE_PORT}) or not ports

    def _multi_network(self):
        """More than one distinct network, or one network and meshNetworks naming more than one."""
        if len(self.networks) > 1:
            return True
        if self.networks:
            for c in self.full():
                if len(as_dict(dig(c.facts, "mesh_networks", "networks"))) > 1:
                    return True
        return False

    def gateway_addresses(self, network):
        """Addresses istiod may use for ``network``'s gateway, from every cluster's facts (a copy)."""
        if network not in self._gateway_addresses:
            self._gateway_addresses[network] = self._compute_gateway_addresses(network)
        return set(self._gateway_addresses[network])

    def _compute_gateway_addresses(self, network):
        out = set()
        if not network:
            return out
        for c in self.full():
            for gw in self.mesh_networks_gateways(c):
                if gw.get("network") == network and gw.get("address"):
                    out.add(gw["address"])
            for gw in c.gateways or []:
                # istiod takes a Service as the gateway of the network its label names
                if gw.get("network_label") == network:
                    for addr in as_list(gw.get("addresses")):
                        if as_dict(addr).get("value"):
                            out.add(addr["value"])
            for row in as_list(c.facts.get("networkz")):
                row = as_dict(row)
                if row.get("Network") == network and row.get("Addr"):
                    out.add(row["Addr"])
        return out

    @staticmethod
    def mesh_networks_gateways(c):
        """The gateways the istiod of ``c`` learns from its meshNetworks (none when they are invalid: istiod then
        ignores them)."""
        found = as_dict(c.facts.get("mesh_networks_gateways"))
        return [as_dict(g) for g in as_list(found.get("gateways"))] if found.get("valid") else []

    def static_gateways(self, c, network):
        """The gateways meshNetworks gives ``network`` without a labelled Service in ``c``: a fixed address (from
        any cluster's meshNetworks), or a Service of ``c``'s registry that a registryServiceName names."""
        if not network:
            return []
        out = []
        for d in self.full():
            for gw in self.mesh_networks_gateways(d):
                if gw.get("network") == network and (gw.get("cluster") is None or
                                                     (d is c and gw.get("cluster") == c.cluster_id)):
                    out.append(gw.get("address"))
        return out

    def remote_pilot_addresses(self):
        """{remotePilotAddress: [remote clusters using it]}."""
        out = {}
        for c in self.full():
            if c.is_remote:
                rpa = c.injector_global.get("remotePilotAddress")
                if rpa:
                    out.setdefault(str(rpa), []).append(c.name)
        return out

    # -- control planes --------------------------------------------------------------------
    def address_owner(self, address):
        """The primary whose east-west gateway (or API server host) has ``address``, with that gateway; (None, None)."""
        for p in self.primaries():
            for gw in p.gateways or []:
                if str(address) in set(str(as_dict(x).get("value")) for x in as_list(gw.get("addresses"))):
                    return p, gw
            if str(address) == server_host(p.server):
                return p, None
        return None, None

    def _serving_primaries(self, c):
        """Clusters whose istiod serves the proxies of ``c`` (its own for a primary; none for a remote whose
        control-plane Service is missing or leads to no primary)."""
        if c.role == "primary":
            return [c]
        if c.role != "remote":
            return []
        primaries = [p for p in self.primaries() if p.name != c.name]
        targets = c.control_plane_targets
        if c.control_plane_service is None and c.selectorless_services == [] and c.has_section("services"):
            return []
        if targets is not None:
            owners = []
            for t in targets:
                owner, _gw = self.address_owner(t)
                if owner is not None and owner not in owners:
                    owners.append(owner)
            if owners or targets:
                return owners
        rpa = c.injector_global.get("remotePilotAddress")
        if rpa:
            rpa = str(rpa)
            chosen = []
            for p in primaries:
                addrs = set(str(as_dict(x).get("value")) for gw in p.gateways or []
                            for x in as_list(gw.get("addresses")))
                if rpa in addrs or rpa == server_host(p.server):
                    chosen.append(p)
            if chosen:
                return chosen
        return primaries

    def _primary_of(self, c):
        """The primary meant to serve remote ``c``: named by controlPlaneClusters, else the only primary."""
        named = c.namespace_annotations.get(CONTROL_PLANE_CLUSTERS_ANNOTATION) or ""
        wanted = set(x.strip() for x in str(named).split(",") if x.strip())
        for p in self.primaries():
            if p.name != c.name and (p.name in wanted or p.cluster_id in wanted):
                return p.name
        primaries = [p.name for p in self.primaries() if p.name != c.name]
        return primaries[0] if len(primaries) == 1 else None

    # -- the endpoints a client proxy holds ------------------------------------------------------
    def service_pods(self, c, name, namespace):
        """(Service, its sidecar pods) of cluster ``c`` for namespace/name ((None, []) when absent)."""
        key = ("service_pods", name, namespace)
        if key not in c.cache:
            svc = None
            for s in as_list(c.facts.get("services")):
                s = as_dict(s)
                if s.get("name") == name and s.get("namespace") == namespace:
                    svc = s
                    break
            pods = []
            if svc is not None:
                pods = [as_dict(p) for p in as_list(c.facts.get("sidecar_pods"))
                        if as_dict(p).get("namespace") == namespace
                        and selects(svc.get("selector"), as_dict(p).get("labels"))]
            c.cache[key] = (svc, pods)
        return c.cache[key]

    def runs_in(self, name, namespace):
        """Judged clusters where Service namespace/name has a Ready sidecar pod with an IP."""
        return [c.name for c in self.judged()
                if any(p.get("ready") is not False and p.get("pod_ip") for p in self.service_pods(c, name, namespace)[1])]

    def _probe(self, c):
        """What the endpoint checks judge for the client proxy of ``c``: the probe service when it runs in
        more than one cluster, else the service of the mesh's own the proxy knows that does (most endpoints
        first). A Probe with ``skipped`` set says why nothing could be judged."""
        if not c.has_section("proxy") or c.read_failed("pods"):
            return None   # the read that failed (cluster.forbidden / cluster.read_failed) says why
        proxy = c.facts.get("proxy")
        if not isinstance(proxy, dict):
            return Probe(None, skipped=c.facts.get("proxy_note") or "no client proxy was asked (read_proxy off)")
        if proxy.get("error"):
            return Probe(proxy, skipped="the client proxy %s could not be asked: %s"
                         % (proxy.get("pod"), proxy["error"]))
        if len(self.judged()) < 2:
            # partial peers (the standalone modules' view of the others) are known by name and ID only
            others = [o for o in self.all() if o.name != c.name and o.state != "partial"]
            if not others and not self.out_of_play:
                return None   # a single cluster: nothing crosses clusters
            why = ["%s %s" % (o.name, "is unreachable" if o.state == "unreachable" else "runs no Istio")
                   for o in others if not o.judged] + ["%s is out of play" % n for n in self.out_of_play]
            return Probe(proxy, skipped="no other cluster can be compared with (%s)" % ", ".join(why),
                         causes=["cluster.unreachable@%s" % o.name for o in others] +
                         ["istio.not_installed@%s" % o.name for o in others])
        candidates = []
        if proxy.get("service"):
            candidates.append((proxy["service"], as_list(proxy.get("endpoints")), "probe_service"))
        for host, rows in sorted(as_dict(proxy.get("services")).items(), key=lambda kv: (-len(kv[1]), kv[0])):
            candidates.append((host, as_list(rows), "auto"))
        for host, rows, chosen in candidates:
            name, namespace = split_host(host)
            if name and namespace and len(self.runs_in(name, namespace)) > 1:
                return Probe(proxy, host=host, rows=rows, chosen=chosen)
        tried = [host for host, _rows, _c in candidates]
        looked = ", ".join(tried[:5]) + (" and %d more" % (len(tried) - 5) if len(tried) > 5 else "")
        return Probe(proxy, skipped="no service the proxy %s knows runs in more than one cluster (looked at %s)"
                     % (proxy.get("pod"), looked or "none"))

    # -- remote secrets --------------------------------------------------------------------
    def _secret_entries(self, primary):
        secrets = primary.facts.get("remote_secrets")
        if not isinstance(secrets, list) or not primary.judged:
            return []
        entries = []
        for secret in secrets:
            for raw in as_list(as_dict(secret).get("entries")):
                entry = SecretEntry(primary, secret, raw)
                entry.target, entry.matched_by = self._identify(primary, entry)
                if entry.target is not None and entry.target.name == primary.name:
                    entry.target, entry.matched_by = None, "own server"
                entries.append(entry)
        return entries

    def _identify(self, primary, entry):
        """The peer (ClusterView) ``entry`` is meant for, and how it was matched; (None, None) if none."""
        e = entry.entry
        peers = self.peers_of(primary)
        for known in (as_dict(e.get("probe")).get("cluster"), e.get("server_cluster")):
            if known and known in self.clusters:
                return self.clusters[self.aliases.get(known, known)], "server"
        if e.get("server"):
            target = self.by_server(e["server"])
            if target is not None:
                return target, "server"
        for p in peers:
            if p.cluster_id and entry.key == p.cluster_id:
                return p, "key"
        ann = as_dict(entry.secret.get("annotations")).get(CLUSTER_ANNOTATION)
        for p in peers:
            if ann and ann in (p.name, p.cluster_id, p.expected_id):
                return p, "annotation"
        name = entry.name or ""
        if name.startswith(REMOTE_SECRET_PREFIX):
            suffix = name[len(REMOTE_SECRET_PREFIX):]
            for p in peers:
                if suffix in (p.name, p.cluster_id, p.expected_id):
                    return p, "secret name"
        for p in peers:
            if entry.key in (p.name, p.expected_id):
                return p, "key"
        return None, None

    def entries_for(self, primary, peer):
        return [e for e in primary.entries if e.target is not None and e.target.name == peer.name]

    # -- the model others read -------------------------------------------------------------
    def to_dict(self, findings=()):
        """The JSON-safe mesh model: clusters, networks, remote-secret entries and links.

        ``findings`` (Finding objects or dicts) set the state of each link and each entry: a link
        ``A -> B`` (istiod in A reads B) exists where a secret provides B or a remote-secret finding
        names the pair.
        """
        by_pair = {}
        for f in findings:
            f = f.to_dict() if hasattr(f, "to_dict") else f
            if f.get("peer") and f.get("cluster") and f["id"].split(".", 1)[0] in ("remote_secret", "primary_remote"):
                by_pair.setdefault((f["cluster"], f["peer"]), []).append(f)
        entries, links = [], {}
        for c in self.primaries():
            for e in c.entries:
                target = e.target.name if e.target is not None else None
                pair = by_pair.get((c.name, target), []) if target else []
                entries.append({"cluster": c.name, "namespace": e.namespace, "name": e.name, "key": e.key,
                                "target": target, "matched_by": e.matched_by, "server": e.server,
                                "fingerprint": e.entry.get("fingerprint"), "error": e.error,
                                "state": _state(pair) if target else "unknown"})
                if target:
                    link = links.setdefault((c.name, target), _link(c.name, target))
                    if link["secret"] is None or e.in_istiod_namespace:
                        link["secret"] = e.ref
        for (source, target), fs in by_pair.items():
            link = links.setdefault((source, target), _link(source, target))
            link["ids"] = sorted(set(f["id"] for f in fs))
            link["state"] = _state(fs)
        for link in links.values():
            if link["secret"] is None and link["state"] == "ok":
                link["state"] = "warning"
        networks = {}
        for c in self.clusters.values():
            if c.network:
                net = networks.setdefault(c.network, {"clusters": [], "gateway_addresses": []})
                net["clusters"].append(c.name)
        for name, net in networks.items():
            net["gateway_addresses"] = sorted(self.gateway_addresses(name))
        return {
            "schema": MODEL_SCHEMA,
            "clusters": dict((c.name, c.to_dict()) for c in self.clusters.values()),
            "out_of_play": list(self.out_of_play),
            "multi_network": self.multi_network,
            "networks": networks,
            "duplicate_ids": dict((cid, list(names)) for cid, names in self.duplicate_ids.items()),
            "remote_secrets": entries,
            "links": [links[k] for k in sorted(links)],
        }


def _link(source, target):
    return {"source": source, "target": target, "state": "ok", "ids": [], "secret": None}


def _state(findings):
    sev = set(f["severity"] for f in findings)
    return "error" if "error" in sev else ("warning" if "warning" in sev else "ok")
