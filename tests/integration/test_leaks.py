"""No credential leaves (DESIGN.md section 7), checked where leaks happen most: the runs that handle
credentials on purpose, at the highest verbosity, with --diff.

On the demo lab: remediate with --check --diff -vvv, then for real with --diff -vvv (it creates a remote
secret: a kubeconfig holding a fresh istio-reader token), then diagnose -vvv probing every remote secret's
kubeconfig from the controller, then the standalone remote_secret_check module ad hoc. Every stdout,
stderr, report file and ansible log is scanned for every token and private key the lab holds before and
after (leakcheck.py), and the temporary directory the runs used must hold no file with a credential
afterwards (kubeconfigs from remote secrets never touch disk). validate_certs=false works and warns.
"""
import base64
import json
import os
import re
import subprocess
import sys

import pytest

from labutil import start_lab
from leakcheck import assert_no_secrets, find_secrets, lab_secrets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = start_lab("demo", str(tmp_path_factory.mktemp("leaks")))
    try:
        yield lab
    finally:
        lab.stop()


def _run(cmd, tmp, log, extra_env=None):
    tmpdir = tmp / "tmp"
    tmpdir.mkdir(exist_ok=True)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""), TMPDIR=str(tmpdir),
               ANSIBLE_LOCAL_TEMP=str(tmpdir / "ansible-local"), ANSIBLE_REMOTE_TEMP=str(tmpdir / "ansible-remote"),
               ANSIBLE_LOG_PATH=str(log), **(extra_env or {}))
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def _gateway_inventory(path):
    path.write_text("all:\n  hosts:\n    cluster2:\n      meshmend_eastwest_gateway_ip: 172.18.2.200\n")
    return str(path)


def test_the_scanner_finds_what_it_looks_for(lab):
    """Positive control: the lab's own kubeconfig and a cacerts dump are full of credentials."""
    secrets = lab_secrets(lab)
    kinds = " ".join(k for k, _v in secrets)
    assert "kubeconfig user" in kinds and "token" in kinds and "ca-key.pem" in kinds
    assert "istio-reader" in kinds or "remote-secret" in kinds
    assert find_secrets(secrets, lab.kubeconfig)
    dump = lab.kubectl("get", "secret", "cacerts", "-n", "istio-system", "-o", "yaml", context="cluster1").stdout
    assert any("ca-key.pem" in label for _w, label in find_secrets(secrets, dump))
    assert find_secrets([("t", "x" * 40)], "prefix " + "x" * 20 + " truncated")


def test_remediate_and_diagnose_at_full_verbosity_leak_nothing(lab, tmp_path):
    before = list(lab_secrets(lab))
    gw = _gateway_inventory(tmp_path / "gw.yml")
    log = tmp_path / "ansible.log"
    pb = os.path.join(BIN, "ansible-playbook")
    runs = [
        _run([pb, os.path.join(ROOT, "playbooks", "remediate.yml"), "-i", lab.inventory, "-i", gw, "--check",
              "--diff", "-vvv", "-e", "meshmend_report_dir=%s" % (tmp_path / "check")], tmp_path, log),
        _run([pb, os.path.join(ROOT, "playbooks", "remediate.yml"), "-i", lab.inventory, "-i", gw, "--diff",
              "-vvv", "-e", "meshmend_report_dir=%s" % (tmp_path / "apply")], tmp_path, log),
        _run([pb, os.path.join(ROOT, "playbooks", "diagnose.yml"), "-i", lab.inventory, "-vvv",
              "-e", "meshmend_report_dir=%s" % (tmp_path / "diag"), "-e", "diagnose_probe_remote_secrets=true"],
             tmp_path, log),
        _run([os.path.join(BIN, "ansible"), "localhost", "-vvv", "-m", "meshmend.multicluster.remote_secret_check",
              "-a", json.dumps({"kubeconfig": lab.kubeconfig, "context": "cluster1", "cluster_name": "cluster1",
                                "probe": True, "peers": [{"name": "cluster2", "server": lab.urls["cluster2"]}]})],
             tmp_path, log),
    ]
    # the remediation created a remote secret in cluster1 holding a new reader token: look for it too
    after = lab_secrets(lab, refresh=True)
    assert len(after) > len(before), "remediate should have minted a remote secret with a reader token"
    assert "istio-remote-secret-cluster2" in str([k for k, _v in after])
    for r in runs:
        assert "Traceback" not in r.stdout + r.stderr, (r.args, (r.stdout + r.stderr)[-3000:])
    assert runs[1].returncode == 0, runs[1].stdout[-3000:]
    assert runs[3].returncode == 0 and re.search(r"probe:\s+cluster: cluster2\s+error: null\s+ok: true", runs[3].stdout), runs[3].stdout[-3000:]
    assert "--- before" in runs[1].stdout or "before" in runs[1].stdout   # --diff did show something
    texts = [x for r in runs for x in (r.stdout, r.stderr)]
    assert_no_secrets(lab, *texts, str(tmp_path / "check"), str(tmp_path / "apply"), str(tmp_path / "diag"),
                      str(log), extra=before)
    # nothing the runs left in their temporary directory holds a credential
    hits = find_secrets(before + list(after), str(tmp_path / "tmp"))
    assert hits == [], hits


