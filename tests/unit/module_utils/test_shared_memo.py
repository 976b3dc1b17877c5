"""shared_memo: results worked out once per run and seen by every worker Ansible forks after the memo exists;
the remote-secret verdicts it carries hold no credential, and a worker that finds one learns the same no_log
values as the worker that worked it out."""
import base64
import multiprocessing
import os

import yaml

from ansible_collections.meshmend.multicluster.plugins.module_utils import facts as facts_mod
from ansible_collections.meshmend.multicluster.plugins.module_utils import kubeconfig_loader, shared_memo
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import kubeconfig_secret_values
from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig import summarize
from ansible_collections.meshmend.multicluster.plugins.module_utils.shared_memo import SharedMemo, digest

FORK = multiprocessing.get_context("fork")
TOKEN = "eyJhbGciOiJSUzI1NiJ9.reader-token-of-cluster2.c2lnbmF0dXJl"
KEY_PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKeyMaterialNotARealKeyButLongEnough\n-----END EC PRIVATE KEY-----\n"


def _in_child(target, *args):
    """Run target(*args) in a forked process, as Ansible runs a worker; its exit code is the result."""
    proc = FORK.Process(target=target, args=args)
    proc.start()
    proc.join(30)
    return proc.exitcode


def test_get_returns_a_fresh_copy_and_unknown_keys_are_none():
    memo = SharedMemo(size=1 << 16)
    assert memo.get("k") is None
    assert memo.put("k", {"a": [1, 2], "b": None}) is True
    got = memo.get("k")
    got["a"].append(3)
    assert memo.get("k") == {"a": [1, 2], "b": None}


def test_values_json_would_change_are_not_kept():
    memo = SharedMemo(size=1 << 16)
    assert memo.put("tuple", (1, 2)) is False
    assert memo.put("set", {1}) is False
    assert memo.put("int keys", {1: "a"}) is False
    assert memo.get("tuple") is None and memo.get("set") is None and memo.get("int keys") is None


def test_workers_forked_after_it_exists_share_it():
    memo = SharedMemo(size=1 << 20)
    assert memo.shared
    memo.put("before", "parent")

    def first():
        os._exit(0 if memo.get("before") == "parent" and memo.put("child", {"n": 1}) else 1)

    def second():
        os._exit(0 if memo.get("child") == {"n": 1} else 1)

    assert _in_child(first) == 0
    assert _in_child(second) == 0          # a later worker finds what the first one worked out
    assert memo.get("child") == {"n": 1}   # and so does the process that forked them


def test_a_full_region_keeps_results_local():
    memo = SharedMemo(size=64)

    def first():
        os._exit(0 if memo.put("big", "x" * 200) and memo.get("big") == "x" * 200 else 1)

    def second():
        os._exit(0 if memo.get("big") is None else 1)

    assert _in_child(first) == 0
    assert _in_child(second) == 0


def test_a_lock_never_released_stops_sharing_instead_of_hanging(monkeypatch):
    memo = SharedMemo(size=1 << 16)
    monkeypatch.setattr(shared_memo, "LOCK_SECONDS", 0.1)
    assert memo._lock.acquire()   # a worker killed while holding it
    try:
        assert memo.get("k") is None
        assert not memo.shared
        assert memo.put("k", 1) and memo.get("k") == 1
    finally:
        memo._lock.release()


def test_digest_separates_its_parts():
    assert digest("ab", "c") != digest("a", "bc")
    assert digest("k", None) != digest("k", ())


# --------------------------------------------------------------------------- remote-secret verdicts

def _kubeconfig(user):
    return {"apiVersion": "v1", "kind": "Config", "current-context": "cluster2",
            "clusters": [{"name": "cluster2", "cluster": {"server": "https://10.0.0.2:6443",
                                                          "certificate-authority-data": base64.b64encode(
                                                              b"-----BEGIN CERTIFICATE-----\nCA\n").decode()}}],
            "contexts": [{"name": "cluster2", "context": {"cluster": "cluster2", "user": "cluster2"}}],
            "users": [{"name": "cluster2", "user": user}]}


