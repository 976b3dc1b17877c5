"""Authentication (bearer tokens, ServiceAccount tokens) and RBAC evaluation, as kube-apiserver does them."""
import base64
import json
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ADMIN_USER = "kubernetes-admin"
ADMIN_GROUPS = ["kubeadm:cluster-admins", "system:authenticated"]

# Non-resource URLs every authenticated user may GET (system:discovery, system:public-info-viewer).
PUBLIC_PREFIXES = ("/api", "/apis", "/version", "/openapi", "/healthz", "/livez", "/readyz")


@dataclass
class User:
    name: str
    groups: list = field(default_factory=list)
    uid: str = ""
    extra: dict = field(default_factory=dict)


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jwt(key, claims, kid=""):
    """ES256 JWT, the shape of a legacy ServiceAccount token."""
    header = {"alg": "ES256", "kid": kid}
    signing_input = _b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        _b64url(json.dumps(claims, separators=(",", ":")).encode())
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def legacy_sa_claims(namespace, sa_name, sa_uid, secret_name):
    return {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/secret.name": secret_name,
        "kubernetes.io/serviceaccount/service-account.name": sa_name,
        "kubernetes.io/serviceaccount/service-account.uid": sa_uid,
        "sub": "system:serviceaccount:%s:%s" % (namespace, sa_name),
    }


def sa_user(namespace, name, uid=""):
    return User("system:serviceaccount:%s:%s" % (namespace, name),
                ["system:serviceaccounts", "system:serviceaccounts:%s" % namespace, "system:authenticated"], uid)


# ---- RBAC ----------------------------------------------------------------------------------------

def _subject_matches(subj, user, binding_ns):
    kind = subj.get("kind")
    if kind == "User":
        return subj.get("name") == user.name
    if kind == "Group":
        return subj.get("name") in user.groups
    if kind == "ServiceAccount":
        ns = subj.get("namespace") or binding_ns
        return user.name == "system:serviceaccount:%s:%s" % (ns, subj.get("name"))
    return False


def _rule_allows(rule, verb, group, resource, subresource, name):
    """One PolicyRule against one request, as kube's rbac.RuleAllows (pkg/apis/rbac/v1/evaluation_helpers.go).

    resources match exactly (``pods/exec``), ``*``, or ``*/<subresource>``; there is no ``pods/*``.
    resourceNames, when present, must contain the request's name, so they never match a request without one
    (list, watch, create, deletecollection).
    """
    verbs = rule.get("verbs") or []
    if "*" not in verbs and verb not in verbs:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and group not in groups:
        return False
    res = resource + ("/" + subresource if subresource else "")
    resources = rule.get("resources") or []
    ok = False
    for r in resources:
        if r == "*" or r == res:
            ok = True
        elif subresource and r == "*/" + subresource:
            ok = True
    if not ok:
        return False
    names = rule.get("resourceNames") or []
    if names and (name or "") not in names:
        return False
    return True


def _nonresource_allows(rule, verb, path):
    verbs = rule.get("verbs") or []
    if "*" not in verbs and verb not in verbs:
        return False
    for u in rule.get("nonResourceURLs") or []:
        if u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1])):
            return True
    return False


def rules_for(store, user, namespace):
    """Every RBAC rule that applies to user in namespace (cluster-wide ones included)."""
    rules = []
    for crb in store.iter("clusterrolebindings.rbac.authorization.k8s.io"):
        if any(_subject_matches(s, user, "") for s in crb.get("subjects") or []):
            ref = crb.get("roleRef") or {}
            cr = store.peek("clusterroles.rbac.authorization.k8s.io", None, ref.get("name", ""))
            if cr:
                rules.extend(_cluster_role_rules(store, cr))
    if namespace:
        for rb in store.iter("rolebindings.rbac.authorization.k8s.io", namespace):
            if any(_subject_matches(s, user, namespace) for s in rb.get("subjects") or []):
                ref = rb.get("roleRef") or {}
                if ref.get("kind") == "ClusterRole":
                    cr = store.peek("clusterroles.rbac.authorization.k8s.io", None, ref.get("name", ""))
                    if cr:
                        rules.extend(r for r in _cluster_role_rules(store, cr) if not r.get("nonResourceURLs"))
                else:
                    role = store.peek("roles.rbac.authorization.k8s.io", namespace, ref.get("name", ""))
                    if role:
                        rules.extend(role.get("rules") or [])
    return rules


