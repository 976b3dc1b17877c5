"""The real kubernetes Python client against the lab: status codes, RBAC, dry run, watch, exec, logs."""
import base64
import json
import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.stream import stream

NS = "clienttest"


@pytest.fixture(scope="module")
def api(plain_lab):
    c = plain_lab.api_client("cluster1")
    v1 = client.CoreV1Api(c)
    v1.create_namespace({"metadata": {"name": NS}})
    yield c
    try:
        v1.delete_namespace(NS)
    except client.ApiException:
        pass


def status_of(e):
    return json.loads(e.body)


def test_401_unknown_token(plain_lab):
    conf = client.Configuration()
    base = plain_lab.api_client("cluster1").configuration
    conf.host, conf.ssl_ca_cert = base.host, base.ssl_ca_cert
    conf.api_key = {"authorization": "not-a-token"}
    conf.api_key_prefix = {"authorization": "Bearer"}
    with pytest.raises(client.ApiException) as ei:
        client.CoreV1Api(client.ApiClient(conf)).list_namespace()
    assert ei.value.status == 401
    assert status_of(ei.value) == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                   "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def test_404_not_found_status(api):
    with pytest.raises(client.ApiException) as ei:
        client.AppsV1Api(api).read_namespaced_deployment("missing", NS)
    assert ei.value.status == 404
    st = status_of(ei.value)
    assert st["message"] == 'deployments.apps "missing" not found'
    assert st["reason"] == "NotFound" and st["details"] == {"name": "missing", "group": "apps",
                                                            "kind": "deployments"}


