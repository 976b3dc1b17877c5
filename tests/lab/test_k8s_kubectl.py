"""The real kubectl against the lab: the guide's command lines and the everyday verbs."""
import json
import os
import re

import pytest
import yaml


def ok(r):
    assert r.returncode == 0, "kubectl failed (%s):\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr)
    return r.stdout


@pytest.fixture(scope="module")
def samples(plain_lab, upstream):
    """The guide's setup: namespace, helloworld v1 (with -l), sleep, in cluster1 and cluster2."""
    for ctx, version in (("cluster1", "v1"), ("cluster2", "v2")):
        ok(plain_lab.kubectl("create", "namespace", "sample", context=ctx))
        out = ok(plain_lab.kubectl("apply", "-f", os.path.join(upstream, "samples", "helloworld.yaml"),
                                   "-l", "service=helloworld", "-n", "sample", context=ctx))
        assert out.strip() == "service/helloworld created"
        out = ok(plain_lab.kubectl("apply", "-f", os.path.join(upstream, "samples", "helloworld.yaml"),
                                   "-l", "version=" + version, "-n", "sample", context=ctx))
        assert out.strip() == "deployment.apps/helloworld-%s created" % version
        out = ok(plain_lab.kubectl("apply", "-f", os.path.join(upstream, "samples", "sleep.yaml"), "-n", "sample",
                                   context=ctx))
        assert out.splitlines() == ["serviceaccount/sleep created", "service/sleep created",
                                    "deployment.apps/sleep created"]
    return plain_lab


def table(text):
    lines = [ln for ln in text.splitlines() if ln.strip()]
    head = re.split(r"\s{2,}", lines[0].strip())
    return [dict(zip(head, re.split(r"\s{2,}", ln.strip()))) for ln in lines[1:]]


def test_create_namespace_and_reapply_is_unchanged(samples, upstream):
    out = ok(samples.kubectl("apply", "-f", os.path.join(upstream, "samples", "helloworld.yaml"), "-l",
                             "version=v1", "-n", "sample", context="cluster1"))
    assert out.strip() == "deployment.apps/helloworld-v1 unchanged"
    r = samples.kubectl("create", "namespace", "sample", context="cluster1")
    assert r.returncode == 1
    assert r.stderr.strip() == 'Error from server (AlreadyExists): namespaces "sample" already exists'


def test_get_pod_wide_shows_ips_and_nodes(samples):
    rows = table(ok(samples.kubectl("-n", "sample", "get", "pod", "-o", "wide", context="cluster2")))
    names = sorted(r["NAME"].rsplit("-", 2)[0] for r in rows)
    assert names == ["helloworld-v2", "sleep"]
    for r in rows:
        assert r["READY"] == "1/1" and r["STATUS"] == "Running" and r["RESTARTS"] == "0"
        assert r["IP"].startswith("10.20."), r
        assert r["NODE"] == "cluster2-node-1"
        assert r["NOMINATED NODE"] == "<none>" and r["READINESS GATES"] == "<none>"
    # pod names: <deployment>-<template hash>-<5 chars>, owned by the ReplicaSet
    pods = json.loads(ok(samples.kubectl("-n", "sample", "get", "pods", "-l", "app=sleep", "-o", "json",
                                         context="cluster2")))["items"]
    assert len(pods) == 1
    name = pods[0]["metadata"]["name"]
    assert re.match(r"^sleep-[bcdfghjklmnpqrstvwxz2456789]+-[bcdfghjklmnpqrstvwxz2456789]{5}$", name)
    ref = pods[0]["metadata"]["ownerReferences"][0]
    assert ref["kind"] == "ReplicaSet" and ref["controller"] is True and name.startswith(ref["name"] + "-")


def test_jsonpath_pod_ip_and_namespace_label(samples):
    ip = ok(samples.kubectl("-n", "sample", "get", "pod", "-l", "app=helloworld", "-o",
                            "jsonpath={.items[0].status.podIP}", context="cluster1"))
    assert ip.startswith("10.10.")
    net = ok(samples.kubectl("get", "ns", "istio-system", "-ojsonpath={.metadata.labels.topology\\.istio\\.io/network}",
                             context="cluster1"))
    assert net == "network1"


def test_root_cert_diff_like_the_guide(samples):
    a = ok(samples.kubectl("-n", "istio-system", "get", "secret", "cacerts",
                           "-ojsonpath={.data.root-cert\\.pem}", context="cluster1"))
    b = ok(samples.kubectl("-n", "istio-system", "get", "secret", "cacerts",
                           "-ojsonpath={.data.root-cert\\.pem}", context="cluster2"))
    assert a and a == b
    import base64
    assert base64.b64decode(a) == b"shared-root\n"


