"""module_defaults as Ansible users write them, with the real kubernetes.core (6.2.0, tests/kubernetes_core.py):

- a play's ``group/kubernetes.core.k8s`` connection defaults reach meshmend's modules (through their action
  plugins: ansible-core resolves that group from kubernetes.core's runtime.yml alone) and kubernetes.core's own;
- ``group/meshmend.multicluster.k8s`` reaches kubernetes.core's modules too (``extend_group`` in meta/runtime.yml);
- the diagnose and remediate roles no longer replace a play's group defaults: with the lab's kubeconfig given
  only as a play's ``group/kubernetes.core.k8s`` default, both roles reach every cluster.

Without kubernetes.core installed, ``extend_group`` is ignored: test_examples.py runs its plays with
``group/meshmend.multicluster.k8s`` and no kubernetes.core on the collections path.
"""
import json
import os
import subprocess
import sys

import pytest
import yaml

import kubernetes_core

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(shared_lab):
    return shared_lab("demo")  # check mode and refused credentials only: nothing is written


def no_kubeconfig_inventory(lab, path):
    """The lab's hosts with their contexts but no kubeconfig: the connection must come from module_defaults."""
    with open(lab.inventory) as handle:
        inv = yaml.safe_load(handle)
    for hostvars in inv["all"]["hosts"].values():
        hostvars.pop("kubeconfig")
    path.write_text(yaml.safe_dump(inv))
    return str(path)


def playbook(tmp_path, name, plays, inventory, *extra):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    home = tmp_path / "home"  # no ~/.kube/config to fall back on
    home.mkdir(exist_ok=True)
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "KUBECONFIG")))
    env.update(ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", HOME=str(home),
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([os.path.join(ROOT, "collections"), kubernetes_core.ensure()]),
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, str(path)] + list(extra),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_kubernetes_core_is_the_real_collection():
    path = kubernetes_core.ensure()
    with open(os.path.join(path, "ansible_collections", "kubernetes", "core", "meta", "runtime.yml")) as handle:
        runtime = yaml.safe_load(handle)
    assert "k8s_info" in runtime["action_groups"]["k8s"]
    assert kubernetes_core.installed_version() == "6.2.0"


