"""Lab (all clusters, firewall, hooks) and Cluster (store, address, up/down, auth)."""
import asyncio
import base64
import hashlib
import secrets
import sys
import traceback
from urllib.parse import urlparse

from cryptography.hazmat.primitives.asymmetric import ec

from . import auth, controllers, pki
from .hooks import Hooks
from .kinds import Registry
from .store import ApiError, Store, now_iso

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "exec", "log")


def cluster_host(index):
    """127.0.N.1 for the N-th cluster (1-based); beyond 254 clusters the third octet wraps into the second."""
    return "127.%d.%d.1" % ((index - 1) // 254, (index - 1) % 254 + 1)


class Firewall:
    """Data-plane rules between clusters, first match wins, default allow."""

    def __init__(self, rules=None):
        self.rules = [dict(r) for r in rules or []]

    @staticmethod
    def _name(c):
        return getattr(c, "name", c)

    def allows(self, src, dst, port=None):
        s, d = self._name(src), self._name(dst)
        for r in self.rules:
            if r.get("from", "*") not in ("*", s) or r.get("to", "*") not in ("*", d):
                continue
            if r.get("port") is not None and port is not None and int(r["port"]) != int(port):
                continue
            if r.get("port") is not None and port is None:
                continue
            return r.get("action", "deny") == "allow"
        return True

    def set(self, action, src, dst, port=None):
        """Make (src, dst, port) allowed or denied, ahead of every other rule."""
        key = (src, dst, None if port is None else int(port))
        self.rules = [r for r in self.rules
                      if (r.get("from"), r.get("to"), None if r.get("port") is None else int(r["port"])) != key]
        rule = {"action": action, "from": src, "to": dst}
        if port is not None:
            rule["port"] = int(port)
        self.rules.insert(0, rule)
        return rule


class Stats:
    def __init__(self):
        self.reset()

    def reset(self):
        self.requests = 0
        self.writes = 0
        self.verbs = {v: 0 for v in VERBS}

    def as_dict(self):
        return {"requests": self.requests, "writes": self.writes, "verbs": dict(self.verbs)}


class Cluster:
    def __init__(self, lab, index, spec):
        self.lab = lab
        self.index = index
        self.spec = spec
        self.name = spec["name"]
        self.host = spec.get("address") or cluster_host(index)
        self.port = int(spec.get("port") or 0)
        self.up = False
        self.hooks = lab.hooks
        self.registry = Registry()
        self.store = Store(self)
        self.ca_pem = lab.ca.cert_pem
        self.cert_pem, self.key_pem = lab.ca.issue_server(
            "kube-apiserver", [self.host], ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                            "kubernetes.default.svc.cluster.local", "localhost"])
        self.admin_token = secrets.token_urlsafe(32)
        self.sa_key = ec.generate_private_key(ec.SECP256R1())
        self.sa_kid = hashlib.sha256(("%s-%s" % (self.name, id(self))).encode()).hexdigest()[:43]
        self.tokens = {}          # token -> (namespace, secret name), from ServiceAccount token Secrets
        self.bound_tokens = {}    # token -> (namespace, serviceaccount, uid), from TokenRequests
        self.stats = Stats()
        self.owners = {}          # owner uid -> {(kind key, ns, name)}
        self.pods_per_node = {}
        self.grace_over = set()   # uids of pods whose deletion grace period has ended
        self.faults = {}
        self.alloc = controllers.Allocator(self)
        self.runner = None
        self.site = None
        self.server_started = None

    # ---- identity ----------------------------------------------------------------------------

    @property
    def url(self):
        return "https://%s:%d" % (self.host, self.port)

    def __repr__(self):
        return "<Cluster %s %s>" % (self.name, self.url if self.port else self.host)

    # ---- bootstrap ---------------------------------------------------------------------------

    def bootstrap(self):
        """What kubeadm leaves behind: system namespaces, nodes, the kubernetes Service, default RBAC."""
        st = self.store
        for ns in ("default", "kube-node-lease", "kube-public", "kube-system"):
            st.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for o in auth.default_rbac_objects():
            st.create(o["kind"].lower() + "s.rbac.authorization.k8s.io", o)
        n = int(self.spec.get("nodes", 1) or 0)
        for i in range(n):
            st.create("nodes", self.node_object(i))
        api_ip = str(self.alloc.svc_net.network_address + 1)
        st.create("services", {"apiVersion": "v1", "kind": "Service", "metadata": {
            "name": "kubernetes", "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": api_ip, "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                                     "targetPort": 6443}],
                     "sessionAffinity": "None", "type": "ClusterIP"}})
        ep_ip = self.alloc.node_ip(0)
        st.create("endpoints", {"apiVersion": "v1", "kind": "Endpoints", "metadata": {
            "name": "kubernetes", "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": ep_ip}],
                         "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]})
        st.create("endpointslices.discovery.k8s.io", {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes",
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "endpoints": [{"addresses": [ep_ip], "conditions": {"ready": True, "serving": True,
                                                                "terminating": False}}],
            "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]})

    def node_object(self, i):
        name = "%s-node-%d" % (self.name, i + 1)
        region = self.spec.get("region")
        zone = self.spec.get("zone")
        labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
        if i == 0:
            labels["node-role.kubernetes.io/control-plane"] = ""
        if region:
            labels["topology.kubernetes.io/region"] = region
        if zone:
            labels["topology.kubernetes.io/zone"] = zone
        ts = now_iso()

        def cond(t, s, r, m):
            return {"type": t, "status": s, "lastHeartbeatTime": ts, "lastTransitionTime": ts, "reason": r,
                    "message": m}
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": labels,
                             "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                             "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                "spec": {"podCIDR": str(self.alloc.node_pod_cidr(i)), "podCIDRs": [str(self.alloc.node_pod_cidr(i))],
                         "providerID": "meshlab://%s/%s" % (self.name, name)},
                "status": {
                    "addresses": self._node_addresses(i, name),
                    "allocatable": {"cpu": "8", "ephemeral-storage": "102187476Ki", "memory": "32768Mi",
                                    "pods": "110"},
                    "capacity": {"cpu": "8", "ephemeral-storage": "102187476Ki", "memory": "32768Mi", "pods": "110"},
                    "conditions": [
                        cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
                             "kubelet has sufficient memory available"),
                        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status")],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    "nodeInfo": {"architecture": "amd64", "bootID": "", "containerRuntimeVersion": "containerd://2.1.1",
                                 "kernelVersion": "6.8.0-meshlab", "kubeProxyVersion": "",
                                 "kubeletVersion": self.kubelet_version(i), "machineID": "",
                                 "operatingSystem": "linux", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                 "systemUUID": ""}}}

    def kubelet_version(self, i):
        """lab.yaml `kubeletVersion`: one version for every node, or a list (node i gets entry i, the last entry
        repeats); istiod's injection reads it (native sidecars need every node at 1.33 or later)."""
        v = self.spec.get("kubeletVersion")
        if isinstance(v, list):
            v = v[min(i, len(v) - 1)] if v else None
        return str(v) if v else controllers.KUBELET_VERSION

    def _node_addresses(self, i, name):
        """InternalIP always; ExternalIP from lab.yaml `nodeExternalIPs` (the i-th node the i-th
        address), as cloud nodes carry one: NodePort gateways with traffic.istio.io/nodeSelector use it."""
        addresses = [{"type": "InternalIP", "address": self.alloc.node_ip(i)}]
        external = (self.spec.get("nodeExternalIPs") or [])
        if i < len(external):
            addresses.append({"type": "ExternalIP", "address": str(external[i])})
        addresses.append({"type": "Hostname", "address": name})
        return addresses

    # ---- the write path's callbacks (store -> controllers -> hooks) ---------------------------

    def admit(self, kind, op, obj, old, dry_run):
        try:
            return controllers.admit(self, kind, op, obj, old, dry_run)
        except ApiError:
            raise
        except Exception as e:  # a broken hook must not take the API server down
            self.lab.log("admission error in %s for %s: %s" % (self.name, kind.key, e))
            traceback.print_exc(file=sys.stderr)
            raise ApiError(500, "InternalError", "Internal error occurred: admission failed: %s" % e,
                           {"causes": [{"message": str(e)}]})

    def on_event(self, kind, etype, obj, old):
        try:
            controllers.react(self, kind, etype, obj, old)
        except Exception as e:
            self.lab.log("controller error in %s on %s %s/%s: %r" % (self.name, etype, kind.key,
                                                                     obj["metadata"].get("name"), e))
            traceback.print_exc(file=sys.stderr)
        for hook in self.hooks.on_change:
            try:
                hook(self, etype, obj)
            except Exception as e:
                self.lab.log("on_change hook error in %s: %r" % (self.name, e))
                traceback.print_exc(file=sys.stderr)

    def async_ok(self):
        try:
            asyncio.get_running_loop()
            return True
        except RuntimeError:
            return False

    def finalize_later(self, kind, obj):
        if kind.plural == "pods":
            md = obj["metadata"]
            asyncio.get_running_loop().call_later(0.2, self._finish_pod, md["namespace"], md["name"], md["uid"])
            return
        if kind.plural != "namespaces":
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            controllers.finalize_namespace(self, obj)
        else:
            # the namespace shows Terminating for a moment, as on a real cluster
            loop.call_later(0.3, self._finalize_ns, obj["metadata"]["name"])

    def _finish_pod(self, namespace, name, uid):
        pod = self.store.peek("pods", namespace, name)
        if pod is None or pod["metadata"].get("uid") != uid:
            return
        # with finalizers left, the pod goes when they are removed (controllers.react)
        self.grace_over.add(uid)
        try:
            if not pod["metadata"].get("finalizers"):
                self.store.remove_finalized(self.registry.get("pods"), namespace, name)
        except Exception as e:
            self.lab.log("pod deletion error in %s: %r" % (self.name, e))

    def _finalize_ns(self, name):
        obj = self.store.peek("namespaces", None, name)
        if obj is not None and obj["metadata"].get("deletionTimestamp"):
            try:
                controllers.finalize_namespace(self, obj)
            except Exception as e:
                self.lab.log("namespace controller error in %s: %r" % (self.name, e))
                traceback.print_exc(file=sys.stderr)

    def after_delete(self, kind, obj, propagation):
        controllers.gc_dependents(self, kind, obj, propagation)

    def _event_stamp(self):
        # event names end in the hex of a nanosecond clock, so that name order is creation order
        import time
        self._last_stamp = max(time.time_ns(), getattr(self, "_last_stamp", 0) + 1)
        return self._last_stamp

    def record_event(self, obj, typ, reason, message, component="replicaset-controller", host=None,
                     field_path=None):
        """A core/v1 Event about obj, as the named component reports it (kubectl describe lists them)."""
        if self.spec.get("events") is False:
            return
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        ts = now_iso()
        inv = {"kind": obj.get("kind"), "namespace": md.get("namespace"), "name": md["name"], "uid": md.get("uid"),
               "apiVersion": obj.get("apiVersion"), "resourceVersion": md.get("resourceVersion")}
        if not md.get("namespace"):
            inv.pop("namespace")
        if field_path:
            inv["fieldPath"] = field_path
        src = {"component": component}
        if host:
            src["host"] = host
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": "%s.%x" % (md["name"], self._event_stamp()), "namespace": ns},
              "involvedObject": inv, "reason": reason, "message": message, "type": typ, "count": 1,
              "firstTimestamp": ts, "lastTimestamp": ts, "source": src, "eventTime": None,
              "reportingComponent": component if component != "default-scheduler" else "default-scheduler",
              "reportingInstance": host or ""}
        try:
            self.store.create_raw("events", ev, ns)
        except ApiError:
            pass

    # ---- authentication and authorization -----------------------------------------------------

    def remember_token(self, secret):
        tok = (secret.get("data") or {}).get("token")
        if tok:
            try:
                self.tokens[base64.b64decode(tok).decode()] = (secret["metadata"]["namespace"],
                                                               secret["metadata"]["name"])
            except (ValueError, UnicodeDecodeError):
                pass

    def forget_token(self, secret):
        # validity is re-checked against the live Secret on every use; nothing to do eagerly
        pass

    def authenticate(self, token):
        """User for a bearer token, or None (401)."""
        if not token:
            return None
        if token == self.admin_token:
            if self.faults.get("revoke_admin"):
                return None
            return auth.User(auth.ADMIN_USER, list(auth.ADMIN_GROUPS))
        ref = self.tokens.get(token)
        if ref is not None:
            ns, sname = ref
            sec = self.store.peek("secrets", ns, sname)
            if sec is not None and sec.get("type") == "kubernetes.io/service-account-token":
                data = sec.get("data") or {}
                try:
                    live = base64.b64decode(data.get("token", "")).decode()
                except (ValueError, UnicodeDecodeError):
                    live = ""
                sa_name = (sec["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name", "")
                sa = self.store.peek("serviceaccounts", ns, sa_name)
                if live == token and sa is not None:
                    return auth.sa_user(ns, sa_name, sa["metadata"].get("uid", ""))
            self.tokens.pop(token, None)
        bound = self.bound_tokens.get(token)
        if bound is not None:
            ns, sa_name, uid = bound
            sa = self.store.peek("serviceaccounts", ns, sa_name)
            if sa is not None and sa["metadata"].get("uid") == uid:
                return auth.sa_user(ns, sa_name, uid)
            self.bound_tokens.pop(token, None)
        return None

    def issue_bound_token(self, namespace, sa_name, expiration=3600):
        sa = self.store.peek("serviceaccounts", namespace, sa_name)
        if sa is None:
            return None
        import time
        now = int(time.time())
        claims = {"aud": ["https://kubernetes.default.svc.cluster.local"], "exp": now + expiration, "iat": now,
                  "iss": "https://kubernetes.default.svc.cluster.local", "nbf": now,
                  "kubernetes.io": {"namespace": namespace,
                                    "serviceaccount": {"name": sa_name, "uid": sa["metadata"]["uid"]}},
                  "sub": "system:serviceaccount:%s:%s" % (namespace, sa_name)}
        tok = auth.sign_jwt(self.sa_key, claims, self.sa_kid)
        self.bound_tokens[tok] = (namespace, sa_name, sa["metadata"]["uid"])
        return tok, now + expiration

    def authorize(self, user, verb, resource, namespace=None, group="", name=None, subresource=None, path=None):
        """(allowed, status message)."""
        if user.name == auth.ADMIN_USER:
            mode = self.faults.get("rbac")
            if mode == "none" or (mode == "read-only" and verb not in ("get", "list", "watch")):
                if resource is None:
                    return False, 'forbidden: User "%s" cannot %s path "%s"' % (user.name, verb, path)
                return False, auth.forbidden_message(user, verb, resource, namespace, group, name, subresource)
        return auth.authorize(self.store, user, verb, resource, namespace, group, name, subresource, path)

    # ---- logs -------------------------------------------------------------------------------------

    def logs(self, pod_namespace, pod_name, container=None):
        pod = self.store.peek("pods", pod_namespace, pod_name)
        if pod is None:
            return ""
        if container is None:
            cs = (pod.get("spec") or {}).get("containers") or [{}]
            container = cs[0].get("name")
        for provider in self.hooks.log_providers:
            try:
                out = provider(self, pod, container)
            except Exception as e:
                self.lab.log("log provider error in %s: %r" % (self.name, e))
                continue
            if out is not None:
                return out
        return ""


class Lab:
    def __init__(self, spec, hooks=None, log=None):
        self.spec = spec
        self.hooks = hooks or Hooks()
        self.firewall = Firewall(spec.get("firewall") or [])
        self.ca = pki.CA("meshlab-ca")
        self._log = log
        self.state_dir = None
        self.clusters = {}
        names = set()
        for i, cspec in enumerate(spec.get("clusters") or [], start=1):
            if not isinstance(cspec, dict) or not cspec.get("name"):
                raise ValueError("lab.yaml: clusters[%d] has no name" % (i - 1))
            if cspec["name"] in names:
                raise ValueError("lab.yaml: cluster %s is listed twice" % cspec["name"])
            names.add(cspec["name"])
            self.clusters[cspec["name"]] = Cluster(self, i, cspec)
        for c in self.clusters.values():
            c.bootstrap()

    def log(self, msg):
        if self._log:
            self._log(msg)
        else:
            print("meshlab: %s" % msg, file=sys.stderr, flush=True)

    def cluster_for_server(self, url):
        """The cluster whose API server is at url (https://127.0.N.1:PORT), or None."""
        try:
            u = urlparse(url if "://" in url else "https://" + url)
            host, port = u.hostname, u.port or 443
        except ValueError:
            return None
        for c in self.clusters.values():
            if c.host == host and c.port == port:
                return c
        return None

    def flat(self, a, b):
        """Whether the pod networks of two clusters route to each other (same flatNetworks group)."""
        a, b = getattr(a, "name", a), getattr(b, "name", b)
        if a == b:
            return True
        return any(a in g and b in g for g in self.spec.get("flatNetworks") or [])
