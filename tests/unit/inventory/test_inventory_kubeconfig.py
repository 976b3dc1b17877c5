"""meshmend.multicluster.kubeconfig inventory plugin: pure helpers, then ansible-inventory end to end.

The end-to-end tests run the real `ansible-inventory` / `ansible` against generated kubeconfig files,
with the collection found through the repo's collections/ link (tests/conftest.py makes it).
"""
import json
import os
import socket
import subprocess
import sys

import pytest
import yaml

from ansible_collections.meshmend.multicluster.plugins.inventory import kubeconfig as inv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.dirname(os.path.abspath(sys.executable))
FAKE_TOKEN = "inventory-test-token-0123456789"


def write_kubeconfig(path, contexts, servers=None, current=None):
    """A kubeconfig with one cluster per context (server per context), token auth."""
    servers = servers or {}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cl-%s" % name, "cluster": {"server": servers.get(name, "https://127.0.0.1:1")}}
                     for name in contexts],
        "contexts": [{"name": name, "context": {"cluster": "cl-%s" % name, "user": "admin"}} for name in contexts],
        "users": [{"name": "admin", "user": {"token": FAKE_TOKEN}}],
        "current-context": current or (contexts[0] if contexts else ""),
    }
    with open(str(path), "w") as handle:
        yaml.safe_dump(doc, handle)
    return str(path)


def write_source(path, **options):
    options.setdefault("plugin", "meshmend.multicluster.kubeconfig")
    with open(str(path), "w") as handle:
        yaml.safe_dump(options, handle)
    return str(path)


def ansible_env(tmp_path, **extra):
    env = dict(os.environ)
    env.pop("ANSIBLE_CONFIG", None)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, "collections"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "KUBECONFIG": str(tmp_path / "no-such-kubeconfig"),
        "PATH": BIN + os.pathsep + env.get("PATH", ""),
    })
    env.update(extra)
    return env


def run(cmd, tmp_path, **extra_env):
    return subprocess.run(cmd, cwd=str(tmp_path), env=ansible_env(tmp_path, **extra_env),
                          capture_output=True, text=True, timeout=120, check=False)