def test_a_plays_kubernetes_core_group_defaults_reach_meshmend_modules(lab, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    inventory = no_kubeconfig_inventory(lab, tmp_path / "inventory.yml")
    plays = [{
        "name": "kubernetes.core's group defaults, as a play of kubernetes.core users has them",
        "hosts": "all", "gather_facts": False,
        "module_defaults": {"group/kubernetes.core.k8s": {"kubeconfig": lab.kubeconfig, "context": "{{ kube_context }}"}},
        "tasks": [
            {"name": "kubernetes.core itself", "kubernetes.core.k8s_info": {"kind": "Namespace", "name": "istio-system"},
             "register": "ns"},
            {"name": "A meshmend module (module process)", "meshmend.multicluster.eastwest_gateway_info": {},
             "register": "ewgw"},
            {"name": "cluster_info (runs in the worker)", "meshmend.multicluster.cluster_info":
                {"cluster_name": "{{ inventory_hostname }}"}, "register": "gathered"},
            {"name": "A writing module in check mode", "meshmend.multicluster.network_label_fix":
                {"network": "network{{ inventory_hostname[-1] }}"}, "check_mode": True, "register": "label"},
            {"name": "A task's own argument wins over the group default",
             "meshmend.multicluster.root_cert_info": {"context": "cluster1"}, "register": "roots"},
            {"name": "Keep the results", "ansible.builtin.copy": {
                "content": "{{ {'ns': ns.resources | map(attribute='metadata.name') | list, "
                           "'gateways': ewgw.gateways | map(attribute='name') | list, "
                           "'reachable': gathered.facts.reachable, 'context': gathered.facts.context, "
                           "'label_changed': label.changed, 'roots_failed': roots.failed | default(false)} | to_json }}",
                "dest": "%s/{{ inventory_hostname }}.json" % out, "mode": "0600"}},
        ],
    }, {
        "name": "meshmend's group (extend_group) reaches kubernetes.core's modules",
        "hosts": "all", "gather_facts": False,
        "module_defaults": {"group/meshmend.multicluster.k8s": {"kubeconfig": lab.kubeconfig, "context": "{{ kube_context }}"}},
        "tasks": [{"name": "kubernetes.core.k8s_info with meshmend's group defaults",
                   "kubernetes.core.k8s_info": {"kind": "Service", "namespace": "istio-system",
                                                "label_selectors": ["istio=eastwestgateway"]},
                   "register": "svc"},
                  {"ansible.builtin.assert": {"that": ["svc.resources | length == 1"], "quiet": True},
                   "name": "One east-west gateway Service"}],
    }]
    proc = playbook(tmp_path, "defaults.yml", plays, inventory)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    for host in ("cluster1", "cluster2"):
        with open(str(out / ("%s.json" % host))) as handle:
            got = json.load(handle)
        assert got["ns"] == ["istio-system"]
        assert got["gateways"] == ["istio-eastwestgateway"]
        assert got["reachable"] is True and got["context"] == host
        assert got["roots_failed"] is False
    # the demo lab's cluster2 lacks the network label: the check-mode fix would change it, cluster1's not
    assert [json.load(open(str(out / ("%s.json" % h))))["label_changed"] for h in ("cluster1", "cluster2")] == [False, True]


def test_remediate_reaches_every_cluster_with_only_kubernetes_core_group_defaults(lab, tmp_path):
    """The lab's kubeconfig only in a play's group/kubernetes.core.k8s entry: the remediate role (diagnose,
    fixes in check mode, diagnose again) reaches both clusters and dry-runs all of the demo's fixes."""
    inventory = no_kubeconfig_inventory(lab, tmp_path / "inventory.yml")
    plays = [{
        "name": "Remediate with kubernetes.core's group defaults",
        "hosts": "all", "gather_facts": False,
        "module_defaults": {"group/kubernetes.core.k8s": {"kubeconfig": lab.kubeconfig}},
        "roles": [{"role": "meshmend.multicluster.remediate",
                   "vars": {"remediate_report_dir": str(tmp_path / "reports"), "remediate_fail_on": "never"}}],
    }]
    proc = playbook(tmp_path, "remediate.yml", plays, inventory, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    with open(str(tmp_path / "reports" / "meshmend-report.json")) as handle:
        doc = json.load(handle)
    assert [f["message"] for f in doc["findings"] if f["id"] == "cluster.unreachable"] == []
    assert "remote_secret.missing" in set(f["id"] for f in doc["findings"])  # check mode: found, not fixed
    outcomes = doc.get("remediation", {}).get("outcomes") or []
    assert outcomes and not [o for o in outcomes if o.get("failed")], outcomes
    assert set(o["category"] for o in outcomes) == {"network_labels", "gateway_addresses", "remote_secrets"}


@pytest.mark.parametrize("group", ["kubernetes.core.k8s", "meshmend.multicluster.k8s"])
def test_a_plays_group_defaults_reach_the_connectivity_roles_modules(lab, tmp_path, group):
    """A play-level api_key (the lab refuses it) for either group reaches the role's modules: every cluster
    answers 401. The role used to set group/meshmend.multicluster.k8s on its block, which replaced the
    play's entry for that group, so the play's api_key never reached connectivity_workload."""
    plays = [{
        "name": "Connectivity with the play's group/%s defaults" % group,
        "hosts": "all", "gather_facts": False,
        "module_defaults": {"group/%s" % group: {"api_key": "not-a-token-the-lab-knows"}},
        "roles": [{"role": "meshmend.multicluster.connectivity",
                   "vars": {"connectivity_report_dir": str(tmp_path / "reports"), "connectivity_fail_on": "never",
                            "connectivity_wait_timeout": 5, "connectivity_cleanup_timeout": 5}}],
    }]
    proc = playbook(tmp_path, "connectivity.yml", plays, lab.inventory)
    text = proc.stdout + proc.stderr
    assert "not-a-token-the-lab-knows" not in text
    for host in ("cluster1", "cluster2"):
        failed = [line for line in text.splitlines() if host in line and ("401" in line or "nauthorized" in line)]
        assert failed, "%s: the play's api_key did not reach the role's modules:\n%s" % (host, text[-4000:])
