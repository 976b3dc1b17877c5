"""Every EXAMPLES block that test_examples.py does not run against the lab runs here, task by task as
written, against a lab: the state-changing modules on the `demo` scenario (then the lab is checked with
kubectl: the examples fixed what they say they fix), cluster_info, end_unreachable, mesh_report and the connectivity
modules on `healthy-multinetwork`. Adaptations are only what a real mesh differs in (addresses, the
report directory) and run_once for an example that names one cluster's context.
`make matrix` runs this file on every supported ansible-core."""
import ast
import copy
import glob
import json
import os
import subprocess
import sys

import pytest
import yaml

from labutil import start_lab
from test_examples import LIVE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(os.path.abspath(sys.executable))
FQCN = "meshmend.multicluster"
MODULES = sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))
                 if not os.path.basename(p).startswith("_"))
WRITES = ("network_label_fix", "eastwest_gateway_address", "remote_secret", "deployment_restart")
HEALTHY = ("cluster_info", "end_unreachable", "mesh_report", "connectivity_workload", "connectivity_probe",
           "connectivity_report")
TASK_KEYWORDS = {"name", "register", "when", "loop", "loop_control", "check_mode", "diff", "delegate_to", "run_once",
                 "vars", "tags", "environment", "changed_when", "failed_when", "ignore_errors", "no_log"}

pytestmark = pytest.mark.slow


def examples(module):
    """The EXAMPLES of plugins/modules/MODULE.py, as tasks (read from the source: what ansible-doc shows)."""
    with open(os.path.join(ROOT, "plugins", "modules", "%s.py" % module)) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["EXAMPLES"]:
            tasks = yaml.safe_load(node.value.value)
            assert isinstance(tasks, list) and tasks, module
            return tasks
    raise AssertionError("%s has no EXAMPLES" % module)


def action_of(task):
    (key,) = [k for k in task if k not in TASK_KEYWORDS]
    return key


def adapt(task, lab, reports):
    """The example as written, pointed at the lab."""
    task = copy.deepcopy(task)
    action = action_of(task)
    if not action.startswith(FQCN + "."):
        return task
    module, args = action.split(".")[-1], task[action] or {}
    context = args.get("context")
    if isinstance(context, str) and "{{" not in context:
        task["run_once"] = True  # an example about one named cluster: once, not once per inventory host
    if module == "cluster_info" and "peers" in args:
        args["peers"] = [dict(p, server=lab.urls[p["name"]]) for p in args["peers"] if p["name"] in lab.urls]
    if module == "remote_secret" and "server" in args:
        args["server"] = lab.urls[args["peer_name"]]  # the example's address is a documentation address
    if module == "eastwest_gateway_address" and args.get("name", "istio-eastwestgateway") != "istio-eastwestgateway":
        args["name"] = "istio-eastwestgateway"  # the lab has the default gateway only
    if "report_dir" in args:
        args["report_dir"] = str(reports)
    task[action] = args
    return task


def run_play(tmp_path, lab, tasks, registered, extra_inventory=None):
    out = tmp_path / "registered"
    out.mkdir()
    keep = dict((r, "__%s__" % r) for r in registered)
    tasks = tasks + [{
        "name": "Keep what the examples registered",
        "ansible.builtin.copy": {"content": "{{ %s | to_json }}" % json.dumps(keep).replace('"__', "").replace('__"', ""),
                                 "dest": "%s/{{ inventory_hostname }}.json" % out, "mode": "0600"}}]
    play = [{"name": "EXAMPLES against the lab", "hosts": "all", "gather_facts": False,
             "module_defaults": {"group/%s.k8s" % FQCN: {"kubeconfig": "{{ kubeconfig }}"}}, "tasks": tasks}]
    (tmp_path / "examples.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", lab.inventory]
    if extra_inventory:
        cmd += ["-i", extra_inventory]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run(cmd + [str(tmp_path / "examples.yml")], cwd=str(tmp_path), env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-3000:]
    results = {}
    for host in lab.contexts:
        with open(str(out / ("%s.json" % host))) as handle:
            results[host] = json.load(handle)
    return proc, results


def test_every_module_has_its_examples_run_against_a_lab():
    assert sorted(set(LIVE) | set(WRITES) | set(HEALTHY)) == MODULES
    assert not set(LIVE) & (set(WRITES) | set(HEALTHY)) and not set(WRITES) & set(HEALTHY)


