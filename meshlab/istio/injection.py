"""Sidecar injection as istiod's webhook does it at pod creation.

Read from istio/istio at the release tags (1.19.0, 1.24.0, 1.26.0, 1.27.0, 1.30.3):
- manifests/charts/istio-control/istio-discovery/files/injection-template.yaml: the pod the template renders
  (istio-proxy's env, probes, lifecycle, volumes; `restartPolicy: Always` and no `containers:` key when native);
- pkg/kube/inject/webhook.go injectPod/postProcessPod/reorderPod/applyMetadata, DetectNativeSidecar; inject.go
  RunTemplate, GetDeployMetaFromPod (pkg/kube/util.go);
- pilot/pkg/features (ENABLE_NATIVE_SIDECARS: a bool defaulting to false in 1.19-1.26, "auto" since 1.27).

Where istio-proxy lands (native_sidecar below):
- before 1.19: always a regular container (no such feature);
- 1.19-1.23: template `eq (env "ENABLE_NATIVE_SIDECARS" "false") "true"`: native only when istiod's env is "true";
- 1.24-1.26: the pod annotation sidecar.istio.io/nativeSidecar decides when set (native iff "true"), else the env
  as above;
- 1.27+: `ne (annotation | default (printf "%t" .NativeSidecars)) "false"`: a non-empty annotation decides (native
  unless "false"); else DetectNativeSidecar: ENABLE_NATIVE_SIDECARS "false" -> classic, "true" -> native, "auto"
  (default; any other value -> classic) -> native iff the kubelet minor version of the pod's node (when
  spec.nodeName is set) or of every node of the pod's cluster is >= 33; no node client for that cluster (the
  webhook serves a cluster it has no registry for) -> classic; an unparseable kubeletVersion -> classic.
Native: initContainers = [istio-init, istio-proxy (restartPolicy Always), the pod's own init containers...],
classic: containers = [the pod's containers..., istio-proxy], initContainers = [the pod's..., istio-init]
(reorderPod: proxy last unless holdApplicationUntilProxyStarts puts it first).
"""

import json
import re

from meshlab.patch import clone

from .world import labels_of, annotations_of, name_of
from .istiod import DEFAULT_CLUSTER_ID, mesh_config, parse_version

PROXY_IMAGE = "docker.io/istio/proxyv2:%s"
PROXY = "istio-proxy"
NATIVE_ANNOTATION = "sidecar.istio.io/nativeSidecar"
_KUBELET = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+.~].*)?$")


def proxy_container(pod):
    """(container, placement) of istio-proxy: placement "containers" or "initContainers" (native), else (None, None)."""
    spec = (pod or {}).get("spec") or {}
    for c in spec.get("containers") or []:
        if c.get("name") == PROXY:
            return c, "containers"
    for c in spec.get("initContainers") or []:
        if c.get("name") == PROXY:
            return c, "initContainers"
    return None, None


def all_containers(pod):
    spec = (pod or {}).get("spec") or {}
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def should_inject(namespace, pod):
    """Namespace istio-injection=enabled or istio.io/rev selects; pod annotation/label false opts out."""
    if namespace is None:
        return False
    nl = labels_of(namespace)
    pa = annotations_of(pod)
    pl = labels_of(pod)
    if pa.get("sidecar.istio.io/inject") == "false" or pl.get("sidecar.istio.io/inject") == "false":
        return False
    if (pod.get("spec") or {}).get("hostNetwork"):
        return False
    if proxy_container(pod)[0] is not None:
        return False  # already injected (e.g. a re-applied manifest)
    if nl.get("istio-injection") == "disabled":
        return False
    return nl.get("istio-injection") == "enabled" or bool(nl.get("istio.io/rev")) or \
        pl.get("sidecar.istio.io/inject") == "true"


def kubelet_minor(version):
    """hashicorp/go-version Segments()[1] of a node's kubeletVersion, or None when it does not parse."""
    m = _KUBELET.match((version or "").strip())
    if not m:
        return None
    return int(m.group(2) or 0)


def detect_native_sidecar(mode, nodes, node_name=None):
    """pkg/kube/inject/webhook.go DetectNativeSidecar (1.27+). mode: istiod's ENABLE_NATIVE_SIDECARS value (None:
    unset = "auto"); nodes: the Node objects of the pod's cluster as istiod's informer holds them, or None when
    istiod has no client for that cluster."""
    mode = "auto" if mode is None else mode
    if mode == "false" or mode not in ("true", "auto"):
        return False
    if mode == "true":
        return True
    if nodes is None:
        return False

    def ok(n):
        v = kubelet_minor((((n.get("status") or {}).get("nodeInfo")) or {}).get("kubeletVersion"))
        return v is not None and v >= 33
    if node_name:
        for n in nodes:
            if name_of(n) == node_name:
                return ok(n)
    return all(ok(n) for n in nodes)


