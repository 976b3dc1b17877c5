"""What kube-apiserver admission, the controller manager, the scheduler and the kubelet would do, just enough.

`admit` runs on every create/update (defaulting, built-in mutating admission, the hooks' admission, validation,
allocation); `react` runs after every store change (Deployments -> ReplicaSets -> Pods, Endpoints and
EndpointSlices, token Secrets, namespace contents, garbage collection, CRD registration).
"""
import base64
import binascii
import hashlib
import ipaddress
import json

from . import auth, validation
from .patch import clone
from .store import ApiError, invalid, now_iso, selector_from_struct, labels_match, rand_suffix, DNS1123_SUB, \
    DNS1123_LABEL

NODEPORT_RANGE = (30000, 32767)
LOOPBACK_MSG = "may not be in the loopback range (127.0.0.0/8, ::1/128)"
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex "
               "used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
KUBELET_VERSION = "v1.36.1"


def _q(v):
    return json.dumps(v) if isinstance(v, str) else json.dumps(v)


# ---- allocation state ----------------------------------------------------------------------------

class Allocator:
    """IP and port bookkeeping of one cluster (pod IPs per node, ClusterIPs, NodePorts, LB addresses)."""

    def __init__(self, cluster):
        spec = cluster.spec
        self.cluster = cluster
        self.rng = cluster.store.rng
        self.pod_net = ipaddress.ip_network(spec.get("podCIDR") or "10.244.0.0/16", strict=False)
        self.svc_net = ipaddress.ip_network(spec.get("serviceCIDR") or "10.96.0.0/16", strict=False)
        # 172.16.N.0/24, then on into 172.17 for clusters 256 to 511 (the load-balancer pools start at 172.18)
        self.node_net = ipaddress.ip_network(spec.get("nodeCIDR") or "172.%d.%d.0/24" % (
            16 + cluster.index // 256, cluster.index % 256), strict=False)
        lb = spec.get("loadBalancer") or None
        self.lb_pool = list(ipaddress.ip_network(lb["pool"], strict=False).hosts()) if lb and lb.get("pool") else []
        self.lb_hostname = bool(lb and lb.get("hostname"))
        self.pod_ips = set()
        self.svc_ips = set()
        self.node_ports = set()
        self.lb_used = set()

    def node_pod_cidr(self, i):
        """Node i's pod range: the (i+1)-th /24 of the pod CIDR (the whole CIDR when it is /24 or smaller)."""
        prefix = max(self.pod_net.prefixlen, 24)
        count = 1 << (prefix - self.pod_net.prefixlen)
        if count == 1:
            return self.pod_net
        size = 1 << (32 - prefix)
        base = self.pod_net.network_address + ((i + 1) % count) * size
        return ipaddress.ip_network("%s/%d" % (base, prefix))

    def node_ip(self, i):
        return str(self.node_net.network_address + 2 + i)

    def pod_ip(self, node):
        cidr = ipaddress.ip_network((node.get("spec") or {}).get("podCIDR") or str(self.pod_net), strict=False)
        for host in cidr.hosts():
            if int(host) - int(cidr.network_address) < 2:
                continue
            s = str(host)
            if s not in self.pod_ips:
                self.pod_ips.add(s)
                return s
        raise ApiError(500, "InternalError", "pod CIDR %s of node %s is exhausted" % (cidr, node["metadata"]["name"]))

    def cluster_ip(self, want=None):
        if want:
            self.svc_ips.add(want)
            return want
        size = self.svc_net.num_addresses
        for _ in range(200):
            ip = str(self.svc_net.network_address + self.rng.randrange(2, max(3, min(size - 1, 1 << 20))))
            if ip not in self.svc_ips:
                self.svc_ips.add(ip)
                return ip
        for host in self.svc_net.hosts():
            if str(host) not in self.svc_ips:
                self.svc_ips.add(str(host))
                return str(host)
        raise ApiError(500, "InternalError", "range is full")

    def node_port(self):
        for _ in range(1000):
            p = self.rng.randint(*NODEPORT_RANGE)
            if p not in self.node_ports:
                self.node_ports.add(p)
                return p
        raise ApiError(500, "InternalError", "range is full")

    def lb_address(self, svc_name, ns):
        for ip in self.lb_pool:
            if str(ip) not in self.lb_used:
                self.lb_used.add(str(ip))
                return lb_ingress(self.cluster.name, self.cluster.spec, ns, svc_name, ip)
        return None


def lb_ingress(cluster_name, spec, ns, svc_name, ip):
    """The status.loadBalancer.ingress entry a cloud load balancer writes for pool address ip (lab.yaml
    `loadBalancer.hostname: true`: an ELB-style hostname, with the address kept in `_ip` for the lab's data
    plane). Shared with reallab's stand-in load-balancer controller."""
    lb = spec.get("loadBalancer") or {}
    if lb.get("hostname"):
        h = hashlib.sha1(("%s/%s/%s" % (cluster_name, ns, svc_name)).encode()).hexdigest()
        region = spec.get("region") or "us-east-1"
        return {"hostname": "a%s-%d.%s.elb.amazonaws.com" % (h[:24], int(h[24:32], 16) % 10 ** 10, region),
                "_ip": str(ip)}
    return {"ip": str(ip), "ipMode": "VIP"}


# ---- helpers -------------------------------------------------------------------------------------

_HASHES = {}


def template_hash(template, collision_count=0):
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    key = (data, collision_count)
    if key in _HASHES:
        return _HASHES[key]
    if len(_HASHES) > 4096:
        _HASHES.clear()
    _HASHES[key] = _template_hash(data, collision_count)
    return _HASHES[key]


def _template_hash(data, collision_count):
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    if collision_count:
        h ^= collision_count
        h = (h * 0x01000193) & 0xFFFFFFFF
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[int(d)] for d in str(h))


def owner_ref(obj, api_version, kind):
    return {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def controller_of(obj):
    for r in obj["metadata"].get("ownerReferences") or []:
        if r.get("controller"):
            return r
    return None


def pod_ready(pod):
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def _image_id(image):
    repo = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image.split("@")[0]
    if "/" not in repo:
        repo = "docker.io/library/" + repo
    elif "." not in repo.split("/")[0]:
        repo = "docker.io/" + repo
    return "%s@sha256:%s" % (repo, hashlib.sha256(image.encode()).hexdigest())


# ---- defaulting --------------------------------------------------------------------------------

def default_container(c):
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    img = c.get("image", "")
    tag = img.split("@")[0].split("/")[-1]
    c.setdefault("imagePullPolicy", "Always" if (":" not in tag or tag.endswith(":latest")) and "@" not in img
                 else "IfNotPresent")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        vf = e.get("valueFrom") or {}
        if "fieldRef" in vf:
            vf["fieldRef"].setdefault("apiVersion", "v1")


def default_pod_spec(spec):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in spec.get("containers") or []:
        default_container(c)
    for c in spec.get("initContainers") or []:
        default_container(c)
    for v in spec.get("volumes") or []:
        if "secret" in v:
            v["secret"].setdefault("defaultMode", 420)
        if "configMap" in v:
            v["configMap"].setdefault("defaultMode", 420)
        if "projected" in v:
            v["projected"].setdefault("defaultMode", 420)


def default_template(tpl):
    tpl.setdefault("metadata", {})
    default_pod_spec(tpl.setdefault("spec", {}))


def _merge_sa_volume(cluster, pod):
    """ServiceAccount admission: the projected API token volume every pod gets."""
    spec = pod["spec"]
    if spec.get("automountServiceAccountToken") is False:
        return
    vols = spec.setdefault("volumes", [])
    name = next((v["name"] for v in vols if v.get("name", "").startswith("kube-api-access-")), None)
    if name is None:
        name = "kube-api-access-" + rand_suffix(5, cluster.store.rng)
        vols.append({"name": name, "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}})
    # plugin/pkg/admission/serviceaccount: every init container and container gets the mount (it runs again
    # after a mutating webhook changed the pod, so injected containers get it too: admission reinvocation)
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        mounts = c.setdefault("volumeMounts", [])
        if not any(m.get("mountPath") == "/var/run/secrets/kubernetes.io/serviceaccount" for m in mounts):
            mounts.append({"name": name, "readOnly": True,
                           "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})


# ---- admission ---------------------------------------------------------------------------------

def _decode_strings(kind, md):
    """Label and annotation values must be strings: the JSON decoder refuses anything else (400)."""
    for fld in ("labels", "annotations"):
        for v in (md.get(fld) or {}).values():
            if not isinstance(v, str):
                raise ApiError(400, "BadRequest", '%s in version "%s" cannot be handled as a %s: json: cannot '
                               'unmarshal %s into Go struct field ObjectMeta.metadata.%s of type string'
                               % (kind.kind, kind.version, kind.kind,
                                  "bool" if isinstance(v, bool) else ("number" if isinstance(v, (int, float))
                                                                      else type(v).__name__), fld))


# Update validation of these kinds re-runs the create validation, ObjectMeta included (ValidateServiceUpdate,
# ValidateSecretUpdate, ValidateConfigMapUpdate call ValidateObjectMetaUpdate and then ValidateX): a bad label is
# reported twice in details.causes, once in the message (ErrorList.ToAggregate drops the repeat).
_META_TWICE_ON_UPDATE = {"services", "secrets", "configmaps"}


def admit(cluster, kind, op, obj, old, dry_run):
    """The write path of one object: decoding checks, defaulting and built-in mutating admission, the hooks'
    mutating admission (sidecar injection), validation (the registry strategy: ObjectMeta, the kind's own rules,
    a custom resource's schema), the hooks' validating admission (Istio's validation webhook), allocation."""
    k = kind.key
    md = obj["metadata"]
    name = md.get("name", "")
    _decode_strings(kind, md)

    if k == "pods":
        obj = _admit_pod(cluster, kind, op, obj, old, dry_run)
    elif k == "services":
        _default_service(obj, old)
    elif k in ("deployments.apps", "replicasets.apps", "statefulsets.apps", "daemonsets.apps"):
        _default_workload(kind, obj)
    elif k == "namespaces":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        if op == "CREATE":
            obj["status"] = {"phase": "Active"}
        md.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    elif k == "secrets":
        _admit_secret(kind, obj, old)
    elif k == "customresourcedefinitions.apiextensions.k8s.io":
        _admit_crd(kind, obj, old)

    for hook in cluster.hooks.admission:
        res = hook(cluster, op, obj) if _wants(hook, kind) else obj
        if res is not None:
            obj = res
    if k == "pods" and op == "CREATE" and (obj.get("spec") or {}).get("initContainers") is not None:
        _merge_sa_volume(cluster, obj)   # reinvoked after a webhook added containers
    md = obj["metadata"]

    causes = validation.object_meta_causes(kind, obj, op, old)
    if op == "UPDATE" and kind.plural in _META_TWICE_ON_UPDATE and not kind.group:
        causes = causes + validation.object_meta_causes(kind, obj, "CREATE")
    if kind.crd is not None:
        causes += _cr_schema_causes(kind, obj, old)
    elif k == "secrets":
        causes += _secret_update_causes(obj, old) + validation.immutable_causes(kind, obj, old)
        causes += validation.secret_causes(obj)
    elif k == "configmaps":
        causes += validation.immutable_causes(kind, obj, old) + validation.configmap_causes(obj)
    elif k in ("deployments.apps", "replicasets.apps", "daemonsets.apps", "statefulsets.apps"):
        causes += _validate_workload(kind, obj, old)
    elif k == "pods" and op == "CREATE":
        causes += _validate_pod(kind, obj)
    if k == "services":
        _validate_allocate_service(cluster, kind, obj, old, dry_run, causes)
    elif causes:
        raise invalid(kind, name, causes)

    for hook in getattr(cluster.hooks, "validating", None) or []:
        if _wants(hook, kind):
            hook(cluster, op, obj, old)   # raises store.ApiError to deny

    if k == "pods" and op == "CREATE" and not dry_run:
        _schedule_and_start(cluster, obj)
    return obj


def _cr_schema_causes(kind, obj, old):
    """apiextensions-apiserver: prune unknown fields, then validate against the served version's schema."""
    from . import openapi
    schema = _cr_schema(kind, obj)
    if schema is None:
        return []
    pruned = openapi.prune(schema, obj)
    if pruned is not obj:
        for key in [x for x in obj if x not in pruned]:
            del obj[key]
        obj.update(pruned)
    causes = openapi.validate(schema, obj) if old is None else openapi.validate_update(schema, obj, old)
    # a CRD with x-kubernetes-validations (Istio's have CEL rules) gets one more cause when a blocking schema
    # error kept the rules from running (apiextensions-apiserver strategy.go hasBlockingErr); the lab never
    # evaluates CEL itself
    if causes and _has_cel(schema) and any(c[1] in _CEL_BLOCKING for c in causes):
        causes.append(validation.invalid_cause(None, None, "some validation rules were not checked because the object was "
                                                "invalid; correct the existing errors to complete validation"))
    return causes


_CEL_BLOCKING = {"FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong", "FieldValueTooMany",
                 "FieldValueTypeInvalid"}
_CEL_SEEN = {}


def _has_cel(schema):
    key = id(schema)
    if key not in _CEL_SEEN:
        _CEL_SEEN[key] = (schema, "x-kubernetes-validations" in json.dumps(schema))
    return _CEL_SEEN[key][1]


def _cr_schema(kind, obj):
    version = (obj.get("apiVersion") or "").rpartition("/")[2] or kind.version
    for v in ((kind.crd or {}).get("spec") or {}).get("versions") or []:
        if v.get("name") == version:
            return ((v.get("schema") or {}).get("openAPIV3Schema")) or None
    return None


def _secret_update_causes(obj, old):
    if old is not None and (old.get("type") or "Opaque") != (obj.get("type") or "Opaque"):
        return [validation.invalid_cause("type", obj.get("type"), "field is immutable")]
    return []


def _wants(hook, kind):
    kinds = getattr(hook, "kinds", None)
    return kinds is None or kind.key in kinds or kind.kind in kinds


def _dns1035(name):
    import re
    return bool(re.match(r"^[a-z]([-a-z0-9]*[a-z0-9])?$", name)) and len(name) <= 63


def _admit_pod(cluster, kind, op, obj, old, dry_run):
    spec = obj.setdefault("spec", {})
    if op == "CREATE":
        default_pod_spec(spec)
        sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = sa
        spec["serviceAccount"] = sa
        ns = obj["metadata"]["namespace"]
        if cluster.store.peek("serviceaccounts", ns, sa) is None:
            raise ApiError(403, "Forbidden", 'pods "%s" is forbidden: error looking up service account %s/%s: '
                           'serviceaccount "%s" not found' % (obj["metadata"].get("name", ""), ns, sa, sa),
                           {"name": obj["metadata"].get("name", ""), "kind": "pods"})
        _merge_sa_volume(cluster, obj)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        tol = spec.setdefault("tolerations", [])
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not any(t.get("key") == key for t in tol):
                tol.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
        obj["status"] = {"phase": "Pending", "qosClass": _qos(spec)}
    elif old is not None:
        # pod spec is immutable except images, activeDeadlineSeconds, tolerations additions
        ospec = old.get("spec") or {}

        def strip(s):
            return [{k: v for k, v in c.items() if k != "image"} for c in s.get("containers") or []]
        if strip(spec) != strip(ospec) or {k: v for k, v in spec.items() if k not in ("containers", "tolerations",
                                                                                      "activeDeadlineSeconds")} != \
                {k: v for k, v in ospec.items() if k not in ("containers", "tolerations", "activeDeadlineSeconds")}:
            raise invalid(kind, obj["metadata"]["name"], [(
                "spec", "FieldValueForbidden",
                "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
                "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                "previously negative)")])
    return obj


def _qos(spec):
    cs = spec.get("containers") or []
    any_set = False
    guaranteed = True
    for c in cs:
        r = c.get("resources") or {}
        req, lim = r.get("requests") or {}, r.get("limits") or {}
        if req or lim:
            any_set = True
        for res in ("cpu", "memory"):
            if res not in lim or (res in req and req[res] != lim[res]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _validate_pod(kind, obj):
    """A few of ValidatePodSpec's rules; returns causes."""
    causes = []
    cs = obj["spec"].get("containers")
    if not cs:
        causes.append(("spec.containers", "FieldValueRequired", "Required value"))
    for i, c in enumerate(cs or []):
        if not c.get("name"):
            causes.append(("spec.containers[%d].name" % i, "FieldValueRequired", "Required value"))
        if not c.get("image"):
            causes.append(("spec.containers[%d].image" % i, "FieldValueRequired", "Required value"))
    return causes


def _schedule_and_start(cluster, pod):
    """Scheduler + kubelet in one step: the pod lands on a node and runs, Ready."""
    spec = pod["spec"]
    nodes = cluster.store.iter("nodes")
    node = None
    if spec.get("nodeName"):
        node = cluster.store.peek("nodes", None, spec["nodeName"])
    else:
        sel = spec.get("nodeSelector") or {}
        fit = [n for n in nodes if not (n.get("spec") or {}).get("unschedulable")
               and all((n["metadata"].get("labels") or {}).get(k) == v for k, v in sel.items())
               and any(c.get("type") == "Ready" and c.get("status") == "True"
                       for c in (n.get("status") or {}).get("conditions") or [])]
        if fit:
            counts = cluster.pods_per_node
            node = min(fit, key=lambda n: (counts.get(n["metadata"]["name"], 0), n["metadata"]["name"]))
            spec["nodeName"] = node["metadata"]["name"]
    if node is None:
        pod["status"] = {"phase": "Pending", "qosClass": _qos(spec), "conditions": [{
            "type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": now_iso(),
            "reason": "Unschedulable", "message": "0/%d nodes are available: %d node(s) didn't match Pod's node "
            "affinity/selector or were unschedulable. preemption: 0/%d nodes are available." % (
                len(nodes), len(nodes), len(nodes))}]}
        return
    cluster.pods_per_node[spec["nodeName"]] = cluster.pods_per_node.get(spec["nodeName"], 0) + 1
    # PodTopologyLabelsAdmission (beta, on by default since 1.35): binding a pod to a node, or creating it with
    # nodeName, copies the node's topology.kubernetes.io/zone and region labels onto the pod (overwriting)
    node_labels = node["metadata"].get("labels") or {}
    topo = {k: node_labels[k] for k in ("topology.kubernetes.io/zone", "topology.kubernetes.io/region")
            if k in node_labels}
    if topo:
        pod["metadata"]["labels"] = dict(pod["metadata"].get("labels") or {}, **topo)
    host_ip = next((a["address"] for a in (node.get("status") or {}).get("addresses") or []
                    if a.get("type") == "InternalIP"), "")
    ip = host_ip if spec.get("hostNetwork") else cluster.alloc.pod_ip(node)
    ts = now_iso()
    statuses = []
    for c in spec.get("containers") or []:
        statuses.append(_running_status(c, ts))
    init_statuses = []
    for c in spec.get("initContainers") or []:
        if c.get("restartPolicy") == "Always":
            init_statuses.append(_running_status(c, ts))
        else:
            st = _running_status(c, ts)
            st.update(ready=False, started=False, state={"terminated": {
                "exitCode": 0, "reason": "Completed", "startedAt": ts, "finishedAt": ts,
                "containerID": st["containerID"]}})
            init_statuses.append(st)

    def cond(t):
        return {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": ts}
    status = {"phase": "Running",
              "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"),
                             cond("ContainersReady"), cond("PodScheduled")],
              "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "podIP": ip, "podIPs": [{"ip": ip}],
              "startTime": ts, "containerStatuses": statuses, "qosClass": _qos(spec)}
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    pod["status"] = status


def _running_status(c, ts):
    cid = hashlib.sha256(("%s%s" % (c.get("name"), ts) + rand_suffix(8)).encode()).hexdigest()
    return {"name": c.get("name"), "state": {"running": {"startedAt": ts}}, "lastState": {}, "ready": True,
            "restartCount": 0, "image": c.get("image", ""), "imageID": _image_id(c.get("image", "")),
            "containerID": "containerd://" + cid, "started": True}


def _default_service(obj, old):
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    if spec["type"] != "ExternalName":
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for p in spec.get("ports") or []:
        p.setdefault("protocol", "TCP")
        if spec["type"] != "ExternalName":
            p.setdefault("targetPort", p.get("port"))
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if old is not None:
        ospec = old.get("spec") or {}
        if "clusterIP" not in spec and ospec.get("clusterIP"):
            spec["clusterIP"] = ospec["clusterIP"]
            spec["clusterIPs"] = ospec.get("clusterIPs", [ospec["clusterIP"]])
        # keep allocated node ports when the update does not name them
        oports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in ospec.get("ports") or []}
        if spec["type"] in ("NodePort", "LoadBalancer"):
            for p in spec.get("ports") or []:
                if "nodePort" not in p and oports.get((p.get("port"), p.get("protocol"))):
                    p["nodePort"] = oports[(p.get("port"), p.get("protocol"))]
        if "status" not in obj:
            obj["status"] = clone(old.get("status") or {"loadBalancer": {}})
    else:
        obj["status"] = {"loadBalancer": {}}


def _validate_allocate_service(cluster, kind, obj, old, dry_run, causes=None):
    spec = obj["spec"]
    name = obj["metadata"]["name"]
    causes = list(causes or [])
    # ValidateService: the selector's labels
    causes += validation.label_causes(spec.get("selector"), "spec.selector")
    typ = spec.get("type")
    if typ not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        causes.append(("spec.type", "FieldValueNotSupported", 'Unsupported value: %s: supported values: '
                       '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"' % _q(typ)))
    ports = spec.get("ports") or []
    if not ports and typ != "ExternalName" and spec.get("clusterIP") != "None":
        causes.append(("spec.ports", "FieldValueRequired", "Required value"))
    seen = set()
    for i, p in enumerate(ports):
        port = p.get("port")
        if not isinstance(port, int) or not 1 <= port <= 65535:
            causes.append(("spec.ports[%d].port" % i, "FieldValueInvalid",
                           "Invalid value: %s: must be between 1 and 65535, inclusive" % _q(port)))
        if len(ports) > 1 and not p.get("name"):
            causes.append(("spec.ports[%d].name" % i, "FieldValueRequired", "Required value"))
        if (port, p.get("protocol")) in seen:
            causes.append(("spec.ports[%d]" % i, "FieldValueDuplicate",
                           'Duplicate value: core.ServicePort{Name:"%s", Protocol:"%s", Port:%s}'
                           % (p.get("name", ""), p.get("protocol"), port)))
        seen.add((port, p.get("protocol")))
        np_ = p.get("nodePort")
        if np_ is not None and typ in ("NodePort", "LoadBalancer"):
            if not NODEPORT_RANGE[0] <= np_ <= NODEPORT_RANGE[1]:
                causes.append(("spec.ports[%d].nodePort" % i, "FieldValueInvalid",
                               "Invalid value: %d: provided port is not in the valid range. The range of valid ports "
                               "is 30000-32767" % np_))
            else:
                mine = {q.get("nodePort") for q in ((old or {}).get("spec") or {}).get("ports") or []}
                if np_ in cluster.alloc.node_ports and np_ not in mine:
                    causes.append(("spec.ports[%d].nodePort" % i, "FieldValueInvalid",
                                   "Invalid value: %d: provided port is already allocated" % np_))
    for i, ip in enumerate(spec.get("externalIPs") or []):
        try:
            a = ipaddress.ip_address(ip)
        except ValueError:
            causes.append(("spec.externalIPs[%d]" % i, "FieldValueInvalid",
                           'Invalid value: %s: must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)' % _q(ip)))
            continue
        if a.is_unspecified:
            causes.append(("spec.externalIPs[%d]" % i, "FieldValueInvalid",
                           "Invalid value: %s: may not be unspecified (0.0.0.0, ::)" % _q(ip)))
        elif a.is_loopback:
            causes.append(("spec.externalIPs[%d]" % i, "FieldValueInvalid",
                           "Invalid value: %s: %s" % (_q(ip), LOOPBACK_MSG)))
        elif a.is_link_local:
            causes.append(("spec.externalIPs[%d]" % i, "FieldValueInvalid",
                           "Invalid value: %s: may not be in the link-local range (169.254.0.0/16, fe80::/10)" % _q(ip)))
        elif a.is_multicast:
            causes.append(("spec.externalIPs[%d]" % i, "FieldValueInvalid",
                           "Invalid value: %s: may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
                           % _q(ip)))
    if typ == "ExternalName" and spec.get("externalIPs"):
        causes.append(("spec.externalIPs", "FieldValueForbidden", "Forbidden: may not be set for ExternalName services"))
    if old is not None:
        ocls = (old.get("spec") or {}).get("loadBalancerClass")
        if ocls and spec.get("loadBalancerClass") != ocls and typ == "LoadBalancer":
            causes.append(("spec.loadBalancerClass", "FieldValueInvalid",
                           "Invalid value: %s: may not change once set" % _q(spec.get("loadBalancerClass"))))
        oip = (old.get("spec") or {}).get("clusterIP")
        if oip and spec.get("clusterIP") and spec["clusterIP"] != oip and typ != "ExternalName":
            causes.append(("spec.clusterIPs[0]", "FieldValueInvalid",
                           "Invalid value: %s: may not change once set" % _q(spec["clusterIP"])))
    if spec.get("loadBalancerClass") and typ != "LoadBalancer":
        causes.append(("spec.loadBalancerClass", "FieldValueForbidden",
                       "Forbidden: may only be used when `type` is 'LoadBalancer'"))
    want_ip = spec.get("clusterIP")
    if want_ip and want_ip != "None" and not (old and (old.get("spec") or {}).get("clusterIP") == want_ip):
        try:
            ok = ipaddress.ip_address(want_ip) in cluster.alloc.svc_net
        except ValueError:
            ok = False
        if not ok:
            causes.append(("spec.clusterIPs", "FieldValueInvalid",
                           "Invalid value: []string{%s}: failed to allocate IP %s: the provided IP (%s) is not in the "
                           "valid range. The range of valid IPs is %s"
                           % (_q(want_ip), want_ip, want_ip, cluster.alloc.svc_net)))
        elif want_ip in cluster.alloc.svc_ips:
            causes.append(("spec.clusterIPs", "FieldValueInvalid",
                           "Invalid value: []string{%s}: failed to allocate IP %s: provided IP is already allocated"
                           % (_q(want_ip), want_ip)))
    if causes:
        raise invalid(kind, name, causes)
    if typ == "ExternalName":
        spec.pop("clusterIP", None)
        return
    if dry_run:
        if not spec.get("clusterIP"):
            spec["clusterIP"] = str(cluster.alloc.svc_net.network_address + 10)
            spec["clusterIPs"] = [spec["clusterIP"]]
        return
    if not spec.get("clusterIP"):
        spec["clusterIP"] = cluster.alloc.cluster_ip()
    elif spec["clusterIP"] != "None":
        cluster.alloc.svc_ips.add(spec["clusterIP"])
    spec["clusterIPs"] = [spec["clusterIP"]]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    if typ in ("NodePort", "LoadBalancer") and spec.get("allocateLoadBalancerNodePorts", True):
        for p in spec.get("ports") or []:
            if p.get("nodePort"):
                cluster.alloc.node_ports.add(p["nodePort"])
            else:
                p["nodePort"] = cluster.alloc.node_port()
    elif typ == "ClusterIP":
        for p in spec.get("ports") or []:
            p.pop("nodePort", None)
        spec.pop("externalTrafficPolicy", None)
    status = obj.setdefault("status", {"loadBalancer": {}})
    lbs = status.setdefault("loadBalancer", {})
    if typ == "LoadBalancer" and not spec.get("loadBalancerClass"):
        if not lbs.get("ingress"):
            addr = cluster.alloc.lb_address(name, obj["metadata"]["namespace"])
            if addr:
                addr.pop("_ip", None)
                lbs["ingress"] = [addr]
    elif lbs.get("ingress"):
        for ing in lbs["ingress"]:
            cluster.alloc.lb_used.discard(ing.get("ip"))
        status["loadBalancer"] = {}


def _default_workload(kind, obj):
    spec = obj.setdefault("spec", {})
    if kind.plural in ("deployments", "replicasets", "statefulsets"):
        spec.setdefault("replicas", 1)
    if kind.plural == "deployments":
        st = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if st.get("type", "RollingUpdate") == "RollingUpdate":
            st["type"] = "RollingUpdate"
            ru = st.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    if kind.plural == "daemonsets":
        spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
    if "template" in spec:
        default_template(spec["template"])


def _validate_workload(kind, obj, old):
    spec = obj["spec"]
    name = obj["metadata"]["name"]
    sel = spec.get("selector")
    causes = []
    if not sel:
        causes.append(("spec.selector", "FieldValueRequired", "Required value"))
    else:
        tl = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not labels_match(selector_from_struct(sel), tl) or not (sel.get("matchLabels") or
                                                                   sel.get("matchExpressions")):
            causes.append(("spec.template.metadata.labels", "FieldValueInvalid",
                           "Invalid value: map[string]string{%s}: `selector` does not match template `labels`"
                           % ", ".join('"%s":"%s"' % (k, v) for k, v in sorted(tl.items()))))
        if old is not None and (old.get("spec") or {}).get("selector") != sel:
            causes.append(("spec.selector", "FieldValueInvalid",
                           "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{%s}, "
                           "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
                           % ", ".join('"%s":"%s"' % kv for kv in sorted((sel.get("matchLabels") or {}).items()))))
    if not ((spec.get("template") or {}).get("spec") or {}).get("containers"):
        causes.append(("spec.template.spec.containers", "FieldValueRequired", "Required value"))
    if isinstance(spec.get("replicas"), int) and spec["replicas"] < 0:
        causes.append(("spec.replicas", "FieldValueInvalid",
                       "Invalid value: %d: must be greater than or equal to 0" % spec["replicas"]))
    # ValidateLabelSelector (matchLabels) and ValidatePodTemplateSpec (template labels and annotations, under
    # the path spec.template.labels: the template's ObjectMeta is validated inline)
    if isinstance(sel, dict):
        causes += validation.label_causes(sel.get("matchLabels"), "spec.selector.matchLabels")
    causes += validation.template_meta_causes(spec.get("template"), "spec.template")
    return causes


def _admit_secret(kind, obj, old):
    obj.setdefault("type", "Opaque")
    name = obj["metadata"]["name"]
    sd = obj.pop("stringData", None)
    if sd:
        data = obj.setdefault("data", {}) or {}
        obj["data"] = data
        for k, v in sd.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
    for k, v in (obj.get("data") or {}).items():
        try:
            base64.b64decode(v or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ApiError(400, "BadRequest", 'Secret in version "v1" cannot be handled as a Secret: illegal base64 '
                           'data at input byte 0')


def _admit_crd(kind, obj, old):
    spec = obj.get("spec") or {}
    name = obj["metadata"]["name"]
    names = spec.get("names") or {}
    causes = []
    if not spec.get("group"):
        causes.append(("spec.group", "FieldValueRequired", "Required value"))
    if not names.get("plural"):
        causes.append(("spec.names.plural", "FieldValueRequired", "Required value"))
    if not names.get("kind"):
        causes.append(("spec.names.kind", "FieldValueRequired", "Required value"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(("spec.scope", "FieldValueNotSupported",
                       'Unsupported value: %s: supported values: "Cluster", "Namespaced"' % _q(spec.get("scope", ""))))
    if names.get("plural") and spec.get("group") and name != "%s.%s" % (names["plural"], spec["group"]):
        causes.append(("metadata.name", "FieldValueInvalid", 'Invalid value: %s: must be spec.names.plural+"."+'
                       'spec.group' % _q(name)))
    vers = spec.get("versions") or []
    if not vers:
        causes.append(("spec.versions", "FieldValueInvalid", "Invalid value: "
                       "[]apiextensions.CustomResourceDefinitionVersion(nil): must have exactly one version marked "
                       "as storage version"))
    elif sum(1 for v in vers if v.get("storage")) != 1:
        causes.append(("spec.versions", "FieldValueInvalid", "Invalid value: "
                       "[]apiextensions.CustomResourceDefinitionVersion{...}: must have exactly one version marked "
                       "as storage version"))
    for i, v in enumerate(vers):
        if not ((v.get("schema") or {}).get("openAPIV3Schema")):
            causes.append(("spec.versions[%d].schema.openAPIV3Schema" % i, "FieldValueRequired",
                           "Required value: schemas are required"))
    if causes:
        raise invalid(kind, name, causes)
    names = dict(names)
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", names.get("kind", "") + "List")
    ts = now_iso()
    storage = next((v["name"] for v in vers if v.get("storage")), vers[0]["name"])
    stored = list(((old or {}).get("status") or {}).get("storedVersions") or [])
    if storage not in stored:
        stored.append(storage)
    obj["status"] = {
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": ts, "reason": "NoConflicts",
             "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": ts, "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted"}],
        "storedVersions": stored}
    for v in vers:
        v.setdefault("served", True)
    spec.setdefault("conversion", {"strategy": "None"})


# ---- reactions to store changes -------------------------------------------------------------------

def react(cluster, kind, etype, obj, old):
    k = kind.key
    md = obj["metadata"]
    ns = md.get("namespace")
    st = cluster.store
    # garbage collector index
    if etype != "DELETED":
        for r in md.get("ownerReferences") or []:
            cluster.owners.setdefault(r.get("uid"), set()).add((k, ns or "", md["name"]))
        if md.get("deletionTimestamp") and not md.get("finalizers") and k != "namespaces" and \
                (k != "pods" or md.get("uid") in cluster.grace_over or not md.get("deletionGracePeriodSeconds")):
            st.remove_finalized(kind, ns, md["name"])
            return
    if k == "namespaces":
        if etype == "ADDED":
            name = md["name"]
            if st.peek("serviceaccounts", name, "default") is None:
                st.create_raw("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                  "metadata": {"name": "default", "namespace": name}})
            if st.peek("configmaps", name, "kube-root-ca.crt") is None:
                st.create_raw("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                    "name": "kube-root-ca.crt", "namespace": name,
                    "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify "
                                    "the kube-apiserver when using internal endpoints such as the internal service IP "
                                    "or kubernetes.default.svc. No other usage is guaranteed across distributions of "
                                    "Kubernetes clusters."}},
                    "data": {"ca.crt": cluster.ca_pem.decode()}})
    elif k == "customresourcedefinitions.apiextensions.k8s.io":
        if etype == "DELETED":
            ck = cluster.registry.remove_crd(obj)
            if ck is not None:
                for o in list(st.data.get(ck.key, {}).values()):
                    st._persist(ck, clone(o), "DELETED", o)
                st.data.pop(ck.key, None)
        else:
            cluster.registry.add_crd(obj)
    elif k == "secrets":
        if etype != "DELETED":
            _token_controller(cluster, obj)
        cluster.forget_token(obj)
    elif k == "serviceaccounts":
        if etype == "ADDED":
            for rs in st.iter("replicasets.apps", ns):
                _reconcile_rs(cluster, rs)
        elif etype == "DELETED":
            for s in st.iter("secrets", ns, field_selector="type=kubernetes.io/service-account-token"):
                if (s["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name") == md["name"]:
                    _delete_quiet(st, "secrets", ns, s["metadata"]["name"])
    elif k == "deployments.apps":
        if etype != "DELETED":
            _reconcile_deployment(cluster, obj)
    elif k == "replicasets.apps":
        if etype != "DELETED":
            _reconcile_rs(cluster, obj)
        _update_deployment_status_for(cluster, obj)
    elif k in ("daemonsets.apps", "statefulsets.apps"):
        if etype != "DELETED":
            _reconcile_set(cluster, kind, obj)
    elif k == "nodes" and etype in ("ADDED", "DELETED"):
        for ds in st.iter("daemonsets.apps"):
            _reconcile_set(cluster, cluster.registry.get("daemonsets.apps"), ds)
    elif k == "pods":
        if etype == "DELETED":
            cluster.grace_over.discard(md.get("uid"))
            ip = (obj.get("status") or {}).get("podIP")
            node = (obj.get("spec") or {}).get("nodeName")
            if ip and not (obj.get("spec") or {}).get("hostNetwork"):
                cluster.alloc.pod_ips.discard(ip)
            if node and cluster.pods_per_node.get(node):
                cluster.pods_per_node[node] -= 1
        if etype == "ADDED" and (obj.get("status") or {}).get("phase") == "Running":
            _pod_started_events(cluster, obj)
        ref = controller_of(obj)
        if ref and ref.get("kind") in ("DaemonSet", "StatefulSet"):
            skind = cluster.registry.get(ref["kind"].lower() + "s.apps")
            owner = st.peek(skind, ns, ref["name"])
            if owner is not None:
                _reconcile_set(cluster, skind, owner)
        if ref and ref.get("kind") == "ReplicaSet":
            rs = st.peek("replicasets.apps", ns, ref["name"])
            if rs is not None:
                if etype == "DELETED":
                    _reconcile_rs(cluster, rs)
                else:
                    _update_rs_status(cluster, rs)
        _endpoints_for_pod(cluster, obj, old)
    elif k == "services":
        if etype == "DELETED":
            spec = obj.get("spec") or {}
            cluster.alloc.svc_ips.discard(spec.get("clusterIP"))
            for p in spec.get("ports") or []:
                cluster.alloc.node_ports.discard(p.get("nodePort"))
            for ing in ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                cluster.alloc.lb_used.discard(ing.get("ip"))
            _delete_quiet(st, "endpoints", ns, md["name"])
        else:
            _reconcile_endpoints(cluster, obj)


def _pod_started_events(cluster, pod):
    """What the scheduler and the kubelet report for a pod that starts."""
    spec = pod.get("spec") or {}
    node = spec.get("nodeName")
    md = pod["metadata"]
    cluster.record_event(pod, "Normal", "Scheduled", "Successfully assigned %s/%s to %s"
                         % (md["namespace"], md["name"], node), component="default-scheduler")
    for field, containers in (("initContainers", spec.get("initContainers") or []),
                              ("containers", spec.get("containers") or [])):
        for c in containers:
            fp = "spec.%s{%s}" % (field, c.get("name"))
            if c.get("imagePullPolicy") == "Always":
                msg = 'Successfully pulled image "%s" in 1.204s (1.204s including waiting). Image size: 8421562 ' \
                      'bytes.' % c.get("image")
            else:
                msg = 'Container image "%s" already present on machine' % c.get("image")
            cluster.record_event(pod, "Normal", "Pulled", msg, component="kubelet", host=node, field_path=fp)
            cluster.record_event(pod, "Normal", "Created", "Created container: %s" % c.get("name"),
                                 component="kubelet", host=node, field_path=fp)
            cluster.record_event(pod, "Normal", "Started", "Started container %s" % c.get("name"),
                                 component="kubelet", host=node, field_path=fp)


def _delete_quiet(st, res, ns, name):
    try:
        st.delete(res, ns, name)
    except ApiError:
        pass


def gc_dependents(cluster, kind, obj, propagation):
    """Garbage collector: delete (or orphan) what this object owned."""
    uid = obj["metadata"].get("uid")
    deps = cluster.owners.pop(uid, set())
    st = cluster.store
    for key, ns, name in sorted(deps):
        dep = st.peek(key, ns or None, name)
        if dep is None or not any(r.get("uid") == uid for r in dep["metadata"].get("ownerReferences") or []):
            continue
        if propagation == "Orphan":
            new = clone(dep)
            new["metadata"]["ownerReferences"] = [r for r in new["metadata"]["ownerReferences"] if r.get("uid") != uid]
            if not new["metadata"]["ownerReferences"]:
                del new["metadata"]["ownerReferences"]
            st.update(key, new, ns or None, name)
        else:
            _delete_quiet(st, key, ns or None, name)


def finalize_namespace(cluster, ns_obj):
    """Namespace controller: delete everything in the namespace, then the namespace itself."""
    st = cluster.store
    name = ns_obj["metadata"]["name"]
    for key in list(st.data):
        kind = cluster.registry.get(key)
        if kind is None or not kind.namespaced:
            continue
        for ons, oname in sorted(st.data.get(key, {})):
            if ons == name:
                try:
                    st.delete(kind, ons, oname, propagation="Background")
                except ApiError:
                    pass
                left = st.peek(kind, ons, oname)
                if left is not None:
                    st.remove_finalized(kind, ons, oname)
    st.remove_finalized(cluster.registry.get("namespaces"), None, name)


def _token_controller(cluster, secret):
    if secret.get("type") != "kubernetes.io/service-account-token":
        return
    st = cluster.store
    md = secret["metadata"]
    ann = md.get("annotations") or {}
    ns = md["namespace"]
    sa = st.peek("serviceaccounts", ns, ann.get("kubernetes.io/service-account.name", ""))
    if sa is None:
        _delete_quiet(st, "secrets", ns, md["name"])
        return
    data = secret.get("data") or {}
    want_uid = sa["metadata"]["uid"]
    if data.get("token") and data.get("ca.crt") and data.get("namespace") and \
            ann.get("kubernetes.io/service-account.uid") == want_uid:
        cluster.remember_token(secret)
        return
    new = clone(secret)
    nd = new.setdefault("data", {}) or {}
    new["data"] = nd
    if not nd.get("token"):
        tok = auth.sign_jwt(cluster.sa_key, auth.legacy_sa_claims(ns, sa["metadata"]["name"], want_uid, md["name"]),
                            cluster.sa_kid)
        nd["token"] = base64.b64encode(tok.encode()).decode()
    nd["ca.crt"] = base64.b64encode(cluster.ca_pem).decode()
    nd["namespace"] = base64.b64encode(ns.encode()).decode()
    new["metadata"].setdefault("annotations", {})["kubernetes.io/service-account.uid"] = want_uid
    st.update_raw("secrets", new, ns, md["name"])


# ---- workloads -------------------------------------------------------------------------------------

def _owned(cluster, key, ns, owner_uid):
    return [o for o in cluster.store.iter(key, ns)
            if any(r.get("uid") == owner_uid and r.get("controller") for r in o["metadata"].get("ownerReferences") or [])]


def _reconcile_deployment(cluster, d):
    st = cluster.store
    md = d["metadata"]
    ns = md["namespace"]
    spec = d.get("spec") or {}
    if md.get("deletionTimestamp"):
        return
    h = template_hash(spec.get("template") or {}, (d.get("status") or {}).get("collisionCount", 0))
    rs_name = "%s-%s" % (md["name"], h)
    rses = _owned(cluster, "replicasets.apps", ns, md["uid"])
    replicas = spec.get("replicas", 1) if not spec.get("paused") else None
    revs = [int((r["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0") or 0)
            for r in rses]
    new_rs = next((r for r in rses if r["metadata"]["name"] == rs_name), None)
    if spec.get("paused"):
        _set_deployment_status(cluster, d)
        return
    if new_rs is None:
        tpl = clone(spec.get("template") or {})
        labels = dict((tpl.get("metadata") or {}).get("labels") or {}, **{"pod-template-hash": h})
        tpl.setdefault("metadata", {})["labels"] = labels
        sel = clone(spec.get("selector") or {})
        sel.setdefault("matchLabels", {})["pod-template-hash"] = h
        rev = str(max(revs + [0]) + 1)
        surge = _surge(spec, replicas)
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": rs_name, "namespace": ns, "labels": labels,
                           "annotations": {"deployment.kubernetes.io/desired-replicas": str(replicas),
                                           "deployment.kubernetes.io/max-replicas": str(replicas + surge),
                                           "deployment.kubernetes.io/revision": rev},
                           "ownerReferences": [owner_ref(d, "apps/v1", "Deployment")]},
              "spec": {"replicas": replicas, "minReadySeconds": spec.get("minReadySeconds", 0),
                       "selector": sel, "template": tpl}}
        if not spec.get("minReadySeconds"):
            rs["spec"].pop("minReadySeconds")
        try:
            new_rs = st.create_raw("replicasets.apps", rs, ns)
        except ApiError:
            return
        cluster.record_event(d, "Normal", "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d"
                             % (rs_name, replicas), component="deployment-controller")
        rev_now = rev
    else:
        rev_now = (new_rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "1")
        ann = new_rs["metadata"].get("annotations") or {}
        if new_rs["spec"].get("replicas") != replicas or ann.get("deployment.kubernetes.io/desired-replicas") != \
                str(replicas):
            upd = clone(new_rs)
            was = new_rs["spec"].get("replicas", 0)
            if was != replicas:
                cluster.record_event(d, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d"
                                     % ("up" if replicas > was else "down", rs_name, was, replicas),
                                     component="deployment-controller")
            upd["spec"]["replicas"] = replicas
            upd["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(replicas)
            upd["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] = str(
                replicas + _surge(spec, replicas))
            if int(rev_now) < max(revs + [0]):
                rev_now = str(max(revs) + 1)
                upd["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = rev_now
            st.update_raw("replicasets.apps", upd, ns)
        elif int(rev_now) < max(revs + [0]):
            upd = clone(new_rs)
            rev_now = str(max(revs) + 1)
            upd["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = rev_now
            st.update_raw("replicasets.apps", upd, ns)
    for r in rses:
        if r["metadata"]["name"] != rs_name and r["spec"].get("replicas", 0) != 0:
            upd = clone(r)
            cluster.record_event(d, "Normal", "ScalingReplicaSet", "Scaled down replica set %s from %d to 0"
                                 % (r["metadata"]["name"], r["spec"].get("replicas", 0)),
                                 component="deployment-controller")
            upd["spec"]["replicas"] = 0
            st.update_raw("replicasets.apps", upd, ns)
    cur = st.peek("deployments.apps", ns, md["name"])
    if cur is None:
        return
    if (cur["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision") != rev_now:
        upd = clone(cur)
        upd["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = rev_now
        st.update_raw("deployments.apps", upd, ns)
        cur = st.peek("deployments.apps", ns, md["name"])
    _set_deployment_status(cluster, cur)


def _surge(spec, replicas):
    ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    s = ru.get("maxSurge", "25%")
    if isinstance(s, str) and s.endswith("%"):
        return -(-replicas * int(s[:-1]) // 100)
    try:
        return int(s)
    except (TypeError, ValueError):
        return 0


def _reconcile_rs(cluster, rs):
    st = cluster.store
    md = rs["metadata"]
    ns = md["namespace"]
    if md.get("deletionTimestamp"):
        return
    want = (rs.get("spec") or {}).get("replicas", 1)
    pods = [p for p in _owned(cluster, "pods", ns, md["uid"]) if not p["metadata"].get("deletionTimestamp")]
    if len(pods) < want:
        tpl = (rs.get("spec") or {}).get("template") or {}
        for _ in range(want - len(pods)):
            pmd = clone(tpl.get("metadata") or {})
            pmd.pop("name", None)
            pmd["generateName"] = md["name"] + "-"
            pmd["namespace"] = ns
            pmd["ownerReferences"] = [owner_ref(rs, "apps/v1", "ReplicaSet")]
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": pmd, "spec": clone(tpl.get("spec") or {})}
            try:
                created = st.create_raw("pods", pod, ns)
                cluster.record_event(rs, "Normal", "SuccessfulCreate", "Created pod: %s"
                                     % created["metadata"]["name"])
            except ApiError as e:
                cluster.record_event(rs, "Warning", "FailedCreate", "Error creating: %s" % e.message)
                break
    elif len(pods) > want:
        extra = sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True)[:len(pods) - want]
        for p in extra:
            _delete_quiet(st, "pods", ns, p["metadata"]["name"])
            cluster.record_event(rs, "Normal", "SuccessfulDelete", "Deleted pod: %s" % p["metadata"]["name"])
    cur = st.peek("replicasets.apps", ns, md["name"])
    if cur is not None:
        _update_rs_status(cluster, cur)


def _update_rs_status(cluster, rs):
    st = cluster.store
    md = rs["metadata"]
    pods = [p for p in _owned(cluster, "pods", md["namespace"], md["uid"]) if not p["metadata"].get("deletionTimestamp")]
    ready = sum(1 for p in pods if pod_ready(p))
    status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
              "availableReplicas": ready, "observedGeneration": md.get("generation", 1)}
    for k in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
        if not status[k]:
            del status[k]
    if rs.get("status") != status:
        upd = _for_status(rs)
        upd["status"] = status
        st.update_raw("replicasets.apps", upd, md["namespace"], subresource="status")


def _for_status(obj):
    """A status-only update body: shares everything but metadata with the stored (immutable) object."""
    upd = dict(obj)
    upd["metadata"] = dict(obj["metadata"])
    return upd


def _update_deployment_status_for(cluster, rs):
    ref = controller_of(rs)
    if ref and ref.get("kind") == "Deployment":
        d = cluster.store.peek("deployments.apps", rs["metadata"]["namespace"], ref["name"])
        if d is not None:
            _set_deployment_status(cluster, d)


def _set_deployment_status(cluster, d):
    st = cluster.store
    md = d["metadata"]
    ns = md["namespace"]
    spec = d.get("spec") or {}
    rses = _owned(cluster, "replicasets.apps", ns, md["uid"])
    h = template_hash(spec.get("template") or {}, (d.get("status") or {}).get("collisionCount", 0))
    new_rs = next((r for r in rses if r["metadata"]["name"] == "%s-%s" % (md["name"], h)), None)
    total = sum((r.get("status") or {}).get("replicas", 0) for r in rses)
    ready = sum((r.get("status") or {}).get("readyReplicas", 0) for r in rses)
    avail = sum((r.get("status") or {}).get("availableReplicas", 0) for r in rses)
    updated = (new_rs.get("status") or {}).get("replicas", 0) if new_rs else 0
    want = spec.get("replicas", 1)
    old = d.get("status") or {}
    oldc = {c["type"]: c for c in old.get("conditions") or []}
    ts = now_iso()

    def cond(t, s, reason, msg):
        o = oldc.get(t)
        if o and o.get("status") == s and o.get("reason") == reason and o.get("message") == msg:
            return o
        return {"type": t, "status": s, "lastUpdateTime": ts,
                "lastTransitionTime": o["lastTransitionTime"] if o and o.get("status") == s else ts,
                "reason": reason, "message": msg}
    min_avail = want - _unavailable(spec, want)
    conds = []
    if avail >= min_avail:
        conds.append(cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."))
    else:
        conds.append(cond("Available", "False", "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability."))
    if new_rs is not None:
        rs_name = new_rs["metadata"]["name"]
        if spec.get("paused"):
            conds.append(cond("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"))
        elif updated == want and total == updated and avail >= updated:
            conds.append(cond("Progressing", "True", "NewReplicaSetAvailable",
                              'ReplicaSet "%s" has successfully progressed.' % rs_name))
        else:
            conds.append(cond("Progressing", "True", "ReplicaSetUpdated",
                              'ReplicaSet "%s" is progressing.' % rs_name))
    status = {"observedGeneration": md.get("generation", 1), "replicas": total, "updatedReplicas": updated,
              "readyReplicas": ready, "availableReplicas": avail, "conditions": conds}
    if total - avail > 0:
        status["unavailableReplicas"] = total - avail
    for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
        if not status[k]:
            del status[k]
    if old.get("collisionCount"):
        status["collisionCount"] = old["collisionCount"]
    if status != old:
        upd = _for_status(d)
        upd["status"] = status
        st.update_raw("deployments.apps", upd, ns, subresource="status")


def _unavailable(spec, want):
    ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    s = ru.get("maxUnavailable", "25%")
    if isinstance(s, str) and s.endswith("%"):
        return want * int(s[:-1]) // 100
    try:
        return int(s)
    except (TypeError, ValueError):
        return 0


# ---- endpoints -------------------------------------------------------------------------------------

def _endpoints_for_pod(cluster, pod, old):
    ns = pod["metadata"]["namespace"]
    labels = pod["metadata"].get("labels") or {}
    olabels = (old or {}).get("metadata", {}).get("labels") or {}
    for svc in cluster.store.iter("services", ns):
        sel = (svc.get("spec") or {}).get("selector")
        if not sel:
            continue
        if all(labels.get(k) == v for k, v in sel.items()) or \
                (old and all(olabels.get(k) == v for k, v in sel.items())):
            _reconcile_endpoints(cluster, svc)


def _resolve_port(pod, target):
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    # pkg/api/v1/pod FindPort: the containers, then sidecar (restartPolicy: Always) init containers
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or []) + [i for i in spec.get("initContainers") or []
                                                   if i.get("restartPolicy") == "Always"]:
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return p.get("containerPort")
    return None


def _reconcile_endpoints(cluster, svc):
    st = cluster.store
    md = svc["metadata"]
    ns, name = md["namespace"], md["name"]
    spec = svc.get("spec") or {}
    sel = spec.get("selector")
    if not sel or spec.get("type") == "ExternalName":
        return
    pods = [p for p in st.iter("pods", ns, label_selector=[(k, "=", (v,)) for k, v in sel.items()])
            if (p.get("status") or {}).get("podIP") and (p.get("status") or {}).get("phase") not in
            ("Succeeded", "Failed")]
    groups = {}
    slice_eps = []
    for p in sorted(pods, key=lambda p: (p["status"]["podIP"], p["metadata"]["name"])):
        ports = []
        for sp in spec.get("ports") or []:
            tp = _resolve_port(p, sp.get("targetPort", sp.get("port")))
            if tp is None:
                continue
            e = {"port": tp, "protocol": sp.get("protocol", "TCP")}
            if sp.get("name"):
                e = {"name": sp["name"], "port": tp, "protocol": sp.get("protocol", "TCP")}
            if sp.get("appProtocol"):
                e["appProtocol"] = sp["appProtocol"]
            ports.append(e)
        key = json.dumps(ports, sort_keys=True)
        ready = pod_ready(p) and not p["metadata"].get("deletionTimestamp")
        addr = {"ip": p["status"]["podIP"], "nodeName": p["spec"].get("nodeName"),
                "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"],
                              "uid": p["metadata"]["uid"]}}
        if not addr["nodeName"]:
            del addr["nodeName"]
        g = groups.setdefault(key, {"ports": ports, "addresses": [], "notReadyAddresses": []})
        g["addresses" if ready else "notReadyAddresses"].append(addr)
        ep = {"addresses": [p["status"]["podIP"]],
              "conditions": {"ready": ready, "serving": ready, "terminating": bool(p["metadata"].get(
                  "deletionTimestamp"))},
              "nodeName": p["spec"].get("nodeName"),
              "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"],
                            "uid": p["metadata"]["uid"]}}
        node = st.peek("nodes", None, p["spec"].get("nodeName") or "")
        zone = ((node or {}).get("metadata", {}).get("labels") or {}).get("topology.kubernetes.io/zone")
        if zone:
            ep["zone"] = zone
        slice_eps.append((ports, ep))
    subsets = []
    for g in groups.values():
        s = {}
        if g["addresses"]:
            s["addresses"] = g["addresses"]
        if g["notReadyAddresses"]:
            s["notReadyAddresses"] = g["notReadyAddresses"]
        if g["ports"]:
            s["ports"] = g["ports"]
        subsets.append(s)
    labels = dict(md.get("labels") or {})
    if spec.get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    cur = st.peek("endpoints", ns, name)
    ep_obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns}}
    if labels:
        ep_obj["metadata"]["labels"] = labels
    if subsets:
        ep_obj["subsets"] = subsets
    if cur is None:
        st.create_raw("endpoints", ep_obj, ns)
    else:
        ann = cur["metadata"].get("annotations")
        if ann:
            ep_obj["metadata"]["annotations"] = ann
        if cur.get("subsets") != ep_obj.get("subsets") or (cur["metadata"].get("labels") or {}) != labels:
            upd = clone(cur)
            upd["metadata"].pop("labels", None)
            if labels:
                upd["metadata"]["labels"] = labels
            upd.pop("subsets", None)
            if subsets:
                upd["subsets"] = subsets
            st.update_raw("endpoints", upd, ns)
    # EndpointSlice: one per service
    sl_labels = dict(md.get("labels") or {})
    sl_labels.update({"kubernetes.io/service-name": name,
                      "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"})
    if spec.get("clusterIP") == "None":
        sl_labels["service.kubernetes.io/headless"] = ""
    slice_ports = []
    for sp in spec.get("ports") or []:
        tp = None
        for ports, _ in slice_eps:
            for e in ports:
                if e.get("name") == sp.get("name") or (not sp.get("name") and "name" not in e):
                    tp = e["port"]
        if tp is None:
            tp = sp.get("targetPort") if isinstance(sp.get("targetPort"), int) else sp.get("port")
        e = {"name": sp.get("name", ""), "port": tp, "protocol": sp.get("protocol", "TCP")}
        if sp.get("appProtocol"):
            e["appProtocol"] = sp["appProtocol"]
        slice_ports.append(e)
    endpoints = []
    for _, ep in slice_eps:
        ep = dict(ep)
        if not ep.get("nodeName"):
            ep.pop("nodeName", None)
        endpoints.append(ep)
    existing = [s for s in st.iter("endpointslices.discovery.k8s.io", ns,
                                   label_selector=[("kubernetes.io/service-name", "=", (name,))])
                if (s["metadata"].get("labels") or {}).get("endpointslice.kubernetes.io/managed-by") ==
                "endpointslice-controller.k8s.io"]
    body = {"addressType": "IPv4", "endpoints": endpoints or None, "ports": slice_ports or None}
    if not existing:
        obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"generateName": name + "-", "namespace": ns, "labels": sl_labels,
                            "ownerReferences": [owner_ref(svc, "v1", "Service")]}}
        obj.update({k: v for k, v in body.items() if v is not None})
        st.create_raw("endpointslices.discovery.k8s.io", obj, ns)
    else:
        cur = existing[0]
        if any(cur.get(k) != v for k, v in body.items()) or (cur["metadata"].get("labels") or {}) != sl_labels:
            upd = clone(cur)
            upd["metadata"]["labels"] = sl_labels
            for k, v in body.items():
                if v is None:
                    upd.pop(k, None)
                else:
                    upd[k] = v
            st.update_raw("endpointslices.discovery.k8s.io", upd, ns)


# ---- DaemonSets and StatefulSets -------------------------------------------------------------------

def _node_matches(node, spec):
    sel = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    labels = node["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in sel.items())


def _reconcile_set(cluster, kind, obj):
    """DaemonSet: one pod per (matching) node; StatefulSet: pods <name>-0..N-1. Template changes replace pods."""
    st = cluster.store
    md = obj["metadata"]
    ns = md["namespace"]
    if md.get("deletionTimestamp"):
        return
    spec = obj.get("spec") or {}
    tpl = spec.get("template") or {}
    rev = "%s-%s" % (md["name"], template_hash(tpl)[:10])
    is_ds = kind.plural == "daemonsets"
    pods = [p for p in _owned(cluster, "pods", ns, md["uid"]) if not p["metadata"].get("deletionTimestamp")]
    for p in pods:
        if (p["metadata"].get("labels") or {}).get("controller-revision-hash") != rev:
            _delete_quiet(st, "pods", ns, p["metadata"]["name"])
    pods = [p for p in _owned(cluster, "pods", ns, md["uid"]) if not p["metadata"].get("deletionTimestamp")]

    def make(name=None, node=None, index=None):
        pmd = clone(tpl.get("metadata") or {})
        pmd.pop("name", None)
        labels = pmd.setdefault("labels", {})
        labels["controller-revision-hash"] = rev
        if is_ds:
            labels["pod-template-generation"] = str(md.get("generation", 1))
            pmd["generateName"] = md["name"] + "-"
        else:
            labels["statefulset.kubernetes.io/pod-name"] = name
            labels["apps.kubernetes.io/pod-index"] = str(index)
            pmd["name"] = name
        pmd["namespace"] = ns
        pmd["ownerReferences"] = [owner_ref(obj, "apps/v1", kind.kind)]
        pspec = clone(tpl.get("spec") or {})
        if node:
            pspec["nodeName"] = node
        if not is_ds and spec.get("serviceName"):
            pspec.setdefault("hostname", name)
            pspec.setdefault("subdomain", spec["serviceName"])
        try:
            st.create_raw("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": pmd, "spec": pspec}, ns)
        except ApiError as e:
            cluster.record_event(obj, "Warning", "FailedCreate", "Error creating: %s" % e.message)

    if is_ds:
        nodes = [n for n in st.iter("nodes") if _node_matches(n, spec)]
        have = {p["spec"].get("nodeName") for p in pods}
        for n in nodes:
            if n["metadata"]["name"] not in have:
                make(node=n["metadata"]["name"])
        wanted = {n["metadata"]["name"] for n in nodes}
        for p in pods:
            if p["spec"].get("nodeName") not in wanted:
                _delete_quiet(st, "pods", ns, p["metadata"]["name"])
        desired = len(nodes)
    else:
        desired = spec.get("replicas", 1)
        names = {p["metadata"]["name"] for p in pods}
        for i in range(desired):
            name = "%s-%d" % (md["name"], i)
            if name not in names and st.peek("pods", ns, name) is None:
                make(name=name, index=i)
        for p in pods:
            idx = p["metadata"]["name"].rsplit("-", 1)[-1]
            if not idx.isdigit() or int(idx) >= desired:
                _delete_quiet(st, "pods", ns, p["metadata"]["name"])
    pods = [p for p in _owned(cluster, "pods", ns, md["uid"]) if not p["metadata"].get("deletionTimestamp")]
    ready = sum(1 for p in pods if pod_ready(p))
    gen = md.get("generation", 1)
    if is_ds:
        status = {"currentNumberScheduled": len(pods), "numberMisscheduled": 0, "desiredNumberScheduled": desired,
                  "numberReady": ready, "observedGeneration": gen, "updatedNumberScheduled": len(pods),
                  "numberAvailable": ready}
        if desired - ready > 0:
            status["numberUnavailable"] = desired - ready
    else:
        status = {"observedGeneration": gen, "replicas": len(pods), "readyReplicas": ready,
                  "currentReplicas": len(pods), "updatedReplicas": len(pods), "currentRevision": rev,
                  "updateRevision": rev, "collisionCount": 0, "availableReplicas": ready}
        for key in ("readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"):
            if not status[key]:
                del status[key]
    cur = st.peek(kind, ns, md["name"])
    if cur is not None and cur.get("status") != status:
        upd = _for_status(cur)
        upd["status"] = status
        st.update_raw(kind, upd, ns, subresource="status")
