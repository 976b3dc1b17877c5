"""`molecule test -s demo` (extensions/molecule/demo): create starts the lab, converge remediates, idempotence,
verify diagnoses and asserts no error finding, destroy stops the lab. Real molecule, real lab, real playbooks."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(os.path.abspath(sys.executable))
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SCENARIO = os.path.join(ROOT, "extensions", "molecule", "demo")
SCENARIO_FILES = ["converge.yml", "create.yml", "destroy.yml", "molecule.yml", "verify.yml"]

pytestmark = pytest.mark.slow


def molecule(tmp_path, *args, scenario_env=None):
    env = dict(os.environ)
    # Molecule writes its own ansible.cfg; the scenario carries what the repo's ansible.cfg would give.
    for key in [k for k in env if k.startswith(("ANSIBLE_", "MOLECULE_"))]:
        del env[key]
    env.update({
        "PATH": BIN + os.pathsep + env.get("PATH", ""),
        "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path / "molecule"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "NO_COLOR": "1",
        "ANSIBLE_NOCOLOR": "1",
    })
    env.update(scenario_env or {})
    proc = subprocess.run([os.path.join(BIN, "molecule")] + list(args) + ["-s", "demo"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    return proc.returncode, ANSI.sub("", proc.stdout + proc.stderr)


def lab_processes(state_dir):
    """PIDs of processes whose command line names this lab state dir (read from /proc, nothing killed)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                cmdline = handle.read().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if "meshlab" in cmdline and str(state_dir) in cmdline:
            found.append(int(pid))
    return found


def test_molecule_demo_scenario(tmp_path):
    rc, out = molecule(tmp_path, "test")
    assert rc == 0, out[-6000:]
    for step in ("destroy", "syntax", "create", "converge", "idempotence", "verify"):
        assert re.search(r"demo \S+ %s: Executed: Successful" % step, out), (step, out[-6000:])
    # converge really fixed the demo faults, idempotence found nothing left to plan
    for fixed in ("network.namespace_label_missing@cluster2", "eastwest_gateway.external_ip_pending@cluster2",
                  "remote_secret.missing@cluster1->cluster2"):
        assert re.search(r"fixed\s+%s" % re.escape(fixed), out), fixed
    assert "plan: 0 action(s)" in out
    # destroy stopped the lab, and nothing (reports, state) was written beside the scenario
    assert lab_processes(tmp_path / "molecule" / "meshlab") == []
    assert sorted(os.listdir(SCENARIO)) == SCENARIO_FILES


def test_molecule_verify_fails_while_errors_remain(tmp_path):
    """verify judges: on the unremediated demo lab it fails, naming the errors."""
    try:
        rc, out = molecule(tmp_path, "create")
        assert rc == 0, out[-4000:]
        rc, out = molecule(tmp_path, "verify")
        assert rc != 0
        assert "errors remain after remediate" in out and "remote_secret.missing" in out, out[-4000:]
    finally:
        rc, out = molecule(tmp_path, "destroy")
    assert rc == 0, out[-4000:]
    assert lab_processes(tmp_path / "molecule" / "meshlab") == []
