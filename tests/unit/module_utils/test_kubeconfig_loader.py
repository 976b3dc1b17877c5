"""One kubeconfig loader with size and alias limits for every kubeconfig meshmend reads (issue 15 item 1):
a host's kubeconfig file or KUBECONFIG list, an inline kubeconfig, the remote_secret module's comparisons and
the inventory plugin. A YAML alias bomb is a per-cluster error naming the cluster and the file, never the
content, and costs neither memory nor time."""
import os
import resource
import time

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import client, gather, kubeconfig, kubeconfig_loader, remote_secrets
from ansible_collections.meshmend.multicluster.plugins.module_utils.facts import remote_secret_facts

LAUGHS = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for _i, _n in enumerate("bcdefghi"):
    LAUGHS.append("%s: &%s [%s]" % (_n, _n, ",".join(["*" + "abcdefghi"[_i]] * 9)))
BOMB = "\n".join(LAUGHS) + "\n"        # ~ 700 bytes, 9^9 nodes once expanded
SECRET = "s3cr3t-token-that-must-not-leak"


def test_the_bomb_is_small():
    assert len(BOMB) < 800


@pytest.fixture
def bomb_file(tmp_path):
    path = tmp_path / "kubeconfig-bomb"
    path.write_text(BOMB + "users: [{name: u, user: {token: %s}}]\n" % SECRET)
    return str(path)


def _bounded(fn):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.time()
    try:
        fn()
    finally:
        assert time.time() - start < 5
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024   # KiB: < 200 MiB


def test_host_kubeconfig_file_bomb_is_a_cluster_error_naming_cluster_and_file(bomb_file):
    def go():
        with pytest.raises(client.ClusterError) as err:
            client.get_client({"kubeconfig": bomb_file, "context": "c"}, cluster="cluster7")
        msg = err.value.message
        assert err.value.kind == "bad_config"
        assert msg.startswith("cluster7: ") and bomb_file in msg and "alias" in msg
        assert SECRET not in msg and "lol" not in msg
    _bounded(go)


def test_bomb_in_a_kubeconfig_list_and_inline(bomb_file, tmp_path):
    good = tmp_path / "good"
    good.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    with pytest.raises(client.ClusterError) as err:
        client.get_client({"kubeconfig": [str(good), bomb_file], "context": "c"}, cluster="c8")
    assert bomb_file in err.value.message
    with pytest.raises(client.ClusterError) as err:
        client.get_client({"kubeconfig": BOMB, "context": "c"}, cluster="c9")
    assert "inline kubeconfig is refused" in err.value.message and "lol" not in err.value.message


def test_oversized_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge"
    with open(str(path), "wb") as fh:
        fh.seek(kubeconfig_loader.MAX_KUBECONFIG_FILE_BYTES + 10)
        fh.write(b"x")
    with pytest.raises(kubeconfig_loader.KubeconfigFileError) as err:
        kubeconfig_loader.load_option(str(path))
    assert "more than" in str(err.value) and str(path) in str(err.value)


def test_remote_secret_module_comparisons_go_through_the_limits():
    _bounded(lambda: remote_secrets.parse_kubeconfig_essentials(BOMB))
    assert remote_secrets.parse_kubeconfig_essentials(BOMB) == (None, None, None, None)
    assert remote_secrets.summarize_kubeconfig(BOMB)["server"] is None


def test_inventory_plugin_reads_through_the_limits(bomb_file):
    from ansible_collections.meshmend.multicluster.plugins.inventory import kubeconfig as inventory
    with pytest.raises(inventory.KubeconfigError) as err:
        inventory.load_kubeconfig(bomb_file)
    assert bomb_file in str(err.value) and "alias" in str(err.value)


def test_relative_file_references_resolve_against_the_file(tmp_path):
    path = tmp_path / "kc"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://h',"
                    " certificate-authority: ca.crt}}]\nusers: [{name: u, user: {tokenFile: t, exec: "
                    "{command: ./bin/x}}}]\n")
    doc, where = kubeconfig_loader.load_option(str(path))
    assert where == str(path)
    assert doc["clusters"][0]["cluster"]["certificate-authority"] == os.path.join(str(tmp_path), "ca.crt")
    assert doc["users"][0]["user"]["tokenFile"] == os.path.join(str(tmp_path), "t")
    assert doc["users"][0]["user"]["exec"]["command"] == os.path.join(str(tmp_path), "./bin/x")


