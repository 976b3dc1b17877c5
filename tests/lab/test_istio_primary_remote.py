"""Primary-remote: cluster2's proxies follow their discovery address; an in-cluster istiod added to the remote
cluster (and its istiod Service pointed at it) leaves them with local endpoints only, as the guide describes."""
import copy
import json

import pytest

from labutil import start_lab

from ansible_collections.meshmend.multicluster.plugins.module_utils.envoy import rows_from_clusters

HW = "outbound|5000||helloworld.sample.svc.cluster.local"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = start_lab("healthy-primary-remote", str(tmp_path_factory.mktemp("istio-pr")))
    try:
        yield lab
    finally:
        lab.stop()


def kc(lab, ctx, *args, check=True, input=None):
    r = lab.kubectl(*args, context=ctx, input=input)
    if check and r.returncode != 0:
        raise AssertionError("kubectl %s (%s) failed: %s" % (" ".join(args), ctx, r.stderr))
    return r.stdout


def endpoints(lab, ctx):
    pod = kc(lab, ctx, "-n", "sample", "get", "pod", "-l", "app=sleep", "-o", "jsonpath={.items[0].metadata.name}")
    out = kc(lab, ctx, "-n", "sample", "exec", pod, "-c", "istio-proxy", "--", "pilot-agent", "request", "GET",
             "clusters?format=json")
    return sorted((r["address"], r["port"]) for r in rows_from_clusters(out) if r["cluster"] == HW)


def versions(lab, ctx, n=10):
    r = lab.kubectl("-n", "sample", "exec", "deploy/sleep", "-c", "sleep", "--", "sh", "-c",
                    "for i in $(seq %d); do curl -sS -m 2 helloworld.sample:5000/hello; echo; done" % n, context=ctx)
    return {l.split(",")[0] for l in r.stdout.splitlines() if l.strip()}


def clean(obj):
    obj = copy.deepcopy(obj)
    for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        obj["metadata"].pop(k, None)
    obj.pop("status", None)
    return obj


def test_remote_proxies_use_the_primary(lab):
    assert len(endpoints(lab, "cluster2")) == 2
    assert versions(lab, "cluster2") == {"Hello version: v1", "Hello version: v2"}


def test_in_cluster_istiod_in_the_remote_then_removed(lab):
    dep = json.loads(kc(lab, "cluster1", "-n", "istio-system", "get", "deploy", "istiod", "-o", "json"))
    dep = clean(dep)
    for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]:
        if e["name"] == "CLUSTER_ID":
            e["value"] = "cluster2"
    svc_saved = json.loads(kc(lab, "cluster2", "-n", "istio-system", "get", "svc", "istiod", "-o", "json"))
    ep_saved = json.loads(kc(lab, "cluster2", "-n", "istio-system", "get", "endpoints", "istiod", "-o", "json"))
    kc(lab, "cluster2", "apply", "-f", "-", input=json.dumps(dep))
    kc(lab, "cluster2", "-n", "istio-system", "patch", "svc", "istiod", "--type", "merge",
       "-p", '{"spec":{"selector":{"app":"istiod"}}}')
    try:
        here = kc(lab, "cluster2", "-n", "sample", "get", "pod", "-l", "app=helloworld",
                  "-o", "jsonpath={.items[0].status.podIP}")
        assert endpoints(lab, "cluster2") == [(here, 5000)]
        assert versions(lab, "cluster2") == {"Hello version: v2"}
    finally:
        kc(lab, "cluster2", "-n", "istio-system", "delete", "deploy", "istiod")
        kc(lab, "cluster2", "-n", "istio-system", "delete", "svc", "istiod")
        kc(lab, "cluster2", "apply", "-f", "-", input=json.dumps(clean(svc_saved)))
        kc(lab, "cluster2", "apply", "-f", "-", input=json.dumps(clean(ep_saved)))
    assert len(endpoints(lab, "cluster2")) == 2
