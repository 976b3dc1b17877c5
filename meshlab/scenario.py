"""Scenarios: lab.yaml plus per-cluster manifests, applied through the API write path."""
import hashlib
import json
import os

import yaml

from .patch import clone
from .store import ApiError

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PARSED = {}

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED = os.path.join(HERE, "scenarios")

# Helm's install order, extended; kinds not listed (custom resources) come last.
ORDER = ["Namespace", "Node", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodDisruptionBudget",
         "ServiceAccount", "Secret", "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
         "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service",
         "Endpoints", "EndpointSlice", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
         "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
         "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
RANK = {k: i for i, k in enumerate(ORDER)}


class ScenarioError(Exception):
    pass


def bundled():
    """[(name, first line of README.md)] of meshlab/scenarios/*/."""
    out = []
    if not os.path.isdir(BUNDLED):
        return out
    for name in sorted(os.listdir(BUNDLED)):
        d = os.path.join(BUNDLED, name)
        if not os.path.isfile(os.path.join(d, "lab.yaml")):
            continue
        line = ""
        readme = os.path.join(d, "README.md")
        if os.path.isfile(readme):
            with open(readme, encoding="utf-8") as f:
                for ln in f:
                    ln = ln.strip().lstrip("#").strip()
                    if ln:
                        line = ln
                        break
        out.append((name, line))
    return out


def resolve(scenario):
    """A directory path, or the name of a bundled scenario -> directory."""
    if os.path.isdir(scenario):
        if not os.path.isfile(os.path.join(scenario, "lab.yaml")):
            raise ScenarioError("scenario %s has no lab.yaml" % scenario)
        return os.path.abspath(scenario)
    d = os.path.join(BUNDLED, scenario)
    if "/" not in scenario and os.path.isfile(os.path.join(d, "lab.yaml")):
        return d
    names = ", ".join(n for n, _ in bundled()) or "none"
    raise ScenarioError("unknown scenario %r: not a directory with lab.yaml, nor a bundled scenario (%s)"
                        % (scenario, names))


def load_spec(directory):
    path = os.path.join(directory, "lab.yaml")
    try:
        with open(path, encoding="utf-8") as f:
            spec = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ScenarioError("cannot read %s: %s" % (path, e))
    if not isinstance(spec, dict) or not isinstance(spec.get("clusters"), list) or not spec["clusters"]:
        raise ScenarioError("%s: 'clusters' must be a non-empty list" % path)
    for i, c in enumerate(spec["clusters"]):
        if not isinstance(c, dict) or not c.get("name"):
            raise ScenarioError("%s: clusters[%d] needs a name" % (path, i))
        for key in ("podCIDR", "serviceCIDR"):
            if c.get(key):
                import ipaddress
                try:
                    ipaddress.ip_network(c[key], strict=False)
                except ValueError:
                    raise ScenarioError("%s: cluster %s: %s %r is not a CIDR" % (path, c["name"], key, c[key]))
    return spec


def _intern_schemas(doc):
    """A CRD's versions usually carry the same schema: keep one object for all of them."""
    if isinstance(doc, dict) and doc.get("kind") == "List":
        for item in doc.get("items") or []:
            _intern_schemas(item)
    if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
        seen = {}
        for v in (doc.get("spec") or {}).get("versions") or []:
            if isinstance(v, dict) and isinstance(v.get("schema"), dict):
                k = json.dumps(v["schema"], sort_keys=True)
                v["schema"] = seen.setdefault(k, v["schema"])
    return doc


def _fresh(doc):
    if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        return dict(doc, items=[_fresh(i) for i in doc["items"]])
    return _fresh_one(doc)


def _fresh_one(doc):
    """A copy of a parsed document to hand to the write path. A CRD's schemas (most of Istio's 1 MB of CRDs) are
    shared, not copied, between the clusters that load the file: stored objects are never changed in place, and
    the write path only changes the CRD's top level, spec and versions entries (copied here)."""
    if not (isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
            and isinstance(doc.get("spec"), dict)):
        return clone(doc)
    out = {k: (clone(v) if k != "spec" else v) for k, v in doc.items()}
    spec = dict(doc["spec"])
    for k in ("names", "conversion"):
        if k in spec:
            spec[k] = clone(spec[k])
    spec["versions"] = [{k: (x if k == "schema" else clone(x)) for k, x in v.items()}
                        if isinstance(v, dict) else v for v in spec.get("versions") or []]
    out["spec"] = spec
    return out


def manifests(directory, cluster):
    """[(file, doc)] of a cluster's folder (recursive, sorted); a missing folder is an empty cluster."""
    root = os.path.join(directory, cluster)
    out = []
    if not os.path.isdir(root):
        return out
    files = []
    for dp, _, fns in os.walk(root):
        for fn in fns:
            if fn.endswith((".yaml", ".yml", ".json")):
                files.append(os.path.join(dp, fn))
    for path in sorted(files):
        try:
            with open(path, "rb") as f:
                raw = f.read()
            key = hashlib.sha256(raw).hexdigest()
            if key not in _PARSED:
                # the same file (CRDs, samples) usually repeats in every cluster: parse it once; JSON (Istio's
                # CRDs) without the YAML parser, which takes about a second for them
                docs = None
                if path.endswith(".json") or raw.lstrip()[:1] == b"{":
                    try:
                        docs = [json.loads(raw)]
                    except ValueError:
                        docs = None   # YAML flow style that is not JSON: the YAML parser decides
                if docs is None:
                    docs = list(yaml.load_all(raw.decode("utf-8"), Loader=Loader))
                _PARSED[key] = [_intern_schemas(d) for d in docs]
            docs = [_fresh(d) for d in _PARSED[key]]
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as e:
            raise ScenarioError("cluster %s: cannot parse %s: %s" % (cluster, path, e))
        for d in docs:
            if d is None:
                continue
            if not isinstance(d, dict) or not d.get("kind") or not d.get("apiVersion"):
                raise ScenarioError("cluster %s: %s: every document needs apiVersion and kind" % (cluster, path))
            if d["kind"].endswith("List") and isinstance(d.get("items"), list):
                out.extend((path, i) for i in d["items"] if i)
            else:
                out.append((path, d))
    return out


def apply_object(cluster, obj, source=""):
    """Create or update one object through the API write path, as `kubectl apply` would."""
    reg = cluster.registry
    kind = reg.for_gvk(obj["apiVersion"], obj["kind"])
    name = (obj.get("metadata") or {}).get("name", "")
    if kind is None:
        raise ScenarioError('cluster %s: %s: no resource type for %s %s "%s" (is its CRD in the scenario?)'
                            % (cluster.name, source, obj["apiVersion"], obj["kind"], name))
    obj = dict(obj)  # manifests() hands out fresh objects; only the top level is changed here
    status = obj.pop("status", None) if kind.status_subresource else None
    ns = (obj.get("metadata") or {}).get("namespace") if kind.namespaced else None
    st = cluster.store
    try:
        cur = st.peek(kind, ns or "default", name) if name else None
        if cur is None:
            out = st.create(kind, obj, ns, _owned=True)
        else:
            obj["metadata"].pop("resourceVersion", None)
            out = st.update(kind, obj, ns or "default", name, _owned=True)
        if status is not None:
            # a scenario may pin status (a pending pod, a load balancer address): set it as its controller would
            live = st.get(kind, out["metadata"].get("namespace"), out["metadata"]["name"])
            live["status"] = status
            st.update(kind, live, out["metadata"].get("namespace"), out["metadata"]["name"], subresource="status")
    except ApiError as e:
        raise ScenarioError("cluster %s: %s: %s %s: %s" % (cluster.name, source, obj["kind"], name, e.message))
    return out


def apply_cluster(cluster, directory):
    docs = manifests(directory, cluster.name)
    docs = sorted(enumerate(docs), key=lambda t: (RANK.get(t[1][1]["kind"], len(ORDER)), t[0]))
    for _, (path, d) in docs:
        apply_object(cluster, d, os.path.relpath(path, directory))
    return len(docs)


def apply(lab, directory):
    n = 0
    for c in lab.clusters.values():
        n += apply_cluster(c, directory)
    return n


def generate_plain(n, out):
    """A plain-Kubernetes scenario of n clusters (no Istio): for measuring the lab itself."""
    os.makedirs(out, exist_ok=True)
    clusters = []
    for i in range(1, n + 1):
        name = "cluster%d" % i
        clusters.append({"name": name, "region": "region%d" % ((i - 1) // 10 + 1), "zone": "zone%d" % i,
                         "nodes": 2, "podCIDR": "10.%d.0.0/16" % (i % 250 + 1),
                         "serviceCIDR": "10.96.0.0/16",
                         "loadBalancer": {"pool": "172.18.%d.0/24" % (i % 250), "mode": "L4"} if i % 2 else None})
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "apps.yaml"), "w", encoding="utf-8") as f:
            docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sample"}}]
            for app in ("web", "api", "db"):
                docs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                             "metadata": {"name": app, "namespace": "sample", "labels": {"app": app}},
                             "spec": {"replicas": 2, "selector": {"matchLabels": {"app": app}},
                                      "template": {"metadata": {"labels": {"app": app}},
                                                   "spec": {"containers": [{"name": app, "image": "nginx:1.27",
                                                                            "ports": [{"containerPort": 80}]}]}}}})
                docs.append({"apiVersion": "v1", "kind": "Service",
                             "metadata": {"name": app, "namespace": "sample", "labels": {"app": app}},
                             "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80}],
                                      "type": "LoadBalancer" if app == "web" else "ClusterIP"}})
            yaml.safe_dump_all(docs, f, sort_keys=False)
    with open(os.path.join(out, "lab.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump({"clusters": clusters, "firewall": []}, f, sort_keys=False)
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write("# %d plain Kubernetes clusters (no Istio), three apps each\n" % n)
    return out
