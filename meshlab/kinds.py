"""The resource types a lab cluster serves: built-ins here, CRDs added at runtime."""
from dataclasses import dataclass, field

ALL8 = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
CRD_VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]


@dataclass
class Kind:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: list = field(default_factory=list)
    categories: list = field(default_factory=list)
    singular: str = ""
    verbs: list = field(default_factory=lambda: list(ALL8))
    subresources: dict = field(default_factory=dict)   # name -> (kind, verbs, group, version)
    status_subresource: bool = False
    crd: dict = None            # the CRD object for custom resources
    printer_columns: list = None  # CRD additionalPrinterColumns
    generation: bool = False    # metadata.generation maintained

    @property
    def key(self):
        return self.plural + ("." + self.group if self.group else "")

    @property
    def api_version(self):
        return self.group + "/" + self.version if self.group else self.version

    @property
    def group_version(self):
        return self.api_version

    def qualified(self):
        """Resource name as Status messages print it (plural[.group])."""
        return self.key


def _k(group, version, plural, kind, namespaced=True, short=(), cats=(), verbs=None, subs=None,
       status=False, generation=False):
    return Kind(group=group, version=version, plural=plural, kind=kind, namespaced=namespaced,
                short_names=list(short), categories=list(cats), singular=kind.lower(),
                verbs=list(verbs or ALL8), subresources=dict(subs or {}), status_subresource=status,
                generation=generation)


GPU = ["get", "patch", "update"]

