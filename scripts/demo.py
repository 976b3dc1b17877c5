# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo`: the bundled `demo` lab, diagnosed, remediated, diagnosed again.

1. start meshlab with the `demo` scenario (state in .lab/demo), wait for its ready file;
2. diagnose: the findings are shown, the exit status is non-zero (errors exist);
3. remediate: fix the safe categories, then diagnose again inside the same playbook;
4. diagnose once more on its own: no error finding is left;
5. print the timings, the lab's write counts and the HTML report's path;
6. stop the lab, always (also on failure or Ctrl-C).

Usage: .venv/bin/python scripts/demo.py [--keep-lab] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
STATE = os.path.join(ROOT, ".lab", "demo")
REPORTS = os.path.join(ROOT, "reports", "demo")
READY_TIMEOUT = 30.0


def _env():
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    env.setdefault("ANSIBLE_NOCOLOR", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Step:
    """Times a step and prints one line for it."""

    timings = []

    def __init__(self, title):
        self.title = title

    def __enter__(self):
        self.start = time.monotonic()
        print("==> %s" % self.title, flush=True)
        return self

    def __exit__(self, *exc):
        elapsed = time.monotonic() - self.start
        Step.timings.append((self.title, elapsed))
        print("    (%.1f s)" % elapsed, flush=True)
        return False


def start_lab(log_path):
    if os.path.isdir(STATE):
        shutil.rmtree(STATE)
    os.makedirs(STATE)
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "meshlab", "up", "demo", "--state-dir", STATE],
                            cwd=ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + READY_TIMEOUT
    ready = os.path.join(STATE, "ready")
    while not os.path.exists(ready):
        if proc.poll() is not None:
            log.close()
            raise SystemExit("meshlab exited with status %s before it was ready; its log:\n%s"
                             % (proc.returncode, _tail(log_path)))
        if time.monotonic() > deadline:
            stop_lab(proc)
            raise SystemExit("meshlab was not ready within %.0f s; its log:\n%s" % (READY_TIMEOUT, _tail(log_path)))
        time.sleep(0.05)
    return proc


