"""istiod per cluster: identity, mesh config, remote secrets, registry, roots, logs wording.

Rules follow reference/istio-facts.md sections 1, 2, 5 and 6 (pkg/kube/multicluster/secretcontroller.go).
"""

import base64
import json
import re

import functools

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml(text):
    return yaml.load(text, Loader=_Loader)

from .world import labels_of, annotations_of, name_of, ns_of, matches

ISTIO_NS = "istio-system"
DEFAULT_CLUSTER_ID = "Kubernetes"
MC_LABEL = "istio/multiCluster"
CURRENT = (1, 30)


def parse_version(image):
    """Image tag -> (major, minor); unknown tags (latest, digests) are the current release."""
    tag = (image or "").rsplit(":", 1)[-1] if ":" in (image or "").rsplit("/", 1)[-1] else ""
    m = re.match(r"v?(\d+)\.(\d+)", tag)
    return (int(m.group(1)), int(m.group(2))) if m else CURRENT


def _env(container):
    return {e.get("name"): e.get("value") for e in container.get("env") or [] if "value" in e}


def istiod_deployment(world, cluster):
    """The istiod Deployment (istiod or istiod-<rev>) in istio-system, or None."""
    deps = [d for d in world.list(cluster, "deployments.apps", ISTIO_NS)
            if name_of(d) == "istiod" or (name_of(d) or "").startswith("istiod-")]
    deps = [d for d in deps if name_of(d) != "istiod-remote"]
    deps.sort(key=lambda d: (name_of(d) != "istiod", name_of(d)))
    for d in deps:
        if (d.get("spec") or {}).get("replicas", 1) != 0:
            return d
    return None


