"""Remote secrets in detail: matching entries to peers, istiod's own view, what is (not) fixable."""
import copy

from checks_facts import NS, build_mesh, by_key, ids, keys, run


def _secret(mesh, c="cluster1", peer="cluster2"):
    return [s for s in mesh[c]["remote_secrets"] if s["name"] == "istio-remote-secret-%s" % peer][0]


def _entry(mesh, c="cluster1", peer="cluster2"):
    return _secret(mesh, c, peer)["entries"][0]


def test_evidence_never_holds_credentials_only_fingerprints():
    mesh = build_mesh("multinetwork")
    _entry(mesh).update(key="c2")
    f = by_key(run(mesh))["remote_secret.key_mismatch@cluster1->cluster2"]
    entry = f.evidence["entries"][0]
    assert entry["fingerprint"].startswith("sha256:")
    assert set(entry) == {"secret", "key", "fingerprint", "server", "auth", "error", "probe_ok", "matched_by"}
    assert f.resource == "Secret/istio-system/istio-remote-secret-cluster2"
    assert "istioctl create-remote-secret --context=cluster2 --name=cluster2" in f.remedy
    assert f.category == "remote_secrets"


def test_key_mismatch_matched_by_annotation_when_server_is_unknown():
    mesh = build_mesh("multinetwork")
    _entry(mesh).update(key="cluster-2", server="https://api.cluster2.example:6443", probe=None)
    f = by_key(run(mesh))["remote_secret.key_mismatch@cluster1->cluster2"]
    assert f.evidence["entries"][0]["matched_by"] == "annotation"


def test_wrong_namespace_plus_key_mismatch_elsewhere():
    mesh = build_mesh("multinetwork")
    s = _secret(mesh)
    s["namespace"] = "default"
    found = by_key(run(mesh))
    f = found["remote_secret.wrong_namespace@cluster1->cluster2"]
    assert f.resource == "Secret/default/istio-remote-secret-cluster2"
    assert "remote_secret.missing@cluster1->cluster2" not in found
    # a correct secret in istiod's namespace wins: the stray copy is harmless
    mesh["cluster1"]["remote_secrets"].append(copy.deepcopy(dict(s, namespace=NS)))
    assert run(mesh) == []


def test_one_secret_with_several_keys():
    mesh = build_mesh("multinetwork", clusters=3)
    s2, s3 = _secret(mesh, "cluster1", "cluster2"), _secret(mesh, "cluster1", "cluster3")
    s2["name"] = "all-peers"
    s2["annotations"] = {}
    s2["entries"].append(s3["entries"][0])
    mesh["cluster1"]["remote_secrets"] = [s2]
    assert run(mesh) == []


def test_loopback_only_for_the_addresses_istioctl_warns_about():
    mesh = build_mesh("multinetwork")
    # the lab's per-cluster loopback addresses are real addresses for this purpose
    assert _entry(mesh)["server"].startswith("https://127.0.2.1")
    assert run(mesh) == []
    for server in ("https://localhost:6443", "https://[::1]:6443", "https://127.0.0.1"):
        mesh = build_mesh("multinetwork")
        _entry(mesh).update(server=server, probe=None)
        assert "remote_secret.loopback_server" in ids(run(mesh)), server


def test_loopback_or_invalid_explain_the_sync_state():
    mesh = build_mesh("multinetwork")
    _entry(mesh).update(server="https://127.0.0.1:6443", probe=None)
    mesh["cluster1"]["clusterz"][1]["syncStatus"] = "timeout"
    found = by_key(run(mesh))
    assert "remote_secret.not_synced@cluster1->cluster2" not in found
    assert found["remote_secret.loopback_server@cluster1->cluster2"].evidence["istiod_sync"][0]["status"] == "timeout"
    mesh = build_mesh("multinetwork")
    _entry(mesh).update(error="kubeconfig is empty", server=None, probe=None)
    del mesh["cluster1"]["clusterz"][1]
    assert ids(run(mesh)) == ["remote_secret.invalid_kubeconfig"]


