"""The console summary block and the summary callback (issue 17): root causes first, one mark per check by
area, the unreachable clusters named, the exit policy applied; progress lines naming the pending clusters; the
exit status set from the verdict a role published, and left alone when no meshmend role ran."""
import copy
import threading

import pytest
import report_fixtures as fixtures
from checks_facts import NOW, build_mesh

from ansible_collections.meshmend.multicluster.plugins.callback import summary as cb
from ansible_collections.meshmend.multicluster.plugins.module_utils import checks
from ansible_collections.meshmend.multicluster.plugins.module_utils import report as r
from ansible_collections.meshmend.multicluster.plugins.module_utils.report import console

PEERS = ["cluster%d" % i for i in range(1, 11) if i != 7]


@pytest.fixture(scope="module")
def down():
    facts = fixtures.cluster_down(build_mesh("multinetwork", 10), "cluster7")
    findings, timing, model = r.analyze(copy.deepcopy(facts), checks.diagnose, {"now": NOW})
    return r.build_report(facts, findings, model=model, timing=timing, generated_at="2026-01-01T00:00:00Z")


def test_block_leads_with_the_verdict_and_the_root_cause(down):
    block = console.summary_block(down, files={"html": "/r/meshmend-report.html", "json": "/r/meshmend-report.json"})
    assert block[0] == "meshmend diagnose: 10 cluster(s), 10 error(s), 9 warning(s), 0 info"
    assert block[1] == ("exit policy: fail_on=error -> exit 2 (findings at or over the threshold, "
                        "or a fix that failed)")
    assert block[2] == "clusters: 9 read, 1 unreachable: cluster7"
    assert block[3] == "root causes (1), each once with what it explains:"
    assert block[4].startswith("  error cluster.unreachable cluster7: ")
    assert block[4].endswith("[root cause of 18 finding(s) on 9 cluster(s)]")
    assert block[5] == "    explains 9 x error remote_secret.api_unreachable on %s -> cluster7" % ", ".join(PEERS)
    assert not [line for line in block if line.startswith("other findings")]
    assert block[-1] == "reports: /r/meshmend-report.html, /r/meshmend-report.json"


def test_one_mark_per_check_grouped_by_area(down):
    areas = dict(console.check_marks(down))
    assert list(areas)[0] == "Cluster access"
    assert ("[x]", "cluster.unreachable", "1 on cluster7") in areas["Cluster access"]
    secrets = areas["Remote secrets"]
    assert ("[x]", "remote_secret.api_unreachable",
            "9 on cluster1, cluster2, cluster3, cluster4, cluster5, cluster6 and 3 more "
            "(all explained by a root cause above)") in secrets
    assert secrets[1][:2] == ("[!]", "remote_secret.not_synced")
    passed = [row for row in secrets if row[0] == "[ok]"]
    # every catalogue check of the area is accounted for: the ones that fired and the ones that passed
    ids = [fid for fid in console.CATALOGUE if fid.startswith("remote_secret.")]
    assert passed == [("[ok]", "", "%d check(s) passed" % (len(ids) - 2))]


def test_clean_report_and_policy_never(down):
    clean = dict(down, findings=[], root_causes=[], failed=False,
                 summary=dict(down["summary"], counts={"error": 0, "warning": 0, "info": 0}, unreachable=[]))
    block = console.summary_block(clean, fail_on="never")
    assert block[1] == "exit policy: fail_on=never -> exit 0 (clean: nothing at or over the threshold)"
    assert block[2] == "clusters: 10 read"
    assert all(mark == "[ok]" for _t, rows in console.check_marks(clean) for mark, _i, _x in rows)


def test_exit_statuses_have_one_meaning_each():
    assert console.EXIT_STATUSES == {"clean": 0, "findings": 2, "usage": 5, "error": 1}
    assert len(set(console.EXIT_STATUSES.values())) == 4 == len(console.EXIT_MEANINGS)
    v = console.verdict("remediate", "usage", [], reason="unknown category")
    assert v == {"command": "remediate", "status": "usage", "exit": 5, "reason": "unknown category", "lines": []}


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_progress_names_the_pending_clusters():
    clock = Clock()
    p = cb.Progress(["cluster%d" % i for i in range(1, 21)], 5, None, clock=clock)
    for i in range(1, 20):
        p.finish("cluster%d" % i, ok=(i != 3))
    clock.t += 12
    text, pending = p.line()
    assert pending and text == "meshmend: 19/20 cluster(s) read after 12 s, 1 failed (cluster3); pending: cluster20"
    p.finish("cluster20")
    assert p.line() == ("meshmend: 20/20 cluster(s) read after 12 s, 1 failed (cluster3)", False)


def test_progress_prints_every_interval_while_clusters_are_pending():
    printed, seen = [], threading.Event()

    def emit(text):
        printed.append(text)
        if len(printed) >= 2:
            seen.set()
    p = cb.Progress(["cluster1", "cluster2"], 0.01, emit)
    p.finish("cluster1")
    p.start()
    assert seen.wait(5)
    p.finish("cluster2")
    p.stop()
    assert all(line.endswith("pending: cluster2") for line in printed[:2])


class Stats:
    def __init__(self, custom, failures=None):
        self.custom = custom
        self.failures = failures or {}
        self.dark = {}


class FakeDisplay:
    def __init__(self):
        self.lines = []

    def display(self, text, **_kw):
        self.lines.append(text)

    def banner(self, text, **_kw):
        self.lines.append("== %s" % text)


def callback():
    c = cb.CallbackModule()
    c._display = FakeDisplay()
    return c


@pytest.mark.parametrize("status,code", [("clean", 0), ("findings", 2), ("usage", 5), ("error", 1)])
def test_the_exit_status_comes_from_the_verdict(status, code):
    c = callback()
    found = console.verdict("diagnose", status, ["meshmend diagnose: 2 cluster(s)"], reason="why")
    with pytest.raises(SystemExit) as exc:
        c.v2_playbook_on_stats(Stats({"_run": {console.STAT_NAME: found}}, failures={"cluster1": 1}))
    assert exc.value.code == code
    assert c._display.lines[0] == "== MESHMEND SUMMARY"
    assert c._display.lines[-2] == "exit status %d: %s (why)" % (code, console.EXIT_MEANINGS[code])


def test_other_playbooks_keep_ansibles_exit_status():
    c = callback()
    c.v2_playbook_on_stats(Stats({}))   # no SystemExit, nothing printed
    assert c._display.lines == []


class Task:
    def __init__(self, role=None):
        self._role = role
        self.action = "ansible.builtin.command"


class Role:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class Result:
    def __init__(self, task):
        self.task = task
        self._result = {}


def test_a_failed_task_outside_the_roles_keeps_ansibles_exit_status():
    """A play that embeds diagnose and then fails a task of its own: the verdict does not hide that failure."""
    c = callback()
    c.v2_runner_on_failed(Result(Task(Role("meshmend.multicluster.connectivity"))))   # part of the verdict
    c.v2_runner_on_failed(Result(Task()), ignore_errors=True)                          # ignored: no matter
    found = console.verdict("diagnose", "clean", ["meshmend diagnose: 2 cluster(s)"])
    with pytest.raises(SystemExit):
        c.v2_playbook_on_stats(Stats({"_run": {console.STAT_NAME: found}}, failures={"cluster1": 1}))
    c = callback()
    c.v2_runner_on_failed(Result(Task()))
    c.v2_playbook_on_stats(Stats({"_run": {console.STAT_NAME: found}}, failures={"cluster1": 1}))
    assert c._display.lines[-1] == "a task outside the meshmend roles failed: Ansible's exit status stands"
