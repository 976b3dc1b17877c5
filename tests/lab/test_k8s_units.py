"""Pure logic of meshlab, tested directly: patches, selectors, tables, firewall, protobuf, the in-process store."""
import base64

import pytest

from meshlab import patch, tables, protobuf
from meshlab.lab import Lab, Firewall, cluster_host
from meshlab.store import ApiError, parse_label_selector, labels_match, parse_field_selector, fields_match


# ---- patches ----------------------------------------------------------------------------------------

def test_json_patch_ops():
    doc = {"a": {"b": [1, 2]}, "c": 1}
    out = patch.json_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 3},
                                 {"op": "replace", "path": "/c", "value": 2},
                                 {"op": "remove", "path": "/a/b/0"},
                                 {"op": "copy", "from": "/c", "path": "/d"},
                                 {"op": "move", "from": "/d", "path": "/e"},
                                 {"op": "test", "path": "/e", "value": 2},
                                 {"op": "add", "path": "/f~1g", "value": True}])
    assert out == {"a": {"b": [2, 3]}, "c": 2, "e": 2, "f/g": True}
    assert doc == {"a": {"b": [1, 2]}, "c": 1}
    with pytest.raises(patch.PatchError):
        patch.json_patch(doc, [{"op": "test", "path": "/c", "value": 9}])
    with pytest.raises(patch.PatchError):
        patch.json_patch(doc, [{"op": "replace", "path": "/nope", "value": 9}])


def test_merge_patch_nulls_delete():
    assert patch.merge_patch({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": None}, "l": [2]}) == \
        {"a": {"c": 2}, "l": [2]}


def test_strategic_merge_containers_env_ports():
    live = {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
         "ports": [{"containerPort": 80, "name": "http"}], "args": ["--x"]},
        {"name": "b", "image": "y:1"}]}}}}
    p = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "a", "image": "x:2",
                        "env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"}],
                        "ports": [{"containerPort": 80, "protocol": "TCP"}], "args": ["--y"]}]}}}}
    out = patch.strategic_merge_patch(live, p)
    cs = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in cs] == ["b", "a"]
    a = cs[1]
    assert a["image"] == "x:2" and a["args"] == ["--y"]
    assert a["env"] == [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]
    assert a["ports"] == [{"containerPort": 80, "name": "http", "protocol": "TCP"}]


def test_strategic_merge_service_ports_by_port_and_atomic_lists():
    live = {"metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
            "spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}],
                     "externalIPs": ["1.1.1.1", "2.2.2.2"]}}
    out = patch.strategic_merge_patch(live, {"metadata": {"labels": {"a": None, "c": "3"}, "finalizers": ["y"]},
                                             "spec": {"ports": [{"port": 443, "targetPort": 8443}],
                                                      "externalIPs": ["3.3.3.3"]}})
    assert out["metadata"] == {"labels": {"b": "2", "c": "3"}, "finalizers": ["x", "y"]}
    assert out["spec"]["ports"] == [{"port": 80, "name": "http"},
                                    {"port": 443, "name": "https", "targetPort": 8443}]
    assert out["spec"]["externalIPs"] == ["3.3.3.3"]
    rep = patch.strategic_merge_patch(live, {"spec": {"$patch": "replace", "ports": []}})
    assert rep["spec"] == {"ports": []}


# ---- selectors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("sel,labels,want", [
    ("app=a", {"app": "a"}, True),
    ("app==a,tier!=db", {"app": "a", "tier": "web"}, True),
    ("app in (a, b),!legacy", {"app": "b"}, True),
    ("app notin (a,b)", {"app": "b"}, False),
    ("app notin (a,b)", {}, True),
    ("app", {"app": ""}, True),
    ("!app", {"app": "x"}, False),
    ("n>3", {"n": "4"}, True),
    ("n<3", {"n": "4"}, False),
    ("istio/multiCluster=true", {"istio/multiCluster": "true"}, True),
])
def test_label_selectors(sel, labels, want):
    assert labels_match(parse_label_selector(sel), labels) is want


def test_field_selectors():
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
    assert fields_match(parse_field_selector("metadata.name=p,spec.nodeName==n1"), pod)
    assert not fields_match(parse_field_selector("status.phase!=Running"), pod)
    with pytest.raises(ValueError):
        parse_field_selector("garbage")