def _cluster_role_rules(store, cr):
    rules = list(cr.get("rules") or [])
    agg = cr.get("aggregationRule")
    if agg:
        from .store import selector_from_struct, labels_match
        for sel in agg.get("clusterRoleSelectors") or []:
            reqs = selector_from_struct(sel)
            for other in store.iter("clusterroles.rbac.authorization.k8s.io"):
                if other is not cr and labels_match(reqs, other["metadata"].get("labels")):
                    rules.extend(other.get("rules") or [])
    return rules


# Pod subresources a client opens with a WebSocket (an HTTP GET, hence verb ``get``). Since Kubernetes 1.35
# (feature gate AuthorizePodWebsocketUpgradeCreatePermission, beta and on by default) the pod registry also
# authorizes ``create`` on them (pkg/registry/core/pod/rest/authorize.go, ensureAuthorizedForVerb), so a
# WebSocket exec needs both verbs; SPDY (a POST) is ``create`` only. meshlab emulates 1.36 and serves exec,
# attach and portforward over WebSocket only.
CONNECT_SUBRESOURCES = ("exec", "attach", "portforward")


def request_namespace(resource, namespace, name):
    """The namespace RBAC sees: for the Namespace object itself it is its own name.

    kube's RequestInfoFactory reads ``/api/v1/namespaces/NAME`` as namespace NAME, resource namespaces, name
    NAME, so a RoleBinding in NAME grants get/patch/delete of the namespace NAME itself (not list, not create).
    """
    if resource == "namespaces" and not namespace and name:
        return name
    return namespace


def authorize(store, user, verb, resource, namespace=None, group="", name=None, subresource=None,
              path=None, superuser_groups=("system:masters",), connect=None):
    """(allowed, message). message is the Status message of the 403 when denied.

    ``connect``: the request is a WebSocket upgrade of pods/exec|attach|portforward. None infers it: the API
    server passes verb ``create`` with the pod's name for those (meshlab serves them over WebSocket only), and
    such a request must be allowed ``get`` (what kube's RequestInfo calls a GET) and then ``create`` (the
    registry's compound check). A SubjectAccessReview without a name is a plain single-verb question.
    """
    if any(g in superuser_groups for g in user.groups):
        return True, ""
    if resource is None:
        # non-resource request
        if verb == "get" and path and "system:authenticated" in user.groups and \
                any(path == p or path.startswith(p + "/") for p in PUBLIC_PREFIXES):
            return True, ""
        for rule in rules_for(store, user, None):
            if _nonresource_allows(rule, verb, path or "/"):
                return True, ""
        return False, 'forbidden: User "%s" cannot %s path "%s"' % (user.name, verb, path)
    if group == "authorization.k8s.io" and resource in ("selfsubjectaccessreviews", "selfsubjectrulesreviews") \
            and verb == "create":
        return True, ""
    namespace = request_namespace(resource, namespace, name)
    if connect is None:
        connect = verb == "create" and resource == "pods" and subresource in CONNECT_SUBRESOURCES and bool(name)
    rules = [r for r in rules_for(store, user, namespace) if not r.get("nonResourceURLs")]
    if connect:
        # 1. the authorization filter: the GET of the upgrade is verb get
        if not any(_rule_allows(r, "get", group, resource, subresource, name) for r in rules):
            return False, forbidden_message(user, "get", resource, namespace, group, name, subresource)
        # 2. the registry's Connect: create, answered as NewForbidden(pods, name, reason) with RBAC's empty reason
        if not any(_rule_allows(r, "create", group, resource, subresource, name) for r in rules):
            qual = resource + ("." + group if group else "")
            return False, '%s "%s" is forbidden: ' % (qual, name)
        return True, ""
    for rule in rules:
        if _rule_allows(rule, verb, group, resource, subresource, name):
            return True, ""
    return False, forbidden_message(user, verb, resource, namespace, group, name, subresource)