def test_get_secrets_by_label(samples):
    rows = table(ok(samples.kubectl("get", "secrets", "-n", "istio-system", "-l", "istio/multiCluster=true",
                                    context="cluster2")))
    assert [(r["NAME"], r["TYPE"], r["DATA"]) for r in rows] == [("istio-remote-secret-cluster1", "Opaque", "1")]
    r = samples.kubectl("get", "secrets", "-n", "istio-system", "-l", "istio/multiCluster=true", context="cluster1")
    assert r.returncode == 0 and r.stdout == ""
    assert r.stderr.strip() == "No resources found in istio-system namespace."


def test_eastwest_service_external_ip(samples):
    rows = table(ok(samples.kubectl("-n", "istio-system", "get", "service", "-l", "istio=eastwestgateway",
                                    context="cluster2")))
    assert len(rows) == 1
    assert rows[0]["TYPE"] == "LoadBalancer" and rows[0]["EXTERNAL-IP"] == "<pending>"
    assert re.match(r"^15443:3\d{4}/TCP$", rows[0]["PORT(S)"])
    rows = table(ok(samples.kubectl("-n", "istio-system", "get", "service", "-l", "istio=eastwestgateway",
                                    context="cluster1")))
    assert rows[0]["EXTERNAL-IP"] == "172.18.1.1"
    assert re.match(r"^15021:3\d{4}/TCP,15443:3\d{4}/TCP$", rows[0]["PORT(S)"])


