"""The objects Istio's model reads, behind one small interface.

Every function in meshlab/istio/ takes a ``World``: a read view of all clusters' objects plus
the lab.yaml spec and the few lab facilities Istio's behaviour depends on (is an API server
reachable with these credentials, does the firewall pass this path). ``DictWorld`` is built
from plain dicts (unit tests); ``LabWorld`` reads a running lab's stores.
"""

import ipaddress

# resource (plural[.group]) -> kind, for DictWorld
KINDS = {
    "pods": "Pod", "services": "Service", "namespaces": "Namespace", "nodes": "Node",
    "secrets": "Secret", "configmaps": "ConfigMap", "endpoints": "Endpoints",
    "serviceaccounts": "ServiceAccount",
    "endpointslices.discovery.k8s.io": "EndpointSlice",
    "deployments.apps": "Deployment",
    "gateways.networking.istio.io": "Gateway",
    "destinationrules.networking.istio.io": "DestinationRule",
    "virtualservices.networking.istio.io": "VirtualService",
    "peerauthentications.security.istio.io": "PeerAuthentication",
}

CLUSTER_NAMESPACED = {"namespaces", "nodes"}


def labels_of(obj):
    return (obj.get("metadata") or {}).get("labels") or {}


def annotations_of(obj):
    return (obj.get("metadata") or {}).get("annotations") or {}


def name_of(obj):
    return (obj.get("metadata") or {}).get("name")


def ns_of(obj):
    return (obj.get("metadata") or {}).get("namespace")


def matches(selector, labels):
    """Equality-based selector match (a Service selector or Gateway selector)."""
    return all(labels.get(k) == v for k, v in (selector or {}).items())


class World:
    """Read interface; subclasses implement _list, probe_api, firewall_allows."""

    spec = None

    def cluster_names(self):
        raise NotImplementedError

    def cluster_spec(self, name):
        for c in (self.spec or {}).get("clusters") or []:
            if c.get("name") == name:
                return c
        return {}

    def list(self, cluster, resource, namespace=None, labels=None):
        out = []
        for obj in self._list(cluster, resource, namespace):
            if labels and not matches(labels, labels_of(obj)):
                continue
            out.append(obj)
        return out

    def get(self, cluster, resource, namespace, name):
        for obj in self._list(cluster, resource, namespace):
            if name_of(obj) == name:
                return obj
        return None

    def _list(self, cluster, resource, namespace):
        raise NotImplementedError

    def probe_api(self, server, ca_pem, token, insecure=False):
        """What istiod gets when it lists with this kubeconfig: (lab cluster name, error text or None)."""
        raise NotImplementedError

    def firewall_allows(self, src, dst, port):
        rules = (self.spec or {}).get("firewall") or []
        for rule in rules:
            if rule.get("from") not in (src, "*", None) or rule.get("to") not in (dst, "*", None):
                continue
            if rule.get("port") not in (None, port):
                continue
            return rule.get("action", "allow") == "allow"
        return True

    def flat(self, a, b):
        if a == b:
            return True
        for group in (self.spec or {}).get("flatNetworks") or []:
            if a in group and b in group:
                return True
        return False

    def cluster_is_up(self, name):
        return True

    def istiod(self, cluster):
        """What ``cluster``'s istiod knows now (meshlab/istio/istiod.py)."""
        from .istiod import Istiod
        return Istiod(self, cluster)

    def cluster_of_ip(self, ip):
        """Lab cluster whose podCIDR holds ip (pods are data, so the CIDR decides)."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for c in (self.spec or {}).get("clusters") or []:
            cidr = c.get("podCIDR")
            if cidr and addr in ipaddress.ip_network(cidr, strict=False):
                return c.get("name")
        return None


class DictWorld(World):
    """objects: {cluster: [k8s objects]}; api: {server_url: {"cluster", "ca_pem", "tokens": {token: user},
    "allowed": bool|set of resources, "up": bool}} for probe_api."""

    def __init__(self, objects, spec=None, api=None):
        self.objects = objects
        self.spec = spec or {"clusters": [{"name": n} for n in objects]}
        self.api = api or {}

    def cluster_names(self):
        return [c["name"] for c in self.spec.get("clusters") or []] or list(self.objects)

    def _list(self, cluster, resource, namespace):
        kind = KINDS.get(resource, resource)
        out = []
        for obj in self.objects.get(cluster, []):
            if obj.get("kind") != kind:
                continue
            if namespace is not None and resource not in CLUSTER_NAMESPACED and ns_of(obj) != namespace:
                continue
            out.append(obj)
        return out

    def cluster_is_up(self, name):
        for entry in self.api.values():
            if entry.get("cluster") == name:
                return entry.get("up", True)
        return True

    def probe_api(self, server, ca_pem, token, insecure=False):
        entry = self.api.get((server or "").rstrip("/"))
        return probe_result(server, entry and entry.get("cluster"), entry and entry.get("up", True),
                            None if entry is None else (insecure or ca_pem == entry.get("ca_pem")),
                            None if entry is None else entry.get("tokens", {}).get(token),
                            (lambda user, res: _dict_allowed(entry, res)))


def _dict_allowed(entry, resource):
    allowed = entry.get("allowed", True)
    if allowed is True:
        return True, ""
    return resource in allowed, ""


READS = ("pods", "services", "endpointslices", "nodes", "namespaces")


def probe_result(server, cluster, up, ca_ok, user, authorize):
    """client-go's error text for each way the remote API can fail istiod."""
    hostport = (server or "").split("://", 1)[-1].rstrip("/")
    if not cluster or not up:
        return cluster, "dial tcp %s: connect: connection refused" % hostport
    if not ca_ok:
        return cluster, 'Get "%s/api/v1/pods?limit=500": tls: failed to verify certificate: ' \
                        'x509: certificate signed by unknown authority' % server.rstrip("/")
    if user is None:
        return cluster, "Unauthorized"
    for res in READS:
        ok, msg = authorize(user, res)
        if not ok:
            uname = getattr(user, "name", None) or (user if isinstance(user, str) else "unknown")
            group = "discovery.k8s.io" if res == "endpointslices" else ""
            return cluster, msg or ('%s is forbidden: User "%s" cannot list resource "%s" in API group "%s" '
                                    'at the cluster scope' % (res, uname, res, group))
    return cluster, None


