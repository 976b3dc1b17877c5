"""The collection as users get it: `ansible-galaxy collection build`, install the tarball, use it by FQCN.

Everything runs from a temporary directory with ANSIBLE_COLLECTIONS_PATH naming only the install
location, so nothing is found through the repo's own collections/ link or ansible.cfg.
"""
import glob
import json
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(os.path.abspath(sys.executable))
NAMESPACE, NAME = "meshmend", "multicluster"
FQCN = "%s.%s" % (NAMESPACE, NAME)

# What a user needs, and what must never ship (the lab, local environments, generated trees).
REQUIRED = ("plugins/", "roles/", "playbooks/", "docs/", "meta/runtime.yml", "MANIFEST.json", "FILES.json",
            "README.md", "changelogs/changelog.yaml",
            # the shipped RBAC (issue 16): installed with the collection, where the remedies point
            "docs/rbac/README.md", "docs/rbac/meshmend-diagnose/10-clusterrole.yaml",
            "docs/rbac/meshmend-remediate/10-role-istio-system.yaml", "docs/rbac/meshmend-connectivity/10-clusterrole.yaml",
            "docs/rbac/meshmend-rbac.py", "plugins/module_utils/rbac.py")
FORBIDDEN_TOP = ("meshlab", ".venv", "collections", ".git", ".cache", ".lab", "reports", ".pytest_cache", ".ansible")
FORBIDDEN_PATHS = ("tests/output/",)


def run(cmd, cwd, env):
    return subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=300, check=False)


def clean_env(tmp_path, collections_path):
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("ANSIBLE_"):
            del env[key]
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": BIN + os.pathsep + env.get("PATH", ""),
    })
    return env


def galaxy_meta():
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        return yaml.safe_load(handle)


def repo_modules():
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))
                  if not os.path.basename(p).startswith("_"))


def repo_plugins(kind):
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "plugins", kind, "*.py"))
                  if not os.path.basename(p).startswith("_"))


