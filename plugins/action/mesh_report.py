# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mesh_report: analysis over every play host's facts and the reports, on the controller.

Cross-cluster checks need all clusters' facts at once, so this runs once (run_once) in
the controller process: no module process, no per-host loop, no templating of facts.
Documentation: plugins/modules/mesh_report.py.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.action import ActionBase

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import FindingError
from ansible_collections.meshmend.multicluster.plugins.module_utils.report import (
    DEFAULT_DOCS_URL, MESH_REPORT_ARGSPEC, REPORT_FILES, analyze, build_report, facts_from_result, finding_lines,
    render_all,
)


def _load_checks():
    # Imported lazily so a broken check module names itself instead of breaking plugin loading.
    from ansible_collections.meshmend.multicluster.plugins.module_utils import checks
    return checks


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

        facts_by_cluster, hosts = self._collect(args, task_vars)
        inventory = args["inventory_hosts"]
        if inventory is None:
            inventory = list((task_vars.get("groups") or {}).get("all") or [])
        out_of_play = sorted(set(inventory) - set(hosts))

        checks = _load_checks()
        options = dict(args["check_options"] or {})
        options.setdefault("out_of_play", out_of_play)
        try:
            findings, timing, model = analyze(
                facts_by_cluster, checks.diagnose, options, time_areas=args["time_areas"])
            # JUnit/report areas are finding-id prefixes; timing areas are the catalogue's modules.
            report = build_report(facts_by_cluster, findings, out_of_play=out_of_play,
                                  fail_on=args["fail_on"], timing=timing, model=model,
                                  previous_findings=args["previous_findings"], remediation=args["remediation"])
        except (FindingError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise AnsibleActionFail("mesh_report: analysis of %s failed: %s: %s"
                                    % (", ".join(sorted(facts_by_cluster)), type(e).__name__, to_native(e)))

        files = {}
        if args["report_dir"]:
            files = self._write(report, args)

        counts = report["summary"]["counts"]
        result.update(
            changed=False,
            findings=report["findings"],
            model=model,
            summary=report["summary"],
            clusters=report["clusters"]["in_play"],
            out_of_play=out_of_play,
            fail_on=args["fail_on"],
            threshold_exceeded=report["failed"],
            timing=report["timing"],
            requests=report["requests"],
            report_files=files,
            lines=finding_lines(report["findings"]),
            msg="%d cluster(s): %d error(s), %d warning(s), %d info%s" % (
                len(hosts), counts["error"], counts["warning"], counts["info"],
                (" (out of play: %s)" % ", ".join(out_of_play)) if out_of_play else ""),
        )
        if "remediation" in report:
            result["remediation"] = report["remediation"]
        return result

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
        facts = {}
        for host in hosts:
            facts[host] = facts_from_result(host, self._host_var(hostvars, host, args["facts_var"]))
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

    @staticmethod
    def _docs_url(docs_url, directory):
        """The default ``docs/findings.md`` is relative to the collection: point the reports'
        links at the collection's copy (relative to the report directory) when it is there,
        so they open from a local report. A URL or any other value is used as given."""
        if docs_url != DEFAULT_DOCS_URL:
            return docs_url
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        candidate = os.path.join(root, docs_url)
        if not os.path.isfile(candidate):
            return docs_url
        return os.path.relpath(os.path.realpath(candidate), os.path.realpath(directory)).replace(os.sep, "/")

    def _write(self, report, args):
        directory = os.path.abspath(os.path.expanduser(args["report_dir"]))
        try:
            os.makedirs(directory, exist_ok=True)
            rendered = render_all(report, docs_url=self._docs_url(args["docs_url"], directory),
                                  formats=args["formats"], title=args["title"])
            files = {}
            for fmt, text in rendered.items():
                path = os.path.join(directory, REPORT_FILES[fmt])
                _write_atomic(path, text)
                files[fmt] = path
            return files
        except OSError as e:
            raise AnsibleActionFail("mesh_report: cannot write the reports to %s: %s" % (directory, to_native(e)))
