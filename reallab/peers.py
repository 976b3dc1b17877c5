"""istioctl beside meshmend on the real lab: for each scenario, start `meshlab up --real`, then time
`istioctl analyze --all-namespaces` per cluster context, `istioctl remote-clusters` per primary and meshmend's
diagnose, and print a Markdown table (docs/peers.md is its output, measured on this machine).

    .venv/bin/python -m reallab.peers remote-secret-missing mesh-id-mismatch ... > /tmp/peers.md
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _timed(cmd: list[str], env: dict | None = None, timeout: float = 180) -> tuple[float, int, str]:
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
        return time.monotonic() - t0, p.returncode, (p.stdout + p.stderr)
    except subprocess.TimeoutExpired:
        return time.monotonic() - t0, -1, f"timed out after {timeout}s"


SEEN: dict[str, str] = {}   # analyzer code -> one message it printed (for the legend)


def _analyze_summary(text: str) -> str:
    for m in re.finditer(r"^(Error|Warning|Info) \[(IST\d{4})\] (.*)$", text, re.M):
        SEEN.setdefault(m.group(2), f"{m.group(1)}: {m.group(3)[:160]}")
    codes = sorted(set(re.findall(r"\b(IST\d{4})\b", text)))
    if "No validation issues found" in text:
        return "no issues"
    if codes:
        return ", ".join(codes)
    return (text.strip().splitlines() or ["(no output)"])[-1][:120]


def _remote_clusters_summary(text: str) -> str:
    rows = [ln.split() for ln in text.strip().splitlines()[1:] if ln.strip()]
    # columns NAME SECRET STATUS ISTIOD REVISION; the config cluster has no SECRET: STATUS is third from the end
    return "; ".join(f"{r[0]} {r[-3]}" for r in rows if len(r) >= 4) if rows else (text.strip()[:120] or "(none)")


def run(scenario: str, istioctl: str, out: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="peers-") as d:
        lab = subprocess.Popen([sys.executable, "-m", "meshlab", "up", scenario, "--real", "--state-dir", d],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(Path(d) / "lab.log", "wb"),
                               env=dict(os.environ, PYTHONPATH=str(ROOT)))
        try:
            deadline = time.monotonic() + 420
            while not (Path(d) / "ready").exists():
                if lab.poll() is not None or time.monotonic() > deadline:
                    out.append(f"| {scenario} | lab did not start: {(Path(d) / 'lab.log').read_text()[-300:]} | | |")
                    return
                time.sleep(0.5)
            ready = json.loads((Path(d) / "ready").read_text())
            kc = str(Path(d) / "kubeconfig")
            env = dict(os.environ, KUBECONFIG=kc, HOME=d)
            analyze, remote = [], []
            for ctx in ready["clusters"]:
                s, rc_, text = _timed([istioctl, "analyze", "--all-namespaces", "--context", ctx], env, timeout=60)
                analyze.append(f"{ctx}: {_analyze_summary(text)} ({s:.1f} s)")
                s, rc_, text = _timed([istioctl, "remote-clusters", "--context", ctx], env)
                remote.append(f"{ctx}: {_remote_clusters_summary(text)} ({s:.1f} s)")
            rep = Path(d) / "report"
            s, rc_, text = _timed([str(ROOT / ".venv/bin/ansible-playbook"), "playbooks/diagnose.yml", "-i",
                                   str(Path(d) / "inventory.yml"), "-e", f"meshmend_report_dir={rep}",
                                   "-e", "meshmend_fail_on=never"],
                                  dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                                       PATH=f"{ROOT / '.venv/bin'}:{os.environ['PATH']}"), timeout=300)
            try:
                doc = json.loads((rep / "meshmend-report.json").read_text())
                ids = ", ".join(sorted({f"{f['id']}@{f['cluster']}" for f in doc["findings"]})) or "no findings"
            except (OSError, ValueError):
                ids = "diagnose failed: " + text[-200:]
            out.append(f"| {scenario} | {'<br>'.join(analyze)} | {'<br>'.join(remote)} | {ids} ({s:.1f} s) |")
        finally:
            lab.terminate()
            try:
                lab.wait(60)
            except subprocess.TimeoutExpired:
                lab.kill()


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from reallab import build
    bins = build.build(build.DEFAULT_GROUPS, build.cache_root(), quiet=True)
    out = ["| scenario | `istioctl analyze --all-namespaces` per context | `istioctl remote-clusters` per context "
           "| meshmend diagnose (wall) |", "|---|---|---|---|"]
    for s in argv:
        run(s, bins["istio-new/istioctl"], out)
        print(out[-1], file=sys.stderr, flush=True)
    out += ["", "| analyzer code | a message it printed here |", "|---|---|"]
    out += [f"| {k} | {v.replace('|', '/')} |" for k, v in sorted(SEEN.items())]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
