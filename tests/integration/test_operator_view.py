"""The operator's view at scale (issue 17) on a 10-cluster lab with cluster3 down and cluster7 slow: the
console summary and the HTML report name cluster3 once, as the root cause, with its 9 dependents grouped
under it, and the console says which clusters are still pending while they are read."""
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

import labutil
from leakcheck import assert_no_secrets, lab_secrets  # noqa: E402  (tests/integration/leakcheck.py)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
PEERS = ["cluster%d" % i for i in range(1, 11) if i != 3]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One diagnose of a generated 10-cluster mesh, cluster3 down, cluster7 answering slowly."""
    base = tmp_path_factory.mktemp("ten")
    lab = labutil.start_generated_lab(base, 10)
    try:
        lab_secrets(lab)
        lab.ctl("cluster", "down", "cluster3")
        lab.ctl("fault", "cluster7", "latency", "0.25")
        reports = base / "reports"
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   MESHMEND_PROGRESS_INTERVAL="1", PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
        proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "diagnose.yml"),
                               "-i", str(lab.inventory), "-e", "meshmend_report_dir=%s" % reports],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600,
                              check=False)
        out = proc.stdout.decode("utf-8", "replace")
        assert_no_secrets(lab, out, str(reports))
        with open(str(reports / "meshmend-report.html")) as fh:
            html = fh.read()
        yield proc.returncode, out, html
    finally:
        lab.stop()


def test_console_names_the_down_cluster_once_with_its_9_dependents(run):
    rc, out, _html = run
    assert rc == 2, out[-4000:]
    block = out.split("MESHMEND SUMMARY", 1)[1]
    assert "clusters: 9 read, 1 unreachable: cluster3" in block
    roots = [line for line in block.splitlines() if "[root cause of" in line]
    assert len(roots) == 1, block
    assert roots[0].strip().startswith("error cluster.unreachable cluster3:")
    assert "on 9 cluster(s)]" in roots[0]
    # every peer's symptom grouped under it, on one line, not one line per peer
    grouped = "explains 9 x error remote_secret.api_unreachable on %s -> cluster3" % ", ".join(PEERS)
    assert grouped in block, block
    assert block.count("remote_secret.api_unreachable") == 2   # the group and its check's mark
    assert "other findings" not in block
    assert "[x] remote_secret.api_unreachable 9 on" in block and "(all explained by a root cause above)" in block


def recap(out):
    """{host: {"ok": n, "unreachable": n, ...}} from Ansible's PLAY RECAP."""
    counts = {}
    for line in out.split("PLAY RECAP", 1)[1].splitlines():
        m = re.match(r"(\S+)\s+:\s+(.*)$", line.strip())
        if m:
            counts[m.group(1)] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2)))
    return counts


def test_the_recap_counts_the_down_cluster_unreachable(run):
    rc, out, _html = run
    counts = recap(out)
    assert sorted(counts) == sorted(PEERS + ["cluster3"]), out[-3000:]
    assert counts["cluster3"]["unreachable"] == 1 and counts["cluster3"]["failed"] == 0
    assert all(counts[peer]["unreachable"] == 0 and counts[peer]["failed"] == 0 for peer in PEERS), counts
    # as soon as its gather ends, with the reason; the summary and the exit status are the findings' (above: 2)
    assert re.search(r"UNREACHABLE! => .*cluster3 could not be read: ", out.replace("\n", " ")), out[-3000:]
    gather = out.index("TASK [meshmend.multicluster.diagnose : Gather each cluster")
    assert gather < out.index("UNREACHABLE!") < out.index("TASK [meshmend.multicluster.diagnose : Analyze every cluster")
    # the recap task at the end runs once, on the first cluster, not once per cluster (each would be a worker
    # process): no other cluster counts a skipped task
    assert counts["cluster1"]["skipped"] >= 1 and all(counts[peer]["skipped"] == 0 for peer in PEERS[1:]), counts
    assert rc == 2


class RootCauses(HTMLParser):
    """The root-cause <details> of the page and their symptom groups (data attributes), in page order."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.roots, self.order = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "details" and "root-cause" in (a.get("class") or "").split():
            self.roots.append({"key": a["data-key"], "dependents": int(a["data-dependents"]),
                               "explains": int(a["data-explains"]), "groups": {}})
        elif tag == "details" and a.get("data-id") and self.roots:
            self.roots[-1]["groups"][a["data-id"]] = int(a["data-count"])
        if tag in ("section", "svg"):
            self.order.append(a.get("id") or tag)


def test_html_leads_with_the_root_cause_and_groups_its_dependents(run):
    _rc, _out, html = run
    page = RootCauses()
    page.feed(html)
    assert [r["key"] for r in page.roots] == ["cluster.unreachable@cluster3"]
    root = page.roots[0]
    assert root["dependents"] == 9 and root["explains"] == 18
    assert root["groups"] == {"remote_secret.api_unreachable": 9, "remote_secret.not_synced": 9}
    names = re.search(r'<span class="names dependents">([^<]*)</span>', html).group(1)
    assert names.split(", ") == PEERS
    # the page leads with the root causes: before the picture of the mesh
    assert page.order.index("root-causes") < page.order.index("svg")


def test_progress_names_the_pending_cluster(run):
    _rc, out, _html = run
    progress = [line for line in out.splitlines() if line.startswith("meshmend: ") and "cluster(s) read after" in line]
    assert progress, out[:4000]
    assert any("pending: " in line and "cluster7" in line.split("pending: ", 1)[1] for line in progress), progress
    assert all(re.match(r"meshmend: \d+/10 cluster\(s\) read after \d+ s", line) for line in progress)
    # the down cluster is counted as failed while the others are read, though the facts stay off the console
    assert any(", 1 failed (cluster3)" in line for line in progress), progress
