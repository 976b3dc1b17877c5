"""Every module's EXAMPLES is valid and uses only documented options; RETURN gives a full sample;
the read-only EXAMPLES run for real against a lab.

Documentation is read through `ansible-doc --json` (doc fragments merged, as users see it); the
sanity test validate-modules separately holds DOCUMENTATION equal to each argument_spec."""
import copy
import glob
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(os.path.abspath(sys.executable))
FQCN = "meshmend.multicluster"
MODULES = sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))
                 if not os.path.basename(p).startswith("_"))
# Task keywords (not module options) that EXAMPLES use beside the module key.
TASK_KEYWORDS = {"name", "register", "when", "loop", "loop_control", "check_mode", "diff", "delegate_to", "run_once",
                 "vars", "tags", "become", "environment", "changed_when", "failed_when", "ignore_errors", "no_log",
                 "module_defaults", "until", "retries", "delay", "notify", "args"}
# Read-only modules whose EXAMPLES run against the lab, with what must be adapted to it.
LIVE = ("eastwest_gateway_info", "proxy_endpoints_info", "root_cert_info", "remote_secret_check")


def env():
    e = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    e["PATH"] = BIN + os.pathsep + e.get("PATH", "")
    return e


@pytest.fixture(scope="module")
def docs():
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "module", "--json"]
                          + ["%s.%s" % (FQCN, m) for m in MODULES], cwd=ROOT, env=env(), capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert sorted(data) == ["%s.%s" % (FQCN, m) for m in MODULES], proc.stderr
    return {name.split(".")[-1]: value for name, value in data.items()}


def examples(doc):
    tasks = yaml.safe_load(doc["examples"])
    assert isinstance(tasks, list) and tasks, "EXAMPLES is not a list of tasks"
    return tasks


def module_key(task):
    keys = [k for k in task if k not in TASK_KEYWORDS]
    assert len(keys) == 1, "task %r: one action expected, got %s" % (task.get("name"), keys)
    return keys[0]


def option_problems(options, given, where):
    """Options not documented, missing required ones, choices broken, and the same for literal suboptions."""
    problems = []
    if not isinstance(given, dict):
        return ["%s: arguments are not a mapping" % where]
    names = {}
    for opt, spec in options.items():
        names[opt] = opt
        for alias in spec.get("aliases") or []:
            names[alias] = opt
    for key, value in given.items():
        if key not in names:
            problems.append("%s: option %r is not documented" % (where, key))
            continue
        spec = options[names[key]]
        templated = isinstance(value, str) and "{{" in value
        if spec.get("choices") and not templated and not isinstance(value, (list, dict)) and value not in spec["choices"]:
            problems.append("%s: %s=%r not in choices %s" % (where, key, value, spec["choices"]))
        subs = spec.get("suboptions")
        if subs and not templated:
            items = value if spec.get("type") == "list" and isinstance(value, list) else [value]
            for i, item in enumerate(items):
                problems += option_problems(subs, item, "%s.%s[%d]" % (where, key, i))
    given_names = {names[k] for k in given if k in names}
    for opt, spec in options.items():
        if spec.get("required") and opt not in given_names:
            problems.append("%s: required option %r missing" % (where, opt))
    return problems


@pytest.mark.parametrize("module", MODULES)
def test_examples_use_existing_modules_and_documented_options(docs, module):
    doc = docs[module]
    problems = []
    used_self = False
    for task in examples(doc):
        action = module_key(task)
        if not action.startswith(FQCN + "."):
            assert action.startswith("ansible.builtin."), "task %r uses %s without its FQCN" % (task.get("name"), action)
            continue
        target = action.split(".")[-1]
        assert target in docs, "task %r: %s does not exist" % (task.get("name"), action)
        used_self = used_self or target == module
        if task.get("check_mode") and not docs[target]["doc"].get("attributes", {}).get("check_mode", {}).get("support") in (
                "full", "partial"):
            problems.append("%r: check_mode on a module without check mode support" % task.get("name"))
        problems += option_problems(docs[target]["doc"]["options"], task[action] or {}, "%s %r" % (target, task.get("name")))
    assert used_self, "EXAMPLES of %s never call %s.%s" % (module, FQCN, module)
    assert problems == []


def missing_samples(returns, path=""):
    """Keys without a sample: every key needs `sample`, and a parent's sample shows its documented contents."""
    missing = []
    for key, spec in (returns or {}).items():
        where = path + key
        if "sample" not in spec:
            missing.append(where)
            continue
        contains = spec.get("contains") or {}
        sample = spec["sample"]
        shown = [sample] if isinstance(sample, dict) else [s for s in sample if isinstance(s, dict)] \
            if isinstance(sample, list) else []
        if contains and shown:
            for sub in contains:
                if not any(sub in s for s in shown):
                    missing.append("%s.%s (not in %s's sample)" % (where, sub, key))
        elif contains and sample not in (None, [], {}):
            missing.append("%s (sample does not show its contents)" % where)
    return missing


# Known gaps in modules this test does not own; strict, so the mark must go once the module is fixed.
@pytest.mark.parametrize("module", MODULES)
def test_return_documents_a_sample_for_every_key(docs, module):
    returns = docs[module]["return"]
    assert returns, "%s documents no RETURN" % module
    assert missing_samples(returns) == []


FILTER_DOCS = sorted(glob.glob(os.path.join(ROOT, "plugins", "filter", "*.yml")))