def native_sidecar(version, env_value, annotation, nodes, node_name=None):
    """Whether the modelled release puts istio-proxy in initContainers (rules in the module docstring).
    version: (major, minor) of istiod; env_value: its ENABLE_NATIVE_SIDECARS (None: unset); annotation: the pod's
    sidecar.istio.io/nativeSidecar (None: absent)."""
    if tuple(version) < (1, 19):
        return False
    if tuple(version) < (1, 24):
        return env_value == "true"
    if tuple(version) < (1, 27):
        if annotation is not None:
            return annotation == "true"
        return env_value == "true"
    if annotation:   # `index` gives "" for an absent key and `default` replaces ""
        return annotation != "false"
    return detect_native_sidecar(env_value, nodes, node_name)


def deploy_meta(pod):
    """pkg/kube/util.go GetDeployMetaFromPod: (name, apiVersion, kind) of the workload that owns the pod."""
    md = pod.get("metadata") or {}
    name, api, kind = md.get("name") or "", "v1", "Pod"
    if md.get("generateName"):
        ref = next((r for r in md.get("ownerReferences") or [] if r.get("controller")), None)
        if ref is not None:
            api, kind, name = ref.get("apiVersion", ""), ref.get("kind", ""), ref.get("name", "")
            h = (md.get("labels") or {}).get("pod-template-hash")
            if kind == "ReplicaSet" and h and name.endswith(h):
                name, kind = name[:-len(h) - 1], "Deployment"
        if not name:
            name = md["generateName"].rstrip("-")
    return name, api, kind


def _port_json(p):
    # the template's structToJSON of a core/v1 ContainerPort: its fields in struct order, zero values omitted
    out = {}
    for k in ("name", "hostPort", "containerPort", "protocol", "hostIP"):
        if p.get(k) not in (None, "", 0):
            out[k] = p[k]
    return json.dumps(out, separators=(",", ":"))


