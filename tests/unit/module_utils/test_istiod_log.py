from ansible_collections.meshmend.multicluster.plugins.module_utils.istiod_log import parse_log

SEC = "istio-system/istio-remote-secret-cluster2"
ERR = "kubeconfig is not allowed: exec is not allowed"


def test_istio_1_9_wording():
    text = "2021-01-01T00:00:00.000000Z\terror\tFailed to add remote cluster from secret=%s for cluster_id=cluster2: %s" % (SEC, ERR)
    [e] = parse_log(text)["errors"]
    assert (e["cluster"], e["secret"], e["kind"], e["wording"], e["error"]) == ("cluster2", SEC, "add_failed", "<=1.9", ERR)


def test_istio_1_10_to_1_15_wording():
    text = "\n".join([
        "2022-01-01T00:00:00Z\tinfo\tAdding cluster_id=cluster2 from secret=%s" % SEC,
        "2022-01-01T00:00:00Z\terror\tAdd cluster_id=cluster2 from secret=%s: %s" % (SEC, ERR),
        "2022-01-01T00:00:00Z\terror\tUpdate cluster_id=cluster3 from secret=istio-system/s3: kubeconfig is empty",
    ])
    errors = parse_log(text)["errors"]
    assert [(e["cluster"], e["kind"], e["wording"]) for e in errors] == [
        ("cluster2", "add_failed", "1.10-1.15"), ("cluster3", "update_failed", "1.10-1.15")]
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
    assert kinds == [("cluster2", SEC, "add_failed", "1.16+"), ("cluster2", SEC, "retry_exhausted", "1.16-1.29")]
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
        ("retry_exhausted", "1.30+", "cluster2"), ("already_registered", "any", "cluster4")]
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
