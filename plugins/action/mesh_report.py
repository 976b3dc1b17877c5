# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mesh_report: analysis over every play host's facts and the reports, on the controller.

Cross-cluster checks need all clusters' facts at once, so this runs once (run_once) in
the controller process: no module process, no per-host loop, no templating of facts.
It also takes the connectivity tests' results and merges them into the same reports
(the connectivity role calls it with ``analyze: false``).
Documentation: plugins/modules/mesh_report.py. The document and its renderings:
plugins/module_utils/report/.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

import gc
import json
import os
import tempfile

from ansible.errors import AnsibleActionFail, AnsibleActionSkip
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.action import ActionBase

from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity import ConnectivityError
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import FindingError
from ansible_collections.meshmend.multicluster.plugins.module_utils.pipeline import diagnose_facts
from ansible_collections.meshmend.multicluster.plugins.module_utils.report import (
    COLLECTION_DOCS_PATH, LOCAL_DOCS, MESH_REPORT_ARGSPEC, PUBLISHED_DOCS_URL, REPORT_FILES, TemplateError,
    facts_from_result, render_all, summary_lines,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.console import (
    STAT_NAME, summary_block, verdict,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.connectivity import (
    case_lines, collect_results, merge_report,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.html import environment
from ansible_collections.meshmend.multicluster.plugins.module_utils.requirements import missing_in_results

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _write_atomic(path, text):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".meshmend-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(text))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def docs_link(docs_url, directory):
    """Where finding ids link to. ``local`` (or ``docs/findings.md``, its former spelling): the
    collection's own catalogue, relative to the report directory (the published one when the
    collection does not ship it). Any other value (a URL, a path relative to the report) as given."""
    if docs_url not in (LOCAL_DOCS, COLLECTION_DOCS_PATH):
        return docs_url
    candidate = os.path.join(COLLECTION_ROOT, COLLECTION_DOCS_PATH)
    if not os.path.isfile(candidate):
        return PUBLISHED_DOCS_URL
    return os.path.relpath(os.path.realpath(candidate), os.path.realpath(directory)).replace(os.sep, "/")


def read_existing(directory):
    """The JSON report already in ``directory`` (what the connectivity results merge into), or None;
    (report, warning)."""
    path = os.path.join(directory, REPORT_FILES["json"])
    if not os.path.exists(path):
        return None, None
    try:
        with open(path) as handle:
            return json.load(handle), None
    except (OSError, ValueError) as e:
        return None, "cannot read the existing report %s (%s): writing a new one" % (path, to_native(e))


def write_reports(report, directory, docs_url, formats, title, template_dir):
    """Render and write the formats asked for; ``{format: path}``."""
    directory = os.path.abspath(os.path.expanduser(directory))
    try:
        os.makedirs(directory, exist_ok=True)
        rendered = render_all(report, docs_url=docs_link(docs_url, directory), formats=formats, title=title,
                              template_dir=template_dir)
        files = {}
        for fmt, text in rendered.items():
            path = os.path.join(directory, REPORT_FILES[fmt])
            _write_atomic(path, text)
            files[fmt] = path
        return files
    except TemplateError as e:
        raise AnsibleActionFail("%s: %s" % (title, to_native(e)))
    except OSError as e:
        raise AnsibleActionFail("cannot write the reports to %s: %s" % (directory, to_native(e)))


def check_report_dir(directory):
    """Fail before any cluster is read when the reports could not be written (a mistyped or read-only
    folder): the folder is created and a temporary file written and removed there."""
    directory = os.path.abspath(os.path.expanduser(directory))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".meshmend-check-", dir=directory)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise AnsibleActionFail("cannot write the reports to %s: %s" % (directory, to_native(e)))


def run_stats(data):
    """A custom stat for the summary callback (what ``set_stats`` returns), replaced, not merged."""
    return {"data": {STAT_NAME: data}, "per_host": False, "aggregate": False}


def check_template_dir(template_dir):
    """Fail before anything is analysed when the template folder cannot be used."""
    if template_dir:
        try:
            environment(template_dir)
        except TemplateError as e:
            raise AnsibleActionFail(to_native(e))


def merge_connectivity(existing, args, clusters):
    """The report with the connectivity results of ``args`` (extra_findings, tests, probes,
    workloads) merged in; (report, tests)."""
    found, cases = collect_results(args["probes"], args["workloads"])
    findings = list(args["extra_findings"]) + found
    tests = list(args["tests"]) + cases
    clusters = sorted(set(clusters or []) | set(args["probes"]) | set(args["workloads"]))
    try:
        return merge_report(existing, findings, tests, clusters, fail_on=args["fail_on"]), tests
    except (ConnectivityError, FindingError, KeyError, TypeError, ValueError) as e:
        raise AnsibleActionFail("cannot merge the connectivity results: %s: %s" % (type(e).__name__, to_native(e)))


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(MESH_REPORT_ARGSPEC)
    _supports_check_mode = True
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        validation, args = self.validate_argument_spec(argument_spec=MESH_REPORT_ARGSPEC)
        args = validation.validated_parameters
        check_template_dir(args["template_dir"])
        if args["preflight"]:
            if args["report_dir"]:
                check_report_dir(args["report_dir"])
            # Until the analysis publishes its verdict, the run counts as one that could not run.
            result.update(changed=False, msg="usage checked: the report folder and templates can be used",
                          ansible_stats=run_stats(verdict(args["command"], "error", [],
                                                          reason="the %s did not finish" % args["command"])))
            return result
        tested = bool(args["extra_findings"] or args["tests"] or args["probes"] or args["workloads"])
        model, out_of_play, hosts, tests = None, [], list(args["hosts"] or []), []
        if args["analyze"]:
            # Everything this worker builds here (every cluster's facts) and inherited (the play's hostvars) is
            # long-lived: the cyclic collector's passes would walk millions of objects again and again while the
            # facts are parsed (half of the parse at 200 clusters) and the mesh analysed (half the report at 500).
            gc.disable()
            try:
                facts_by_cluster, hosts = self._collect(args, task_vars)
            finally:
                gc.enable()
            gc.freeze()
            inventory = args["inventory_hosts"]
            if inventory is None:
                inventory = list((task_vars.get("groups") or {}).get("all") or [])
            out_of_play = sorted(set(inventory) - set(hosts))
            report, model = self._analyze(facts_by_cluster, args, out_of_play)
            if tested:
                report, tests = merge_connectivity(report, args, hosts)
        else:
            if self._task.check_mode:
                raise AnsibleActionSkip("check mode: the connectivity tests did not run, the reports are left as they are")
            existing = None
            if args["merge"] and args["report_dir"]:
                existing, warning = read_existing(os.path.abspath(os.path.expanduser(args["report_dir"])))
                if warning:
                    self._display.warning(warning)
            report, tests = merge_connectivity(existing, args, hosts)
            out_of_play = report["clusters"]["out_of_play"]

        files = {}
        if args["report_dir"]:
            files = write_reports(report, args["report_dir"], args["docs_url"], args["formats"], args["title"],
                                  args["template_dir"])
        counts = report["summary"]["counts"]
        result.update(
            changed=False,
            findings=report["findings"],
            root_causes=report["root_causes"],
            summary=report["summary"],
            clusters=report["clusters"]["in_play"],
            out_of_play=out_of_play,
            fail_on=args["fail_on"],
            threshold_exceeded=report["failed"],
            timing=report.get("timing") or {},
            requests=report.get("requests") or {},
            report_files=files,
            lines=summary_lines(report) + case_lines(tests),
            msg="%d cluster(s): %d error(s), %d warning(s), %d info%s" % (
                len(report["clusters"]["in_play"]), counts["error"], counts["warning"], counts["info"],
                (" (out of play: %s)" % ", ".join(out_of_play)) if out_of_play else ""),
        )
        block = summary_block(report, command=args["command"], files=files, fail_on=args["fail_on"],
                              extra=case_lines(tests, report["findings"]))
        result["summary_block"] = block
        result["ansible_stats"] = run_stats(verdict(args["command"], "findings" if report["failed"] else "clean",
                                                    block))
        if model is not None:
            result["model"] = model
        if "remediation" in report:
            result["remediation"] = report["remediation"]
        if "connectivity" in report:
            result["connectivity"] = {"counts": report["connectivity"]["counts"], "tests": len(tests)}
        return result

    def _analyze(self, facts_by_cluster, args, out_of_play):
        try:
            report = diagnose_facts(facts_by_cluster, args["check_options"], out_of_play, fail_on=args["fail_on"],
                                    time_areas=args["time_areas"], previous_findings=args["previous_findings"],
                                    remediation=args["remediation"])
        except (FindingError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise AnsibleActionFail("mesh_report: analysis of %s failed: %s: %s"
                                    % (", ".join(sorted(facts_by_cluster)), type(e).__name__, to_native(e)))
        # the model as the report carries it: bounded at any mesh size (the per-entry list stays out)
        return report, report["model"]

    def _collect(self, args, task_vars):
        """Facts by cluster: given explicitly, or each play host's registered result."""
        if args["facts"] is not None:
            facts = {}
            for name, value in args["facts"].items():
                facts[name] = facts_from_result(name, {"facts": value})
            return facts, list(args["hosts"] or facts)
        hosts = args["hosts"]
        if hosts is None:
            hosts = list(task_vars.get("ansible_play_hosts_all") or [])
        if not hosts:
            raise AnsibleActionFail("mesh_report: no play hosts to report on (give hosts or facts)")
        hostvars = task_vars.get("hostvars") or {}
        results = dict((host, self._host_var(hostvars, host, args["facts_var"])) for host in hosts)
        # A package missing where the gather ran is the run's problem, not each cluster's: say it once.
        missing = missing_in_results(results)
        if missing:
            raise AnsibleActionFail("meshmend could not run: %s" % missing)
        strings = {}   # one copy of each value the clusters repeat for their peers (memory at 500 clusters)
        facts = dict((host, facts_from_result(host, results[host], strings)) for host in hosts)
        return facts, list(hosts)

    @staticmethod
    def _host_var(hostvars, host, name):
        # raw_get: the registered result as stored, without templating it again (speed at 50 hosts).
        try:
            host_vars = hostvars.raw_get(host) if hasattr(hostvars, "raw_get") else hostvars.get(host)
        except KeyError:
            return None
        if host_vars is None:
            return None
        try:
            return host_vars.get(name)
        except Exception:  # pylint: disable=broad-except
            return None
