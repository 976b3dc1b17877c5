"""Fault matrix (DESIGN.md section 7): each API-server fault on one cluster of a three-cluster lab.

One lab (`meshlab generate --clusters 3`) serves the whole matrix; each case switches a fault on
cluster3 with `meshlab ctl fault`, runs the real diagnose playbook, and clears it. For every case:
cluster1 and cluster2 are fully diagnosed (reachable, no failed read, istiod, proxy endpoints of all
three clusters, remote secrets) with no finding; cluster3 gets its finding naming the cause (or, for a
fault the retries absorb, none); the exit status follows; all four report files are written; the
console names cluster3's reason; no traceback; no credential in any output.
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from labutil import start_generated_lab
from leakcheck import assert_no_secrets, lab_secrets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
REPORTS = ("meshmend-report.json", "meshmend-report.md", "meshmend-report.html", "meshmend-junit.xml")
FAULTY, HEALTHY = "cluster3", ("cluster1", "cluster2")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("faults")
    lab = start_generated_lab(base, 3)
    try:
        lab_secrets(lab)   # collected while every cluster answers
        yield lab
    finally:
        lab.stop()


def diagnose(lab, report_dir, env=None):
    e = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
             PATH=BIN + os.pathsep + os.environ.get("PATH", ""), **(env or {}))
    cmd = [os.path.join(BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "diagnose.yml"),
           "-i", lab.inventory, "-e", "meshmend_report_dir=%s" % report_dir]
    return subprocess.run(cmd, cwd=ROOT, env=e, capture_output=True, text=True, timeout=300, check=False)


# (id, fault args, env for the run, expected finding on cluster3 or None, words its evidence / the console shows)
FAULTS = [
    ("latency-over-timeout", ["latency", "1.0"], {"K8S_AUTH_REQUEST_TIMEOUT": "0.4", "K8S_AUTH_RETRIES": "1"},
     "cluster.unreachable", "no answer within 0.4s (request_timeout)"),
    ("errors-500", ["errors", "1.0", "500"], {}, "cluster.unreachable", "500 Internal Server Error"),
    ("errors-503", ["errors", "1.0", "503"], {}, "cluster.unreachable", "503 Service Unavailable"),
    ("errors-429", ["errors", "1.0", "429"], {}, "cluster.unreachable", "429 Too Many Requests"),
    # transient: bounded retries absorb them (9 attempts per request: a miss is ~1e-5 per request)
    ("slow-and-flaky", ["latency", "0.05", ";", "errors", "0.3", "500"], {"K8S_AUTH_RETRIES": "8"}, None, None),
    ("drop-flaky", ["drop", "0.3"], {"K8S_AUTH_RETRIES": "8"}, None, None),
    ("drop", ["drop", "1.0"], {}, "cluster.unreachable", "connection dropped mid-response"),
    ("bad-cert", ["bad-cert"], {}, "cluster.unreachable", "TLS error: x509:"),
    ("revoke-token", ["revoke-token"], {}, "cluster.unreachable", "401 Unauthorized"),
    ("rbac-read-only", ["rbac", "read-only"], {}, "cluster.forbidden", "create pods/exec"),
    ("rbac-none", ["rbac", "none"], {}, "cluster.forbidden", "list secrets"),
]


def _check_reports(report_dir):
    for name in REPORTS:
        path = os.path.join(report_dir, name)
        assert os.path.getsize(path) > 0, name
    ET.parse(os.path.join(report_dir, "meshmend-junit.xml"))
    with open(os.path.join(report_dir, "meshmend-report.html"), encoding="utf-8") as fh:
        assert "</html>" in fh.read()
    with open(os.path.join(report_dir, "meshmend-report.json"), encoding="utf-8") as fh:
        return json.load(fh)


def _assert_fully_diagnosed(doc, name):
    f = doc["facts"][name]
    assert f["reachable"] is True and not f["error"] and f["read_errors"] == 0, (name, f)
    assert f["istiod"] and f["istiod"]["ready_replicas"] == 1, (name, f["istiod"])
    assert f["cluster_id"] == name and f["network"] and f["mesh_id"] == "mesh1"
    proxy = f["proxy"] or {}
    assert not proxy.get("error") and len(proxy.get("endpoints") or []) == 3, (name, proxy)
    assert len(f["remote_secrets"] or []) == 2, (name, f["remote_secrets"])
    assert all(k["error"] is None for rs in f["remote_secrets"] for k in rs["keys"])
    assert [x for x in doc["findings"] if x["cluster"] == name] == []


@pytest.mark.parametrize("case,fault,env,finding,words", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_on_one_cluster(lab, tmp_path, case, fault, env, finding, words):
    args = list(fault)
    while args:   # several faults at once, separated by ";"
        one = args[:args.index(";")] if ";" in args else args
        lab.ctl("fault", FAULTY, *one)
        args = args[len(one) + 1:]
    try:
        proc = diagnose(lab, str(tmp_path), env)
    finally:
        lab.ctl("fault", FAULTY, "clear")
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "MODULE FAILURE" not in out, out[-3000:]
    doc = _check_reports(str(tmp_path))
    assert sorted(doc["clusters"]["in_play"]) == ["cluster1", "cluster2", "cluster3"]
    for name in HEALTHY:
        _assert_fully_diagnosed(doc, name)
    mine = [x for x in doc["findings"] if x["cluster"] == FAULTY]
    if finding is None:
        _assert_fully_diagnosed(doc, FAULTY)
        assert proc.returncode == 0, out[-3000:]
    else:
        assert [x["id"] for x in mine] == [finding], mine
        assert mine[0]["severity"] == "error"
        assert words in json.dumps(mine[0]), mine[0]
        # the console says why, under the faulty host
        assert words in out and FAULTY in out, out[-3000:]
        assert proc.returncode == 2, out[-3000:]
    assert_no_secrets(lab, proc.stdout, proc.stderr, str(tmp_path))


STANDALONE = ["eastwest_gateway_info", "proxy_endpoints_info", "root_cert_info", "remote_secret_check"]


@pytest.mark.parametrize("fault,words", [
    (["rbac", "none"], "403 Forbidden"),
    (["errors", "1.0", "503"], "503 Service Unavailable"),
    (["bad-cert"], "TLS error: x509:"),
])
def test_standalone_modules_fail_clearly(lab, tmp_path, fault, words):
    """The user-facing modules alone: a failed task whose message names the cluster, the ask and the cause."""
    tasks = []
    for m in STANDALONE:
        args = {"kubeconfig": lab.kubeconfig, "context": FAULTY, "cluster_name": FAULTY}
        if m == "remote_secret_check":
            args["peers"] = [{"name": "cluster1", "server": lab.urls["cluster1"]}]
        tasks.append({"name": m, "meshmend.multicluster.%s" % m: args, "ignore_errors": True,
                      "register": "r_%s" % m})
    tasks.append({"name": "results", "ansible.builtin.copy": {
        "dest": str(tmp_path / "results.json"),
        "content": "{{ {%s} | to_json }}" % ", ".join("'%s': r_%s" % (m, m) for m in STANDALONE)}})
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    lab.ctl("fault", FAULTY, *fault)
    try:
        e = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                 PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
        proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(play),
                               "-e", "ansible_python_interpreter=%s" % sys.executable],
                              cwd=ROOT, env=e, capture_output=True, text=True, timeout=300, check=False)
    finally:
        lab.ctl("fault", FAULTY, "clear")
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "MODULE FAILURE" not in out, out[-3000:]
    assert os.path.exists(tmp_path / "results.json"), out[-3000:]
    with open(tmp_path / "results.json", encoding="utf-8") as fh:
        results = json.load(fh)
    for m in STANDALONE:
        r = results[m]
        if r.get("failed"):
            assert r["msg"].startswith(FAULTY + ": cannot ") and words in r["msg"], (m, r)
        else:   # remote_secret_check reports an unreadable cluster as its finding
            cluster_findings = [f for f in r["findings"] if f["id"] in ("cluster.unreachable", "cluster.forbidden")]
            assert cluster_findings and cluster_findings[0]["cluster"] == FAULTY, (m, r)
            text = json.dumps(cluster_findings)
            assert words in text or (words == "403 Forbidden" and "is forbidden" in text), (m, text)
    assert_no_secrets(lab, proc.stdout, proc.stderr)
