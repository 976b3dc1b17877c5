# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""summary: the operator's view of a meshmend run (progress, the summary block, the exit status)."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

DOCUMENTATION = r"""
name: summary
type: aggregate
short_description: Progress while clusters are read, one summary block at the end, and meshmend's exit statuses
description:
  - While the gather task of the diagnose role runs, prints every O(progress_interval) seconds how many clusters
    are done and which are still pending.
  - At the end of a diagnose, remediate or connectivity run, prints the summary block the roles publish (the custom
    stat C(meshmend)) - the verdict and its exit status, the clusters that could not be read, each root cause once
    with what it explains, one mark per check grouped by area, and the report files. The roles then skip their
    own task that decides the exit status, so findings never look like a crash.
  - "Sets the process exit status to one meaning each when a meshmend role ran in the play (0 clean, 2 findings at or
    over C(meshmend_fail_on) or a fix that failed, 5 bad usage found before any cluster was touched, 1 the tool could
    not run); other playbooks keep Ansible's own exit status."
  - Enable it with C(callbacks_enabled = meshmend.multicluster.summary) in C(ansible.cfg) (the collection's
    own C(ansible.cfg) does) or C(ANSIBLE_CALLBACKS_ENABLED).
author:
  - meshmend developers (@meshmend)
requirements:
  - enable in configuration
options:
  progress_interval:
    description: Seconds between two progress lines while clusters are pending; 0 prints none.
    type: float
    default: 5
    env:
      - name: MESHMEND_PROGRESS_INTERVAL
    ini:
      - section: callback_meshmend_summary
        key: progress_interval
"""

import threading
import time

from ansible.plugins.callback import CallbackBase

from ansible_collections.meshmend.multicluster.plugins.module_utils.report.causes import names_text
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.console import (
    EXIT_MEANINGS, EXIT_STATUSES, STAT_NAME,
)

# The task whose hosts are tracked: the one read of every cluster.
GATHER_ACTIONS = frozenset(("meshmend.multicluster.cluster_info", "cluster_info"))


def _ours(task):
    """Whether a task belongs to one of the collection's roles (its failures are part of the verdict)."""
    role = getattr(task, "_role", None)
    name = role.get_name() if role is not None else ""
    return name.startswith("meshmend.multicluster.") or name in ("diagnose", "remediate", "connectivity")


class Progress(object):
    """Which clusters the gather has finished and which are pending; a line every ``interval`` s."""

    def __init__(self, hosts, interval, emit, clock=time.monotonic):
        self.hosts = list(hosts)
        self.done, self.down = set(), set()
        self.interval, self.emit, self.clock = interval, emit, clock
        self.started = clock()
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.thread = None

    def finish(self, host, ok=True):
        with self.lock:
            self.done.add(host)
            if not ok:
                self.down.add(host)

    def line(self):
        with self.lock:
            pending = [h for h in self.hosts if h not in self.done]
            done, down = len(self.done), sorted(self.down)
        text = "meshmend: %d/%d cluster(s) read after %.0f s" % (done, len(self.hosts), self.clock() - self.started)
        if down:
            text += ", %d failed (%s)" % (len(down), names_text(down, 6))
        if pending:
            text += "; pending: %s" % names_text(pending, 12)
        return text, bool(pending)

    def start(self):
        if self.interval <= 0:
            return
        self.thread = threading.Thread(target=self._run, name="meshmend-progress")
        self.thread.daemon = True
        self.thread.start()

    def _run(self):
        while not self.stopped.wait(self.interval):
            text, pending = self.line()
            if not pending:
                return
            self.emit(text)

    def stop(self):
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(5)


class CallbackModule(CallbackBase):

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "meshmend.multicluster.summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._play = None
        self._progress = None
        self._failure = None   # the first task failure that stopped the run: why it "could not run"
        # failed tasks outside the meshmend roles: the verdict does not cover them
        self._foreign_failures = 0

    def _emit(self, text):
        self._display.display(text)

    def v2_playbook_on_play_start(self, play):
        self._play = play

    def _play_hosts(self):
        try:
            manager = self._play.get_variable_manager()
            return [h.name for h in manager._inventory.get_hosts(self._play.hosts)]  # pylint: disable=protected-access
        except Exception:  # pylint: disable=broad-except
            return []

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._stop_progress()
        if task.action in GATHER_ACTIONS:
            hosts = self._play_hosts()
            if len(hosts) > 1:
                self._progress = Progress(hosts, float(self.get_option("progress_interval")), self._emit)
                self._progress.start()

    def _finish(self, result, ok):
        if self._progress is not None and result.task.action in GATHER_ACTIONS:
            # cluster_info reports a cluster it cannot read as a result (reachable: false), not a failure
            self._progress.finish(result.host.get_name(), ok and result._result.get("reachable") is not False)

    def v2_runner_on_ok(self, result):
        self._finish(result, True)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._finish(result, False)
        if not ignore_errors and self._failure is None:
            msg = " ".join(str(result._result.get("msg") or "").split())
            name = getattr(result.task, "name", None) or getattr(result.task, "action", None) or "a task"
            self._failure = "%s: %s" % (name, msg[:500] or "failed")
        if not ignore_errors and not _ours(result.task):
            self._foreign_failures += 1

    def v2_runner_on_unreachable(self, result):
        self._finish(result, False)

    def v2_runner_on_skipped(self, result):
        self._finish(result, True)

    def _stop_progress(self):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def v2_playbook_on_stats(self, stats):
        self._stop_progress()
        found = (getattr(stats, "custom", None) or {}).get("_run", {}).get(STAT_NAME)
        if not isinstance(found, dict) or found.get("status") not in EXIT_STATUSES:
            return  # no meshmend role ran: Ansible's exit status stands
        code = EXIT_STATUSES[found["status"]]
        lines = list(found.get("lines") or [])
        if found["status"] in ("usage", "error"):
            lines = ["meshmend %s: %s" % (found.get("command") or "run", EXIT_MEANINGS[code])]
            if self._failure:
                lines.append("why: %s" % self._failure)
        self._display.banner("MESHMEND SUMMARY")
        for line in lines:
            self._display.display(line)
        self._display.display("exit status %d: %s%s" % (code, EXIT_MEANINGS[code],
                                                        (" (%s)" % found["reason"]) if found.get("reason") else ""))
        self._display.display("")
        if self._foreign_failures:
            self._display.display("a task outside the meshmend roles failed: Ansible's exit status stands")
            return
        # Ansible's exit status cannot be set from a play: the callback ends the process with it after the
        # recap (every other callback has had the stats by then when this one is listed last).
        raise SystemExit(code)
