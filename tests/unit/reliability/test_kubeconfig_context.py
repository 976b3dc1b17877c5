"""Issue 15 item 6: no quiet default when choosing the cluster and the credentials.

Measured before: a host without kube_context silently used the kubeconfig's current context (two hosts, one
cluster: a false cluster.duplicate_id); a kubeconfig whose user or exec plugin is missing went out anonymous
and was reported as cluster.forbidden with 11 permissions.
"""
import os
import stat

import pytest
import yaml

from ansible_collections.meshmend.multicluster.plugins.module_utils import client as c
from ansible_collections.meshmend.multicluster.plugins.module_utils.cluster_info import run


def _kubeconfig(tmp_path, users=None, contexts=("a", "b"), user="u", current="a"):
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": current,
           "clusters": [{"name": n, "cluster": {"server": "https://127.0.%d.1:6443" % (i + 2)}}
                        for i, n in enumerate(contexts)],
           "contexts": [{"name": n, "context": {"cluster": n, "user": user}} for n in contexts],
           "users": users if users is not None else [{"name": "u", "user": {"token": "t0k3n-value"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


class _Module:
    def __init__(self):
        self.warnings, self.no_log_values = [], set()

    def warn(self, msg):
        self.warnings.append(msg)


def _params(**kw):
    from ansible_collections.meshmend.multicluster.plugins.module_utils.cluster_info import argument_spec
    p = dict((k, v.get("default")) for k, v in argument_spec().items())
    p.update(kw)
    return p


def test_host_without_context_in_a_multi_context_kubeconfig_is_its_own_error(tmp_path):
    path = _kubeconfig(tmp_path)
    m = _Module()
    result = run(_params(kubeconfig=path, cluster_name="cluster1"), m)
    facts = result["facts"]
    assert facts["reachable"] is False and facts["error_kind"] == "bad_config"
    assert "has 2 contexts (a, b) and none was named (kube_context" in facts["error"]
    assert facts["error"].startswith("cluster1: ")
    assert m.warnings == [facts["error"]]
    # a standalone module keeps kubernetes.core's meaning (current context)
    assert c.get_client({"kubeconfig": path}, cluster="x").server == "https://127.0.2.1:6443"


def test_single_context_needs_no_name(tmp_path):
    path = _kubeconfig(tmp_path, contexts=("only",), current="only")
    assert c.get_client({"kubeconfig": path}, cluster="x", require_context=True).server == "https://127.0.2.1:6443"


def test_missing_user_is_named_not_anonymous(tmp_path):
    path = _kubeconfig(tmp_path, users=[{"name": "other", "user": {"token": "x" * 8}}])
    with pytest.raises(c.ClusterError) as exc:
        c.get_client({"kubeconfig": path, "context": "b"}, cluster="cluster2")
    assert exc.value.kind == "bad_config"
    assert "context b names user u, which is not in the kubeconfig %s" % path in exc.value.message


def test_missing_exec_plugin_is_named(tmp_path):
    path = _kubeconfig(tmp_path, users=[{"name": "u", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "meshmend-no-such-plugin"}}}])
    with pytest.raises(c.ClusterError) as exc:
        c.get_client({"kubeconfig": path, "context": "a"}, cluster="cluster1")
    assert "exec plugin of user u runs meshmend-no-such-plugin, which is not installed" in exc.value.message


def test_failing_exec_plugin_is_named(tmp_path):
    plugin = tmp_path / "failing-plugin"
    plugin.write_text("#!/bin/sh\necho 'no credentials for you' >&2\nexit 1\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IEXEC)
    path = _kubeconfig(tmp_path, users=[{"name": "u", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}}}])
    with pytest.raises(c.ClusterError) as exc:
        c.get_client({"kubeconfig": path, "context": "a"}, cluster="cluster1")
    assert "exec plugin of user u gave no credentials" in exc.value.message
    assert os.path.exists(str(plugin))