BUILTIN = [
    _k("", "v1", "bindings", "Binding", verbs=["create"]),
    _k("", "v1", "componentstatuses", "ComponentStatus", False, ["cs"], verbs=["get", "list"]),
    _k("", "v1", "configmaps", "ConfigMap", short=["cm"]),
    _k("", "v1", "endpoints", "Endpoints", short=["ep"]),
    _k("", "v1", "events", "Event", short=["ev"]),
    _k("", "v1", "limitranges", "LimitRange", short=["limits"]),
    _k("", "v1", "namespaces", "Namespace", False, ["ns"],
       verbs=["create", "delete", "get", "list", "patch", "update", "watch"],
       subs={"finalize": ("Namespace", ["update"]), "status": ("Namespace", GPU)}, status=True),
    _k("", "v1", "nodes", "Node", False, ["no"],
       subs={"proxy": ("NodeProxyOptions", ["create", "delete", "get", "patch", "update"]), "status": ("Node", GPU)},
       status=True),
    _k("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=["pvc"],
       subs={"status": ("PersistentVolumeClaim", GPU)}, status=True),
    _k("", "v1", "persistentvolumes", "PersistentVolume", False, ["pv"],
       subs={"status": ("PersistentVolume", GPU)}, status=True),
    _k("", "v1", "pods", "Pod", short=["po"], cats=["all"],
       subs={"attach": ("PodAttachOptions", ["create", "get"]), "binding": ("Binding", ["create"]),
             "ephemeralcontainers": ("Pod", GPU), "eviction": ("Eviction", ["create"], "policy", "v1"),
             "exec": ("PodExecOptions", ["create", "get"]), "log": ("Pod", ["get"]),
             "portforward": ("PodPortForwardOptions", ["create", "get"]),
             "proxy": ("PodProxyOptions", ["create", "delete", "get", "patch", "update"]),
             "status": ("Pod", GPU)}, status=True),
    _k("", "v1", "podtemplates", "PodTemplate"),
    _k("", "v1", "replicationcontrollers", "ReplicationController", short=["rc"], cats=["all"],
       subs={"scale": ("Scale", GPU, "autoscaling", "v1"), "status": ("ReplicationController", GPU)},
       status=True, generation=True),
    _k("", "v1", "resourcequotas", "ResourceQuota", short=["quota"], subs={"status": ("ResourceQuota", GPU)},
       status=True),
    _k("", "v1", "secrets", "Secret"),
    _k("", "v1", "serviceaccounts", "ServiceAccount", short=["sa"],
       subs={"token": ("TokenRequest", ["create"], "authentication.k8s.io", "v1")}),
    _k("", "v1", "services", "Service", short=["svc"], cats=["all"],
       subs={"proxy": ("ServiceProxyOptions", ["create", "delete", "get", "patch", "update"]),
             "status": ("Service", GPU)}, status=True),
    _k("apps", "v1", "controllerrevisions", "ControllerRevision"),
    _k("apps", "v1", "daemonsets", "DaemonSet", short=["ds"], cats=["all"], subs={"status": ("DaemonSet", GPU)},
       status=True, generation=True),
    _k("apps", "v1", "deployments", "Deployment", short=["deploy"], cats=["all"],
       subs={"scale": ("Scale", GPU, "autoscaling", "v1"), "status": ("Deployment", GPU)}, status=True,
       generation=True),
    _k("apps", "v1", "replicasets", "ReplicaSet", short=["rs"], cats=["all"],
       subs={"scale": ("Scale", GPU, "autoscaling", "v1"), "status": ("ReplicaSet", GPU)}, status=True,
       generation=True),
    _k("apps", "v1", "statefulsets", "StatefulSet", short=["sts"], cats=["all"],
       subs={"scale": ("Scale", GPU, "autoscaling", "v1"), "status": ("StatefulSet", GPU)}, status=True,
       generation=True),
    _k("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=["hpa"], cats=["all"],
       subs={"status": ("HorizontalPodAutoscaler", GPU)}, status=True),
    _k("batch", "v1", "jobs", "Job", cats=["all"], subs={"status": ("Job", GPU)}, status=True, generation=True),
    _k("batch", "v1", "cronjobs", "CronJob", short=["cj"], cats=["all"], subs={"status": ("CronJob", GPU)},
       status=True, generation=True),
    _k("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=["pdb"],
       subs={"status": ("PodDisruptionBudget", GPU)}, status=True, generation=True),
    _k("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _k("networking.k8s.io", "v1", "ingresses", "Ingress", short=["ing"], subs={"status": ("Ingress", GPU)},
       status=True, generation=True),
    _k("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=["netpol"], generation=True),
    _k("coordination.k8s.io", "v1", "leases", "Lease"),
    _k("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _k("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _k("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _k("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _k("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False,
       generation=True),
    _k("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
       False, generation=True),
    _k("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
       ["crd", "crds"], ["api-extensions"], subs={"status": ("CustomResourceDefinition", GPU)}, status=True,
       generation=True),
    _k("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=["create"]),
    _k("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, verbs=["create"]),
    _k("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False, verbs=["create"]),
    _k("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ["sc"]),
]

# Group order as a real server lists them in /apis (built-ins first, CRD groups after).
GROUP_ORDER = ["apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
               "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy",
               "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io",
               "apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io",
               "discovery.k8s.io", "flowcontrol.apiserver.k8s.io"]

# Virtual kinds (no storage): reviews answered by the server.
VIRTUAL = {"tokenreviews.authentication.k8s.io", "selfsubjectaccessreviews.authorization.k8s.io",
           "subjectaccessreviews.authorization.k8s.io", "bindings", "componentstatuses"}


class Registry:
    """Lookup of kinds by key (plural[.group]), by GVK, and by the names kubectl uses."""

    def __init__(self):
        self.by_key = {}
        for k in BUILTIN:
            self.by_key[k.key] = k

    def add_crd(self, crd):
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group", "")
        versions = [v for v in spec.get("versions") or [] if v.get("served", True)]
        if not versions:
            return None
        # served version preferred: the storage one
        ver = next((v for v in versions if v.get("storage")), versions[0])
        subs = {}
        sr = ver.get("subresources") or {}
        if "status" in sr:
            subs["status"] = (names.get("kind"), GPU)
        if "scale" in sr:
            subs["scale"] = ("Scale", GPU, "autoscaling", "v1")
        k = Kind(group=group, version=ver["name"], plural=names.get("plural", ""), kind=names.get("kind", ""),
                 namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                 short_names=list(names.get("shortNames") or []), categories=list(names.get("categories") or []),
                 singular=names.get("singular") or names.get("kind", "").lower(), verbs=list(CRD_VERBS),
                 subresources=subs, status_subresource="status" in sr, crd=crd,
                 printer_columns=ver.get("additionalPrinterColumns"), generation=True)
        k.all_versions = [v["name"] for v in versions]
        self.by_key[k.key] = k
        return k

    def remove_crd(self, crd):
        spec = crd.get("spec") or {}
        key = (spec.get("names") or {}).get("plural", "") + "." + spec.get("group", "")
        k = self.by_key.get(key)
        if k is not None and k.crd is not None:
            del self.by_key[key]
        return k

    def get(self, key):
        return self.by_key.get(key)

    def find(self, group, version, plural):
        k = self.by_key.get(plural + ("." + group if group else ""))
        if k is None:
            return None
        if k.version != version and version not in getattr(k, "all_versions", ()):
            return None
        return k

    def for_gvk(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        for k in self.by_key.values():
            if k.kind == kind and k.group == group and (k.version == version or
                                                        version in getattr(k, "all_versions", ())):
                return k
        return None

    def resolve(self, name):
        """'pods', 'deployments.apps', 'deploy', 'Deployment' -> Kind (for the internal API)."""
        if name in self.by_key:
            return self.by_key[name]
        low = name.lower()
        for k in self.by_key.values():
            if low in (k.plural, k.singular, k.kind.lower()) or low in k.short_names:
                return k
        return None

    def groups(self):
        """[(group, [versions])] in discovery order; core group excluded."""
        seen = {}
        for k in self.by_key.values():
            if not k.group:
                continue
            vs = seen.setdefault(k.group, [])
            for v in getattr(k, "all_versions", [k.version]):
                if v not in vs:
                    vs.append(v)
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        return sorted(seen.items(), key=lambda gv: (order.get(gv[0], 1000), gv[0] if gv[0] not in order else ""))

    def in_group_version(self, group, version):
        return [k for k in self.by_key.values()
                if k.group == group and (k.version == version or version in getattr(k, "all_versions", ()))]
