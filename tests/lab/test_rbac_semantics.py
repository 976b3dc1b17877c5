"""meshlab's RBAC evaluation follows kube-apiserver's where meshmend's shipped RBAC relies on it (issue 16).

Each case names the Kubernetes source it mirrors:
- plugin/pkg/auth/authorizer/rbac/rbac.go RuleAllows and pkg/apis/rbac/v1/evaluation_helpers.go: exact
  resources, ``*``, ``*/subresource`` (no ``pods/*``), resourceNames never match a request without a name;
- staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go: ``/api/v1/namespaces/NAME`` is in
  namespace NAME, so a Role there grants get/patch of that Namespace object;
- pkg/registry/core/pod/rest/authorize.go + subresources.go (1.35+, AuthorizePodWebsocketUpgradeCreatePermission):
  a WebSocket exec is a GET (verb get) and is also authorized for create.
"""
import pytest

from meshlab.auth import sa_user
from meshlab.lab import Lab

NS = "istio-system"
USER = sa_user("meshmend", "probe")


@pytest.fixture
def cluster():
    lab = Lab({"clusters": [{"name": "c1", "nodes": 1, "podCIDR": "10.1.0.0/16", "serviceCIDR": "10.2.0.0/16"}]})
    c = lab.clusters["c1"]
    c.store.create("namespaces", {"metadata": {"name": NS}})
    c.store.create("namespaces", {"metadata": {"name": "meshmend"}})
    return c


def grant(c, rules, namespace=None, name="r"):
    """Bind rules to USER: a Role + RoleBinding in namespace, or a ClusterRole + ClusterRoleBinding."""
    subjects = [{"kind": "ServiceAccount", "name": "probe", "namespace": "meshmend"}]
    if namespace:
        c.store.create("roles.rbac.authorization.k8s.io", {"metadata": {"name": name, "namespace": namespace},
                                                           "rules": rules})
        c.store.create("rolebindings.rbac.authorization.k8s.io", {
            "metadata": {"name": name, "namespace": namespace}, "subjects": subjects,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}})
    else:
        c.store.create("clusterroles.rbac.authorization.k8s.io", {"metadata": {"name": name}, "rules": rules})
        c.store.create("clusterrolebindings.rbac.authorization.k8s.io", {
            "metadata": {"name": name}, "subjects": subjects,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}})


def allowed(c, verb, resource, namespace=None, name=None, subresource=None, group=""):
    return c.authorize(USER, verb, resource, namespace, group, name, subresource)[0]


def test_resource_wildcards_are_kubernetes_ones(cluster):
    grant(cluster, [{"apiGroups": [""], "resources": ["pods/*"], "verbs": ["get"]}], name="slash-star")
    # kube has no "pods/*": only "*" and "*/log"
    assert not allowed(cluster, "get", "pods", NS, "p", "log")
    grant(cluster, [{"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]}], name="star-slash")
    assert allowed(cluster, "get", "pods", NS, "p", "log")
    assert not allowed(cluster, "get", "pods", NS, "p")
    assert not allowed(cluster, "get", "pods", NS, "p", "exec")


def test_resource_names_never_match_a_request_without_a_name(cluster):
    grant(cluster, [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "update"],
                     "resourceNames": ["cacerts"]}], namespace=NS)
    assert allowed(cluster, "get", "secrets", NS, "cacerts")
    assert allowed(cluster, "update", "secrets", NS, "cacerts")
    assert not allowed(cluster, "get", "secrets", NS, "istio-ca-secret")
    assert not allowed(cluster, "list", "secrets", NS)          # a list has no name
    assert not allowed(cluster, "create", "secrets", NS)        # nor has a create
    assert not allowed(cluster, "get", "secrets", "default", "cacerts")   # a Role is its namespace only


def test_a_role_grants_its_own_namespace_object(cluster):
    grant(cluster, [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "patch"]}], namespace=NS)
    # the API server passes the Namespace object with namespace None: RBAC sees namespace == name
    assert allowed(cluster, "get", "namespaces", None, NS)
    assert allowed(cluster, "patch", "namespaces", None, NS)
    assert not allowed(cluster, "get", "namespaces", None, "default")
    assert not allowed(cluster, "list", "namespaces")
    assert not allowed(cluster, "create", "namespaces")
    ok, msg = cluster.authorize(USER, "delete", "namespaces", None, "", NS)
    assert not ok and msg == ('namespaces "istio-system" is forbidden: User "system:serviceaccount:meshmend:probe" '
                              'cannot delete resource "namespaces" in API group "" in the namespace "istio-system"')


@pytest.mark.parametrize("verbs, allowed_, message", [
    (["get", "create"], True, ""),
    (["create"], False, 'pods "istiod-1" is forbidden: User "system:serviceaccount:meshmend:probe" cannot get '
                        'resource "pods/exec" in API group "" in the namespace "istio-system"'),
    (["get"], False, 'pods "istiod-1" is forbidden: '),
])
def test_websocket_exec_needs_get_and_create(cluster, verbs, allowed_, message):
    grant(cluster, [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": verbs}], namespace=NS)
    # the API server authorizes a WebSocket exec as verb create on pods/exec with the pod's name
    ok, msg = cluster.authorize(USER, "create", "pods", NS, "", "istiod-1", "exec")
    assert (ok, msg) == (allowed_, message)


def test_access_review_without_a_name_asks_one_verb(cluster):
    grant(cluster, [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}], namespace=NS)
    # kubectl auth can-i create pods --subresource=exec -n istio-system: a single question
    assert allowed(cluster, "create", "pods", NS, None, "exec")


def test_cluster_role_through_a_role_binding_is_namespaced(cluster):
    cluster.store.create("clusterroles.rbac.authorization.k8s.io", {"metadata": {"name": "logs"}, "rules": [
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}]})
    cluster.store.create("rolebindings.rbac.authorization.k8s.io", {
        "metadata": {"name": "logs", "namespace": NS},
        "subjects": [{"kind": "ServiceAccount", "name": "probe", "namespace": "meshmend"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "logs"}})
    assert allowed(cluster, "get", "pods", NS, "istiod-1", "log")
    assert not allowed(cluster, "get", "pods", "default", "x", "log")