def test_get_o_yaml_round_trip(samples):
    doc = yaml.safe_load(ok(samples.kubectl("-n", "sample", "get", "deploy", "helloworld-v1", "-o", "yaml",
                                            context="cluster1")))
    assert doc["apiVersion"] == "apps/v1" and doc["kind"] == "Deployment"
    md = doc["metadata"]
    assert md["generation"] >= 1 and md["uid"] and md["resourceVersion"].isdigit()
    assert "kubectl.kubernetes.io/last-applied-configuration" in md["annotations"]
    st = doc["status"]
    assert st["readyReplicas"] == 1 and st["observedGeneration"] == md["generation"]
    reasons = {c["type"]: c["reason"] for c in st["conditions"]}
    assert reasons == {"Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}


def test_label_annotate_patch(samples):
    ctx = "cluster1"
    assert ok(samples.kubectl("label", "namespace", "sample", "istio-injection=enabled", context=ctx)).strip() == \
        "namespace/sample labeled"
    out = ok(samples.kubectl("get", "ns", "sample", "--show-labels", context=ctx))
    assert "istio-injection=enabled" in out
    assert ok(samples.kubectl("label", "namespace", "sample", "istio-injection-", context=ctx)).strip() == \
        "namespace/sample unlabeled"
    assert ok(samples.kubectl("-n", "sample", "annotate", "service", "helloworld", "team=mesh",
                              context=ctx)).strip() == "service/helloworld annotated"
    out = ok(samples.kubectl("-n", "sample", "patch", "service", "helloworld", "--type=merge", "-p",
                             '{"spec":{"externalIPs":["192.0.2.10"]}}', context=ctx))
    assert out.strip() == "service/helloworld patched"
    rows = table(ok(samples.kubectl("-n", "sample", "get", "svc", "helloworld", context=ctx)))
    assert rows[0]["EXTERNAL-IP"] == "192.0.2.10"
    r = samples.kubectl("-n", "sample", "patch", "service", "helloworld", "--type=json", "-p",
                        '[{"op":"replace","path":"/spec/externalIPs/0","value":"127.0.0.1"}]', context=ctx)
    assert r.returncode == 1
    assert ('The Service "helloworld" is invalid: spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in '
            'the loopback range (127.0.0.0/8, ::1/128)') in r.stderr
    # strategic merge patch on a container list keyed by name
    out = ok(samples.kubectl("-n", "sample", "patch", "deploy", "sleep", "-p",
                             '{"spec":{"template":{"spec":{"containers":[{"name":"sleep","env":[{"name":"A",'
                             '"value":"1"}]}]}}}}', context=ctx))
    assert out.strip() == "deployment.apps/sleep patched"
    dep = json.loads(ok(samples.kubectl("-n", "sample", "get", "deploy", "sleep", "-o", "json", context=ctx)))
    c = dep["spec"]["template"]["spec"]["containers"]
    assert len(c) == 1 and "curlimages/curl" in c[0]["image"] and c[0]["env"] == [{"name": "A",
                                                                                           "value": "1"}]


def test_exec_and_logs(samples):
    ctx = "cluster1"
    pod = ok(samples.kubectl("-n", "sample", "get", "pod", "-l", "app=sleep", "-o",
                             "jsonpath={.items[0].metadata.name}", context=ctx))
    r = samples.kubectl("-n", "sample", "exec", pod, "-c", "sleep", "--", "echo", "hello", "mesh", context=ctx)
    assert r.returncode == 0 and r.stdout == "hello mesh\n"
    r = samples.kubectl("-n", "sample", "exec", pod, "--", "no-such-tool", "-v", context=ctx)
    assert r.returncode == 127
    assert 'exec: "no-such-tool": executable file not found in $PATH' in r.stderr
    assert "command terminated with exit code 127" in r.stderr
    r = samples.kubectl("-n", "sample", "exec", pod, "--", "sh", "-c", "exit 3", context=ctx)
    assert r.returncode == 3 and "command terminated with exit code 3" in r.stderr
    r = samples.kubectl("-n", "sample", "exec", pod, "-c", "nope", "--", "true", context=ctx)
    assert r.returncode == 1 and "container nope is not valid for pod %s" % pod in r.stderr
    r = samples.kubectl("-n", "sample", "logs", pod, context=ctx)
    assert r.returncode == 0 and r.stdout == ""
    r = samples.kubectl("-n", "sample", "logs", "deploy/sleep", "--tail=10", context=ctx)
    assert r.returncode == 0
    r = samples.kubectl("-n", "sample", "logs", "nope", context=ctx)
    assert r.returncode == 1 and 'pods "nope" not found' in r.stderr


def test_wait_rollout_restart_and_status(samples):
    ctx = "cluster2"
    before = set(ok(samples.kubectl("-n", "sample", "get", "pods", "-l", "app=helloworld", "-o",
                                    "jsonpath={.items[*].metadata.name}", context=ctx)).split())
    out = ok(samples.kubectl("-n", "sample", "wait", "--for=condition=Ready", "pod", "-l", "app=helloworld",
                             "--timeout=20s", context=ctx))
    assert out.strip() == "pod/%s condition met" % next(iter(before))
    out = ok(samples.kubectl("-n", "sample", "rollout", "restart", "deployment/helloworld-v2", context=ctx))
    assert out.strip() == "deployment.apps/helloworld-v2 restarted"
    out = ok(samples.kubectl("-n", "sample", "rollout", "status", "deployment/helloworld-v2", "--timeout=20s",
                             context=ctx))
    assert out.strip().endswith('deployment "helloworld-v2" successfully rolled out')
    # As on a real cluster, the old pod may still be Terminating when the rollout is done.
    ok(samples.kubectl("-n", "sample", "wait", "--for=delete", *["pod/%s" % p for p in before],
                       "--timeout=20s", context=ctx))
    after = set(ok(samples.kubectl("-n", "sample", "get", "pods", "-l", "app=helloworld", "-o",
                                   "jsonpath={.items[*].metadata.name}", context=ctx)).split())
    assert len(after) == 1 and not after & before
    rs = table(ok(samples.kubectl("-n", "sample", "get", "rs", "-l", "app=helloworld", context=ctx)))
    assert sorted((r["DESIRED"], r["READY"]) for r in rs) == [("0", "0"), ("1", "1")]
    out = ok(samples.kubectl("-n", "sample", "wait", "--for=condition=Available", "deploy/helloworld-v2",
                             "--timeout=20s", context=ctx))
    assert out.strip() == "deployment.apps/helloworld-v2 condition met"


def test_delete_and_namespace_cascade(samples):
    ctx = "cluster2"
    ok(samples.kubectl("create", "namespace", "doomed", context=ctx))
    ok(samples.kubectl("-n", "doomed", "create", "configmap", "c1", "--from-literal=a=b", context=ctx))
    ok(samples.kubectl("-n", "doomed", "create", "secret", "generic", "s1", "--from-literal=k=v", context=ctx))
    out = ok(samples.kubectl("-n", "doomed", "delete", "configmap", "c1", context=ctx))
    assert out.strip() in ('configmap "c1" deleted', 'configmap "c1" deleted from doomed namespace')
    r = samples.kubectl("-n", "doomed", "get", "configmap", "c1", context=ctx)
    assert r.returncode == 1 and r.stderr.strip() == 'Error from server (NotFound): configmaps "c1" not found'
    out = ok(samples.kubectl("delete", "namespace", "doomed", "--timeout=20s", context=ctx))
    assert out.strip() == 'namespace "doomed" deleted'
    r = samples.kubectl("get", "namespace", "doomed", context=ctx)
    assert r.returncode == 1 and 'namespaces "doomed" not found' in r.stderr
    r = samples.kubectl("get", "secrets", "-A", "--field-selector", "metadata.namespace=doomed", context=ctx)
    assert r.stdout == ""


def test_istio_crds_apply_and_serve(samples, upstream):
    ctx = "cluster1"
    out = ok(samples.kubectl("apply", "-f", os.path.join(upstream, "crds", "crd-all.gen.yaml"), context=ctx))
    assert "customresourcedefinition.apiextensions.k8s.io/gateways.networking.istio.io created" in out
    r = samples.kubectl("get", "gateways.networking.istio.io", "-A", context=ctx)
    assert r.returncode == 0 and r.stderr.strip() == "No resources found"
    out = ok(samples.kubectl("apply", "-n", "istio-system", "-f",
                             os.path.join(upstream, "samples", "expose-services.yaml"), context=ctx))
    assert out.strip() == "gateway.networking.istio.io/cross-network-gateway created"
    rows = table(ok(samples.kubectl("get", "gateways.networking.istio.io", "-n", "istio-system", context=ctx)))
    assert [r["NAME"] for r in rows] == ["cross-network-gateway"] and "AGE" in rows[0]
    out = ok(samples.kubectl("get", "gw", "-n", "istio-system", "cross-network-gateway", "-o",
                             "jsonpath={.spec.servers[0].tls.mode}", context=ctx))
    assert out == "AUTO_PASSTHROUGH"
    # CRs take merge patches; a re-apply with a change is "configured"
    out = ok(samples.kubectl("-n", "istio-system", "patch", "gateway", "cross-network-gateway", "--type=merge",
                             "-p", '{"spec":{"selector":{"istio":"other"}}}', context=ctx))
    assert out.strip() == "gateway.networking.istio.io/cross-network-gateway patched"
    out = ok(samples.kubectl("apply", "-n", "istio-system", "-f",
                             os.path.join(upstream, "samples", "expose-services.yaml"), context=ctx))
    assert out.strip() == "gateway.networking.istio.io/cross-network-gateway configured"
    # custom resources are checked against their CRD schema (kubectl's default --validate=strict)
    bad = ("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: bad\n  namespace: default\n"
           "spec:\n  selector: {istio: x}\n  servrs: []\n")
    r = samples.kubectl("apply", "-f", "-", context=ctx, input=bad)
    assert r.returncode == 1
    assert 'Gateway in version "v1" cannot be handled as a Gateway: strict decoding error: unknown field ' \
           '"spec.servrs"' in r.stderr
    # an empty cluster (no folder in the scenario) does not know the type
    r = samples.kubectl("get", "gateways.networking.istio.io", context="cluster3")
    assert r.returncode == 1 and 'the server doesn\'t have a resource type "gateways"' in r.stderr


def test_server_dry_run_and_strict_validation(samples):
    ctx = "cluster3"
    manifest = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\n  namespace: default\ndata:\n  a: b\n")
    out = ok(samples.kubectl("apply", "--dry-run=server", "-f", "-", context=ctx, input=manifest))
    assert out.strip() == "configmap/dry created (server dry run)"
    r = samples.kubectl("get", "configmap", "dry", context=ctx)
    assert r.returncode == 1
    bad = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  foo: 1\n  ports:\n  - port: 80\n")
    r = samples.kubectl("apply", "-f", "-", context=ctx, input=bad)
    assert r.returncode == 1
    assert 'Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field ' \
           '"spec.foo"' in r.stderr


def test_describe_pod_and_get_events(samples):
    ctx = "cluster1"
    pod = ok(samples.kubectl("-n", "sample", "get", "pod", "-l", "app=sleep", "-o",
                             "jsonpath={.items[0].metadata.name}", context=ctx))
    out = ok(samples.kubectl("-n", "sample", "describe", "pod", pod, context=ctx))
    assert re.search(r"Status:\s+Running", out) and re.search(r"Node:\s+cluster1-node-\d/172\.16\.1\.\d", out)
    assert re.search(r"Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned sample/%s to "
                     r"cluster1-node-\d" % pod, out)
    assert re.search(r"Normal\s+Started\s+\S+\s+kubelet\s+.*Started container sleep", out)
    r = samples.kubectl("-n", "sample", "get", "events", "--field-selector", "involvedObject.name=%s" % pod,
                        "-o", "jsonpath={.items[*].reason}", context=ctx)
    assert r.returncode == 0 and r.stdout.split() == ["Scheduled", "Pulled", "Created", "Started"]


def test_nodes_and_namespaces_tables(plain_lab):
    rows = table(ok(plain_lab.kubectl("get", "nodes", "-o", "wide", context="cluster1")))
    assert [r["NAME"] for r in rows] == ["cluster1-node-1", "cluster1-node-2"]
    assert all(r["STATUS"] == "Ready" and r["VERSION"].startswith("v1.") for r in rows)
    assert rows[0]["ROLES"] == "control-plane" and rows[1]["ROLES"] == "<none>"
    labels = json.loads(ok(plain_lab.kubectl("get", "node", "cluster1-node-1", "-o", "jsonpath={.metadata.labels}",
                                             context="cluster1")))
    assert labels["topology.kubernetes.io/region"] == "us-east1"
    assert labels["topology.kubernetes.io/zone"] == "us-east1-b"
    assert all(r["EXTERNAL-IP"] == "<none>" for r in rows)
    # lab.yaml nodeExternalIPs: cloud-style ExternalIP, what NodePort gateways with a nodeSelector use
    rows = table(ok(plain_lab.kubectl("get", "nodes", "-o", "wide", context="cluster2")))
    assert [(r["NAME"], r["EXTERNAL-IP"]) for r in rows] == [("cluster2-node-1", "198.51.100.21")]
    rows = table(ok(plain_lab.kubectl("get", "ns", context="cluster3")))
    assert {r["NAME"] for r in rows} >= {"default", "kube-system", "kube-public", "kube-node-lease"}


def test_scale_auth_can_i_and_impersonation(samples):
    ctx = "cluster1"
    assert ok(samples.kubectl("-n", "sample", "scale", "deploy", "helloworld-v1", "--replicas=2",
                              context=ctx)).strip() == "deployment.apps/helloworld-v1 scaled"
    rows = table(ok(samples.kubectl("-n", "sample", "get", "deploy", "helloworld-v1", context=ctx)))
    assert rows[0]["READY"] == "2/2"
    ok(samples.kubectl("-n", "sample", "scale", "deploy", "helloworld-v1", "--replicas=1", context=ctx))
    assert ok(samples.kubectl("auth", "can-i", "create", "pods", context=ctx)).strip() == "yes"
    sa = "--as=system:serviceaccount:sample:sleep"
    r = samples.kubectl("auth", "can-i", "list", "secrets", "-n", "sample", sa, context=ctx)
    assert r.returncode == 1 and r.stdout.strip() == "no"
    r = samples.kubectl("-n", "sample", "get", "pods", sa, context=ctx)
    assert r.returncode == 1
    assert r.stderr.strip() == ('Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:sample:'
                                'sleep" cannot list resource "pods" in API group "" in the namespace "sample"')
    tok = ok(samples.kubectl("-n", "sample", "create", "token", "sleep", context=ctx)).strip()
    assert tok.count(".") == 2
    r = samples.kubectl("--token", tok, "-n", "sample", "get", "pods", context=ctx)
    assert r.returncode == 1 and 'User "system:serviceaccount:sample:sleep" cannot list' in r.stderr


def test_drain_evicts_and_cordons(plain_lab):
    ctx = "cluster1"
    ok(plain_lab.kubectl("create", "namespace", "drain", context=ctx))
    ok(plain_lab.kubectl("-n", "drain", "create", "deployment", "d", "--image=nginx:1.27", "--replicas=2",
                         context=ctx))
    try:
        out = ok(plain_lab.kubectl("drain", "cluster1-node-2", "--ignore-daemonsets", "--timeout=30s", context=ctx))
        assert "node/cluster1-node-2 cordoned" in out and "node/cluster1-node-2 drained" in out
        rows = table(ok(plain_lab.kubectl("get", "nodes", context=ctx)))
        assert {r["NAME"]: r["STATUS"] for r in rows}["cluster1-node-2"] == "Ready,SchedulingDisabled"
        pods = json.loads(ok(plain_lab.kubectl("get", "pods", "-A", "-o", "json", context=ctx)))["items"]
        assert not [p for p in pods if p["spec"]["nodeName"] == "cluster1-node-2"
                    and not p["metadata"].get("deletionTimestamp")]
        rows = table(ok(plain_lab.kubectl("-n", "drain", "get", "deploy", "d", context=ctx)))
        assert rows[0]["READY"] == "2/2"
    finally:
        ok(plain_lab.kubectl("uncordon", "cluster1-node-2", context=ctx))
