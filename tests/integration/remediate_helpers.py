"""Shared helpers of the remediate integration tests: playbook runs against a running lab."""
import json
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
ALL = ["network_labels", "gateway_addresses", "remote_secrets"]


def env():
    e = dict(os.environ)
    e["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    e["PATH"] = BIN + os.pathsep + e.get("PATH", "")
    e["ANSIBLE_NOCOLOR"] = "1"
    return e


def gateway_inventory(lab, path, addresses):
    """An extra inventory that sets host var meshmend_eastwest_gateway_ip (merged with the lab's)."""
    with open(path, "w") as fh:
        yaml.safe_dump({"all": {"hosts": {h: {"meshmend_eastwest_gateway_ip": ip} for h, ip in addresses.items()}}}, fh)
    return path


def playbook(name, inventories, report_dir, categories=None, check=False, extra_vars=None, fail_on=None):
    cmd = [os.path.join(BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", name)]
    for inv in inventories:
        cmd += ["-i", str(inv)]
    evars = {"meshmend_report_dir": str(report_dir)}
    if categories is not None:
        evars["meshmend_remediate"] = categories
    if fail_on:
        evars["meshmend_fail_on"] = fail_on
    evars.update(extra_vars or {})
    cmd += ["-e", json.dumps(evars)]
    if check:
        cmd += ["--check", "--diff"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300,
                          check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def report(report_dir):
    with open(os.path.join(str(report_dir), "meshmend-report.json")) as fh:
        return json.load(fh)


def finding_ids(doc, severities=("error", "warning")):
    return sorted((f["id"], f["cluster"], f.get("peer")) for f in doc["findings"] if f["severity"] in severities)


def recap(out):
    """PLAY RECAP counters per host: {host: {"ok": n, "changed": n, "failed": n, ...}}."""
    counts = {}
    for line in out.split("PLAY RECAP", 1)[-1].splitlines():
        m = re.match(r"^(\S+)\s+:\s+(.*)$", line.strip())
        if m:
            counts[m.group(1)] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2)))
    return counts


def writes(stats):
    clusters = stats.get("clusters", stats) if isinstance(stats, dict) else {}
    return dict((name, int(v.get("writes", 0))) for name, v in clusters.items() if isinstance(v, dict))


def kubectl(lab, *args, check=True):
    cmd = [os.path.join(BIN, "kubectl"), "--kubeconfig", str(lab.kubeconfig)] + list(args)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("kubectl %s failed: %s" % (" ".join(args), proc.stderr.decode()))
    return proc.stdout.decode()