def inject(pod, values, mesh=None, version="1.30.3", native=False):
    """Return the injected copy of `pod` (values: istio-sidecar-injector `values` JSON, mesh: mesh config)."""
    pod = clone(pod)
    g = (values or {}).get("global") or {}
    network = g.get("network") or ""
    cluster_id = ((g.get("multiCluster") or {}).get("clusterName")) or DEFAULT_CLUSTER_ID
    mesh = mesh or {}
    trust_domain = mesh.get("trustDomain") or g.get("trustDomain") or "cluster.local"
    mesh_id = g.get("meshID") or trust_domain
    revision = (values or {}).get("revision") or ""
    md = pod.setdefault("metadata", {})
    labels = md.setdefault("labels", {})
    ann = md.setdefault("annotations", {})
    spec = pod.setdefault("spec", {})
    dname, dapi, dkind = deploy_meta(pod)
    app_containers = [c.get("name", "") for c in spec.get("containers") or [] if c.get("name") != PROXY]
    name = labels.get("service.istio.io/canonical-name") or labels.get("app.kubernetes.io/name") or \
        labels.get("app") or dname
    rev = labels.get("version") or labels.get("app.kubernetes.io/version") or "latest"
    labels.setdefault("security.istio.io/tlsMode", "istio")
    labels.setdefault("service.istio.io/canonical-name", name[:63].rstrip("-"))
    labels.setdefault("service.istio.io/canonical-revision", labels.get("app.kubernetes.io/version") or rev)
    if network:
        labels.setdefault("topology.istio.io/network", network)  # an existing label wins
    proxy_config = dict(mesh.get("defaultConfig") or {})
    proxy_config.setdefault("discoveryAddress", "istiod.istio-system.svc:15012")
    ports = [p for c in spec.get("containers") or [] for p in c.get("ports") or []]
    ca_addr = g.get("caAddress") or "istiod%s.%s.svc:15012" % ("-" + revision if revision else "",
                                                               g.get("istioNamespace") or "istio-system")

    def field(path):
        return {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}

    def res(r):
        return {"resourceFieldRef": {"divisor": "1", "resource": r}}
    env = [
        {"name": "PILOT_CERT_PROVIDER", "value": g.get("pilotCertProvider") or "istiod"},
        {"name": "CA_ADDR", "value": ca_addr},
        {"name": "POD_NAME", "valueFrom": field("metadata.name")},
        {"name": "POD_NAMESPACE", "valueFrom": field("metadata.namespace")},
        {"name": "INSTANCE_IP", "valueFrom": field("status.podIP")},
        {"name": "SERVICE_ACCOUNT", "valueFrom": field("spec.serviceAccountName")},
        {"name": "HOST_IP", "valueFrom": field("status.hostIP")},
        {"name": "ISTIO_CPU_LIMIT", "valueFrom": res("limits.cpu")},
        {"name": "PROXY_CONFIG", "value": json.dumps(proxy_config, sort_keys=True)},
        {"name": "ISTIO_META_POD_PORTS", "value": "[\n" + "".join(
            "    %s%s\n" % ("," if i else "", _port_json(p)) for i, p in enumerate(ports)) + "]"},
        {"name": "ISTIO_META_APP_CONTAINERS", "value": ",".join(app_containers)},
        {"name": "GOMEMLIMIT", "valueFrom": res("limits.memory")},
        {"name": "GOMAXPROCS", "valueFrom": res("limits.cpu")},
        {"name": "ISTIO_META_CLUSTER_ID", "value": cluster_id},
        {"name": "ISTIO_META_NODE_NAME", "valueFrom": field("spec.nodeName")},
        {"name": "ISTIO_META_INTERCEPTION_MODE", "value": ann.get("sidecar.istio.io/interceptionMode") or "REDIRECT"},
    ]
    if network:
        env.append({"name": "ISTIO_META_NETWORK", "value": network})
    wl = labels.get("service.istio.io/workload-name") or dname
    if wl:
        env.append({"name": "ISTIO_META_WORKLOAD_NAME", "value": wl})
    if dapi and dname:
        env.append({"name": "ISTIO_META_OWNER", "value": "kubernetes://apis/%s/namespaces/%s/%ss/%s" % (
            dapi, md.get("namespace") or "default", dkind.lower(), dname)})
    env.append({"name": "ISTIO_META_MESH_ID", "value": mesh_id})
    env.append({"name": "TRUST_DOMAIN", "value": trust_domain})
    for k, v in sorted(((proxy_config.get("proxyMetadata") or {})).items()):
        env.append({"name": k, "value": str(v)})
    image = PROXY_IMAGE % version
    resources = {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}
    probe = {"httpGet": {"path": "/healthz/ready", "port": 15021}}
    sidecar = {
        "name": PROXY, "image": image,
        "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local",
                 "--proxyLogLevel=warning", "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info"],
        "env": env,
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "readinessProbe": dict(probe, failureThreshold=4, periodSeconds=15, timeoutSeconds=3),
        "startupProbe": dict(probe, failureThreshold=600, periodSeconds=1, timeoutSeconds=3),
        "resources": clone(resources),
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "privileged": False, "readOnlyRootFilesystem": True, "runAsGroup": 1337,
                            "runAsNonRoot": True, "runAsUser": 1337},
        "volumeMounts": [{"mountPath": "/var/run/secrets/workload-spiffe-uds", "name": "workload-socket"},
                         {"mountPath": "/var/run/secrets/credential-uds", "name": "credential-socket"},
                         {"mountPath": "/var/run/secrets/workload-spiffe-credentials", "name": "workload-certs"},
                         {"mountPath": "/var/run/secrets/istio", "name": "istiod-ca-cert"},
                         {"mountPath": "/var/run/secrets/istio/crl", "name": "istio-ca-crl"},
                         {"mountPath": "/var/lib/istio/data", "name": "istio-data"},
                         {"mountPath": "/etc/istio/proxy", "name": "istio-envoy"},
                         {"mountPath": "/var/run/secrets/tokens", "name": "istio-token"},
                         {"mountPath": "/etc/istio/pod", "name": "istio-podinfo"}],
    }
    if native:
        sidecar["restartPolicy"] = "Always"
        # preStop starts Envoy's drain; SIGTERM follows once the app containers are gone
        sidecar["lifecycle"] = {"preStop": {"exec": {"command": [
            "pilot-agent", "request", "--debug-port=15020", "POST", "drain"]}}}
    init = {
        "name": "istio-init", "image": image,
        "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*",
                 "-x", "", "-b", "*", "-d", "15090,15021,15020", "--log_output_level=default:info"],
        "resources": clone(resources),
        "securityContext": {"allowPrivilegeEscalation": False,
                            "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                            "privileged": False, "readOnlyRootFilesystem": False, "runAsGroup": 0,
                            "runAsNonRoot": False, "runAsUser": 0},
    }
    own_inits = list(spec.get("initContainers") or [])
    hold = bool((proxy_config.get("holdApplicationUntilProxyStarts")) or
                ((g.get("proxy") or {}).get("holdApplicationUntilProxyStarts")))
    if native:
        # reorderPod: {istio-init} => proxy => the rest, so the pod's own init containers are in the mesh
        spec["initContainers"] = [init, sidecar] + own_inits
        status_inits, status_containers = ["istio-init", PROXY], None
    else:
        # reorderPod: istio-init last (iptables after the pod's init containers); proxy last unless held first
        spec["initContainers"] = own_inits + [init]
        cs = list(spec.get("containers") or [])
        spec["containers"] = [sidecar] + cs if hold else cs + [sidecar]
        status_inits, status_containers = ["istio-init"], [PROXY]
    vols = spec.setdefault("volumes", [])
    vols += [{"name": "workload-socket", "emptyDir": {}}, {"name": "credential-socket", "emptyDir": {}},
             {"name": "workload-certs", "emptyDir": {}}, {"name": "istio-envoy", "emptyDir": {"medium": "Memory"}},
             {"name": "istio-data", "emptyDir": {}},
             {"name": "istio-podinfo", "downwardAPI": {"items": [
                 {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                 {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]}},
             {"name": "istio-token", "projected": {"sources": [{"serviceAccountToken": {
                 "audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token"}}]}},
             {"name": "istiod-ca-cert", "configMap": {"name": "istio-ca-root-cert"}},
             {"name": "istio-ca-crl", "configMap": {"name": "istio-ca-crl", "optional": True}}]
    # webhook.go getInjectionStatus: the field order of SidecarInjectionStatus
    ann["sidecar.istio.io/status"] = json.dumps({
        "initContainers": status_inits, "containers": status_containers,
        "volumes": ["workload-socket", "credential-socket", "workload-certs", "istio-envoy", "istio-data",
                    "istio-podinfo", "istio-token", "istiod-ca-cert", "istio-ca-crl"],
        "imagePullSecrets": None, "revision": revision or "default"}, separators=(",", ":"))
    ann.setdefault("istio.io/rev", revision or "default")
    if app_containers:
        ann.setdefault("kubectl.kubernetes.io/default-logs-container", app_containers[0])
        ann.setdefault("kubectl.kubernetes.io/default-container", app_containers[0])
    if mesh.get("enablePrometheusMerge", True):
        ann["prometheus.io/port"] = "15020"
        ann["prometheus.io/scrape"] = "true"
        ann["prometheus.io/path"] = "/stats/prometheus"
    return pod


def _env(container):
    return {e.get("name"): e.get("value") for e in (container or {}).get("env") or [] if "value" in e}


def webhook_nodes(world, serving, cluster, cluster_id):
    """The Nodes istiod's webhook sees for the pod's cluster (multicluster KclientComponent.ForCluster), or None.

    istiod reads the nodes of its own cluster, and of a remote cluster through the client its remote secret gave
    it; a cluster it has no registry entry for has no client. A remote secret still waiting for its placeholder
    (only while a scenario loads) counts as registered: a real install adds the secret before the workloads."""
    if serving is None or serving == cluster:
        return list(world.list(cluster, "nodes"))
    from .istiod import ISTIO_NS, MC_LABEL
    try:
        regs, _ = world.istiod(serving).registry()
    except Exception:   # never fail a pod admission on the model
        regs = []
    for r in regs:
        if r.get("id") == cluster_id and r.get("lab_cluster"):
            return list(world.list(r["lab_cluster"], "nodes"))
    for s in world.list(serving, "secrets", ISTIO_NS):
        a = annotations_of(s)
        if labels_of(s).get(MC_LABEL) == "true" and a.get("meshlab.io/remote-secret-for") == cluster and \
                (a.get("meshlab.io/remote-secret-key") or cluster) == cluster_id:
            return list(world.list(cluster, "nodes"))
    return None


def admission(world, cluster, pod, version_of_istiod=None):
    """The webhook on pod create in `cluster`: returns the pod to store (injected or unchanged)."""
    from .istiod import injector_values, istiod_deployment, istiod_container, ISTIO_NS, serving_istiod
    ns = world.get(cluster, "namespaces", None, (pod.get("metadata") or {}).get("namespace") or "default")
    if not should_inject(ns, pod):
        return pod
    values = injector_values(world, cluster)
    if values is None:
        return pod  # no injector installed in this cluster: the webhook does not exist
    # the istiod that answers the webhook: the cluster's own, or (a remote cluster) the one its istiod Service
    # reaches; the image tag is the release, its env holds ENABLE_NATIVE_SIDECARS
    serving = cluster if istiod_deployment(world, cluster) is not None else serving_istiod(world, cluster)
    dep = istiod_deployment(world, serving) if serving else None
    c = istiod_container(dep) if dep else {}
    image = c.get("image", "")
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    version = tag or ((values.get("global") or {}).get("tag")) or "1.30.3"
    g = values.get("global") or {}
    cluster_id = ((g.get("multiCluster") or {}).get("clusterName")) or DEFAULT_CLUSTER_ID
    nodes = webhook_nodes(world, serving, cluster, cluster_id)
    ann = annotations_of(pod).get(NATIVE_ANNOTATION)
    native = native_sidecar(parse_version("x:" + str(version)), _env(c).get("ENABLE_NATIVE_SIDECARS"), ann, nodes,
                            (pod.get("spec") or {}).get("nodeName"))
    return inject(pod, values, mesh_config(world, cluster), version, native)
