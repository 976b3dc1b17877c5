"""Install as a user does and run by FQCN: `ansible-galaxy collection build`, install the tarball into a
temporary collections path, then `ansible-playbook meshmend.multicluster.diagnose` from a directory outside
the repo (no ansible.cfg, ANSIBLE_COLLECTIONS_PATH naming only the install) against a healthy lab."""
import json
import os
import subprocess
import sys

import pytest
import yaml


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(os.path.abspath(sys.executable))
REPORTS = ("meshmend-report.json", "meshmend-report.md", "meshmend-report.html", "meshmend-junit.xml")

pytestmark = pytest.mark.slow


def outside_env(tmp_path, collections_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "K8S_AUTH_", "KUBECONFIG"))}
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "HOME": str(tmp_path / "home"),
        "PATH": BIN + os.pathsep + os.environ.get("PATH", ""),
    })
    return env


def run(cmd, cwd, env):
    return subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=300, check=False)


def test_diagnose_by_fqcn_from_an_installed_tarball(tmp_path, shared_lab):
    work = tmp_path / "elsewhere"
    (tmp_path / "home").mkdir()
    work.mkdir()
    installed = tmp_path / "installed"
    env = outside_env(tmp_path, installed)
    assert os.path.commonpath([str(work), ROOT]) != ROOT
    assert not (work / "ansible.cfg").exists()

    proc = run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", ROOT, "--output-path", str(tmp_path / "dist")],
               work, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        version = yaml.safe_load(handle)["version"]
    tarball = tmp_path / "dist" / ("meshmend-multicluster-%s.tar.gz" % version)
    assert tarball.is_file(), proc.stdout
    proc = run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", str(tarball),
                "-p", str(installed)], work, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed_root = installed / "ansible_collections" / "meshmend" / "multicluster"
    assert (installed_root / "playbooks" / "diagnose.yml").is_file()
    assert not installed_root.is_symlink()

    # Ansible sees exactly one meshmend.multicluster: the installed one.
    listing = run([os.path.join(BIN, "ansible-galaxy"), "collection", "list", "meshmend.multicluster",
                   "--format", "json"], work, env)
    assert listing.returncode == 0, listing.stderr
    found = [path for path, colls in json.loads(listing.stdout).items() if "meshmend.multicluster" in colls]
    assert found == [str(installed / "ansible_collections")]

    reports = tmp_path / "reports"
    lab = shared_lab("healthy-multinetwork")  # diagnose only reads
    proc = run([os.path.join(BIN, "ansible-playbook"), "meshmend.multicluster.diagnose", "-v", "-i", lab.inventory,
                "-e", "meshmend_report_dir=%s" % reports], work, env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "cluster1" in output and "cluster2" in output
    # the role came from the installed copy, not from the repo
    assert "meshmend.multicluster.diagnose : " in output
    assert "No config file found" in output
    assert ROOT + "/roles" not in output
    for name in REPORTS:
        assert (reports / name).is_file() and (reports / name).stat().st_size > 0, name
    with open(str(reports / "meshmend-report.json")) as handle:
        report = json.load(handle)
    assert report["failed"] is False
    assert [f for f in report["findings"] if f["severity"] == "error"] == []
    assert "testsuite" in (reports / "meshmend-junit.xml").read_text()