def istiod_container(dep):
    cs = ((((dep or {}).get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    for c in cs:
        if c.get("name") == "discovery":
            return c
    return cs[0] if cs else {}


class Istiod:
    """What one cluster's istiod knows. Built fresh from the world on each observation."""

    def __init__(self, world, cluster):
        self.world = world
        self.cluster = cluster
        self.deployment = istiod_deployment(world, cluster)
        c = istiod_container(self.deployment)
        self.env = _env(c)
        self.image = c.get("image", "")
        self.version = parse_version(self.image)
        self.cluster_id = self.env.get("CLUSTER_ID") or DEFAULT_CLUSTER_ID
        self.mesh = mesh_config(world, cluster)
        self.mesh_networks = mesh_networks(world, cluster)
        self._registry = None
        self._gateways = None
        self._endpoints = None

    @property
    def running(self):
        return self.deployment is not None

    def registry(self):
        """[(cluster_id, lab_cluster or None, secret 'ns/name' or '', status, events)] and log events."""
        if self._registry is None:
            self._registry = process_remote_secrets(self.world, self.cluster, self.cluster_id, self.env,
                                                    self.version)
        return self._registry

    def gateways(self):
        """(every gateway this istiod knows, the log events finding them raised): networks.known_gateways."""
        if self._gateways is None:
            from .networks import known_gateways
            events = []
            self._gateways = (known_gateways(self.world, self, events), events)
        return self._gateways

    def endpoints(self):
        """eds.mesh_endpoints of this istiod."""
        if self._endpoints is None:
            from .eds import mesh_endpoints
            self._endpoints = mesh_endpoints(self.world, self)
        return self._endpoints

    def synced_clusters(self):
        """[(cluster_id, lab_cluster)] whose objects this istiod serves from."""
        regs, _ = self.registry()
        return [(r["id"], r["lab_cluster"]) for r in regs if r["syncStatus"] == "synced" and r["lab_cluster"]]

    def clusterz(self):
        regs, _ = self.registry()
        return [{"id": r["id"], "secretName": r["secretName"], "syncStatus": r["syncStatus"]} for r in regs]


def mesh_config(world, cluster):
    cm = world.get(cluster, "configmaps", ISTIO_NS, "istio")
    data = (cm or {}).get("data") or {}
    try:
        mesh = _yaml(data.get("mesh") or "") or {}
    except yaml.YAMLError:
        mesh = {}
    return mesh if isinstance(mesh, dict) else {}


def mesh_networks(world, cluster):
    cm = world.get(cluster, "configmaps", ISTIO_NS, "istio")
    data = (cm or {}).get("data") or {}
    try:
        nets = _yaml(data.get("meshNetworks") or "") or {}
    except yaml.YAMLError:
        nets = {}
    nets = nets.get("networks") if isinstance(nets, dict) else None
    return nets if isinstance(nets, dict) else {}


def injector_values(world, cluster):
    cm = world.get(cluster, "configmaps", ISTIO_NS, "istio-sidecar-injector")
    if cm is None:
        return None
    try:
        vals = json.loads(((cm.get("data") or {}).get("values")) or "{}")
    except ValueError:
        vals = {}
    return vals if isinstance(vals, dict) else {}


# ---------------------------------------------------------------- remote secrets

def secret_data(secret):
    """Decoded data + stringData, as the API server would merge them."""
    out = {}
    for k, v in ((secret.get("data") or {}).items()):
        try:
            out[k] = base64.b64decode(v or "").decode("utf-8", "replace")
        except (ValueError, TypeError):
            out[k] = ""
    for k, v in ((secret.get("stringData") or {}).items()):
        out[k] = v or ""
    return out


_REFUSED = (("clientKey", "client-key"), ("clientCertificate", "client-certificate"),
            ("tokenFile", "tokenFile"), ("exec", "exec"))


def validate_kubeconfig(text, allow=()):
    """NewUntrustedRestConfig: (config dict, error text istiod logs, or None)."""
    cfg, err = _validate(text or "", tuple(sorted(allow)))
    return (dict(cfg) if cfg else cfg), err


@functools.lru_cache(maxsize=4096)
def _validate(text, allow):
    # cached: istiod's view is recomputed on every observation, the secrets rarely change
    if not (text or "").strip():
        return None, "kubeconfig is empty"
    try:
        cfg = _yaml(text)
    except yaml.YAMLError as e:
        return None, "kubeconfig cannot be loaded: %s" % str(e).splitlines()[0]
    if not isinstance(cfg, dict):
        return None, "kubeconfig cannot be loaded: couldn't get version/kind; json parse error"
    # clientcmd.Load decodes into typed Go structs: a field of the wrong type fails the load
    # (istiod logs it and carries on with the other secrets) instead of being read as empty.
    type_err = _type_error(cfg)
    if type_err:
        return None, "kubeconfig cannot be loaded: %s" % type_err
    errs = []
    ctx_name = cfg.get("current-context")
    ctxs = {c.get("name"): c.get("context") or {} for c in cfg.get("contexts") or [] if isinstance(c, dict)}
    clusters = {c.get("name"): c.get("cluster") or {} for c in cfg.get("clusters") or [] if isinstance(c, dict)}
    users = {u.get("name"): u.get("user") or {} for u in cfg.get("users") or [] if isinstance(u, dict)}
    if not clusters and not ctxs:
        errs.append("no configuration has been provided")
    elif not ctx_name:
        errs.append("current-context must exist in order to minify")
    elif ctx_name not in ctxs:
        errs.append("context was not found for specified context: %s" % ctx_name)
    ctx = ctxs.get(ctx_name) or {}
    cl = clusters.get(ctx.get("cluster"))
    if ctx and cl is None:
        errs.append('context "%s": cluster "%s" not found' % (ctx_name, ctx.get("cluster")))
    elif cl is not None and not cl.get("server"):
        errs.append('cluster "%s": no server found' % ctx.get("cluster"))
    if errs:
        return None, "kubeconfig is not valid: invalid configuration: [%s]" % ", ".join(errs) \
            if len(errs) > 1 else "kubeconfig is not valid: invalid configuration: %s" % errs[0]
    user = users.get(ctx.get("user")) or {}
    allow = set(allow)
    ap = user.get("auth-provider")
    if isinstance(ap, dict) and ap.get("name") not in ("oidc",) and ap.get("name") not in allow:
        return None, "kubeconfig is not allowed: auth provider %s is not allowed" % ap.get("name")
    for opt, key in _REFUSED:
        if user.get(key) and opt not in allow:
            return None, "kubeconfig is not allowed: %s is not allowed" % opt
    ca = cl.get("certificate-authority-data")
    try:
        ca_pem = base64.b64decode(ca).decode("utf-8", "replace") if ca else None
    except (ValueError, TypeError):
        return None, "kubeconfig is not valid: illegal base64 data in certificate-authority-data"
    return {"server": cl.get("server"), "ca_pem": ca_pem, "token": user.get("token"),
            "insecure": bool(cl.get("insecure-skip-tls-verify"))}, None


def _go_type(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


# (top-level list, Go element type, inner key, Go inner type, string fields of the inner object)
_KC_SHAPE = (
    ("clusters", "NamedCluster", "cluster", "v1.Cluster", ("server", "certificate-authority-data")),
    ("contexts", "NamedContext", "context", "v1.Context", ("cluster", "user", "namespace")),
    ("users", "NamedAuthInfo", "user", "v1.AuthInfo", ("token", "tokenFile", "client-key", "client-certificate")),
)


def _type_error(cfg):
    """encoding/json's words for the first field whose type does not fit v1.Config, or None."""
    def unmarshal(value, where):
        return "json: cannot unmarshal %s into Go %s" % (_go_type(value), where)
    cur = cfg.get("current-context")
    if cur is not None and not isinstance(cur, str):
        return unmarshal(cur, "struct field Config.current-context of type string")
    for top, named, key, gotype, strings in _KC_SHAPE:
        items = cfg.get(top)
        if items is None:
            continue
        if not isinstance(items, list):
            return unmarshal(items, "struct field Config.%s of type []v1.%s" % (top, named))
        for item in items:
            if item is None:
                continue
            if not isinstance(item, dict):
                return unmarshal(item, "value of type v1.%s" % named)
            name = item.get("name")
            if name is not None and not isinstance(name, str):
                return unmarshal(name, "struct field %s.%s.name of type string" % (named, top))
            inner = item.get(key)
            if inner is None:
                continue
            if not isinstance(inner, dict):
                return unmarshal(inner, "struct field %s.%s.%s of type %s" % (named, top, key, gotype))
            for field in strings:
                v = inner.get(field)
                if v is not None and not isinstance(v, str):
                    return unmarshal(v, "struct field %s.%s.%s.%s of type string" % (
                        gotype.split(".")[1], top, key, field))
            ap = inner.get("auth-provider") if key == "user" else None
            if ap is not None and not isinstance(ap, dict):
                return unmarshal(ap, "struct field AuthInfo.users.user.auth-provider of type v1.AuthProviderConfig")
    return None


def process_remote_secrets(world, cluster, cluster_id, env, version):
    """Replays the secret controller over the Secrets present now.

    Returns (registry entries, events). An event is (level, message, labels) in the wording of
    `version`; logs.py renders them.
    """
    regs = [{"id": cluster_id, "secretName": "", "syncStatus": "synced", "lab_cluster": cluster, "error": None}]
    events = []
    allow = [x.strip() for x in (env.get("PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS") or "").split(",")
             if x.strip()]
    secrets = [s for s in world.list(cluster, "secrets", ISTIO_NS)
               if labels_of(s).get(MC_LABEL) == "true"]
    # the informer hands Secrets over in creation order
    secrets.sort(key=lambda s: ((s.get("metadata") or {}).get("creationTimestamp") or "", name_of(s)))
    seen = {cluster_id}
    for s in secrets:
        key = "%s/%s" % (ns_of(s), name_of(s))
        events.append(("info", "secret_event", {"secret": key}))
        for cid, text in sorted(secret_data(s).items()):
            lbl = {"cluster": cid, "secret": key}
            if cid == cluster_id:
                events.append(("info", "ignore_local", lbl))
                continue
            if cid in seen:
                events.append(("warn", "duplicate", lbl))
                continue
            events.append(("info", "add", lbl))
            cfg, err = validate_kubeconfig(text, allow)
            if err:
                events.append(("error", "add_failed", dict(lbl, error=err)))
                continue
            seen.add(cid)
            target, perr = world.probe_api(cfg["server"], cfg["ca_pem"], cfg["token"], cfg["insecure"])
            status = "synced" if perr is None else "timeout"
            regs.append({"id": cid, "secretName": key, "syncStatus": status, "lab_cluster": target,
                         "error": perr, "server": cfg["server"]})
            if perr:
                events.append(("error", "list_failed", dict(lbl, error=perr, server=cfg["server"])))
                events.append(("error", "sync_timeout", lbl))
        # processItem logs the count after each secret event: no remote secret, no count line (as the real
        # istiod, tests/real)
        events.append(("info", "count", {"count": len(regs) - 1}))
    return regs, events


# ---------------------------------------------------------------- which istiod serves a proxy

def discovery_address(world, cluster, pod=None):
    """The address a proxy dials: its injected PROXY_CONFIG, else the mesh default."""
    if pod is not None:
        from .injection import proxy_container
        for c in [proxy_container(pod)[0] or {}]:
            if c.get("name") == "istio-proxy":
                pc = _env(c).get("PROXY_CONFIG")
                if pc:
                    try:
                        addr = (json.loads(pc) or {}).get("discoveryAddress")
                        if addr:
                            return addr
                    except ValueError:
                        pass
    mesh = mesh_config(world, cluster)
    return ((mesh.get("defaultConfig") or {}).get("discoveryAddress")) or "istiod.%s.svc:15012" % ISTIO_NS


def serving_istiod(world, cluster, pod=None):
    """Lab cluster whose istiod serves proxies of `cluster` (None: the proxy cannot connect)."""
    addr = discovery_address(world, cluster, pod)
    host, _, port = addr.rpartition(":")
    port = int(port) if port.isdigit() else 15012
    parts = host.split(".")
    if len(parts) < 2:
        return None
    svc = world.get(cluster, "services", parts[1], parts[0])
    if svc is None:
        return None
    spec = svc.get("spec") or {}
    if spec.get("selector"):
        # a selector Service: in-cluster pods; an istiod here serves (only local, for a remote cluster)
        return cluster if istiod_deployment(world, cluster) is not None else None
    targets = []
    if spec.get("type") == "ExternalName" and spec.get("externalName"):
        targets.append(spec["externalName"])
    for ep in world.list(cluster, "endpoints", parts[1]):
        if name_of(ep) == parts[0]:
            for sub in ep.get("subsets") or []:
                targets += [a.get("ip") for a in sub.get("addresses") or []]
    for sl in world.list(cluster, "endpointslices.discovery.k8s.io", parts[1],
                         {"kubernetes.io/service-name": parts[0]}):
        for e in sl.get("endpoints") or []:
            targets += e.get("addresses") or []
    from .networks import address_owner
    for t in targets:
        owner = address_owner(world, t)
        if owner and istiod_deployment(world, owner["cluster"]) is not None \
                and world.firewall_allows(cluster, owner["cluster"], port) and _exposes_istiod(world, owner):
            return owner["cluster"]
    return None


def _exposes_istiod(world, owner):
    """The address reaches istiod: an istiod LoadBalancer, or a gateway with a PASSTHROUGH 15012 Gateway."""
    svc = owner["service"]
    if name_of(svc) == "istiod" or name_of(svc).startswith("istiod"):
        return True
    pods = [p for p in world.list(owner["cluster"], "pods", ns_of(svc))
            if matches((svc.get("spec") or {}).get("selector") or {"-": "-"}, labels_of(p))]
    for gw in world.list(owner["cluster"], "gateways.networking.istio.io"):
        sel = (gw.get("spec") or {}).get("selector") or {}
        if not any(matches(sel, labels_of(p)) for p in pods):
            continue
        for srv in (gw.get("spec") or {}).get("servers") or []:
            if ((srv.get("port") or {}).get("number")) == 15012 and \
                    ((srv.get("tls") or {}).get("mode") or "").upper() in ("PASSTHROUGH", "AUTO_PASSTHROUGH"):
                return True
    return False


# ---------------------------------------------------------------- root of trust

def ca_root(world, cluster):
    """PEM of the root the istiod in `cluster` signs under (plug-in cacerts, else its self-signed root)."""
    s = world.get(cluster, "secrets", ISTIO_NS, "cacerts")
    if s is not None:
        d = secret_data(s)
        root = d.get("root-cert.pem") or d.get("ca.crt")
        if root:
            return root
    s = world.get(cluster, "secrets", ISTIO_NS, "istio-ca-secret")
    if s is not None:
        d = secret_data(s)
        if d.get("ca-cert.pem"):
            return d["ca-cert.pem"]
    return "self-signed:%s" % cluster  # istiod not started yet: its own, unique root


def proxy_root(world, cluster, pod=None):
    """The root a proxy in `cluster` trusts: its serving istiod's."""
    srv = serving_istiod(world, cluster, pod)
    return ca_root(world, srv) if srv else None


def same_root(a, b):
    if a is None or b is None:
        return False
    from .pki import pem_certs
    ca = pem_certs(a)
    cb = pem_certs(b)
    if ca and cb:
        return bool(set(ca) & set(cb))
    return a == b