@pytest.mark.parametrize("path", FILTER_DOCS, ids=[os.path.basename(p) for p in FILTER_DOCS])
def test_filter_examples_are_tasks_using_existing_filters(path):
    with open(path) as handle:
        doc = yaml.safe_load(handle)
    names = {os.path.splitext(os.path.basename(p))[0] for p in FILTER_DOCS}
    tasks = yaml.safe_load(doc["EXAMPLES"])
    assert isinstance(tasks, list) and tasks
    text = doc["EXAMPLES"]
    assert "%s.%s" % (FQCN, doc["DOCUMENTATION"]["name"]) in text
    for task in tasks:
        action = module_key(task)
        assert action.startswith(("ansible.builtin.", FQCN + ".")), action
    used = set(re.findall(re.escape(FQCN) + r"\.([a-z_0-9]+)", text))
    roles = set(os.listdir(os.path.join(ROOT, "roles")))  # an example may include a role by FQCN
    assert used <= names | set(MODULES) | roles, used - names
    assert doc["RETURN"]["_value"].get("description")


def howto_play(doc, first_line):
    """The fenced YAML block of a how-to that starts with first_line."""
    with open(os.path.join(ROOT, doc)) as handle:
        blocks = re.findall(r"```yaml\n(.*?)```", handle.read(), re.S)
    (block,) = [b for b in blocks if b.startswith(first_line)]
    assert isinstance(yaml.safe_load(block), list)
    return block


def adapt(module, args, lab):
    """Point an example's options at the lab: only addresses and values a real mesh would differ in."""
    args = copy.deepcopy(args)
    if module == "remote_secret_check":
        # The example names a cluster3 and a DNS name; the lab has cluster1/cluster2 on loopback addresses.
        args["peers"] = [dict(p, server=lab.urls[p["name"]]) if "server" in p else p
                         for p in args["peers"] if p["name"] in lab.urls]
    if module == "root_cert_info" and "expected_root_fingerprint" in args:
        # The example's fingerprint is Istio's sample root; the lab's roots are generated: compare with cluster1's.
        args["expected_root_fingerprint"] = "{{ hostvars['cluster1'].roots.root_fingerprint }}"
    return args


def test_read_only_examples_run_against_the_lab(docs, tmp_path, shared_lab):
    out = tmp_path / "registered"
    out.mkdir()
    lab = shared_lab("healthy-multinetwork")  # read-only examples: the shared lab
    tasks, registered = [], []
    for module in LIVE:
        for task in examples(docs[module]):
            task = dict(task)
            action = module_key(task)
            if action.startswith(FQCN + "."):
                task[action] = adapt(action.split(".")[-1], task[action], lab)
            if "register" in task:
                registered.append(task["register"])
            tasks.append(task)
    tasks.append({
        "name": "Keep what the examples registered",
        "ansible.builtin.copy": {"content": "{{ %s | to_json }}" % json.dumps({r: "__%s__" % r for r in registered}).replace(
            '"__', "").replace('__"', ""), "dest": "%s/{{ inventory_hostname }}.json" % out, "mode": "0600"},
    })
    play = [{"name": "EXAMPLES of the read-only modules", "hosts": "all", "gather_facts": False,
             "module_defaults": {"group/%s.k8s" % FQCN: {"kubeconfig": "{{ kubeconfig }}"}}, "tasks": tasks}]
    (tmp_path / "examples.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", lab.inventory, str(tmp_path / "examples.yml")],
                          cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300, check=False)
    # the module_defaults play of docs/howto-embed.md, verbatim, on a group "mesh" of the lab's clusters
    (tmp_path / "mesh.yml").write_text(yaml.safe_dump({"mesh": {"hosts": {c: {} for c in lab.contexts}}}))
    (tmp_path / "howto.yml").write_text(howto_play("docs/howto-embed.md", "- name: Gateways and roots of every cluster"))
    howto = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", lab.inventory, "-i", str(tmp_path / "mesh.yml"),
                            str(tmp_path / "howto.yml")], cwd=ROOT, env=env(), capture_output=True, text=True,
                           timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert howto.returncode == 0, howto.stdout[-6000:] + howto.stderr
    assert "ok=4" in howto.stdout and "failed=0" in howto.stdout, howto.stdout[-3000:]
    results = {}
    for host in ("cluster1", "cluster2"):
        with open(str(out / ("%s.json" % host))) as handle:
            results[host] = json.load(handle)
    for host, r in results.items():
        assert [g["name"] for g in r["ewgw"]["gateways"]] == ["istio-eastwestgateway"]
        assert r["ewgw"]["gateways"][0]["addresses"], host
        # sleep in cluster1 (the examples name context cluster1) holds helloworld from both networks
        assert len(r["eps"]["endpoints"]) >= 2
        assert r["roots"]["root_fingerprint"].startswith("sha256:")
        assert r["root2"]["root_matches_expected"] is True
        assert r["rs"]["failed_checks"] is False
    assert results["cluster1"]["roots"]["root_fingerprint"] == results["cluster2"]["roots"]["root_fingerprint"]


@pytest.mark.parametrize("doc", ["docs/howto-inventory.md", "docs/howto-embed.md"])
def test_howto_yaml_blocks_parse_and_name_existing_plugins(doc):
    with open(os.path.join(ROOT, doc)) as handle:
        text = handle.read()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        yaml.safe_load(block)
    existing = set(MODULES) | {os.path.splitext(os.path.basename(p))[0] for p in FILTER_DOCS} \
        | {"diagnose", "remediate", "connectivity", "kubeconfig", "k8s"}
    named = set(re.findall(re.escape(FQCN) + r"\.([a-z_0-9]+)", text))
    assert named <= existing, named - existing