class LabWorld(World):
    """A running lab (meshlab.lab.Lab): reads through each cluster's store."""

    def __init__(self, lab):
        self.lab = lab
        # Istio's view is recomputed on every request (an exec, a log read); it changes only when the lab does.
        # At N clusters each istiod replays N-1 remote secrets, so without this every request costs O(N).
        self._version = None
        self._istiods = {}
        self._probes = {}

    @property
    def spec(self):
        return self.lab.spec

    def state_version(self):
        """Changes whenever anything Istio's model reads can have changed: an object, a cluster's
        reachability, address or faults, a firewall rule."""
        return (tuple((c.store.rv, c.up, c.port, tuple(sorted(c.faults.items(), key=lambda kv: kv[0])))
                      for c in self.lab.clusters.values()),
                tuple(tuple(sorted(r.items())) for r in self.lab.firewall.rules))

    def _current(self):
        version = self.state_version()
        if version != self._version:
            self._version = version
            self._istiods = {}
            self._probes = {}

    def istiod(self, cluster):
        self._current()
        ist = self._istiods.get(cluster)
        if ist is None:
            ist = self._istiods[cluster] = World.istiod(self, cluster)
        return ist

    def cluster_names(self):
        return list(self.lab.clusters)

    def _list(self, cluster, resource, namespace):
        c = self.lab.clusters.get(cluster)
        if c is None:
            return []
        if resource in CLUSTER_NAMESPACED:
            namespace = None
        try:
            # read-only view without copies: the model never mutates what it reads
            return c.store.iter(resource, namespace)
        except Exception:  # an unknown resource (CRD not installed) reads as empty
            return []

    def get(self, cluster, resource, namespace, name):
        c = self.lab.clusters.get(cluster)
        if c is None:
            return None
        try:
            return c.store.peek(resource, None if resource in CLUSTER_NAMESPACED else namespace, name)
        except Exception:
            return None

    def cluster_is_up(self, name):
        c = self.lab.clusters.get(name)
        return bool(c and c.up)

    def firewall_allows(self, src, dst, port):
        return self.lab.firewall.allows(src, dst, port)

    def probe_api(self, server, ca_pem, token, insecure=False):
        # the same reader credentials sit in every other cluster's remote secret: probed once per lab state.
        # Only a registry asks, for an istiod that istiod() has just checked against the lab's state.
        key = (server, ca_pem, token, insecure)
        if key not in self._probes:
            self._probes[key] = self._probe_api(server, ca_pem, token, insecure)
        return self._probes[key]

    def _probe_api(self, server, ca_pem, token, insecure):
        c = self.lab.cluster_for_server(server) if server else None
        if c is None:
            return probe_result(server, None, False, False, None, None)
        ca_ok = insecure or _same_pem(ca_pem, c.ca_pem)
        user = c.authenticate(token) if token else None

        def authorize(u, res):
            group = "discovery.k8s.io" if res == "endpointslices" else ""
            ok, msg = c.authorize(u, "list", res, None, group)
            return ok, msg
        return probe_result(server, c.name, c.up, ca_ok, user, authorize)


def _same_pem(a, b):
    if not a or not b:
        return False
    if isinstance(a, bytes):
        a = a.decode("utf-8", "replace")
    if isinstance(b, bytes):
        b = b.decode("utf-8", "replace")
    return "".join(a.split()) == "".join(b.split())