# ---- tables -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("secs,want", [
    (0, "0s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"),
    (30 * 3600, "30h"), (50 * 3600, "2d2h"), (10 * 86400, "10d"), (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y")])
def test_human_duration(secs, want):
    assert tables.human_duration(secs) == want


def test_service_external_ip_cells():
    lb = {"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}}
    assert tables.external_ip(lb) == "<pending>"
    lb["status"]["loadBalancer"]["ingress"] = [{"hostname": "b.elb"}, {"ip": "1.2.3.4"}]
    lb["spec"]["externalIPs"] = ["9.9.9.9"]
    assert tables.external_ip(lb) == "1.2.3.4,b.elb,9.9.9.9"
    assert tables.external_ip({"spec": {"type": "ClusterIP"}}) == "<none>"
    assert tables.external_ip({"spec": {"type": "ExternalName", "externalName": "x.com"}}) == "x.com"


def test_pod_row_waiting_reason_and_terminating():
    pod = {"metadata": {"name": "p", "creationTimestamp": "2020-01-01T00:00:00Z"},
           "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
           "status": {"phase": "Running", "containerStatuses": [
               {"name": "a", "ready": True, "restartCount": 1, "state": {"running": {}}},
               {"name": "b", "ready": False, "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
    cells = tables._pod(pod)
    assert cells[:4] == ["p", "1/2", "CrashLoopBackOff", "5"]
    assert cells[5:] == ["<none>", "<none>", "<none>", "<none>"]
    pod["metadata"]["deletionTimestamp"] = "2020-01-01T00:00:00Z"
    assert tables._pod(pod)[2] == "Terminating"


# ---- firewall and addresses -------------------------------------------------------------------------

def test_firewall_first_match_wins():
    fw = Firewall([{"action": "deny", "from": "c1", "to": "c2", "port": 15443}])
    assert not fw.allows("c1", "c2", 15443)
    assert fw.allows("c1", "c2", 80) and fw.allows("c2", "c1", 15443)
    fw.set("allow", "c1", "c2", 15443)
    assert fw.allows("c1", "c2", 15443) and len(fw.rules) == 1
    fw.set("deny", "*", "c3")
    assert not fw.allows("c2", "c3", 1) and fw.allows("c3", "c2", 1)


def test_cluster_hosts_are_never_127_0_0_1():
    assert [cluster_host(i) for i in (1, 2, 254, 255)] == ["127.0.1.1", "127.0.2.1", "127.0.254.1", "127.1.1.1"]


# ---- protobuf -----------------------------------------------------------------------------------------

def _field(num, payload):
    def varint(n):
        out = b""
        while True:
            b = n & 0x7F
            n >>= 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def test_protobuf_secret_as_kubectl_sends_it():
    meta = _field(1, "s1") + _field(3, "ns") + _field(11, _field(1, "app") + _field(2, "x"))
    secret = _field(1, meta) + _field(2, _field(1, "k") + _field(2, b"\x00\xff")) + _field(3, "Opaque")
    env = protobuf.MAGIC + _field(1, _field(1, "v1") + _field(2, "Secret")) + _field(2, secret)
    obj = protobuf.decode(env)
    assert obj == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1", "namespace": "ns",
                                                                      "labels": {"app": "x"}},
                   "data": {"k": base64.b64encode(b"\x00\xff").decode()}, "type": "Opaque"}
    with pytest.raises(protobuf.ProtoError):
        protobuf.decode(protobuf.MAGIC + _field(1, _field(1, "v1") + _field(2, "PersistentVolume")))


# ---- the store in-process (no server) -----------------------------------------------------------------

@pytest.fixture
def lab():
    return Lab({"clusters": [{"name": "c1", "nodes": 2, "podCIDR": "10.1.0.0/16", "serviceCIDR": "10.2.0.0/16",
                              "loadBalancer": {"pool": "192.0.2.0/30", "hostname": True}, "region": "r1"}]})


def test_bootstrap_objects(lab):
    st = lab.clusters["c1"].store
    assert [n["metadata"]["name"] for n in st.list("namespaces")] == ["default", "kube-node-lease", "kube-public",
                                                                      "kube-system"]
    assert [n["spec"]["podCIDR"] for n in st.list("nodes")] == ["10.1.1.0/24", "10.1.2.0/24"]
    assert st.get("services", "default", "kubernetes")["spec"]["clusterIP"] == "10.2.0.1"
    assert st.get("serviceaccounts", "kube-system", "default") is not None
    assert "ca.crt" in st.get("configmaps", "default", "kube-root-ca.crt")["data"]


def test_deployment_controller_and_gc(lab):
    c = lab.clusters["c1"]
    st = c.store
    st.create("deployments.apps", {"metadata": {"name": "d", "namespace": "default"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    rs = st.list("replicasets.apps", "default")
    assert len(rs) == 1 and rs[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    pods = st.list("pods", "default")
    assert len(pods) == 2 and {p["spec"]["nodeName"] for p in pods} == {"c1-node-1", "c1-node-2"}
    assert all(p["status"]["podIP"].startswith("10.1.") and tables._pod(p)[1:3] == ["1/1", "Running"]
               for p in pods)
    d = st.get("deployments.apps", "default", "d")
    assert d["status"]["readyReplicas"] == 2 and d["metadata"]["generation"] == 1
    # a template change rolls out a new ReplicaSet (revision 2), the old one scales to 0
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "i2"
    st.update("deployments.apps", d)
    rs = {r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r["spec"]["replicas"]
          for r in st.list("replicasets.apps", "default")}
    assert rs == {"1": 0, "2": 2}
    assert st.get("deployments.apps", "default", "d")["metadata"]["generation"] == 2
    # no event loop here: deletion is immediate and the garbage collector removes what the Deployment owned
    st.delete("deployments.apps", "default", "d")
    assert st.list("replicasets.apps", "default") == [] and st.list("pods", "default") == []


def test_service_allocation_lb_hostname_and_validation(lab):
    st = lab.clusters["c1"].store
    s = st.create("services", {"metadata": {"name": "lb", "namespace": "default"}, "spec": {
        "type": "LoadBalancer", "ports": [{"port": 15443, "name": "tls"}]}})
    assert s["spec"]["clusterIP"].startswith("10.2.") and s["spec"]["ports"][0]["targetPort"] == 15443
    ing = s["status"]["loadBalancer"]["ingress"][0]
    assert set(ing) == {"hostname"} and ing["hostname"].endswith(".r1.elb.amazonaws.com")
    with pytest.raises(ApiError) as ei:
        st.create("services", {"metadata": {"name": "x", "namespace": "default"}, "spec": {
            "ports": [{"port": 80}], "externalIPs": ["127.0.0.2"]}})
    assert ei.value.code == 422 and ei.value.message == (
        'Service "x" is invalid: spec.externalIPs[0]: Invalid value: "127.0.0.2": may not be in the loopback range '
        '(127.0.0.0/8, ::1/128)')
    with pytest.raises(ApiError) as ei:
        st.create("services", {"metadata": {"name": "y", "namespace": "default"}, "spec": {
            "type": "NodePort", "ports": [{"port": 80, "nodePort": s["spec"]["ports"][0]["nodePort"]}]}})
    assert "provided port is already allocated" in ei.value.message


def test_namespace_deletion_cascades_without_loop(lab):
    st = lab.clusters["c1"].store
    st.create("namespaces", {"metadata": {"name": "tmp"}})
    st.create("configmaps", {"metadata": {"name": "c", "namespace": "tmp"}})
    obj, gone = st.delete("namespaces", None, "tmp")
    assert not gone and obj["status"]["phase"] == "Terminating"
    assert st.get("namespaces", None, "tmp") is None and st.list("configmaps", "tmp") == []


def test_crd_registers_a_served_type(lab):
    c = lab.clusters["c1"]
    c.store.create("customresourcedefinitions.apiextensions.k8s.io", {
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object"}}}]}})
    w = c.store.create("widgets.example.com", {"apiVersion": "example.com/v1", "kind": "Widget",
                                               "metadata": {"name": "w", "namespace": "default"}, "spec": {"x": 1}})
    assert w["metadata"]["generation"] == 1
    crd = c.store.get("customresourcedefinitions.apiextensions.k8s.io", None, "widgets.example.com")
    conds = {x["type"]: x["status"] for x in crd["status"]["conditions"]}
    assert conds == {"NamesAccepted": "True", "Established": "True"}
    with pytest.raises(ApiError) as ei:
        c.store.patch("widgets.example.com", "default", "w", "strategic", {"spec": {"x": 2}})
    assert ei.value.code == 415
    c.store.delete("customresourcedefinitions.apiextensions.k8s.io", None, "widgets.example.com")
    assert c.registry.get("widgets.example.com") is None


def test_authorize_messages(lab):
    from meshlab.auth import sa_user
    c = lab.clusters["c1"]
    ok, msg = c.authorize(sa_user("ns", "sa"), "get", "secrets", "ns", "", "s1")
    assert not ok and msg == ('secrets "s1" is forbidden: User "system:serviceaccount:ns:sa" cannot get resource '
                              '"secrets" in API group "" in the namespace "ns"')
    ok, msg = c.authorize(sa_user("ns", "sa"), "list", "deployments", None, "apps")
    assert msg == ('deployments.apps is forbidden: User "system:serviceaccount:ns:sa" cannot list resource '
                   '"deployments" in API group "apps" at the cluster scope')
    c.store.create("clusterrolebindings.rbac.authorization.k8s.io", {
        "metadata": {"name": "v"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                               "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]})
    assert c.authorize(sa_user("ns", "sa"), "list", "deployments", None, "apps")[0]
    assert not c.authorize(sa_user("ns", "sa"), "get", "secrets", "ns", "", "s1")[0]
    assert c.authenticate(c.admin_token).name == "kubernetes-admin"
    assert c.authenticate("nope") is None


def test_daemonset_and_statefulset_controllers(lab):
    st = lab.clusters["c1"].store
    st.create("daemonsets.apps", {"metadata": {"name": "agent", "namespace": "default"}, "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "i"}]}}}})
    pods = st.list("pods", "default", label_selector="app=agent")
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["c1-node-1", "c1-node-2"]
    assert st.get("daemonsets.apps", "default", "agent")["status"]["numberReady"] == 2
    st.create("statefulsets.apps", {"metadata": {"name": "db", "namespace": "default"}, "spec": {
        "replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "d", "image": "i"}]}}}})
    assert [p["metadata"]["name"] for p in st.list("pods", "default", label_selector="app=db")] == \
        ["db-0", "db-1", "db-2"]
    assert tables._sts(st.get("statefulsets.apps", "default", "db"))[1] == "3/3"
    with pytest.raises(ApiError) as ei:
        st.create("statefulsets.apps", {"metadata": {"name": "bad", "namespace": "default"}, "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "d", "image": "i"}]}}}})
    assert "`selector` does not match template `labels`" in ei.value.message
