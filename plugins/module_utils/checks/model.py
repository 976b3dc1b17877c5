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
    CLUSTER_ANNOTATION, CONTROL_PLANE_CLUSTERS_ANNOTATION, REMOTE_SECRET_PREFIX,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import natural_key
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import (
    as_dict, as_list, dig, is_dns1123_label, selects,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.urls import normalize_server, server_host
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.cluster_view import (
    ClusterView, Probe, SecretEntry, parse_time, split_host,
)

MODEL_SCHEMA = 1


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
        self._names = None
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
        if not c.has_section("proxy") or c.read_failed("pods", "pods/exec"):
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

    def _names_index(self):
        """{value: [clusters in order]} for each way an entry may name a peer: cluster ID, then name or ID or
        expected ID, then name or expected ID (the orders _identify tries), built once."""
        if self._names is None:
            by_id, by_any, by_name = {}, {}, {}
            for p in self.all():
                if p.cluster_id:
                    by_id.setdefault(p.cluster_id, []).append(p)
                for value in set(v for v in (p.name, p.cluster_id, p.expected_id) if v):
                    by_any.setdefault(value, []).append(p)
                for value in set(v for v in (p.name, p.expected_id) if v):
                    by_name.setdefault(value, []).append(p)
            self._names = (by_id, by_any, by_name)
        return self._names

    def _identify(self, primary, entry):
        """The peer (ClusterView) ``entry`` is meant for, and how it was matched; (None, None) if none.

        In order: the server (the probe's match, the peers option, a peer's API server URL), the key as a
        cluster ID, the networking.istio.io/cluster annotation, the istio-remote-secret-<name> Secret name,
        the key as an inventory name or expected ID. Each lookup is an index, not a scan of the peers."""
        e = entry.entry
        for known in (as_dict(e.get("probe")).get("cluster"), e.get("server_cluster")):
            if known and known in self.clusters:
                return self.clusters[self.aliases.get(known, known)], "server"
        if e.get("server"):
            target = self.by_server(e["server"])
            if target is not None:
                return target, "server"
        by_id, by_any, by_name = self._names_index()

        def first(index, value):
            for p in index.get(value) or ():
                if p is not primary:
                    return p
            return None

        tries = [(by_id, entry.key, "key"),
                 (by_any, as_dict(entry.secret.get("annotations")).get(CLUSTER_ANNOTATION), "annotation")]
        name = entry.name or ""
        if name.startswith(REMOTE_SECRET_PREFIX):
            tries.append((by_any, name[len(REMOTE_SECRET_PREFIX):], "secret name"))
        tries.append((by_name, entry.key, "key"))
        for index, value, how in tries:
            found = first(index, value) if value else None
            if found is not None:
                return found, how
        return None, None

    # -- the model others read -------------------------------------------------------------
    def to_dict(self, findings=()):
        """The JSON-safe mesh model: clusters, networks, remote-secret entries and links.

        ``findings`` (Finding objects or dicts) set the state of each link and each entry: a link
        ``A -> B`` (istiod in A reads B) exists where a secret provides B or a remote-secret finding
        names the pair.
        """
        by_pair = {}
        for f in findings:
            fid, cluster, peer = (f.id, f.cluster, f.peer) if hasattr(f, "id") else (f["id"], f.get("cluster"), f.get("peer"))
            if peer and cluster and fid.split(".", 1)[0] in ("remote_secret", "primary_remote"):
                sev = f.severity if hasattr(f, "severity") else f["severity"]
                by_pair.setdefault((cluster, peer), []).append((fid, sev))
        states = dict((pair, _state(fs)) for pair, fs in by_pair.items())
        entries, links = [], {}
        for c in self.primaries():
            for e in c.entries:
                target = e.target.name if e.target is not None else None
                entries.append({"cluster": c.name, "namespace": e.namespace, "name": e.name, "key": e.key,
                                "target": target, "matched_by": e.matched_by, "server": e.server,
                                "fingerprint": e.entry.get("fingerprint"), "error": e.error,
                                "state": states.get((c.name, target), "ok") if target else "unknown"})
                if target:
                    link = links.get((c.name, target))
                    if link is None:
                        link = links[(c.name, target)] = _link(c.name, target)
                    if link["secret"] is None or e.in_istiod_namespace:
                        link["secret"] = e.ref
        for (source, target), fs in by_pair.items():
            link = links.setdefault((source, target), _link(source, target))
            link["ids"] = sorted(set(fid for fid, _sev in fs))
            link["state"] = states[(source, target)]
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
    """error / warning / ok of (id, severity) pairs."""
    sev = set(s for _fid, s in findings)
    return "error" if "error" in sev else ("warning" if "warning" in sev else "ok")
