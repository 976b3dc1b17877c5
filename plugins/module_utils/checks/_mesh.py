# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The view of the whole mesh that every check area reads (pure, no I/O).

``Mesh`` wraps the facts of every cluster in play (docs/facts.md) and derives, once,
what several areas need: which clusters are full / unreachable / partial, their roles
(primary, remote, or a remote whose proxies are bound to an in-cluster istiod), their
networks, whether the mesh is multi-network, and the cluster ID each peer is expected
to be known by in a remote secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import (
    CATALOGUE, DESIGN_IDS, Finding,
)

NETWORK_LABEL = "topology.istio.io/network"
MULTICLUSTER_LABEL = "istio/multiCluster"
CONTROL_PLANE_CLUSTERS_ANNOTATION = "topology.istio.io/controlPlaneClusters"
DEFAULT_ISTIO_NAMESPACE = "istio-system"
DEFAULT_CLUSTER_ID = "Kubernetes"

# Findings this module adds to the fixed catalogue (DESIGN.md: add, never rename).
# id -> severity; Finding needs it explicitly because findings.CATALOGUE does not list them.
# Ids the checks add beyond DESIGN.md section 5; their severities live in findings.CATALOGUE.
EXTRA_SEVERITIES = dict((fid, CATALOGUE[fid][0]) for fid in CATALOGUE if fid not in DESIGN_IDS)

MAX_LISTED = 20


def make(fid, cluster, message, **kwargs):
    """A Finding; its severity defaults to the catalogue's."""
    return Finding(fid, cluster, message, **kwargs)


def resource(kind, namespace, name):
    """``kind/namespace/name``; cluster-scoped objects: ``kind/name``."""
    if namespace:
        return "%s/%s/%s" % (kind, namespace, name)
    return "%s/%s" % (kind, name)


def listed(items):
    """At most MAX_LISTED items of a list, for evidence that stays readable."""
    items = list(items)
    return items[:MAX_LISTED]


def as_dict(value):
    return value if isinstance(value, dict) else {}


def as_list(value):
    return value if isinstance(value, list) else []


def dig(data, *path):
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


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

    Returns (None, None) for an address that is not an in-cluster Service name (an IP or an
    external hostname): proxies dialing it do not talk to an in-cluster istiod Service.
    """
    if not address:
        return None, None
    host = str(address).strip()
    if host.startswith("["):
        return None, None
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if re.match(r"^[0-9.]+$", host) or ":" in host:
        return None, None
    parts = host.split(".")
    if len(parts) == 1:
        return parts[0], None
    if len(parts) == 2 or parts[2] == "svc":
        return parts[0], parts[1]
    return None, None


def server_host(url):
    """Host of an API server URL (no port, no brackets), lower-cased."""
    if not url:
        return None
    text = str(url).strip()
    text = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("@")[-1]
    if text.startswith("["):
        return text[1:].split("]", 1)[0].lower()
    if text.count(":") > 1:
        return text.lower()
    return text.split(":", 1)[0].lower()


def normalize_server(url):
    """Comparable form of an API server URL: scheme://host:port without a trailing slash."""
    if not url:
        return None
    text = str(url).strip().rstrip("/").lower()
    if "://" not in text:
        text = "https://" + text
    scheme, rest = text.split("://", 1)
    hostport = rest.split("/", 1)[0]
    if hostport.startswith("["):
        host, _sep, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    elif hostport.count(":") == 1:
        host, port = hostport.split(":")
    else:
        host, port = hostport, ""
    if not port:
        port = "443" if scheme == "https" else "80"
    return "%s://%s:%s" % (scheme, host, port)


class ClusterView:
    """One cluster in play, with what the areas derive from its facts."""

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
        # cluster ID: known (read from the cluster or given for a partial peer), else expected
        read = self.state == "full" or self.stopped
        self.cluster_id = f.get("cluster_id") if self.state != "unreachable" or self.stopped else None
        if read and not (self.has_section("istiod") or self.has_section("configmaps")):
            self.cluster_id = None   # nothing that sets the ID was read: the default would be a guess
        if read and not f.get("istiod") and not any(
                as_dict(s).get("selectorless") for s in as_list(f.get("control_plane_services"))):
            self.cluster_id = None   # no Istio: the gathered default ID means nothing
        if self.cluster_id:
            self.expected_id, self.expected_id_source = self.cluster_id, "cluster"
        elif self.declared.get("cluster_id"):
            self.expected_id, self.expected_id_source = self.declared["cluster_id"], "declared"
        else:
            self.expected_id, self.expected_id_source = name, "inventory name"
        self.cache = {}   # per-cluster indexes built lazily by the areas
        self.role = None
        self.remote_intent = []
        self.bound_local = []
        if self.full:
            self._derive_role()

    @property
    def full(self):
        return self.state == "full"

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
    def selectorless_services(self):
        return [s for s in as_list(self.facts.get("control_plane_services"))
                if as_dict(s).get("selectorless")]

    @property
    def istio_installed(self):
        """True / False, or None when the reads that decide it failed."""
        if not self.full:
            return None
        if self.istiod or self.selectorless_services:
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
    def namespace_label_network(self):
        return self.namespace_labels.get(NETWORK_LABEL)

    @property
    def values_network(self):
        return self.injector_global.get("network") or None

    @property
    def network(self):
        """The cluster's effective network (facts), else the declared one."""
        if self.full:
            return (self.facts.get("network") or self.namespace_label_network
                    or self.values_network or self.declared.get("network"))
        return self.declared.get("network")

    @property
    def discovery_address(self):
        return (self.facts.get("discovery_address")
                or dig(self.facts, "mesh_config", "defaultConfig", "discoveryAddress"))

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
            rpa = self.injector_global.get("remotePilotAddress")
            if rpa:
                intent.append("values.global.remotePilotAddress=%s" % rpa)
            for svc in self.selectorless_services:
                intent.append("selector-less Service %s/%s" % (self.istio_namespace, svc.get("name")))
            anns = as_dict(dig(f, "namespace", "annotations"))
            if anns.get(CONTROL_PLANE_CLUSTERS_ANNOTATION):
                intent.append("annotation %s=%s" % (CONTROL_PLANE_CLUSTERS_ANNOTATION,
                                                    anns[CONTROL_PLANE_CLUSTERS_ANNOTATION]))
            if dig(f, "injector_values", "istiodRemote", "enabled") is True:
                intent.append("values.istiodRemote.enabled=true")
            if f.get("role") == "remote" and not intent:
                intent.append("gathered role remote")
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
        elif selectorless:
            self.role = "remote"
        else:
            self.role = None

    @property
    def is_primary(self):
        return self.role == "primary"