def test_409_conflict_and_already_exists(api):
    v1 = client.CoreV1Api(api)
    cm = v1.create_namespaced_config_map(NS, {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    rv = cm.metadata.resource_version
    cm.data["a"] = "2"
    cm2 = v1.replace_namespaced_config_map("cfg", NS, cm)
    assert int(cm2.metadata.resource_version) > int(rv)
    cm.metadata.resource_version = rv
    with pytest.raises(client.ApiException) as ei:
        v1.replace_namespaced_config_map("cfg", NS, cm)
    assert ei.value.status == 409
    assert status_of(ei.value)["message"] == ('Operation cannot be fulfilled on configmaps "cfg": the object has been '
                                              'modified; please apply your changes to the latest version and try '
                                              'again')
    assert status_of(ei.value)["reason"] == "Conflict"
    with pytest.raises(client.ApiException) as ei:
        v1.create_namespaced_config_map(NS, {"metadata": {"name": "cfg"}})
    assert ei.value.status == 409 and status_of(ei.value)["reason"] == "AlreadyExists"
    assert status_of(ei.value)["message"] == 'configmaps "cfg" already exists'


def test_dry_run_persists_nothing(api, plain_lab):
    v1 = client.CoreV1Api(api)
    before = plain_lab.stats()["cluster1"]["writes"]
    out = v1.create_namespaced_service(NS, {"metadata": {"name": "dry"}, "spec": {"ports": [{"port": 80}]}},
                                       dry_run="All")
    assert out.metadata.uid and out.metadata.resource_version is None
    assert out.spec.cluster_ip and out.spec.type == "ClusterIP" and out.spec.ports[0].target_port == 80
    with pytest.raises(client.ApiException) as ei:
        v1.read_namespaced_service("dry", NS)
    assert ei.value.status == 404
    v1.create_namespaced_config_map(NS, {"metadata": {"name": "keep"}, "data": {"a": "1"}})
    v1.patch_namespaced_config_map("keep", NS, {"data": {"a": "2"}}, dry_run="All")
    assert v1.read_namespaced_config_map("keep", NS).data == {"a": "1"}
    v1.delete_namespaced_config_map("keep", NS, dry_run="All")
    assert v1.read_namespaced_config_map("keep", NS).data == {"a": "1"}
    # dry-run writes are requests but not writes
    assert plain_lab.stats()["cluster1"]["writes"] == before + 1


def test_watch_streams_changes(api):
    v1 = client.CoreV1Api(api)
    seen = []

    def writer():
        time.sleep(0.3)
        v1.create_namespaced_config_map(NS, {"metadata": {"name": "w1", "labels": {"w": "yes"}}})
        v1.patch_namespaced_config_map("w1", NS, {"data": {"x": "1"}})
        v1.delete_namespaced_config_map("w1", NS)

    t = threading.Thread(target=writer)
    t.start()
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_config_map, NS, label_selector="w=yes", timeout_seconds=10):
        seen.append((ev["type"], ev["object"].metadata.name))
        if ev["type"] == "DELETED":
            w.stop()
    t.join()
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_watch_from_resource_version_replays(api):
    v1 = client.CoreV1Api(api)
    lst = v1.list_namespaced_secret(NS)
    v1.create_namespaced_secret(NS, {"metadata": {"name": "later"}, "stringData": {"k": "v"}})
    w = watch.Watch()
    events = []
    for ev in w.stream(v1.list_namespaced_secret, NS, resource_version=lst.metadata.resource_version,
                       timeout_seconds=2):
        events.append((ev["type"], ev["object"].metadata.name))
        w.stop()
    assert events == [("ADDED", "later")]
    assert base64.b64decode(v1.read_namespaced_secret("later", NS).data["k"]) == b"v"


def test_serviceaccount_token_rbac_403_then_allowed(api, plain_lab):
    v1 = client.CoreV1Api(api)
    rbac = client.RbacAuthorizationV1Api(api)
    v1.create_namespaced_service_account(NS, {"metadata": {"name": "reader"}})
    v1.create_namespaced_secret(NS, {"metadata": {"name": "reader-token", "annotations": {
        "kubernetes.io/service-account.name": "reader"}}, "type": "kubernetes.io/service-account-token"})
    sec = v1.read_namespaced_secret("reader-token", NS)
    assert set(sec.data) == {"token", "ca.crt", "namespace"}
    assert base64.b64decode(sec.data["namespace"]) == NS.encode()
    assert sec.metadata.annotations["kubernetes.io/service-account.uid"] == \
        v1.read_namespaced_service_account("reader", NS).metadata.uid
    token = base64.b64decode(sec.data["token"]).decode()
    assert token.count(".") == 2
    conf = client.Configuration()
    conf.host, conf.ssl_ca_cert = api.configuration.host, api.configuration.ssl_ca_cert
    conf.api_key = {"authorization": token}
    conf.api_key_prefix = {"authorization": "Bearer"}
    sa_v1 = client.CoreV1Api(client.ApiClient(conf))
    with pytest.raises(client.ApiException) as ei:
        sa_v1.list_namespaced_pod(NS)
    assert ei.value.status == 403
    st = status_of(ei.value)
    assert st["message"] == ('pods is forbidden: User "system:serviceaccount:%s:reader" cannot list resource "pods" '
                             'in API group "" in the namespace "%s"' % (NS, NS))
    assert st["reason"] == "Forbidden" and st["details"] == {"kind": "pods"}
    with pytest.raises(client.ApiException) as ei:
        sa_v1.list_namespace()
    assert status_of(ei.value)["message"].endswith('cannot list resource "namespaces" in API group "" at the '
                                                   'cluster scope')
    rbac.create_namespaced_role(NS, {"metadata": {"name": "pod-reader"}, "rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
    rbac.create_namespaced_role_binding(NS, {"metadata": {"name": "reader"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": NS}]})
    assert sa_v1.list_namespaced_pod(NS).items == []
    with pytest.raises(client.ApiException) as ei:
        sa_v1.read_namespaced_secret("reader-token", NS)
    assert status_of(ei.value)["message"] == (
        'secrets "reader-token" is forbidden: User "system:serviceaccount:%s:reader" cannot get resource "secrets" '
        'in API group "" in the namespace "%s"' % (NS, NS))
    # the token dies with its Secret
    v1.delete_namespaced_secret("reader-token", NS)
    with pytest.raises(client.ApiException) as ei:
        sa_v1.list_namespaced_pod(NS)
    assert ei.value.status == 401
    # and a token Secret of this cluster means nothing to another one
    conf2 = client.Configuration()
    c2 = plain_lab.api_client("cluster2").configuration
    conf2.host, conf2.ssl_ca_cert = c2.host, c2.ssl_ca_cert
    conf2.api_key, conf2.api_key_prefix = {"authorization": token}, {"authorization": "Bearer"}
    with pytest.raises(client.ApiException) as ei:
        client.CoreV1Api(client.ApiClient(conf2)).list_namespace()
    assert ei.value.status == 401


def test_deployment_pods_services_endpoints(api):
    apps = client.AppsV1Api(api)
    v1 = client.CoreV1Api(api)
    disc = client.DiscoveryV1Api(api)
    apps.create_namespaced_deployment(NS, {
        "metadata": {"name": "echo"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "echo"}},
                 "template": {"metadata": {"labels": {"app": "echo"}},
                              "spec": {"containers": [{"name": "echo", "image": "hashicorp/http-echo:1.0",
                                                       "ports": [{"name": "http", "containerPort": 5678}]}]}}}})
    v1.create_namespaced_service(NS, {"metadata": {"name": "echo"}, "spec": {
        "type": "LoadBalancer", "selector": {"app": "echo"}, "ports": [{"name": "http", "port": 80,
                                                                       "targetPort": "http"}]}})
    pods = v1.list_namespaced_pod(NS, label_selector="app=echo").items
    assert len(pods) == 3
    assert all(p.status.phase == "Running" and p.status.pod_ip.startswith("10.10.") for p in pods)
    assert all(p.metadata.labels["pod-template-hash"] for p in pods)
    ep = v1.read_namespaced_endpoints("echo", NS)
    assert sorted(a.ip for a in ep.subsets[0].addresses) == sorted(p.status.pod_ip for p in pods)
    assert [(p.name, p.port) for p in ep.subsets[0].ports] == [("http", 5678)]
    slices = disc.list_namespaced_endpoint_slice(NS, label_selector="kubernetes.io/service-name=echo").items
    assert len(slices) == 1 and len(slices[0].endpoints) == 3
    assert all(e.conditions.ready for e in slices[0].endpoints)
    svc = v1.read_namespaced_service("echo", NS)
    assert svc.status.load_balancer.ingress[0].ip.startswith("172.18.1.")
    assert 30000 <= svc.spec.ports[0].node_port <= 32767
    # scale down: endpoints follow
    apps.patch_namespaced_deployment("echo", NS, {"spec": {"replicas": 1}})
    pods = v1.list_namespaced_pod(NS, label_selector="app=echo").items
    # scaled-down pods are Terminating for a moment, out of the ready endpoints at once
    running = [p for p in pods if p.metadata.deletion_timestamp is None]
    assert len(running) == 1
    assert [a.ip for a in v1.read_namespaced_endpoints("echo", NS).subsets[0].addresses] == \
        [running[0].status.pod_ip]
    for _ in range(50):
        if len(v1.list_namespaced_pod(NS, label_selector="app=echo").items) == 1:
            break
        time.sleep(0.1)
    # field selectors
    p = v1.list_namespaced_pod(NS, label_selector="app=echo").items[0]
    by_node = v1.list_pod_for_all_namespaces(field_selector="spec.nodeName=%s,metadata.namespace=%s"
                                             % (p.spec.node_name, NS)).items
    assert [x.metadata.name for x in by_node] == [p.metadata.name]
    assert v1.list_namespaced_pod(NS, field_selector="status.phase!=Running").items == []
    # label selector operators
    assert len(v1.list_namespaced_pod(NS, label_selector="app in (echo,other),!missing").items) == 1
    assert v1.list_namespaced_pod(NS, label_selector="app notin (echo)").items == []


def test_exec_returncode_and_stdout(api):
    v1 = client.CoreV1Api(api)
    pod = v1.list_namespaced_pod(NS, label_selector="app=echo").items[0].metadata.name
    out = stream(v1.connect_get_namespaced_pod_exec, pod, NS, command=["echo", "hi"], stderr=True, stdin=False,
                 stdout=True, tty=False)
    assert out == "hi\n"
    resp = stream(v1.connect_get_namespaced_pod_exec, pod, NS, command=["/bin/missing"], stderr=True, stdin=False,
                  stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.returncode == 127
    assert 'exec: "/bin/missing": executable file not found in $PATH' in resp.read_stderr()
    resp = stream(v1.connect_get_namespaced_pod_exec, pod, NS, command=["true"], stderr=True, stdin=False,
                  stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.returncode == 0


def test_logs_default_empty_and_missing_container(api):
    v1 = client.CoreV1Api(api)
    pod = v1.list_namespaced_pod(NS, label_selector="app=echo").items[0].metadata.name
    assert v1.read_namespaced_pod_log(pod, NS, tail_lines=5) == ""
    with pytest.raises(client.ApiException) as ei:
        v1.read_namespaced_pod_log(pod, NS, container="nope")
    assert ei.value.status == 400
    assert status_of(ei.value)["message"] == "container nope is not valid for pod %s" % pod


def test_invalid_objects_get_422(api):
    v1 = client.CoreV1Api(api)
    with pytest.raises(client.ApiException) as ei:
        v1.create_namespaced_service(NS, {"metadata": {"name": "bad"}, "spec": {"ports": [{"port": 0}]}})
    st = status_of(ei.value)
    assert ei.value.status == 422 and st["reason"] == "Invalid"
    assert st["message"] == ('Service "bad" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and '
                             '65535, inclusive')
    with pytest.raises(client.ApiException) as ei:
        v1.create_namespaced_secret(NS, {"metadata": {"name": "t"}, "type": "kubernetes.io/service-account-token"})
    assert ei.value.status == 422
    with pytest.raises(client.ApiException) as ei:
        v1.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "x"}})
    assert ei.value.status == 404 and status_of(ei.value)["message"] == 'namespaces "no-such-ns" not found'
