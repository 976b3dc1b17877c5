"""Wires the pure Istio model into a running lab through meshlab/hooks.py's plug-in points."""

import base64
import sys

from .world import LabWorld, labels_of, name_of, ns_of
from . import injection, placeholders, envoy, pki
from .istiod import ISTIO_NS, istiod_deployment, proxy_root
from .eds import ProxyView
from .logs import IstiodLog
from .dataplane import DataPlane, run_exec
from ..server import dumps_pretty

ROOT_CM = "istio-ca-root-cert"
TOKEN_SECRET = "istio-reader-service-account-istio-remote-secret-token"


class IstioBehaviour:
    def __init__(self, lab):
        self.lab = lab
        self.world = LabWorld(lab)
        self.dataplane = DataPlane()
        self.logs = {}          # istiod pod uid -> IstiodLog
        self.ready = False
        self.busy = False

    # ------------------------------------------------------------ hooks
    def admission(self, cluster, op, obj):
        kind = obj.get("kind")
        if kind == "Pod" and op == "CREATE":
            return injection.admission(self.world, cluster.name, obj)
        if kind == "Secret" and placeholders.pending_remote_secret(obj):
            return self._fill_secret(obj) or obj
        if kind in ("Endpoints", "ConfigMap") and placeholders.pending_pilot(obj):
            return self._fill_pilot(obj) or obj
        return obj

    def validate(self, cluster, op, obj, old=None):
        """istiod's validation webhook (validation.istio.io) on Istio kinds."""
        if "istio.io/" not in (obj.get("apiVersion") or ""):
            return
        from . import validation
        validation.admit(self.world, cluster.name, op, obj)

    def on_ready(self, lab):
        self.ready = True
        for c in lab.clusters.values():
            for res in ("secrets", "endpoints", "configmaps"):
                for o in list(_iter(c, res)):
                    if placeholders.pending_remote_secret(o) or placeholders.pending_pilot(o):
                        new = self._fill_secret(o) if o["kind"] == "Secret" else self._fill_pilot(o)
                        if new is not None:
                            _write(c, res, new)
        for c in lab.clusters.values():
            self._ensure_ca(c)
        self.sync_roots()
        # A real istiod has worked out its registry, gateways and endpoints by the time it serves: so has the lab's
        # view of each before the lab says ready, else the first reader of each cluster pays for replaying its
        # istiod's N-1 remote secrets (half the lab's CPU in the first diagnose of 200 clusters).
        for name in lab.clusters:
            view = self.world.istiod(name)
            if view.running:
                view.registry()
                view.gateways()
                view.endpoints()

    def on_change(self, cluster, etype, obj):
        if not self.ready or self.busy:
            return
        kind, ns, name = obj.get("kind"), ns_of(obj), name_of(obj)
        try:
            self.busy = True
            if kind == "Namespace" and etype == "ADDED":
                self._sync_root(cluster, [name])
            elif kind == "Secret" and ns == ISTIO_NS and name in ("cacerts", "istio-ca-secret"):
                self._ensure_ca(cluster)
                self.sync_roots()
            elif kind == "Deployment" and ns == ISTIO_NS and (name or "").startswith("istiod"):
                self._ensure_ca(cluster)
                self.sync_roots()
            elif kind == "ConfigMap" and name == ROOT_CM and etype in ("DELETED", "MODIFIED"):
                self._sync_root(cluster, [ns])  # istiod's namespace controller puts it back
            elif kind in ("Service", "Endpoints") and ns == ISTIO_NS and (name or "").startswith("istiod"):
                self.sync_roots()
            elif kind == "Secret" and etype in ("ADDED", "MODIFIED") and name == TOKEN_SECRET:
                self._resolve_waiting()
        finally:
            self.busy = False

    def logs_for(self, cluster, pod, container):
        if ns_of(pod) != ISTIO_NS or labels_of(pod).get("app") != "istiod":
            return None
        if container not in (None, "discovery"):
            return None
        key = (pod.get("metadata") or {}).get("uid") or name_of(pod)
        log = self.logs.setdefault(key, IstiodLog())
        ist = self.world.istiod(cluster.name)
        if ist.running:
            log.observe(ist)
        return log.text()

    def exec(self, req):
        from meshlab.hooks import ExecResult
        cmd = list(req.command or [])
        if not cmd:
            return None
        cluster = req.cluster.name
        pod = req.pod
        prog = cmd[0].rsplit("/", 1)[-1]
        if prog == "pilot-discovery" and labels_of(pod).get("app") == "istiod":
            return _result(ExecResult, *self.pilot_discovery(cluster, cmd))
        if prog == "pilot-agent" and req.container == "istio-proxy":
            return _result(ExecResult, *self.pilot_agent(cluster, pod, cmd))
        if req.container == "discovery":
            return None  # distroless istiod image: no curl
        res = run_exec(self.dataplane, self.world, cluster, pod, req.container, cmd)
        if res is None:
            return None
        return _result(ExecResult, *res)

    # ------------------------------------------------------------ debug endpoints
    def pilot_discovery(self, cluster, cmd):
        if len(cmd) < 4 or cmd[1] != "request":
            return "", "Error: unknown command %r for \"pilot-discovery\"\n" % (cmd[1] if len(cmd) > 1 else ""), 1
        method, path = cmd[2].upper(), cmd[3]
        if method != "GET":
            return "", "Error: only GET is supported here\n", 1
        ist = self.world.istiod(cluster)
        p = path.lstrip("/").split("?")[0]
        if p == "debug/clusterz":
            return dumps_pretty(ist.clusterz()), "", 0
        if p == "debug/networkz":
            gws, _ = ist.gateways()
            out = [{"Network": g["network"], "Cluster": g["cluster"], "Addr": g["addr"], "Port": g["port"],
                    "HBONEPort": 0,
                    "ServiceAccount": "%s/%s" % (ISTIO_NS, "istio-eastwestgateway-service-account") if g["service"] else ""}
                   for g in gws]
            return dumps_pretty(out), "", 0
        if p == "debug/mesh":
            return dumps_pretty(ist.mesh), "", 0
        return "", "Error: received unsuccessful status code 404: 404 page not found\n", 1

    def pilot_agent(self, cluster, pod, cmd):
        if len(cmd) < 4 or cmd[1] != "request":
            return "", "Error: unknown command %r for \"pilot-agent\"\n" % (cmd[1] if len(cmd) > 1 else ""), 1
        path = cmd[3].lstrip("/")
        base, _, query = path.partition("?")
        view = ProxyView(self.world, cluster, pod)
        if base == "clusters":
            if "format=json" in query:
                return dumps_pretty(envoy.render_clusters(view)), "", 0
            return envoy.render_clusters_text(view), "", 0
        if base == "config_dump":
            return dumps_pretty(envoy.render_config_dump(view, "include_eds" in query)), "", 0
        if base == "server_info":
            state = "LIVE" if view.istiod else "PRE_INITIALIZING"
            return dumps_pretty({"state": state, "node": {"id": "sidecar~%s~%s.%s~%s.svc.cluster.local" % (
                (pod.get("status") or {}).get("podIP", ""), name_of(pod), ns_of(pod), ns_of(pod))}}), "", 0
        if base == "ready":
            return ("LIVE\n", "", 0) if view.istiod else ("", "Error: received unsuccessful status code 503\n", 1)
        return "", "Error: received unsuccessful status code 404: invalid path: /%s\n" % base, 1

    # ------------------------------------------------------------ placeholders
    def _fill_secret(self, obj):
        peer_name = obj["metadata"]["annotations"][placeholders.P_REMOTE]
        peer = self.lab.clusters.get(peer_name)
        if peer is None or not peer.port:
            return None
        tok = None
        ts = peer.store.peek("secrets", ISTIO_NS, TOKEN_SECRET)
        if ts is not None and (ts.get("data") or {}).get("token"):
            tok = base64.b64decode(ts["data"]["token"]).decode()
        if tok is None:
            issued = peer.issue_bound_token(ISTIO_NS, "istio-reader-service-account", 10 * 365 * 86400)
            tok = issued[0] if issued else None
        if tok is None:
            return None
        return placeholders.fill_remote_secret(obj, peer.url, peer.ca_pem, tok)

    def _fill_pilot(self, obj):
        primary = self.lab.clusters.get(obj["metadata"]["annotations"][placeholders.P_PILOT])
        if primary is None:
            return None
        svc = primary.store.peek("services", ISTIO_NS, "istio-eastwestgateway")
        addr = placeholders.gateway_address(svc) if svc else None
        if addr is None:
            return None
        return placeholders.fill_pilot_address(obj, addr)

    def _resolve_waiting(self):
        for c in self.lab.clusters.values():
            for o in list(_iter(c, "secrets", ISTIO_NS)):
                if placeholders.pending_remote_secret(o):
                    new = self._fill_secret(o)
                    if new is not None:
                        _write(c, "secrets", new)

    # ------------------------------------------------------------ root of trust
    def _ensure_ca(self, cluster):
        """istiod without plug-in certs self-signs into istio-ca-secret (once; it keeps that root)."""
        st = cluster.store
        if istiod_deployment(self.world, cluster.name) is None:
            return
        if st.peek("secrets", ISTIO_NS, "cacerts") is not None or st.peek("secrets", ISTIO_NS, "istio-ca-secret") is not None:
            return
        files = pki.self_signed_istiod(cluster.name)
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "istio.io/ca-root",
                  "metadata": {"name": "istio-ca-secret", "namespace": ISTIO_NS},
                  "data": {k: base64.b64encode(v.encode()).decode() for k, v in files.items()}}
        _write(cluster, "secrets", secret)

    def sync_roots(self):
        for c in self.lab.clusters.values():
            self._sync_root(c, None)

    def _sync_root(self, cluster, namespaces):
        root = proxy_root(self.world, cluster.name)
        if not root or root.startswith("self-signed:"):
            return
        names = namespaces or [name_of(n) for n in cluster.store.iter("namespaces")]
        for ns in names:
            nso = cluster.store.peek("namespaces", None, ns)
            if nso is None or (nso["metadata"].get("deletionTimestamp")):
                continue
            cur = cluster.store.peek("configmaps", ns, ROOT_CM)
            if cur is not None and (cur.get("data") or {}).get("root-cert.pem") == root:
                continue
            cm = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": ROOT_CM, "namespace": ns, "labels": {"istio.io/config": "true"}},
                  "data": {"root-cert.pem": root}}
            _write(cluster, "configmaps", cm)


def _iter(cluster, resource, namespace=None):
    try:
        return cluster.store.iter(resource, namespace)
    except Exception:
        return []


def _write(cluster, resource, obj):
    """Create or update through the store (admission, controllers and watches all see it)."""
    md = obj["metadata"]
    try:
        cur = cluster.store.peek(resource, md.get("namespace"), md["name"])
        if cur is None:
            cluster.store.create(resource, obj, md.get("namespace"))
        else:
            new = dict(obj)
            new["metadata"] = dict(cur["metadata"], **{k: v for k, v in md.items() if k not in ("resourceVersion",)})
            if "annotations" not in md:
                new["metadata"].pop("annotations", None)
            else:
                new["metadata"]["annotations"] = md["annotations"]
            new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            cluster.store.update(resource, new, md.get("namespace"), md["name"])
    except Exception as e:  # never take the lab down for a model write
        print("meshlab istio: could not write %s %s/%s in %s: %s" % (resource, md.get("namespace"), md["name"],
                                                                   cluster.name, e), file=sys.stderr)


def _result(cls, out, err, code):
    return cls(stdout=out.encode(), stderr=err.encode(), exit_code=code)
