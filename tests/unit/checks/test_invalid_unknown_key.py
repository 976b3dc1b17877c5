"""A broken kubeconfig under a remote-secret key that names no known peer is still remote_secret.invalid_kubeconfig."""
import copy

from checks_facts import build_mesh, by_key, keys, run

BROKEN = "kubeconfig cannot be loaded: json: cannot unmarshal string into Go struct field NamedContext.contexts.context"


def _stray(mesh, key="cluster9", name="istio-remote-secret-cluster9", namespace="istio-system", error=BROKEN):
    stray = copy.deepcopy(mesh["cluster1"]["remote_secrets"][0])
    stray.update(name=name, namespace=namespace, annotations={})
    # a kubeconfig that cannot be loaded has no server, so nothing matches it but its key and name
    stray["entries"][0].update(key=key, server=None, auth=None, ca_fingerprint=None, error=error, probe=None)
    mesh["cluster1"]["remote_secrets"].append(stray)
    return stray


def test_broken_kubeconfig_for_an_unknown_key_is_reported():
    mesh = build_mesh("multinetwork")
    _stray(mesh)
    found = run(mesh)
    f = by_key(found)["remote_secret.invalid_kubeconfig@cluster1"]
    assert f.peer is None and f.severity == "error"
    assert "'cluster9'" in f.message and BROKEN in f.message
    assert f.resource == "Secret/istio-system/istio-remote-secret-cluster9"
    assert f.category is None   # no peer to regenerate it from
    assert [e["key"] for e in f.evidence["entries"]] == ["cluster9"]
    # it is not also called an unknown cluster istiod "will try to read"
    assert keys(found) == ["remote_secret.invalid_kubeconfig@cluster1"]


def test_valid_unknown_key_is_still_unknown_cluster_only():
    mesh = build_mesh("multinetwork")
    stray = _stray(mesh)
    stray["entries"][0].update(error=None, server="https://127.0.9.1:6443", auth="token")
    assert keys(run(mesh)) == ["remote_secret.unknown_cluster@cluster1"]


def test_reported_even_when_a_peer_id_is_unknown_or_out_of_play():
    mesh = build_mesh("multinetwork", clusters=3)
    mesh["cluster3"] = {"cluster": "cluster3", "server": "https://127.0.3.1:6443", "reachable": False,
                        "error": "cluster3: connection refused", "declared": {}}
    _stray(mesh, key="east-9", name="stale")
    found = by_key(run(mesh))
    f = found["remote_secret.invalid_kubeconfig@cluster1"]
    assert f.evidence["peers_with_unknown_id"] == ["cluster3"]
    mesh = build_mesh("multinetwork")
    _stray(mesh)
    found = by_key(run(mesh, out_of_play=["cluster9"]))
    assert "remote_secret.invalid_kubeconfig@cluster1" in found
    assert "remote_secret.peers_out_of_play@cluster1" in found


def test_outside_istiods_namespace_it_is_never_read():
    mesh = build_mesh("multinetwork")
    _stray(mesh, namespace="default")
    assert "remote_secret.invalid_kubeconfig@cluster1" not in by_key(run(mesh))


def test_known_peer_keeps_its_own_finding():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["remote_secrets"][0]["entries"][0].update(error=BROKEN, server=None, probe=None)
    found = by_key(run(mesh))
    assert "remote_secret.invalid_kubeconfig@cluster1->cluster2" in found
    assert "remote_secret.invalid_kubeconfig@cluster1" not in found