def repo_roles_with_specs():
    return sorted(os.path.basename(os.path.dirname(os.path.dirname(p)))
                  for p in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build the tarball once, install it once: (tmp, tarball, collections_path, env)."""
    tmp = tmp_path_factory.mktemp("galaxy")
    out = tmp / "dist"
    env = clean_env(tmp, tmp / "installed")
    proc = run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", ROOT, "--output-path", str(out)], tmp, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    version = galaxy_meta()["version"]
    tarball = out / ("%s-%s-%s.tar.gz" % (NAMESPACE, NAME, version))
    assert tarball.is_file(), proc.stdout
    proc = run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", str(tarball),
                "-p", str(tmp / "installed")], tmp, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp, tarball, tmp / "installed", env


def test_tarball_holds_the_collection_and_not_the_lab(built):
    _tmp, tarball, _cp, _env = built
    with tarfile.open(str(tarball)) as tar:
        names = tar.getnames()
        regular = set(m.name for m in tar.getmembers() if m.isfile())
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        files = json.load(tar.extractfile("FILES.json"))
    for required in REQUIRED:
        assert any(n == required.rstrip("/") or n.startswith(required) for n in names), "missing %s" % required
    for module in repo_modules():
        assert "plugins/modules/%s.py" % module in names
    offenders = [n for n in names if n.split("/")[0] in FORBIDDEN_TOP or n.startswith(FORBIDDEN_PATHS)
                 or "__pycache__" in n.split("/") or n.endswith((".pyc", ".tar.gz"))]
    assert offenders == []
    info = manifest["collection_info"]
    meta = galaxy_meta()
    assert (info["namespace"], info["name"], info["version"]) == (NAMESPACE, NAME, meta["version"])
    assert info["license"] == meta["license"]
    # FILES.json lists every file with its checksum: what `ansible-galaxy collection verify` checks against
    listed = set(entry["name"] for entry in files["files"] if entry["ftype"] == "file")
    assert listed == regular - {"MANIFEST.json", "FILES.json"}
    assert "meta/runtime.yml" in listed


def test_installed_collection_is_the_one_used(built):
    tmp, _tarball, collections_path, env = built
    proc = run([os.path.join(BIN, "ansible-galaxy"), "collection", "list", FQCN, "--format", "json"], tmp, env)
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    locations = [path for path, colls in listing.items() if FQCN in colls]
    assert locations == [str(collections_path / "ansible_collections")]
    assert listing[locations[0]][FQCN]["version"] == galaxy_meta()["version"]


def test_ansible_doc_lists_every_module(built):
    tmp, _tarball, collections_path, env = built
    proc = run([os.path.join(BIN, "ansible-doc"), "-l", FQCN, "--json"], tmp, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = json.loads(proc.stdout)
    expected = ["%s.%s" % (FQCN, m) for m in repo_modules()]
    assert expected, "no modules in plugins/modules"
    assert sorted(listed) == expected, proc.stderr
    # every module documents itself (a broken DOCUMENTATION shows up as an empty description)
    assert [name for name, desc in listed.items() if not desc] == []
    assert "[ERROR]" not in proc.stderr, proc.stderr
    # and they come from the installed tarball
    files = run([os.path.join(BIN, "ansible-doc"), "-F", FQCN], tmp, env)
    assert files.returncode == 0, files.stderr
    paths = dict(line.split(None, 1) for line in files.stdout.splitlines() if line.strip())
    assert sorted(paths) == expected
    for module, path in paths.items():
        assert path.strip() == str(collections_path / "ansible_collections" / NAMESPACE / NAME / "plugins" / "modules"
                                   / (module.split(".")[-1] + ".py"))


def test_ansible_doc_shows_the_inventory_plugin_and_roles(built):
    tmp, _tarball, _cp, env = built
    inventories = repo_plugins("inventory")
    assert "kubeconfig" in inventories
    proc = run([os.path.join(BIN, "ansible-doc"), "-t", "inventory", "-l", FQCN, "--json"], tmp, env)
    assert proc.returncode == 0, proc.stderr
    assert sorted(json.loads(proc.stdout)) == ["%s.%s" % (FQCN, p) for p in inventories]
    proc = run([os.path.join(BIN, "ansible-doc"), "-t", "inventory", "%s.kubeconfig" % FQCN], tmp, env)
    assert proc.returncode == 0 and "group_by_network" in proc.stdout, proc.stderr
    roles = repo_roles_with_specs()
    assert "diagnose" in roles, "roles/diagnose/meta/argument_specs.yml is missing"
    proc = run([os.path.join(BIN, "ansible-doc"), "-t", "role", "-l", FQCN, "--json"], tmp, env)
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert sorted(name.split(".")[2] for name in listed) == roles
    for role in roles:
        proc = run([os.path.join(BIN, "ansible-doc"), "-t", "role", "%s.%s" % (FQCN, role)], tmp, env)
        assert proc.returncode == 0 and "ENTRY POINT" in proc.stdout, proc.stdout + proc.stderr


def test_ansible_doc_documents_every_filter(built):
    tmp, _tarball, _cp, env = built
    documented = sorted(os.path.splitext(os.path.basename(p))[0]
                        for p in glob.glob(os.path.join(ROOT, "plugins", "filter", "*.yml")))
    proc = run([os.path.join(BIN, "ansible-doc"), "-t", "filter", "-l", FQCN, "--json"], tmp, env)
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    # every filter a FilterModule exports is listed; each must have its YAML documentation beside it
    assert sorted(name.split(".")[2] for name in listed) == documented
    assert [name for name, desc in listed.items() if not desc or desc == "UNDOCUMENTED"] == []


def requirement_names(path):
    names = []
    with open(path) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                names.append(line.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower())
    return names


def test_execution_environment_metadata_is_found_by_ansible_builder(built):
    """ansible-builder reads meta/execution-environment.yml of the installed collection (what an EE build does)."""
    tmp, _tarball, collections_path, env = built
    proc = run([os.path.join(BIN, "ansible-builder"), "introspect", str(collections_path)], tmp, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = yaml.safe_load(proc.stdout.split("\n", 1)[1])
    python = [line.split("#")[0].strip() for line in data["python"]]
    system = [line.split("#")[0].strip() for line in data["system"]]
    # every runtime requirement except those ansible-core already brings (PyYAML)
    for name in requirement_names(os.path.join(ROOT, "requirements.txt")):
        if name != "pyyaml":
            assert any(req.lower().startswith(name) for req in python), (name, python)
    assert all("from collection %s" % FQCN in line for line in data["python"] + data["system"])
    assert any(req.startswith("ca-certificates") for req in system)


def test_execution_environment_definition_builds_a_context(built):
    """The ansible-builder v3 definition of execution-environment/ makes a build context with the tarball."""
    tmp, tarball, _cp, env = built
    definition_dir = tmp / "ee"
    definition_dir.mkdir()
    with open(os.path.join(ROOT, "execution-environment", "execution-environment.yml")) as handle:
        text = handle.read()
    (definition_dir / "execution-environment.yml").write_text(text)
    (definition_dir / "meshmend-multicluster.tar.gz").write_bytes(tarball.read_bytes())
    context = tmp / "ee-context"
    proc = run([os.path.join(BIN, "ansible-builder"), "create", "-f", str(definition_dir / "execution-environment.yml"),
                "--context", str(context), "--output-filename", "Containerfile"], tmp, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile
    assert "ansible-core>=2.19.0,<2.20" in containerfile
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    (requirement,) = galaxy["collections"]
    assert requirement["type"] == "file"
    assert (context / "_build" / requirement["name"]).read_bytes() == tarball.read_bytes()


def test_diagnose_by_fqcn_from_the_installed_tarball_against_the_lab(built):
    """Outside the repo: the installed collection, an inventory from the kubeconfig plugin, the playbook by FQCN."""
    if os.path.join(ROOT, "tests") not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
    from labutil import start_lab  # pylint: disable=import-outside-toplevel

    tmp, _tarball, collections_path, env = built
    work = tmp / "fqcn"
    work.mkdir()
    with start_lab("network-namespace-label-missing", str(work / "lab")) as lab:
        (work / "mesh.meshmend.yml").write_text(yaml.safe_dump({
            "plugin": "%s.kubeconfig" % FQCN, "kubeconfig": lab.kubeconfig, "group_by_network": True}))
        cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "mesh.meshmend.yml", "%s.diagnose" % FQCN,
               "-e", "meshmend_report_dir=%s" % (work / "reports")]
        failing = run(cmd, work, env)
        report_only = run(cmd + ["-e", "meshmend_fail_on=never", "-e", "meshmend_report_dir=%s" % (work / "never")],
                          work, env)
        with open(lab.kubeconfig) as handle:
            secrets = [str(v) for u in yaml.safe_load(handle).get("users", []) for k, v in (u.get("user") or {}).items()
                       if k in ("token", "client-key-data", "password")]
    # an error finding fails the run with Ansible's "host failed" status, and says why
    assert failing.returncode == 2, failing.stdout + failing.stderr
    assert "network.namespace_label_missing" in failing.stdout
    output = failing.stdout + failing.stderr
    assert secrets and not [secret for secret in secrets if secret in output]
    # the role ran from the installed tarball, not from the repo
    assert "%s/ansible_collections/%s/%s/roles/diagnose/tasks/main.yml" % (collections_path, NAMESPACE, NAME) in output
    assert ROOT + "/roles" not in output
    with open(str(work / "reports" / "meshmend-report.json")) as handle:
        report = json.load(handle)
    assert report["failed"] is True
    assert [(f["id"], f["cluster"]) for f in report["findings"] if f["severity"] == "error"] == [
        ("network.namespace_label_missing", "cluster2")]
    junit = (work / "reports" / "meshmend-junit.xml").read_text()
    assert 'name="network/network.namespace_label_missing"' in junit and "<failure" in junit
    # meshmend_fail_on=never: same findings, exit status 0
    assert report_only.returncode == 0, report_only.stdout + report_only.stderr
    with open(str(work / "never" / "meshmend-report.json")) as handle:
        assert json.load(handle)["failed"] is False