USERS = [
    {"token": TOKEN},
    {"client-certificate-data": base64.b64encode(b"CERT-DATA-1234").decode(),
     "client-key-data": base64.b64encode(KEY_PEM.encode()).decode()},
    {"auth-provider": {"name": "oidc", "config": {"id-token": TOKEN, "refresh-token": "refresh-" + TOKEN}}},
    {"exec": {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1", "interactiveMode": "Never",
              "env": [{"name": "AWS_SECRET", "value": "secret-env-value"}]}},
    {"username": "admin", "password": "pa55word-of-admin"},
]


def test_a_verdict_found_in_the_memo_is_the_verdict_worked_out(monkeypatch):
    for user in USERS:
        monkeypatch.setattr(facts_mod, "MEMO", SharedMemo(size=1 << 20))
        raw = yaml.safe_dump(_kubeconfig(user)).encode()
        expected_entry, config = summarize("cluster2", raw, None, (1, 26))
        worked = facts_mod.summarize_once("cluster2", raw, None, (1, 26))
        found = facts_mod.summarize_once("cluster2", raw, None, (1, 26))
        assert worked[0] == found[0] == expected_entry, user
        assert worked[1] is found[1] is True
        assert sorted(worked[2]) == sorted(found[2]) == sorted(kubeconfig_secret_values(config)), user
        assert found[2], user
        kept = "".join(facts_mod.MEMO._local.values())
        for value in found[2]:
            assert value not in kept, "the memo holds a credential"


def test_the_verdict_depends_on_the_key_release_and_allowlist(monkeypatch):
    monkeypatch.setattr(facts_mod, "MEMO", SharedMemo(size=1 << 20))
    raw = yaml.safe_dump(_kubeconfig(USERS[3])).encode()   # exec: refused unless allowed
    refused = facts_mod.summarize_once("cluster2", raw, None, (1, 26))[0]
    allowed = facts_mod.summarize_once("cluster2", raw, ["exec"], (1, 26))[0]
    assert refused["error_stage"] == "not_allowed" and allowed["error_stage"] != "not_allowed"
    assert facts_mod.summarize_once("cluster3", raw, None, (1, 26))[0]["key"] == "cluster3"


def test_a_credential_yaml_escapes_is_worked_out_every_time(monkeypatch):
    """A token written with escapes does not sit verbatim in the bytes: that verdict stays out of the memo."""
    monkeypatch.setattr(facts_mod, "MEMO", SharedMemo(size=1 << 20))
    text = yaml.safe_dump(_kubeconfig({"token": "PLACEHOLDER"})).replace("PLACEHOLDER", '"tok\\x41en-value"')
    raw = text.encode()
    first = facts_mod.summarize_once("cluster2", raw, None, (1, 26))
    assert first[2] == ["tokAen-value"]
    assert facts_mod.MEMO._local == {}
    assert facts_mod.summarize_once("cluster2", raw, None, (1, 26))[2] == ["tokAen-value"]


def test_an_unparsable_value_is_remembered_as_unparsed(monkeypatch):
    monkeypatch.setattr(facts_mod, "MEMO", SharedMemo(size=1 << 20))
    for _attempt in range(2):
        entry, parsed, values = facts_mod.summarize_once("cluster2", b"{{{{", None, (1, 26))
        assert entry["error_stage"] == "load" and parsed is False and values == []


# --------------------------------------------------------------------------- the kubeconfig file

def test_one_file_content_in_two_folders_resolves_each_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(kubeconfig_loader, "MEMO", SharedMemo(size=1 << 20))
    doc = _kubeconfig({"client-key": "key.pem", "token": TOKEN})
    paths = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / "config"
        path.write_text(yaml.safe_dump(doc))
        paths.append(str(path))
    first, second = (kubeconfig_loader.load_file(p) for p in paths)
    assert first["users"][0]["user"]["client-key"] == str(tmp_path / "a" / "key.pem")
    assert second["users"][0]["user"]["client-key"] == str(tmp_path / "b" / "key.pem")
    assert len(kubeconfig_loader.MEMO._local) == 1   # parsed once
