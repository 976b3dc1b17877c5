"""meta/runtime.yml against what the collection ships and what `make matrix` proves: requires_ansible names
the oldest ansible-core the matrix passes on; the k8s action group holds every cluster module, extends
kubernetes.core's group, and each member applies a play's group/kubernetes.core.k8s defaults."""
import glob
import os
import re
import sys

import yaml

from ansible_collections.meshmend.multicluster.plugins.plugin_utils import k8s_defaults as kd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "matrix"))

import run_matrix  # noqa: E402  pylint: disable=wrong-import-position


def runtime():
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as handle:
        return yaml.safe_load(handle)


def test_requires_ansible_is_the_matrix_oldest_version():
    assert runtime()["requires_ansible"] == ">=%s.0" % run_matrix.VERSIONS[0]
    assert run_matrix.VERSIONS == ("2.16", "2.17", "2.18", "2.19")
    with open(os.path.join(ROOT, "README.md")) as handle:
        assert "ansible-core 2.16" in handle.read()


def test_k8s_group_holds_every_cluster_module_and_extends_kubernetes_core():
    group = runtime()["action_groups"]["k8s"]
    metadata = [m for m in group if isinstance(m, dict)]
    assert metadata == [{"metadata": {"extend_group": ["kubernetes.core.k8s"]}}]
    members = sorted(m for m in group if isinstance(m, str))
    with_connection = []
    for path in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")):
        with open(path) as handle:
            if "AUTH_ARG_SPEC" in handle.read() or os.path.basename(path) == "cluster_info.py":
                with_connection.append(os.path.splitext(os.path.basename(path))[0])
    assert members == sorted(with_connection)
    for module in members:
        with open(os.path.join(ROOT, "plugins", "action", "%s.py" % module)) as handle:
            source = handle.read()
        assert re.search(r"KubernetesCoreDefaultsAction|with_kubernetes_core_defaults\(", source), module


def test_connection_options_are_the_modules_own():
    from ansible_collections.meshmend.multicluster.plugins.module_utils.client import AUTH_ARG_SPEC
    for option, aliases in kd.CONNECTION_OPTIONS.items():
        assert option in AUTH_ARG_SPEC, option
        assert set(aliases) <= set(AUTH_ARG_SPEC[option].get("aliases") or []), option


class Templar(object):
    def __init__(self, variables):
        self.variables = variables

    def template(self, value):
        return dict((k, self.variables.get(v.strip("{} "), v) if isinstance(v, str) else v) for k, v in value.items())


class Task(object):
    def __init__(self, module_defaults):
        self.module_defaults = module_defaults


def test_kubernetes_core_group_defaults_fill_only_what_the_task_lacks():
    defaults = [{"group/kubernetes.core.k8s": {"kubeconfig": "{{ kc }}", "context": "a", "namespace": "x",
                                               "verify_ssl": False}},
                {"group/meshmend.multicluster.k8s": {"proxy": "http://p"}},
                {"group/kubernetes.core.k8s": {"context": "b"}}]
    task, templar = Task(defaults), Templar({"kc": "/k/config"})
    got = kd.with_kubernetes_core_defaults(task, templar, {"context": "mine", "cluster_name": "c1"})
    # namespace is not a connection option; the task's context wins; the later entry's context was b; aliases map
    assert got == {"context": "mine", "cluster_name": "c1", "kubeconfig": "/k/config", "validate_certs": False}
    assert kd.with_kubernetes_core_defaults(task, templar, {"verify_ssl": True, "kubeconfig": "/mine"}) == {
        "verify_ssl": True, "kubeconfig": "/mine", "context": "b"}
    assert kd.with_kubernetes_core_defaults(Task(None), templar, {"a": 1}) == {"a": 1}
    assert kd.group_defaults({"group/kubernetes.core.k8s": {"host": "h"}}) == {"host": "h"}
