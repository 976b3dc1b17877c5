"""Issue 15 item 3 against the lab: the remote_secret fix touches only the data key it fixes.

Before, it replaced the Secret whole: another peer's valid key in the same Secret was dropped, and a key
added by someone else after the diagnosis was deleted and reported as ``changed``.
"""
import base64
import json

import pytest
import yaml

from labutil import start_lab
from leakcheck import lab_secrets
from remediate_helpers import kubectl

from test_remediate_modules import module

NAME = "istio-remote-secret-cluster2"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = start_lab("demo", str(tmp_path_factory.mktemp("lab")))
    try:
        lab_secrets(lab)
        yield lab
    finally:
        lab.stop()


def _server(lab, cluster):
    with open(lab.kubeconfig) as fh:
        config = yaml.safe_load(fh)
    return [c["cluster"]["server"] for c in config["clusters"] if c["name"] == cluster][0]


def _kubeconfig(cluster_id, server, token):
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": cluster_id,
                           "clusters": [{"name": cluster_id, "cluster": {"server": server}}],
                           "contexts": [{"name": cluster_id, "context": {"cluster": cluster_id, "user": cluster_id}}],
                           "users": [{"name": cluster_id, "user": {"token": token}}]})


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _keys(lab):
    out = kubectl(lab, "--context", "cluster1", "-n", "istio-system", "get", "secret", NAME, "-o", "json")
    return json.loads(out).get("data") or {}


def _apply(lab, tmp_path, data):
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": NAME, "namespace": "istio-system", "labels": {"istio/multiCluster": "true"},
                           "annotations": {"networking.istio.io/cluster": "cluster2"}},
              "data": data}
    path = tmp_path / "secret.json"
    path.write_text(json.dumps(secret))
    kubectl(lab, "--context", "cluster1", "-n", "istio-system", "delete", "secret", NAME, "--ignore-not-found")
    kubectl(lab, "--context", "cluster1", "apply", "-f", str(path))


def test_another_peers_key_and_a_later_key_survive_the_fix(lab, tmp_path):
    other = _kubeconfig("cluster9", "https://127.0.9.1:6443", "someone-elses-token-value")
    stale = _kubeconfig("cluster2", _server(lab, "cluster2"), "revoked-token-value")
    wrong = _kubeconfig("cluster2", _server(lab, "cluster2"), "revoked-token-value")
    _apply(lab, tmp_path, {"cluster2": _b64(stale), "cluster9": _b64(other), "wrong": _b64(wrong)})
    # someone adds a key after the diagnosis listed "wrong" as the one to drop
    kubectl(lab, "--context", "cluster1", "-n", "istio-system", "patch", "secret", NAME, "--type", "merge",
            "-p", json.dumps({"data": {"added-later": _b64(_kubeconfig("x", "https://127.0.8.1:6443", "t"))}}))
    before = _keys(lab)
    rc, result, text = module(lab, "cluster1", "remote_secret", {
        "kubeconfig": str(lab.kubeconfig), "context": "cluster1", "peer_name": "cluster2",
        "remove_keys": ["wrong"]})
    assert rc == 0, text
    after = _keys(lab)
    assert sorted(after) == ["added-later", "cluster2", "cluster9"]
    assert after["cluster9"] == before["cluster9"] and after["added-later"] == before["added-later"]
    assert after["cluster2"] != before["cluster2"]   # the revoked token was replaced
    assert result["changed"] and result["removed_keys"] == ["wrong"]
    # converged: a second run changes nothing
    rc, result, text = module(lab, "cluster1", "remote_secret", {
        "kubeconfig": str(lab.kubeconfig), "context": "cluster1", "peer_name": "cluster2",
        "remove_keys": ["wrong"]})
    assert rc == 0 and not result["changed"], text


def test_without_a_list_only_keys_naming_the_peer_are_rekeyed(lab, tmp_path):
    other = _kubeconfig("cluster9", "https://127.0.9.1:6443", "someone-elses-token-value")
    mine = _kubeconfig("Kubernetes", _server(lab, "cluster2"), "revoked-token-value")
    _apply(lab, tmp_path, {"Kubernetes": _b64(mine), "cluster9": _b64(other)})
    rc, result, text = module(lab, "cluster1", "remote_secret", {
        "kubeconfig": str(lab.kubeconfig), "context": "cluster1", "peer_name": "cluster2"})
    assert rc == 0, text
    assert sorted(_keys(lab)) == ["cluster2", "cluster9"]
    assert result["removed_keys"] == ["Kubernetes"]


@pytest.mark.parametrize("name,args,words", [
    ("network_label_fix", {"network": "network 1"}, "network 'network 1' is not a valid Kubernetes label value"),
    ("network_label_fix", {"network": "n" * 64}, "must be no more than 63 characters"),
    ("remote_secret", {"peer_name": "cluster2", "cluster_id": "bad key"}, "cluster_id 'bad key': a valid config key"),
])
def test_invalid_values_are_refused_before_any_request(lab, name, args, words):
    lab.ctl("reset-stats")
    rc, result, text = module(lab, "cluster1", name, dict(args, kubeconfig=str(lab.kubeconfig), context="cluster1"))
    assert rc != 0 and words in result["msg"], text
    stats = lab.stats()
    clusters = stats.get("clusters", stats)
    counts = [v["requests"] for v in clusters.values() if isinstance(v, dict) and "requests" in v]
    assert counts and not any(counts), stats