def test_not_registered_without_an_explanation_is_not_synced():
    mesh = build_mesh("multinetwork")
    del mesh["cluster1"]["clusterz"][1]
    f = by_key(run(mesh))["remote_secret.not_synced@cluster1->cluster2"]
    assert "not registered" in f.message


def test_sync_timeout_from_the_log_when_clusterz_is_unreadable():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["clusterz"] = None
    mesh["cluster1"]["istiod_log"]["sync_timeouts"] = ["cluster2"]
    f = by_key(run(mesh))["remote_secret.not_synced@cluster1->cluster2"]
    assert f.evidence["sync"] == [{"key": "cluster2", "status": "timeout", "source": "istiod log"}]


def test_watch_failures_are_istiods_view_of_reachability():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["clusterz"][1]["syncStatus"] = "timeout"
    mesh["cluster1"]["istiod_log"]["errors"].append(
        {"cluster": "cluster2", "secret": None, "kind": "watch_failed", "wording": "client-go",
         "error": "failed to list *v1.Pod: pods is forbidden", "server": "https://127.0.2.1:6443",
         "line": "reflector.go:569: failed to list *v1.Pod: pods is forbidden"})
    found = by_key(run(mesh))
    assert "remote_secret.istiod_error@cluster1->cluster2" not in found
    f = found["remote_secret.api_unreachable@cluster1->cluster2"]
    assert "istiod" in f.evidence["tried_from"]
    assert found["remote_secret.not_synced@cluster1->cluster2"].caused_by == [
        "remote_secret.api_unreachable@cluster1->cluster2"]


def test_istiod_error_any_wording_matched_by_secret_or_cluster():
    for err in ({"cluster": None, "secret": NS + "/istio-remote-secret-cluster2", "kind": "add_failed",
                 "line": "error adding secret istio-system/istio-remote-secret-cluster2: kubeconfig is not valid"},
                {"cluster": "cluster2", "secret": None, "kind": "add_failed",
                 "line": "Add cluster_id=cluster2 from secret=istio-remote-secret-cluster2: x"}):
        mesh = build_mesh("multinetwork")
        mesh["cluster1"]["istiod_log"]["errors"].append(err)
        assert "remote_secret.istiod_error@cluster1->cluster2" in by_key(run(mesh))


def test_peer_without_istio_keys_are_not_judged():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["istiod"] = None
    mesh["cluster2"]["control_plane_services"] = []
    mesh["cluster2"]["cluster_id"] = "Kubernetes"   # gather's default when nothing says otherwise
    assert keys(run(mesh)) == ["endpoints.not_checked@cluster1", "istio.not_installed@cluster2"]


def test_forbidden_secrets_skip_the_secret_checks():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["remote_secrets"] = None
    mesh["cluster1"]["read_errors"] = [{"verb": "list", "resource": "secrets", "group": "", "namespace": None,
                                        "code": 403, "reason": "Forbidden", "message": "forbidden"}]
    found = by_key(run(mesh))
    assert list(found) == ["cluster.forbidden@cluster1"]
    assert "list secrets cluster-wide" in found["cluster.forbidden@cluster1"].message


def test_secret_for_itself_is_a_local_key_without_peer():
    """istioctl create-remote-secret run against the wrong context: the secret points at cluster1."""
    mesh = build_mesh("multinetwork")
    s = _secret(mesh)
    s.update(name="istio-remote-secret-cluster1", annotations={"networking.istio.io/cluster": "cluster1"})
    s["entries"][0].update(key="cluster1", server="https://127.0.1.1:6443",
                           probe={"ok": True, "tried_from": "controller", "error": None, "cluster": "cluster1"})
    found = by_key(run(mesh))
    assert "remote_secret.local_key@cluster1" in found
    assert found["remote_secret.local_key@cluster1"].category is None
    assert "remote_secret.missing@cluster1->cluster2" in found
