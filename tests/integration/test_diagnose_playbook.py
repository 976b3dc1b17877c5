"""The diagnose contract (DESIGN.md section 3) against a running lab: the four report files,
the exit status by meshmend_fail_on, --limit, an unreachable cluster, and faults injected with
the real kubectl yielding the same findings as the matching bundled scenario."""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
SCENARIOS = os.path.join(ROOT, "meshlab", "scenarios")
REPORTS = ("meshmend-report.json", "meshmend-report.md", "meshmend-report.html", "meshmend-junit.xml")

import labutil  # noqa: E402  (tests/labutil.py)

from leakcheck import assert_no_secrets, lab_secrets  # noqa: E402  (tests/integration/leakcheck.py)


pytestmark = pytest.mark.slow


def diagnose(lab, report_dir, *extra):
    """One diagnose run on ``lab``; its output (stdout and stderr) and report dir are scanned for credentials."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    cmd = [os.path.join(BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "diagnose.yml"),
           "-i", str(lab.inventory), "-e", "meshmend_report_dir=%s" % report_dir] + list(extra)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=600, check=False)
    out = proc.stdout.decode("utf-8", "replace")
    assert_no_secrets(lab, out, str(report_dir))
    return proc.returncode, out


def load(report_dir):
    with open(os.path.join(str(report_dir), "meshmend-report.json")) as fh:
        return json.load(fh)


def triples(doc):
    return sorted((f["id"], f["cluster"], f.get("peer")) for f in doc["findings"])


def expected(scenario):
    with open(os.path.join(SCENARIOS, scenario, "expected.yaml")) as fh:
        return sorted((f["id"], f["cluster"], f.get("peer")) for f in (yaml.safe_load(fh) or {}).get("findings") or [])


def kubectl(lab, *args):
    proc = subprocess.run([os.path.join(BIN, "kubectl"), "--kubeconfig", str(lab.kubeconfig)] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


@pytest.fixture(scope="module")
def demo(shared_lab):
    lab = shared_lab("demo")  # its tests only read it
    lab_secrets(lab)   # the credentials to look for, read while every cluster is up
    return lab


@pytest.fixture
def healthy(tmp_path):
    lab = labutil.start_lab("healthy-multinetwork", str(tmp_path / "lab"))
    try:
        lab_secrets(lab)   # before a test takes a cluster down or deletes a remote secret
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def reports(tmp_path):
    """The report dir beside (not above) the function-scoped lab's dir: the leak scan walks it."""
    return tmp_path / "reports"


def test_reports_and_default_exit_status(demo, tmp_path):
    rc, out = diagnose(demo, tmp_path)
    assert rc != 0, out[-3000:]
    assert sorted(os.listdir(str(tmp_path))) == sorted(REPORTS)
    doc = load(tmp_path)
    assert doc["clusters"] == {"in_play": ["cluster1", "cluster2"], "out_of_play": []}
    assert triples(doc) == expected("demo")
    assert doc["summary"]["counts"]["error"] > 0 and doc["failed"] is True
    assert all(isinstance(doc["requests"]["per_cluster"][c], int) for c in ("cluster1", "cluster2"))
    assert doc["timing"]["areas"]
    html = open(str(tmp_path / "meshmend-report.html")).read()
    svg = ET.fromstring(html[html.index("<svg"):html.index("</svg>") + 6])
    names = [g.get("data-cluster") for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("data-cluster")]
    assert sorted(names) == ["cluster1", "cluster2"]
    # demo: cluster1 lacks the remote secret for cluster2, a red link cluster1 -> cluster2
    links = [(g.get("data-source"), g.get("data-target"), g.get("class")) for g in svg.iter("{http://www.w3.org/2000/svg}g")
             if g.get("data-source")]
    assert ("cluster1", "cluster2", "link link-error") in links
    md = open(str(tmp_path / "meshmend-report.md")).read()
    assert "docs/findings.md#remote_secret.missing" in md
    ET.parse(str(tmp_path / "meshmend-junit.xml"))


@pytest.mark.parametrize("fail_on,fails", [("never", False), ("warning", True), ("error", True)])
def test_exit_status_follows_fail_on(demo, tmp_path, fail_on, fails):
    rc, out = diagnose(demo, tmp_path, "-e", "meshmend_fail_on=%s" % fail_on)
    assert (rc != 0) == fails, out[-3000:]
    assert load(tmp_path)["fail_on"] == fail_on