def test_kubeconfig_list_merges_as_kubectl(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("clusters: [{name: c, cluster: {server: 'https://a'}}]\ncurrent-context: x\n")
    b.write_text("clusters: [{name: c, cluster: {server: 'https://b'}}, {name: d, cluster: {server: 'https://d'}}]\n"
                 "current-context: y\n")
    doc, _where = kubeconfig_loader.load_option(os.pathsep.join([str(a), str(b)]))
    assert [c["cluster"]["server"] for c in doc["clusters"]] == ["https://a", "https://d"]
    assert doc["current-context"] == "x"


# ----------------------------------------------------------------------- issue 14: the probe and the allowlist

def _kc(user):
    return {"apiVersion": "v1", "kind": "Config", "current-context": "c2",
            "clusters": [{"name": "c2", "cluster": {"server": "https://127.0.2.1:6443", "insecure-skip-tls-verify": True}}],
            "contexts": [{"name": "c2", "context": {"cluster": "c2", "user": "c2"}}],
            "users": [{"name": "c2", "user": user}]}


def test_probe_keeps_the_allowlist_an_allowed_token_file_is_not_an_unreachable_server():
    """gather.probe_kubeconfig resolved with the allowlist, then client_from_kubeconfig_data resolved again
    without it: the allowed tokenFile became "tokenFile is not allowed", a false remote_secret.api_unreachable."""
    cfg = _kc({"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"})
    ok, err, requests = gather.probe_kubeconfig(cfg, "cluster2 (test)", timeout=0.5, allowlist=["tokenFile"])
    assert ok is None and requests == 0, err
    assert "tokenFile" in err and "not allowed" not in err
    # without the allowlist istiod refuses it, and so does the probe, in istiod's words
    ok, err, _n = gather.probe_kubeconfig(cfg, "cluster2 (test)", timeout=0.5)
    assert ok is False and err == "kubeconfig is not allowed: tokenFile is not allowed"


def test_client_from_kubeconfig_data_uses_the_callers_resolution():
    cfg = _kc({"token": SECRET})
    resolved = kubeconfig.resolve(cfg)
    resolved["server"] = "https://127.0.9.9:6443"
    kc = client.client_from_kubeconfig_data(cfg, "x", resolved=resolved)
    assert kc.server == "https://127.0.9.9:6443"


def test_remote_secret_entries_follow_istiods_release_and_allowlist():
    """The same secret is refused by 1.30 (tokenFile needs PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS) and
    accepted by 1.12.9, whose default allowlist was gcp,azure,exec,openstack,clientkey,clientCertificate,tokenFile
    (istio 1.12.9 pilot/pkg/features/pilot.go)."""
    import base64
    import yaml
    cfg = _kc({"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"})
    secret = {"metadata": {"name": "istio-remote-secret-c2", "namespace": "istio-system"},
              "data": {"c2": base64.b64encode(yaml.safe_dump(cfg).encode()).decode()}}
    new, _c = remote_secret_facts([secret], None, istio_version="1.30.3")
    old, _c = remote_secret_facts([secret], None, istio_version="1.12.9")
    assert new[0]["entries"][0]["error"] == "kubeconfig is not allowed: tokenFile is not allowed"
    assert old[0]["entries"][0]["error"] is None
    allowed, _c = remote_secret_facts([secret], ("tokenFile",), istio_version="1.30.3")
    assert allowed[0]["entries"][0]["error"] is None


# --------------------------------------------------------------------------- the libyaml path (performance)

KUBECONFIG_DOC = """apiVersion: v1
kind: Config
clusters:
- name: c2
  cluster: {server: "https://10.0.0.2:6443", certificate-authority-data: TFMwdExTMUNSVWRKVGc9PQ==}
users:
- name: c2
  user: {token: abc.def}
contexts:
- name: c2
  context: {cluster: c2, user: c2}
current-context: c2
"""


def test_documents_without_anchors_parse_alike_on_both_paths(monkeypatch):
    """An anchor-free kubeconfig takes libyaml (no anchor, no alias, no bomb); its result is the counting
    loader's, and so is every error message (a failure is worded by the counting loader)."""
    fast = kubeconfig_loader.safe_load(KUBECONFIG_DOC)
    broken = "apiVersion: v1\nclusters: [\n"
    with pytest.raises(Exception) as fast_error:
        kubeconfig_loader.safe_load(broken)
    monkeypatch.setattr(kubeconfig_loader, "_FAST_LOADER", None)
    assert kubeconfig_loader.safe_load(KUBECONFIG_DOC) == fast
    with pytest.raises(Exception) as slow_error:
        kubeconfig_loader.safe_load(broken)
    assert str(fast_error.value) == str(slow_error.value)


def test_an_anchor_sends_the_document_to_the_counting_loader(monkeypatch):
    """The bomb has anchors: libyaml is never given it, so the alias limits hold with the fast path on."""
    used = []
    real = kubeconfig_loader.yaml.load
    monkeypatch.setattr(kubeconfig_loader.yaml, "load", lambda text, Loader: used.append(Loader) or real(text, Loader=Loader))
    with pytest.raises(kubeconfig_loader.YamlLimitError):
        kubeconfig_loader.safe_load(BOMB)
    kubeconfig_loader.safe_load(KUBECONFIG_DOC)
    assert used == [kubeconfig_loader._LimitedLoader, kubeconfig_loader._FAST_LOADER]
