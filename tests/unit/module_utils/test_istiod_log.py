from ansible_collections.meshmend.multicluster.plugins.module_utils.istiod_log import parse_log

SEC = "istio-system/istio-remote-secret-cluster2"
ERR = "kubeconfig is not allowed: exec is not allowed"


def test_istio_1_9_wording():
    text = "2021-01-01T00:00:00.000000Z\terror\tFailed to add remote cluster from secret=%s for cluster_id=cluster2: %s" % (SEC, ERR)
    [e] = parse_log(text)["errors"]
    assert (e["cluster"], e["secret"], e["kind"], e["wording"], e["error"]) == ("cluster2", SEC, "add_failed", "1.6-1.9.3", ERR)


def test_istio_1_10_to_1_15_wording():
    text = "\n".join([
        "2022-01-01T00:00:00Z\tinfo\tAdding cluster_id=cluster2 from secret=%s" % SEC,
        "2022-01-01T00:00:00Z\terror\tAdd cluster_id=cluster2 from secret=%s: %s" % (SEC, ERR),
        "2022-01-01T00:00:00Z\terror\tUpdate cluster_id=cluster3 from secret=istio-system/s3: kubeconfig is empty",
    ])
    errors = parse_log(text)["errors"]
    assert [(e["cluster"], e["kind"], e["wording"]) for e in errors] == [
        ("cluster2", "add_failed", "1.9.4-1.15"), ("cluster3", "update_failed", "1.9.4-1.15")]
    assert errors[0]["error"] == ERR


def test_istio_1_16_to_1_29_wording():
    text = "\n".join([
        "2024-01-01T00:00:00.000000Z\tinfo\tmulticluster\tprocessing secret event for secret %s" % SEC,
        "2024-01-01T00:00:00.000000Z\terror\tmulticluster\tAdd cluster: create remote cluster failed: %s\tcluster=cluster2 secret=%s" % (ERR, SEC),
        "2024-01-01T00:00:00.000000Z\terror\tcontrollers\terror handling %s, and retry budget exceeded: error adding secret %s: %s" % (SEC, SEC, ERR),
        "2024-01-01T00:00:00.000000Z\tinfo\tmulticluster\tNumber of remote clusters: 0",
    ])
    out = parse_log(text)
    kinds = [(e["cluster"], e["secret"], e["kind"], e["wording"]) for e in out["errors"]]
    assert kinds == [("cluster2", SEC, "add_failed", "1.22+"), ("cluster2", SEC, "retry_exhausted", "1.16-1.29")]
    assert out["errors"][0]["error"] == ERR
    assert out["processed_secrets"] == [SEC] and out["remote_clusters"] == 0 and out["lines_read"] == 4


def test_istio_1_30_wording_and_other_lines():
    text = "\n".join([
        "t\tinfo\tmulticluster\tprocessing remote config event for %s" % SEC,
        "t\terror\tcontrollers\terror handling %s, and retry budget exceeded: error adding remote config %s: %s" % (SEC, SEC, ERR),
        "t\tinfo\tmulticluster\tignoring cluster as it would overwrite the config cluster\tcluster=Kubernetes secret=%s" % SEC,
        "t\tinfo\tignoring cluster Kubernetes from secret istio-system/x as it would overwrite the config cluster",
        "t\terror\tmulticluster\tremote cluster cluster3 failed to sync after 30s",
        "t\twarn\tmulticluster\tcluster has already been registered\tcluster=cluster4 secret=istio-system/dup",
    ])
    out = parse_log(text)
    assert [(e["kind"], e["wording"], e["cluster"]) for e in out["errors"]] == [
        ("retry_exhausted", "1.30+", "cluster2"), ("already_registered", "1.16+", "cluster4")]
    assert out["ignored_local"] == ["Kubernetes"] and out["sync_timeouts"] == ["cluster3"]


def test_client_go_list_failure_attributed_by_server():
    line = ('t\terror\tklog\tk8s.io/client-go/tools/cache/reflector.go:569: failed to list *v1.Pod: '
            'Get "https://127.0.2.1:6443/api/v1/pods?limit=500&resourceVersion=0": dial tcp 127.0.2.1:6443: connect: connection refused')
    out = parse_log(line, servers={"https://127.0.2.1:6443": "cluster2"})
    [e] = out["errors"]
    assert e["kind"] == "watch_failed" and e["cluster"] == "cluster2" and e["server"] == "https://127.0.2.1:6443"


def test_healthy_log_has_no_errors():
    text = "t\tinfo\tmulticluster\tAdd cluster\tcluster=cluster2 secret=%s\nt\tinfo\tNumber of remote clusters: 1" % SEC
    out = parse_log(text)
    assert out["errors"] == [] and out["remote_clusters"] == 1


def test_client_go_structured_failed_to_watch():
    """client-go v0.33+ tools/cache/reflector.go DefaultWatchErrorHandler calls
    utilruntime.HandleErrorWithContext(ctx, err, "Failed to watch", "reflector", name, "type", t);
    istio's logr adapter (pkg/log/logr.go zapLogger.Error) prints "<err>: <msg>" then the labels."""
    line = ('2026-08-20T10:00:00.000000Z\terror\tklog\tfailed to list *v1.Service: Get "https://10.2.0.1:6443/api/v1/'
            'services?limit=500&resourceVersion=0": dial tcp 10.2.0.1:6443: i/o timeout: Failed to watch\t'
            'reflector=k8s.io/client-go@v0.35.3/tools/cache/reflector.go:289 type=*v1.Service')
    [e] = parse_log(line, servers={"https://10.2.0.1:6443": "cluster2"})["errors"]
    assert (e["kind"], e["cluster"], e["scope"]) == ("watch_failed", "cluster2", "klog")
    assert e["error"].startswith("failed to list *v1.Service: Get ") and e["error"].endswith("i/o timeout")


def test_kubectl_timestamps_prefix_and_json_lines():
    text = ("2026-08-20T10:00:00.123456789Z 2026-08-20T10:00:00.000000Z\terror\tAdd cluster: create remote cluster "
            "failed: kubeconfig is empty\tcluster=cluster2 config=%s\n" % SEC +
            '{"level":"warn","time":"2026-08-20T10:00:01.000000Z","msg":"cluster has already been registered",'
            '"cluster":"cluster3","config":"istio-system/other"}')
    errors = parse_log(text)["errors"]
    assert [(e["kind"], e["cluster"], e["secret"], e["error"]) for e in errors] == [
        ("add_failed", "cluster2", SEC, "kubeconfig is empty"),
        ("already_registered", "cluster3", "istio-system/other", None)]