def test_bad_fail_on_is_refused_clearly(demo, tmp_path):
    rc, out = diagnose(demo, tmp_path, "-e", "meshmend_fail_on=sometimes")
    assert rc != 0
    assert "diagnose_fail_on" in out and "Traceback" not in out


def test_missing_python_package_is_one_clear_error(demo, tmp_path, monkeypatch):
    """A controller without the kubernetes package: one error naming the package, the interpreter and the
    install command, exit status 1 (could not run), no report calling the clusters unreachable."""
    shadow = tmp_path / "shadow" / "kubernetes"
    shadow.mkdir(parents=True)
    # what Python raises when the package is not installed (ModuleNotFoundError carries the name)
    (shadow / "__init__.py").write_text('raise ModuleNotFoundError("No module named \'kubernetes\'", name="kubernetes")\n')
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    reports = tmp_path / "reports"
    rc, out = diagnose(demo, reports)
    assert rc == 1, out[-3000:]
    expected = "the Python package kubernetes is not installed for %s" % sys.executable
    assert expected in out and ("%s -m pip install kubernetes" % sys.executable) in out, out[-3000:]
    assert "clusters cluster1, cluster2" in out, out[-3000:]
    summary = out[out.index("MESHMEND SUMMARY"):]
    assert "why: " in summary and "pip install kubernetes" in summary, summary
    assert "cluster.unreachable" not in out and "Traceback" not in out
    assert not os.path.exists(os.path.join(str(reports), "meshmend-report.json"))


def test_limit_reports_out_of_play(demo, tmp_path):
    rc, out = diagnose(demo, tmp_path, "--limit", "cluster1")
    doc = load(tmp_path)
    assert doc["clusters"] == {"in_play": ["cluster1"], "out_of_play": ["cluster2"]}, out[-3000:]
    assert set(doc["facts"]) == {"cluster1"}
    assert all(f["cluster"] == "cluster1" for f in doc["findings"])
    junit = ET.parse(str(tmp_path / "meshmend-junit.xml")).getroot()
    skipped = [tc for tc in junit.iter("testcase") if tc.get("classname") == "cluster2"]
    assert skipped and all(tc.find("skipped") is not None for tc in skipped)
    assert "cluster2" in open(str(tmp_path / "meshmend-report.md")).read()


def test_healthy_passes(healthy, reports):
    rc, out = diagnose(healthy, reports)
    assert rc == 0, out[-3000:]
    doc = load(reports)
    assert not [f for f in doc["findings"] if f["severity"] in ("error", "warning")]


def test_unreachable_cluster_is_reported_and_the_others_finish(healthy, reports):
    healthy.ctl("cluster", "down", "cluster2")
    rc, out = diagnose(healthy, reports)
    assert rc != 0
    doc = load(reports)
    assert ("cluster.unreachable", "cluster2", None) in triples(doc), out[-3000:]
    assert doc["facts"]["cluster2"]["reachable"] is False
    assert doc["facts"]["cluster1"]["reachable"] is True and doc["facts"]["cluster1"]["istiod"]
    assert doc["summary"]["unreachable"] == ["cluster2"]


def test_every_cluster_down_still_writes_the_report(healthy, reports):
    """The gather ends each down cluster as unreachable but keeps the first in play, so the analysis still runs
    and ends it after the reports: the report names them all and the exit status is the findings' (2), not
    Ansible's 4."""
    healthy.ctl("cluster", "down", "cluster1")
    healthy.ctl("cluster", "down", "cluster2")
    rc, out = diagnose(healthy, reports)
    assert rc == 2, out[-3000:]
    doc = load(reports)
    assert doc["summary"]["unreachable"] == ["cluster1", "cluster2"], out[-3000:]
    assert ("cluster.unreachable", "cluster1", None) in triples(doc)
    recap = out.split("PLAY RECAP", 1)[1]
    for name in ("cluster1", "cluster2"):
        assert re.search(r"%s\s+: ok=\d+\s+changed=0\s+unreachable=1\s+failed=0" % name, recap), recap


@pytest.mark.parametrize("scenario,fault", [
    ("remote-secret-missing",
     ["--context", "cluster1", "-n", "istio-system", "delete", "secret", "istio-remote-secret-cluster2"]),
    ("network-namespace-label-missing",
     ["--context", "cluster2", "label", "namespace", "istio-system", "topology.istio.io/network-"]),
])
def test_kubectl_fault_matches_its_scenario(healthy, reports, scenario, fault):
    kubectl(healthy, *fault)
    rc, out = diagnose(healthy, reports)
    assert triples(load(reports)) == expected(scenario), out[-3000:]
    assert rc != 0