def test_state_changing_examples_fix_the_demo_lab(tmp_path):
    with start_lab("demo", str(tmp_path / "lab")) as lab:
        networks = tmp_path / "networks.yml"  # what the operator declares: each cluster's network
        declared = dict((c, {"meshmend_network": "network%s" % c[-1]}) for c in lab.contexts)
        networks.write_text(yaml.safe_dump({"all": {"hosts": declared}}))
        tasks, registered = [], []
        for module in WRITES:
            for task in examples(module):
                task = adapt(task, lab, tmp_path / "reports")
                task.setdefault("register", "%s_%d" % (module, len(tasks)))
                registered.append(task["register"])
                tasks.append(task)
        proc, results = run_play(tmp_path, lab, tasks, registered, str(networks))

        def get(context, *args):
            return json.loads(lab.kubectl("get", "-o", "json", *args, context=context, check=True).stdout)
        ns = get("cluster2", "namespace", "istio-system")
        gateway = get("cluster2", "-n", "istio-system", "service", "istio-eastwestgateway")
        secret = get("cluster1", "-n", "istio-system", "secret", "istio-remote-secret-cluster2")
    # what the demo lacked, fixed by the examples as written: cluster2's network label, its gateway address
    # (host var meshmend_eastwest_gateway_ip) and cluster1's remote secret for cluster2
    assert ns["metadata"]["labels"]["topology.istio.io/network"] == "network2"
    assert gateway["spec"]["externalIPs"] == ["172.18.2.100"]
    assert gateway["metadata"]["labels"]["topology.istio.io/network"] == "network2"
    assert secret["metadata"]["labels"]["istio/multiCluster"] == "true" and "cluster2" in secret["data"]
    by_task = results["cluster2"]
    assert by_task["network_label_fix_0"]["changed"] is True
    assert by_task["eastwest_gateway_address_2"]["changed"] is True
    previews = [v for v in by_task.values() if isinstance(v, dict) and v.get("diff") is not None]
    assert previews, "the check-mode examples showed no diff"
    assert "PLAY RECAP" in proc.stdout and "failed=0" in proc.stdout


def test_gather_report_and_connectivity_examples_on_a_healthy_lab(tmp_path):
    reports = tmp_path / "reports"
    hello = [d for d in yaml.safe_load_all(open(os.path.join(ROOT, "roles", "connectivity", "files", "helloworld.yaml")))
             if d]
    sleep = [d for d in yaml.safe_load_all(open(os.path.join(ROOT, "roles", "connectivity", "files", "sleep.yaml"))) if d]

    def keep(doc):  # helloworld's Service and v1 Deployment, the whole sleep sample
        return doc["kind"] != "Deployment" or doc["metadata"]["name"] in ("helloworld-v1", "sleep")
    (tmp_path / "helloworld-v1.yaml").write_text(yaml.safe_dump_all([d for d in hello + sleep if keep(d)]))
    with start_lab("healthy-multinetwork", str(tmp_path / "lab")) as lab:
        workload = examples("connectivity_workload")
        # end_unreachable leaves every read cluster in play: each host still writes what it registered below
        ordered = (examples("cluster_info") + examples("end_unreachable") + examples("mesh_report") + workload[:1]
                   + examples("connectivity_probe")
                   + examples("connectivity_report") + workload[1:])
        tasks = [adapt(t, lab, reports) for t in ordered]
        registered = sorted(set(t["register"] for t in tasks if "register" in t))
        proc, results = run_play(tmp_path, lab, tasks, registered)
        leftover = lab.kubectl("get", "namespace", "uninjected-sample", context="cluster1")
    assert registered == ["cluster_info", "direct", "gathered", "mesh", "mesh_report", "probe", "workload"]
    assert leftover.returncode != 0 and "NotFound" in leftover.stderr  # the example's clean-up ran
    for host, got in results.items():
        assert got["cluster_info"]["facts"]["reachable"] is True and got["cluster_info"]["facts"]["cluster"] == host
        assert got["workload"]["site"]["cluster"] == host
        assert got["probe"]["results"], host
    report = results["cluster1"]["mesh_report"]
    assert report["threshold_exceeded"] is False and report["summary"]["counts"]["error"] == 0
    written = ["meshmend-junit.xml", "meshmend-report.html", "meshmend-report.json", "meshmend-report.md"]
    assert sorted(os.listdir(str(reports))) == written
    with open(str(reports / "meshmend-report.json")) as handle:
        merged = json.load(handle)
    assert merged.get("connectivity") or [f for f in merged["findings"] if f["id"].startswith("connectivity.")] == []
    # mesh traffic from cluster1's injected sleep reaches both versions on the healthy lab
    assert set(results["cluster1"]["mesh"]["versions"]) >= {"v1", "v2"}, results["cluster1"]["mesh"]["versions"]
    assert "PLAY RECAP" in proc.stdout and "failed=0" in proc.stdout