def stop_lab(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _tail(path, lines=30):
    try:
        with open(path, "rb") as fh:
            return b"\n".join(fh.read().splitlines()[-lines:]).decode("utf-8", "replace")
    except OSError:
        return "(no log)"


def gateway_vars():
    """Host var meshmend_eastwest_gateway_ip for clusters whose lab has no load balancer.

    On a real mesh the operator knows this address; in the lab it is data (never a socket), picked
    next to the load-balancer pools of the other clusters.
    """
    import yaml

    with open(os.path.join(ROOT, "meshlab", "scenarios", "demo", "lab.yaml")) as fh:
        spec = yaml.safe_load(fh)
    hosts = {}
    for index, cluster in enumerate(spec.get("clusters") or [], start=1):
        if not cluster.get("loadBalancer"):
            hosts[cluster["name"]] = {"meshmend_eastwest_gateway_ip": "172.18.%d.100" % index}
    path = os.path.join(STATE, "gateway-addresses.yml")
    with open(path, "w") as fh:
        yaml.safe_dump({"all": {"hosts": hosts}}, fh)
    return path, hosts


def playbook(name, inventories, report_dir, verbose, extra=None):
    cmd = [os.path.join(BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", name)]
    for inv in inventories:
        cmd += ["-i", inv]
    cmd += ["-e", "meshmend_report_dir=%s" % report_dir]
    cmd += list(extra or [])
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    out = proc.stdout.decode("utf-8", "replace")
    if verbose:
        print(out)
    return proc.returncode, out


def report(report_dir):
    with open(os.path.join(report_dir, "meshmend-report.json")) as fh:
        return json.load(fh)


def show_findings(doc, indent="    "):
    for f in doc.get("findings") or []:
        if f.get("severity") == "info":
            continue
        peer = (" -> %s" % f["peer"]) if f.get("peer") else ""
        print("%s%-7s %-42s %s%s" % (indent, f["severity"], f["id"], f.get("cluster") or "", peer))


def lab_stats():
    proc = subprocess.run([sys.executable, "-m", "meshlab", "ctl", "--state-dir", STATE, "stats"],
                          cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return None


def _writes(stats):
    clusters = (stats or {}).get("clusters", stats) or {}
    return sum(int((v or {}).get("writes", 0)) for v in clusters.values() if isinstance(v, dict))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running at the end")
    parser.add_argument("--verbose", "-v", action="store_true", help="print the playbooks' output")
    args = parser.parse_args()

    started = time.monotonic()
    proc = None
    os.makedirs(os.path.join(ROOT, ".lab"), exist_ok=True)
    if os.path.isdir(REPORTS):
        shutil.rmtree(REPORTS)
    try:
        with Step("start the lab (scenario demo)"):
            proc = start_lab(os.path.join(ROOT, ".lab", "demo.log"))
            inventory = os.path.join(STATE, "inventory.yml")
            extra_inv, hosts = gateway_vars()
            for host, hv in sorted(hosts.items()):
                print("    %s: no load balancer; meshmend_eastwest_gateway_ip=%s" % (host, hv["meshmend_eastwest_gateway_ip"]))
        inventories = [inventory, extra_inv]

        with Step("diagnose"):
            rc, out = playbook("diagnose.yml", inventories, os.path.join(REPORTS, "diagnose-before"), args.verbose)
            before = report(os.path.join(REPORTS, "diagnose-before"))
            show_findings(before)
            counts = before["summary"]["counts"]
            print("    exit status %d: %d error(s), %d warning(s)" % (rc, counts["error"], counts["warning"]))
            if rc == 0 or counts["error"] == 0:
                raise SystemExit("demo: the demo lab should have error findings; diagnose said:\n" + out[-3000:])

        with Step("remediate (fix the safe categories, then diagnose again)"):
            rc, out = playbook("remediate.yml", inventories, REPORTS, args.verbose)
            print("    exit status %d" % rc)
            _print_recap(out)
            if rc != 0:
                raise SystemExit("demo: remediate failed:\n" + out[-4000:])

        with Step("diagnose again"):
            rc, out = playbook("diagnose.yml", inventories, os.path.join(REPORTS, "diagnose-after"), args.verbose)
            after = report(os.path.join(REPORTS, "diagnose-after"))
            show_findings(after)
            counts = after["summary"]["counts"]
            print("    exit status %d: %d error(s), %d warning(s)" % (rc, counts["error"], counts["warning"]))
            if rc != 0 or counts["error"]:
                raise SystemExit("demo: errors remain after remediation:\n" + out[-3000:])

        stats = lab_stats()
        before_ids = set(f["key"] for f in before["findings"] if f["severity"] != "info")
        after_ids = set(f["key"] for f in after["findings"] if f["severity"] != "info")
        print()
        print("Summary")
        print("  findings before: %d error(s)/warning(s); after: %d" % (len(before_ids), len(after_ids)))
        for key in sorted(before_ids - after_ids):
            print("  fixed: %s" % key)
        if stats is not None:
            print("  writes to the lab's API servers: %d (remediate only)" % _writes(stats))
        print("  timings: " + ", ".join("%s %.1f s" % (t.split(" (")[0], s) for t, s in Step.timings))
        print("  total: %.1f s" % (time.monotonic() - started))
        print("  HTML report: %s" % os.path.join(REPORTS, "meshmend-report.html"))
        print("  (before: %s)" % os.path.join(REPORTS, "before", "meshmend-report.html"))
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        if args.keep_lab and proc is not None and proc.poll() is None:
            print("lab left running (pid %d, state %s); stop it with: kill %d" % (proc.pid, STATE, proc.pid))
        else:
            stop_lab(proc)


def _print_recap(out):
    """The lines of the role's "Show the plan" and "Show before and after" tasks, and the play recap."""
    for line in debug_lines(out, ("Show the plan", "Show before and after")):
        print("    " + line)
    for line in out.splitlines():
        if line.startswith("cluster") and "changed=" in line:
            print("    " + line.strip())


def debug_lines(out, titles):
    """The `msg` lines of the debug tasks named TITLES, as plain text.

    ansible.cfg prints results as YAML (callback_result_format = yaml), where a line holding a quote
    or a colon comes out quoted (`- 'fix  cluster1 ... cluster2''s ...'`): each result block is read
    back as YAML instead of stripped character by character.
    """
    import textwrap

    import yaml

    lines, result, block, wanted = [], None, [], False

    def flush():
        if not block:
            return
        try:
            doc = yaml.safe_load(textwrap.dedent("\n".join(block)))
        except yaml.YAMLError:
            doc = None
        msg = doc.get("msg") if isinstance(doc, dict) else None
        for item in msg if isinstance(msg, list) else [msg] if msg is not None else []:
            text = str(item).strip()
            if text and text not in lines:
                lines.append(text)
        del block[:]

    for line in out.splitlines():
        if line.startswith(("TASK ", "PLAY ", "RUNNING HANDLER")):
            flush()
            result = None
            wanted = any(title in line for title in titles)
        elif wanted and line.startswith(("ok: [", "changed: [")) and line.rstrip().endswith("=>"):
            flush()
            result = True
        elif wanted and result and (line.startswith((" ", "\t")) or not line.strip()):
            block.append(line)
        else:
            flush()
            result = None
    flush()
    return lines


if __name__ == "__main__":
    sys.exit(main())
