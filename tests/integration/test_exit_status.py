"""Exit statuses with one meaning each (README, "Exit statuses"), one test per row, and the summary block the
meshmend.multicluster.summary callback prints at the end of a run (issue 17): clean 0, findings over the threshold
2 (no failed task: findings do not look like a crash), bad usage 5 before any cluster is touched, the tool could
not run 1; connectivity --check creates nothing; without the callback the roles' own failing task still gives 2."""
import os
import subprocess
import sys

import pytest

import labutil
from leakcheck import assert_no_secrets, lab_secrets  # noqa: E402  (tests/integration/leakcheck.py)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

pytestmark = pytest.mark.slow


def play(lab, playbook, *extra, env=None):
    """``ansible-playbook playbooks/PLAYBOOK -i lab``; (exit status, output), the output scanned for credentials."""
    run_env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    run_env.update(env or {})
    cmd = [os.path.join(BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", playbook),
           "-i", str(lab.inventory)] + list(extra)
    proc = subprocess.run(cmd, cwd=ROOT, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=600, check=False)
    out = proc.stdout.decode("utf-8", "replace")
    assert_no_secrets(lab, out)
    return proc.returncode, out


def summary(out):
    """The block the callback printed (after PLAY RECAP)."""
    assert "MESHMEND SUMMARY" in out, out[-3000:]
    return out.split("MESHMEND SUMMARY", 1)[1]


def requests(lab):
    return sum(v["requests"] for v in lab.stats().values())


def writes(lab):
    return sum(v["writes"] for v in lab.stats().values())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo lab of this module's own: the tests reset and read its request counters."""
    lab = labutil.start_lab("demo", str(tmp_path_factory.mktemp("exit-demo")))
    try:
        lab_secrets(lab)
        yield lab
    finally:
        lab.stop()


def test_clean_is_0(shared_lab, tmp_path):
    lab = shared_lab("healthy-multinetwork")
    rc, out = play(lab, "diagnose.yml", "-e", "meshmend_report_dir=%s" % tmp_path)
    block = summary(out)
    assert rc == 0, out[-3000:]
    assert "exit status 0: clean" in block and "clusters: 2 read" in block
    assert "[x]" not in block and "[ok] 11 check(s) passed" in block   # the remote-secret area, every check


def test_findings_over_the_threshold_are_2_and_do_not_look_like_a_crash(demo, tmp_path):
    rc, out = play(demo, "diagnose.yml", "-e", "meshmend_report_dir=%s" % tmp_path)
    assert rc == 2, out[-3000:]
    assert "[ERROR]" not in out and "FAILED!" not in out and "Origin:" not in out
    block = summary(out)
    assert "exit policy: fail_on=error -> exit 2" in block
    assert "exit status 2: findings at or over the threshold" in block
    # root causes first, then the others, then one mark per check by area, then the report files
    assert block.index("root causes (1)") < block.index("other findings (2)") < block.index("checks:") \
        < block.index("reports: ")
    assert "[x] remote_secret.missing 1 on cluster1" in block
    assert "meshmend-report.html" in block


def test_findings_under_the_threshold_are_0(demo, tmp_path):
    rc, out = play(demo, "diagnose.yml", "-e", "meshmend_report_dir=%s" % tmp_path, "-e", "meshmend_fail_on=never")
    assert rc == 0, out[-3000:]
    assert "exit policy: fail_on=never -> exit 0" in summary(out)


@pytest.mark.parametrize("playbook,extra,says", [
    ("diagnose.yml", ["-e", "meshmend_fail_on=sometimes"], "value of diagnose_fail_on must be one of"),
    ("diagnose.yml", ["-e", "meshmend_report_dir={file}/reports"], "cannot write the reports to"),
    ("remediate.yml", ["-e", "meshmend_remediate=network_labels,everything"], "remediate_categories must be one or more of"),
    ("remediate.yml", ["-e", "meshmend_fail_on=always"], "value of remediate_fail_on must be one of"),
    ("connectivity.yml", ["-e", "meshmend_fail_on=sometimes"], "value of connectivity_fail_on must be one of"),
    ("connectivity.yml", ["-e", "meshmend_report_dir={file}/reports"], "cannot write the reports to"),
])
def test_bad_usage_is_5_before_any_cluster_is_touched(demo, tmp_path, playbook, extra, says):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n")
    extra = [x.replace("{file}", str(a_file)) for x in extra]
    if not any(x.startswith("meshmend_report_dir") for x in extra):
        extra += ["-e", "meshmend_report_dir=%s" % (tmp_path / "reports")]
    demo.ctl("reset-stats")
    rc, out = play(demo, playbook, *extra)
    assert rc == 5, out[-3000:]
    block = summary(out)
    assert says in block and "exit status 5: bad usage" in block, block
    assert requests(demo) == 0, demo.stats()


def test_the_tool_could_not_run_is_1(demo, tmp_path):
    """A report template that breaks while rendering: the clusters were read, the run could not finish."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "report.html.j2").write_text("{% for x in %}broken{% endfor %}\n")
    rc, out = play(demo, "diagnose.yml", "-e", "meshmend_report_dir=%s" % (tmp_path / "reports"),
                   "-e", "diagnose_template_dir=%s" % templates)
    assert rc == 1, out[-3000:]
    assert "exit status 1: the tool could not run" in summary(out)


def test_connectivity_check_mode_plans_and_creates_nothing(demo, tmp_path):
    demo.ctl("reset-stats")
    rc, out = play(demo, "connectivity.yml", "--check", "-e", "meshmend_report_dir=%s" % tmp_path)
    assert rc == 0, out[-3000:]
    block = summary(out)
    assert "nothing is created or probed" in block and "would probe 2 ordered pair(s)" in block
    assert requests(demo) == 0 and writes(demo) == 0, demo.stats()


def test_without_the_callback_findings_still_fail_the_play(demo, tmp_path):
    """An ansible.cfg of one's own that does not enable the callback: the roles fail the play themselves."""
    with open(os.path.join(ROOT, "ansible.cfg")) as fh:
        lines = [line for line in fh if not line.startswith("callbacks_enabled")]
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("".join(lines).replace("./collections", os.path.join(ROOT, "collections")))
    rc, out = play(demo, "diagnose.yml", "-e", "meshmend_report_dir=%s" % (tmp_path / "reports"),
                   env={"ANSIBLE_CONFIG": str(cfg)})
    assert rc == 2, out[-3000:]
    assert "MESHMEND SUMMARY" not in out
    assert "and decide the exit status (fail_on error)" in out and "root causes (1)" in out, out[-6000:]


def test_a_failed_fix_is_counted_over_every_cluster_and_fails_the_run(tmp_path):
    """Issue 15 item 4 on a lab: cluster1 refuses writes, so its remote-secret fix fails while cluster2's
    two fixes succeed. The console counts the actions of both clusters, only the confirmed ones are fixed,
    and the failed fix ends the run with exit status 2."""
    lab = labutil.start_lab("demo", str(tmp_path / "lab"))
    try:
        lab_secrets(lab)
        lab.ctl("fault", "cluster1", "rbac", "read-only")
        rc, out = play(lab, "remediate.yml", "-e", "meshmend_report_dir=%s" % (tmp_path / "reports"))
    finally:
        lab.stop()
    assert rc == 2, out[-4000:]
    block = summary(out)
    assert "applied 3 action(s) on 2 cluster(s): 2 changed, 0 unchanged, 1 failed" in block, block
    assert "confirmed by the second diagnosis: 2 fixed, 1 failed" in block
    assert "FAILED cluster1 [remote_secrets]" in block
    assert "exit status 2: findings at or over the threshold, or a fix that failed (1 fix(es) failed)" in block
    with open(str(tmp_path / "reports" / "meshmend-report.md")) as fh:
        md = fh.read()
    fixed = md.split("### Fixed (", 1)[1].split("###", 1)[0]
    assert "remote_secret.missing" not in fixed and "network.namespace_label_missing" in fixed