def plain(value):
    """Drop the legacy JSON profile's {"__ansible_unsafe": ...} wrappers (untrusted strings)."""
    if isinstance(value, dict):
        if list(value) == ["__ansible_unsafe"]:
            return value["__ansible_unsafe"]
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def inventory(source, tmp_path, raw=False, **extra_env):
    proc = run([os.path.join(BIN, "ansible-inventory"), "-i", source, "--list", "--export"], tmp_path, **extra_env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    return (data if raw else plain(data)), proc.stderr


def said(text, output):
    """TEXT is in OUTPUT, however Ansible wrapped its warning lines (at 80 columns before ansible-core 2.19)."""
    return "".join(text.split()) in "".join(output.split())


def hosts_of(data, group):
    return sorted((data.get(group) or {}).get("hosts", []))


def closed_port():
    """A loopback port nobody listens on (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# ---------------------------------------------------------------- pure helpers

def test_kubeconfig_paths_option_env_default(tmp_path):
    base = str(tmp_path)
    assert inv.kubeconfig_paths("kc", env={}, base_dir=base) == [os.path.join(base, "kc")]
    assert inv.kubeconfig_paths("/abs/kc", env={"KUBECONFIG": "/other"}, base_dir=base) == ["/abs/kc"]
    env = {"KUBECONFIG": os.pathsep.join(["/a/one", "", "/b/two", "/a/one"])}
    assert inv.kubeconfig_paths(None, env=env, base_dir=base) == ["/a/one", "/b/two"]
    assert inv.kubeconfig_paths(None, env={}, home_default="/home/x/.kube/config") == ["/home/x/.kube/config"]


def test_load_kubeconfig_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("clusters: [\n")
    with pytest.raises(inv.KubeconfigError, match=r"kubeconfig .*bad is not valid YAML at line"):
        inv.load_kubeconfig(str(bad))
    scalar = tmp_path / "scalar"
    scalar.write_text("just a string\n")
    with pytest.raises(inv.KubeconfigError, match="is not a mapping"):
        inv.load_kubeconfig(str(scalar))
    wrong = tmp_path / "wrong"
    wrong.write_text("contexts: {a: b}\n")
    with pytest.raises(inv.KubeconfigError, match="contexts must be a list"):
        inv.load_kubeconfig(str(wrong))
    with pytest.raises(inv.KubeconfigError, match="cannot be read"):
        inv.load_kubeconfig(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.write_text("")
    assert inv.load_kubeconfig(str(empty)) == {}


def test_merge_contexts_first_definition_wins():
    first = {"clusters": [{"name": "c1", "cluster": {"server": "https://127.0.1.1:6443"}}],
             "contexts": [{"name": "one", "context": {"cluster": "c1", "namespace": "ns"}}]}
    second = {"clusters": [{"name": "c1", "cluster": {"server": "https://127.0.9.9:6443"}},
                           {"name": "c2", "cluster": {"server": "https://127.0.2.1:6443"}}],
              "contexts": [{"name": "one", "context": {"cluster": "c2"}},
                           {"name": "two", "context": {"cluster": "c2"}},
                           {"name": "orphan", "context": {"cluster": "nowhere"}}]}
    merged = inv.merge_contexts([("/first", first), ("/second", second)])
    assert list(merged) == ["one", "two", "orphan"]
    assert merged["one"] == {"cluster": "c1", "namespace": "ns", "server": "https://127.0.1.1:6443"}
    assert merged["two"]["server"] == "https://127.0.2.1:6443"
    assert merged["orphan"]["server"] is None


def test_merge_contexts_rejects_nameless_entries():
    with pytest.raises(inv.KubeconfigError, match="every entry of contexts needs a name"):
        inv.merge_contexts([("/kc", {"contexts": [{"context": {"cluster": "c"}}]})])


def test_select_contexts_globs_regexes_and_exclude():
    names = ["prod-east-1", "prod-west-2", "prod-east-sandbox", "dev-1", "kind-prod"]
    assert inv.select_contexts(names) == names
    assert inv.select_contexts(names, ["prod-*"]) == ["prod-east-1", "prod-west-2", "prod-east-sandbox"]
    # a regex matches from the start of the name, as Ansible host patterns do
    assert inv.select_contexts(names, ["~prod-(east|west)-\\d+$"]) == ["prod-east-1", "prod-west-2"]
    assert inv.select_contexts(names, ["~prod"]) == ["prod-east-1", "prod-west-2", "prod-east-sandbox"]
    assert inv.select_contexts(names, ["prod-*", "dev-?"], exclude=["*-sandbox"]) == ["prod-east-1", "prod-west-2", "dev-1"]
    assert inv.select_contexts(names, exclude=["~.*prod"]) == ["dev-1"]


def test_bad_regex_names_the_option():
    with pytest.raises(inv.KubeconfigError, match=r"exclude: '~\(' is not a valid regular expression"):
        inv.select_contexts(["a"], exclude=["~("])
    with pytest.raises(inv.KubeconfigError, match="group_by_context_pattern"):
        inv.compile_group_pattern("(?P<group>")


def test_group_from_name():
    named = inv.compile_group_pattern(r"^prod-(?P<group>[a-z]+)-(\d+)$")
    assert inv.group_from_name(named, "prod-east-1") == "east"
    assert inv.group_from_name(named, "dev-1") is None
    unnamed = inv.compile_group_pattern(r"-(\w+)$")
    assert inv.group_from_name(unnamed, "cluster-eu") == "eu"
    whole = inv.compile_group_pattern(r"eu|us")
    assert inv.group_from_name(whole, "prod-us-3") == "us"
    assert inv.group_from_name(None, "anything") is None


def test_network_group_names():
    assert inv.network_group("network1") == "network_network1"
    assert inv.network_group(None) == inv.UNLABELED_GROUP


def test_unreachable_cluster_is_reported_not_raised(tmp_path):
    port = closed_port()
    kc = write_kubeconfig(tmp_path / "kc", ["down"], {"down": "https://127.0.0.1:%d" % port})
    labels = inv.read_network_labels(kc, ["down"], "istio-system", 2.0, 4)
    label, error = labels["down"]
    assert label is None
    assert error.startswith("down: ") and "istio-system" in error
    assert FAKE_TOKEN not in error


# ---------------------------------------------------------------- ansible-inventory end to end

def test_every_context_is_a_host_with_meshmend_vars(tmp_path):
    kc = write_kubeconfig(tmp_path / "kc", ["cluster1", "cluster2", "cluster3"],
                          {"cluster1": "https://127.0.10.1:6443"})
    source = write_source(tmp_path / "clusters.meshmend.yml", kubeconfig="kc")
    raw, _err = inventory(source, tmp_path, raw=True)
    # Names read from the kubeconfig stay untrusted (never templated); only the interpreter template is trusted.
    assert raw["_meta"]["hostvars"]["cluster1"]["kube_context"] == {"__ansible_unsafe": "cluster1"}
    assert raw["_meta"]["hostvars"]["cluster1"]["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    data = plain(raw)
    hostvars = data["_meta"]["hostvars"]
    assert sorted(hostvars) == ["cluster1", "cluster2", "cluster3"]
    one = hostvars["cluster1"]
    assert one["kube_context"] == "cluster1"
    assert one["kubeconfig"] == kc and os.path.isabs(one["kubeconfig"])
    assert one["ansible_connection"] == "local"
    assert one["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    assert one["kube_server"] == "https://127.0.10.1:6443"
    assert one["kube_cluster"] == "cl-cluster1"
    assert "meshmend_discovered_network" not in one  # group_by_network is off
    assert FAKE_TOKEN not in json.dumps(data)


def test_interpreter_template_resolves_to_the_playbook_python(tmp_path):
    """ansible-core 2.19 only templates trusted strings: the plugin must mark the interpreter template."""
    write_kubeconfig(tmp_path / "kc", ["cluster1"])
    source = write_source(tmp_path / "one.meshmend.yaml", kubeconfig="kc")
    proc = run([os.path.join(BIN, "ansible"), "-i", source, "all", "-m", "ansible.builtin.debug",
                "-a", "var=ansible_python_interpreter", "-o"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = proc.stdout.strip()
    assert line.startswith("cluster1 | SUCCESS"), line
    interpreter = json.loads(line.split("=>", 1)[1])["ansible_python_interpreter"]
    assert os.path.realpath(interpreter) == os.path.realpath(sys.executable) or interpreter.startswith(BIN)


def test_filters_pattern_groups_and_constructed(tmp_path):
    names = ["prod-east-1", "prod-west-2", "prod-east-sandbox", "dev-1"]
    write_kubeconfig(tmp_path / "kc", names)
    source = write_source(
        tmp_path / "prod.meshmend.yml", kubeconfig="kc", contexts=["prod-*"], exclude=["*-sandbox"],
        group_by_context_pattern=r"^prod-(?P<group>[a-z]+)-\d+$", group_prefix="region-",
        compose={"meshmend_eastwest_gateway_ip": "'203.0.113.' ~ (kube_context[-1:])"},
        groups={"east_side": "'east' in kube_context"},
        keyed_groups=[{"key": "kube_cluster", "prefix": "kc"}])
    data, _err = inventory(source, tmp_path)
    hostvars = data["_meta"]["hostvars"]
    assert sorted(hostvars) == ["prod-east-1", "prod-west-2"]
    # group names are sanitized: '-' becomes '_'
    assert hosts_of(data, "region_east") == ["prod-east-1"]
    assert hosts_of(data, "region_west") == ["prod-west-2"]
    assert hosts_of(data, "east_side") == ["prod-east-1"]
    assert hosts_of(data, "kc_cl_prod_west_2") == ["prod-west-2"]
    assert hostvars["prod-west-2"]["meshmend_eastwest_gateway_ip"] == "203.0.113.2"


def test_kubeconfig_from_env_with_several_files(tmp_path):
    first = write_kubeconfig(tmp_path / "first", ["cluster1"])
    second = write_kubeconfig(tmp_path / "second", ["cluster1", "cluster2"],
                              {"cluster1": "https://127.0.99.1:6443"})
    source = write_source(tmp_path / "env.meshmend.yml")
    data, _err = inventory(source, tmp_path, KUBECONFIG=os.pathsep.join([first, second]))
    hostvars = data["_meta"]["hostvars"]
    assert sorted(hostvars) == ["cluster1", "cluster2"]
    # both files are handed on, so the modules merge them as kubectl does
    assert hostvars["cluster2"]["kubeconfig"] == os.pathsep.join([first, second])
    assert hostvars["cluster1"]["kube_server"] == "https://127.0.0.1:1"  # the first file wins


def test_group_by_network_unreachable_cluster_does_not_abort(tmp_path):
    port = closed_port()
    write_kubeconfig(tmp_path / "kc", ["cluster1", "cluster2"],
                     {"cluster1": "https://127.0.0.1:%d" % port, "cluster2": "https://127.0.0.1:%d" % port})
    source = write_source(tmp_path / "net.meshmend.yml", kubeconfig="kc", group_by_network=True,
                          request_timeout=2)
    data, err = inventory(source, tmp_path)
    assert hosts_of(data, "unreachable") == ["cluster1", "cluster2"]
    assert said("cluster1: cannot get namespaces/istio-system", err)
    assert said("added to group unreachable", err)
    assert "Traceback" not in err and FAKE_TOKEN not in err


def test_missing_kubeconfig_is_a_clear_parse_error(tmp_path):
    source = write_source(tmp_path / "missing.meshmend.yml", kubeconfig="nope/kc")
    proc = run([os.path.join(BIN, "ansible-inventory"), "-i", source, "--list"], tmp_path,
               ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    assert proc.returncode != 0
    assert said("no kubeconfig found at %s" % (tmp_path / "nope" / "kc"), proc.stderr)
    assert "Traceback" not in proc.stderr


def test_bad_pattern_is_a_clear_parse_error(tmp_path):
    write_kubeconfig(tmp_path / "kc", ["cluster1"])
    source = write_source(tmp_path / "bad.meshmend.yml", kubeconfig="kc", contexts=["~(unclosed"])
    proc = run([os.path.join(BIN, "ansible-inventory"), "-i", source, "--list"], tmp_path,
               ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    assert proc.returncode != 0
    assert said("contexts: '~(unclosed' is not a valid regular expression", proc.stderr)


def test_only_meshmend_file_names_are_claimed(tmp_path):
    write_kubeconfig(tmp_path / "kc", ["cluster1"])
    source = write_source(tmp_path / "clusters.yml", kubeconfig="kc")
    proc = run([os.path.join(BIN, "ansible-inventory"), "-i", source, "--list"], tmp_path)
    assert "cluster1" not in json.loads(proc.stdout)["_meta"]["hostvars"]
    assert said("could not be verified by inventory plugin 'meshmend.multicluster.kubeconfig'", proc.stderr)


def test_kubeconfig_var_can_be_left_to_the_job_environment(tmp_path):
    """AWX injects the kubeconfig as a new file per job: the path read at sync time must not be pinned."""
    write_kubeconfig(tmp_path / "kc", ["cluster1"])
    source = write_source(tmp_path / "awx.meshmend.yml", kubeconfig="kc", set_kubeconfig_var=False)
    data, _err = inventory(source, tmp_path)
    one = data["_meta"]["hostvars"]["cluster1"]
    assert "kubeconfig" not in one
    assert one["kube_context"] == "cluster1" and one["ansible_connection"] == "local"


def test_every_example_of_the_documentation_parses(tmp_path):
    """The EXAMPLES block, source by source (one list item each), run through ansible-inventory (kubeconfig path swapped)."""
    examples = yaml.safe_load(inv.EXAMPLES)
    assert len(examples) == 3
    port = closed_port()
    names = ["prod-east-1", "prod-west-2", "prod-eu-sandbox", "cluster1", "cluster2"]
    kc = write_kubeconfig(tmp_path / "kc", names, dict((n, "https://127.0.0.1:%d" % port) for n in names))
    results = []
    for index, example in enumerate(examples):
        assert example["plugin"] == "meshmend.multicluster.kubeconfig"
        example = dict(example, kubeconfig=kc)
        if example.get("group_by_network"):
            example["request_timeout"] = 2
        data, err = inventory(write_source(tmp_path / ("example%d.meshmend.yml" % index), **example), tmp_path)
        assert "Traceback" not in err and "Failed to parse" not in err, err
        results.append(data)
    assert sorted(results[0]["_meta"]["hostvars"]) == sorted(names)
    assert sorted(results[1]["_meta"]["hostvars"]) == ["prod-east-1", "prod-west-2"]
    assert hosts_of(results[1], "region_east") == ["prod-east-1"]
    mesh = results[2]
    assert mesh["_meta"]["hostvars"]["cluster2"]["meshmend_eastwest_gateway_ip"] == "203.0.113.2"
    assert hosts_of(mesh, "unreachable") == sorted(names)
    assert hosts_of(mesh, "kubecluster_cl_cluster1") == ["cluster1"]


ARN = "arn:aws:eks:us-east-1:123456789012:cluster/prod-east"


def test_host_names_limit_can_select():
    taken = set()
    assert inv.host_name_for("cluster1", taken) == "cluster1"
    assert inv.host_name_for(ARN, taken) == "prod-east"
    # the cluster part is taken: the whole name, made selectable
    assert inv.host_name_for(ARN.replace("123456789012", "999"), taken) == \
        "arn-aws-eks-us-east-1-999-cluster-prod-east"
    assert inv.host_name_for("gke_proj_europe-west1_mesh", taken) == "gke_proj_europe-west1_mesh"


def test_an_eks_arn_context_is_a_host_limit_selects(tmp_path):
    kc = write_kubeconfig(tmp_path / "kc", ["cluster1", ARN])
    source = write_source(tmp_path / "clusters.meshmend.yml", kubeconfig="kc")
    data, _err = inventory(source, tmp_path)
    hostvars = data["_meta"]["hostvars"]
    assert sorted(hostvars) == ["cluster1", "prod-east"]
    assert hostvars["prod-east"]["kube_context"] == ARN
    # --limit selects it by that name (ansible-inventory applies the pattern as ansible-playbook does)
    proc = run([os.path.join(BIN, "ansible-inventory"), "-i", str(source), "--limit", "prod-east", "--list"],
               tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(json.loads(proc.stdout)["_meta"]["hostvars"]) == ["prod-east"]
