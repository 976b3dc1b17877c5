"""Issue 15 item 6: messages never show Python internals (measured: ``'list' object has no attribute 'get'``,
``_AnsibleTaggedDict``, ``cannot None None``)."""
import re

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils.facts import build_facts
from ansible_collections.meshmend.multicluster.plugins.module_utils.cluster_info import (
    ClusterInfoError, argument_spec, run,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig import summarize

INTERNALS = re.compile(r"object has no attribute|'list' object|'dict' object|NoneType|_Ansible\w+|Error:|"
                       r"\bNone None\b|Traceback")


def test_malformed_object_message_is_plain_words():
    facts = build_facts({"services": [{"metadata": 5}]})   # was: ('int' object has no attribute 'get')
    (err,) = [e for e in facts["read_errors"] if e["reason"] == "Malformed"]
    assert "wrong type" in err["message"]
    assert "unexpected shape" in err["message"] and not INTERNALS.search(err["message"]), err["message"]


class _Tagged(dict):
    """Stands for Ansible's _AnsibleTaggedDict / _AnsibleTaggedStr: a subclass with a private name."""


class _AnsibleTaggedStr(str):
    pass


def test_bad_peers_type_is_named_in_yaml_words():
    p = dict((k, v.get("default")) for k, v in argument_spec().items())
    p.update(peers=_AnsibleTaggedStr("cluster2"), host="https://127.0.0.1:1", cluster_name="c1")
    with pytest.raises(ClusterInfoError) as exc:
        run(p, None)
    assert str(exc.value).endswith("not a string") and not INTERNALS.search(str(exc.value))


def test_remote_secret_of_unexpected_structure_is_plain_words():
    entry, _cfg = summarize("cluster2", b"clusters: {a: 1}\ncontexts: 5\nusers: [[]]\ncurrent-context: [1]\n")
    assert entry["error"] and not INTERNALS.search(entry["error"]), entry["error"]


def test_read_error_without_verb_is_not_cannot_none_none(monkeypatch):
    class _M:
        no_log_values = set()
        warnings = []

        def warn(self, msg):
            self.warnings.append(msg)

    def fake_gather(client, opts):
        return {"cluster": "c1", "reachable": True, "read_errors": [
            {"verb": None, "resource": None, "namespace": None, "message": "the API server sent a body that is not JSON"}]}

    monkeypatch.setattr("ansible_collections.meshmend.multicluster.plugins.module_utils.cluster_info.gather_cluster",
                        fake_gather)
    p = dict((k, v.get("default")) for k, v in argument_spec().items())
    p.update(host="https://127.0.0.1:1", cluster_name="c1")
    m = _M()
    run(p, m)
    assert m.warnings == ["c1: cannot read: the API server sent a body that is not JSON"]