def forbidden_message(user, verb, resource, namespace, group, name, subresource=None):
    """The message of the authorization filter's 403 (k8s.io/apiserver endpoints/handlers/responsewriters)."""
    namespace = request_namespace(resource, namespace, name)
    qual = resource + ("." + group if group else "")
    res = resource + ("/" + subresource if subresource else "")
    head = '%s "%s" is forbidden' % (qual, name) if name else "%s is forbidden" % qual
    scope = 'in the namespace "%s"' % namespace if namespace else "at the cluster scope"
    return '%s: User "%s" cannot %s resource "%s" in API group "%s" %s' % (head, user.name, verb, res, group, scope)


# The RBAC objects a fresh kubeadm/kind cluster has that matter here.
def default_rbac_objects():
    read = ["get", "list", "watch"]
    write = ["create", "delete", "deletecollection", "patch", "update"]
    core_ns = ["pods", "pods/log", "pods/status", "services", "endpoints", "configmaps", "serviceaccounts",
               "persistentvolumeclaims", "events", "replicationcontrollers", "resourcequotas", "limitranges"]
    apps = ["deployments", "replicasets", "statefulsets", "daemonsets", "deployments/scale", "replicasets/scale",
            "statefulsets/scale", "deployments/status", "replicasets/status", "statefulsets/status",
            "daemonsets/status"]

    def cr(name, rules, labels=None):
        md = {"name": name, "labels": dict({"kubernetes.io/bootstrapping": "rbac-defaults"}, **(labels or {})),
              "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}}
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": md, "rules": rules}

    def crb(name, role, subjects):
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                             "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": subjects}

    view_rules = [{"apiGroups": [""], "verbs": read,
                   "resources": core_ns + ["namespaces", "namespaces/status", "pods/status", "services/status"]},
                  {"apiGroups": ["apps"], "resources": apps, "verbs": read},
                  {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
                  {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": read},
                  {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": read},
                  {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": read},
                  {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"],
                   "verbs": read}]
    edit_rules = [{"apiGroups": [""], "verbs": read + write,
                   "resources": core_ns + ["secrets", "pods/exec", "pods/attach", "pods/portforward", "pods/proxy",
                                           "services/proxy"]},
                  {"apiGroups": ["apps"], "resources": apps, "verbs": read + write},
                  {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read + write},
                  {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": read + write},
                  {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": read + write},
                  {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": read + write},
                  {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"],
                   "verbs": read + write},
                  {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}]
    admin_rules = edit_rules + [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
                                 "verbs": read + write}]
    return [
        cr("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                             {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        cr("admin", admin_rules),
        cr("edit", edit_rules),
        cr("view", view_rules),
        cr("system:discovery", [{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                                     "/openapi", "/openapi/*", "/readyz", "/version", "/version/"],
                                 "verbs": ["get"]}]),
        cr("system:basic-user", [{"apiGroups": ["authorization.k8s.io"],
                                  "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                                  "verbs": ["create"]},
                                 {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"],
                                  "verbs": ["create"]}]),
        crb("cluster-admin", "cluster-admin", [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                                "name": "system:masters"}]),
        crb("kubeadm:cluster-admins", "cluster-admin", [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                                         "name": "kubeadm:cluster-admins"}]),
        crb("system:discovery", "system:discovery", [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                                      "name": "system:authenticated"}]),
        crb("system:basic-user", "system:basic-user", [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                                        "name": "system:authenticated"}]),
    ]