def test_validate_certs_false_warns_and_still_redacts(lab, tmp_path):
    lab.ctl("fault", "cluster1", "bad-cert")
    try:
        r = _run([os.path.join(BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "diagnose.yml"),
                  "-i", lab.inventory, "-e", "meshmend_report_dir=%s" % (tmp_path / "r"), "-e", "meshmend_fail_on=never"],
                 tmp_path, tmp_path / "ansible.log", {"K8S_AUTH_VALIDATE_CERTS": "false"})
    finally:
        lab.ctl("fault", "cluster1", "clear")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "TLS certificate verification is disabled (validate_certs=false)" in out
    assert "cluster1" in out and "cluster.unreachable" not in out   # the unverifiable server was read
    assert_no_secrets(lab, r.stdout, r.stderr, str(tmp_path / "r"))


def test_secrets_made_with_kubectl_apply_leak_nothing_from_any_playbook(lab, tmp_path):
    """Issue 15 item 2: ``kubectl apply`` copies the whole Secret into the last-applied-configuration annotation,
    and gather used to return Secret annotations, so the reader token reached stdout and the log at -v.
    The remote secret is re-made with kubectl apply; every playbook runs at -vvv; the scan looks for the lab's
    credentials and for each remote secret's whole decoded content (raw and base64, i.e. its data value)."""
    got = lab.kubectl("get", "secret", "istio-remote-secret-cluster1", "-n", "istio-system", "-o", "json",
                      context="cluster2")
    assert got.returncode == 0, got.stderr
    secret = json.loads(got.stdout)
    secret["metadata"] = dict((k, v) for k, v in secret["metadata"].items()
                              if k in ("name", "namespace", "labels", "annotations"))
    for name in ("istio-remote-secret-cluster1", "istio-remote-secret-cluster1-applied"):
        secret["metadata"]["name"] = name
        lab.kubectl("delete", "secret", name, "-n", "istio-system", "--ignore-not-found", context="cluster2")
        made = lab.kubectl("apply", "-f", "-", context="cluster2", input=json.dumps(secret))
        assert made.returncode == 0, made.stderr
    applied = json.loads(lab.kubectl("get", "secret", "istio-remote-secret-cluster1", "-n", "istio-system", "-o",
                                     "json", context="cluster2").stdout)
    assert "kubectl.kubernetes.io/last-applied-configuration" in applied["metadata"]["annotations"]
    contents = [("remote secret %s content" % k, base64.b64decode(v).decode()) for k, v in applied["data"].items()]
    secrets = list(lab_secrets(lab, refresh=True)) + contents
    log = tmp_path / "ansible.log"
    pb = os.path.join(BIN, "ansible-playbook")
    runs = [_run([pb, os.path.join(ROOT, "playbooks", name), "-i", lab.inventory, "-vvv", "--diff",
                  "-e", "meshmend_report_dir=%s" % (tmp_path / name), "-e", "diagnose_probe_remote_secrets=true",
                  "-e", "meshmend_fail_on=never"] + extra, tmp_path, log)
            for name, extra in (("diagnose.yml", []), ("remediate.yml", ["--check"]), ("connectivity.yml", []))]
    runs.append(_run([os.path.join(BIN, "ansible"), "cluster2", "-i", lab.inventory, "-vvv", "--diff", "--check",
                      "-m", "meshmend.multicluster.remote_secret",
                      "-a", json.dumps({"peer_name": "cluster1", "kubeconfig": lab.kubeconfig, "context": "cluster2"})],
                     tmp_path, log))
    for r in runs:
        assert "Traceback" not in r.stdout + r.stderr, (r.args, (r.stdout + r.stderr)[-3000:])
    # the runs did see the secret (so the scan is not vacuous)
    assert "istio-remote-secret-cluster1" in runs[0].stdout + runs[3].stdout
    texts = [x for r in runs for x in (r.stdout, r.stderr)]
    dirs = [str(tmp_path / n) for n in ("diagnose.yml", "remediate.yml", "connectivity.yml")]
    hits = find_secrets(secrets, *(texts + dirs + [str(log)]))
    assert hits == [], hits