class Mesh:
    """Every cluster in play plus options; the single input of every area check."""

    def __init__(self, facts_by_cluster, options=None):
        options = dict(options or {})
        self.clusters = {}
        for name in sorted(facts_by_cluster or {}):
            facts = facts_by_cluster[name]
            cname = as_dict(facts).get("cluster") or name
            self.clusters[name] = ClusterView(name if name else cname, facts)
        self.out_of_play = sorted(set(options.get("out_of_play") or []) - set(self.clusters))
        now = options.get("now")
        self.now = parse_time(now) if now is not None else datetime.datetime.now(
            datetime.timezone.utc).replace(tzinfo=None)
        self.expiry_days = int(options["expiry_days"]) if options.get("expiry_days") is not None else 30
        self.probe_service = options.get("probe_service") or "helloworld.sample"
        self.not_installed = set()   # filled by the cluster area: clusters skipped by later areas
        self._networks = None
        self._by_server = None
        self._gateway_addresses = {}

    # -- selections ------------------------------------------------------------------------
    def all(self):
        return list(self.clusters.values())

    def full(self):
        return [c for c in self.clusters.values() if c.full]

    def installed(self):
        """Full clusters with Istio installed (the ones per-cluster areas judge)."""
        return [c for c in self.full() if c.istio_installed is not False]

    def primaries(self):
        return [c for c in self.full() if c.is_primary]

    def peers_of(self, cluster):
        return [c for c in self.clusters.values() if c.name != cluster.name]

    def by_server(self, url):
        if self._by_server is None:
            self._by_server = {}
            for c in self.clusters.values():
                norm = normalize_server(c.server)
                if norm:
                    self._by_server.setdefault(norm, c)
        norm = normalize_server(url)
        return self._by_server.get(norm) if norm else None

    # -- networks --------------------------------------------------------------------------
    def networks(self):
        """Every network name the clusters carry or declare."""
        if self._networks is None:
            nets = set()
            for c in self.clusters.values():
                if c.full:
                    for value in (c.facts.get("network"), c.namespace_label_network, c.values_network):
                        if value:
                            nets.add(value)
                    # a Service labelled with a network is that network's gateway; pods carry theirs
                    for gw in as_list(c.facts.get("gateways")):
                        if as_dict(gw).get("network_label"):
                            nets.add(gw["network_label"])
                    for pod in as_list(c.facts.get("sidecar_pods")):
                        pod = as_dict(pod)
                        for value in (pod.get("network_env"), pod.get("network_label")):
                            if value:
                                nets.add(value)
                if c.declared.get("network"):
                    nets.add(c.declared["network"])
            self._networks = nets
        return self._networks

    @property
    def multi_network(self):
        """More than one distinct network, or a network set and meshNetworks naming >1 networks."""
        nets = self.networks()
        if len(nets) > 1:
            return True
        if nets:
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
            mesh_net = as_dict(dig(c.facts, "mesh_networks", "networks", network))
            registries = set(as_dict(e).get("fromRegistry") for e in as_list(mesh_net.get("endpoints")))
            registry_services = set()
            for gw in as_list(mesh_net.get("gateways")):
                gw = as_dict(gw)
                if gw.get("address"):
                    out.add(gw["address"])
                if gw.get("registryServiceName") and c.cluster_id in registries:
                    registry_services.add(str(gw["registryServiceName"]).split(".", 1)[0])
            for gw in as_list(c.facts.get("gateways")):
                gw = as_dict(gw)
                # istiod takes a Service as the gateway of the network its label names
                if gw.get("network_label") == network or gw.get("name") in registry_services:
                    for addr in as_list(gw.get("addresses")):
                        if as_dict(addr).get("value"):
                            out.add(addr["value"])
            for row in as_list(c.facts.get("networkz")):
                row = as_dict(row)
                if row.get("Network") == network and row.get("Addr"):
                    out.add(row["Addr"])
        return out
