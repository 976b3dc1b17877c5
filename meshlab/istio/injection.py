"""Sidecar injection as the webhook does it at pod creation (istio-facts section 4)."""

import copy
import json

from .world import labels_of, annotations_of
from .istiod import DEFAULT_CLUSTER_ID, mesh_config

PROXY_IMAGE = "docker.io/istio/proxyv2:%s"


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
    if any(c.get("name") == "istio-proxy" for c in (pod.get("spec") or {}).get("containers") or []):
        return False  # already injected (e.g. a re-applied manifest)
    if nl.get("istio-injection") == "disabled":
        return False
    return nl.get("istio-injection") == "enabled" or bool(nl.get("istio.io/rev")) or \
        pl.get("sidecar.istio.io/inject") == "true"


def inject(pod, values, mesh=None, version="1.30.3"):
    """Return the injected copy of `pod` (values: istio-sidecar-injector `values` JSON, mesh: mesh config)."""
    pod = copy.deepcopy(pod)
    g = (values or {}).get("global") or {}
    network = g.get("network") or ""
    cluster_id = ((g.get("multiCluster") or {}).get("clusterName")) or DEFAULT_CLUSTER_ID
    mesh_id = g.get("meshID") or ((mesh or {}).get("trustDomain")) or "cluster.local"
    md = pod.setdefault("metadata", {})
    labels = md.setdefault("labels", {})
    ann = md.setdefault("annotations", {})
    spec = pod.setdefault("spec", {})
    name = labels.get("app") or labels.get("app.kubernetes.io/name") or (md.get("generateName") or md.get("name") or "").rstrip("-")
    rev = labels.get("version") or labels.get("app.kubernetes.io/version") or "latest"
    labels.setdefault("security.istio.io/tlsMode", "istio")
    labels.setdefault("service.istio.io/canonical-name", name)
    labels.setdefault("service.istio.io/canonical-revision", rev)
    if network:
        labels.setdefault("topology.istio.io/network", network)  # an existing label wins
    proxy_config = dict((mesh or {}).get("defaultConfig") or {})
    proxy_config.setdefault("discoveryAddress", "istiod.istio-system.svc:15012")
    ports = [p for c in spec.get("containers") or [] for p in c.get("ports") or []]
    env = [
        {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
        {"name": "CA_ADDR", "value": proxy_config["discoveryAddress"]},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
        {"name": "INSTANCE_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
        {"name": "SERVICE_ACCOUNT", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.serviceAccountName"}}},
        {"name": "PROXY_CONFIG", "value": json.dumps(proxy_config, sort_keys=True)},
        {"name": "ISTIO_META_POD_PORTS", "value": json.dumps(
            [{k: p[k] for k in ("name", "containerPort", "protocol") if k in p} for p in ports])},
        {"name": "ISTIO_META_APP_CONTAINERS", "value": ",".join(c.get("name", "") for c in spec.get("containers") or [])},
        {"name": "ISTIO_META_CLUSTER_ID", "value": cluster_id},
        {"name": "ISTIO_META_INTERCEPTION_MODE", "value": "REDIRECT"},
        {"name": "ISTIO_META_WORKLOAD_NAME", "value": name},
        {"name": "ISTIO_META_MESH_ID", "value": mesh_id},
        {"name": "TRUST_DOMAIN", "value": (mesh or {}).get("trustDomain", "cluster.local")},
    ]
    if network:
        env.insert(9, {"name": "ISTIO_META_NETWORK", "value": network})
    image = PROXY_IMAGE % version
    sidecar = {
        "name": "istio-proxy", "image": image,
        "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local",
                 "--proxyLogLevel=warning", "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info"],
        "env": env,
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 15},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "securityContext": {"runAsUser": 1337, "runAsGroup": 1337, "runAsNonRoot": True},
        "volumeMounts": [{"mountPath": "/var/run/secrets/istio", "name": "istiod-ca-cert"},
                         {"mountPath": "/etc/istio/proxy", "name": "istio-envoy"}],
    }
    init = {
        "name": "istio-init", "image": image,
        "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*",
                 "-x", "", "-b", "*", "-d", "15090,15021,15020", "--log_output_level=default:info"],
        "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                            "runAsUser": 0, "runAsNonRoot": False},
    }
    spec.setdefault("initContainers", []).insert(0, init)
    spec.setdefault("containers", []).append(sidecar)
    vols = spec.setdefault("volumes", [])
    vols.append({"name": "istio-envoy", "emptyDir": {"medium": "Memory"}})
    vols.append({"name": "istiod-ca-cert", "configMap": {"name": "istio-ca-root-cert"}})
    ann["sidecar.istio.io/status"] = json.dumps({
        "initContainers": ["istio-init"], "containers": ["istio-proxy"],
        "volumes": ["istio-envoy", "istiod-ca-cert"], "imagePullSecrets": None,
        "revision": labels_of({"metadata": md}).get("istio.io/rev", "default")}, separators=(",", ":"))
    ann.setdefault("kubectl.kubernetes.io/default-container", (spec["containers"][0].get("name")))
    ann.setdefault("prometheus.io/port", "15020")
    ann.setdefault("prometheus.io/scrape", "true")
    ann.setdefault("prometheus.io/path", "/stats/prometheus")
    return pod


def admission(world, cluster, pod, version_of_istiod=None):
    """The webhook on pod create in `cluster`: returns the pod to store (injected or unchanged)."""
    from .istiod import injector_values, istiod_deployment, istiod_container, ISTIO_NS
    ns = world.get(cluster, "namespaces", None, (pod.get("metadata") or {}).get("namespace") or "default")
    if not should_inject(ns, pod):
        return pod
    values = injector_values(world, cluster)
    if values is None:
        return pod  # no injector installed in this cluster: the webhook does not exist
    dep = istiod_deployment(world, cluster)
    image = istiod_container(dep).get("image", "") if dep else ""
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    version = tag or ((values.get("global") or {}).get("tag")) or "1.30.3"
    return inject(pod, values, mesh_config(world, cluster), version)
