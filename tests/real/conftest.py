"""The differential suite (`make test-real`): meshlab held to real kube-apiservers and a real istiod.

The real binaries come from reallab/build.py (a no-op when the cache is warm, a cold build otherwise). A missing
Go toolchain or a failed build fails the session: this suite never skips.
"""
import os
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Filled by the tests, printed at the end (pytest_terminal_summary).
SUMMARY = {"scenarios": [], "not_expressible": {}, "observations": 0, "differences": [], "timings": {},
           "rss_mib": {}}


@pytest.fixture(scope="session")
def real_binaries():
    if shutil.which("go") is None:
        pytest.fail("the real lab needs the Go toolchain (`go` is not on PATH): reallab/ builds kube-apiserver, "
                    "etcd, kwok and istiod from pinned Go modules", pytrace=False)
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, os.path.join(ROOT, "reallab", "build.py")], capture_output=True, text=True,
                       timeout=3 * 3600)
    if p.returncode != 0:
        pytest.fail("reallab/build.py failed (%s):\n%s" % (p.returncode, p.stderr[-4000:]), pytrace=False)
    SUMMARY["timings"]["build_s"] = round(time.monotonic() - t0, 1)
    return True


def pytest_terminal_summary(terminalreporter):
    if not (SUMMARY["scenarios"] or SUMMARY["not_expressible"]):
        return
    tr = terminalreporter
    tr.section("meshlab vs real components")
    tr.write_line("scenarios compared: %d (%s)" % (len(SUMMARY["scenarios"]), ", ".join(SUMMARY["scenarios"])))
    tr.write_line("observations compared: %d" % SUMMARY["observations"])
    tr.write_line("differences: %d" % len(SUMMARY["differences"]))
    for d in SUMMARY["differences"]:
        tr.write_line("  - " + d)
    tr.write_line("not expressible on the real stack (meshlab keeps serving them): %d"
                  % len(SUMMARY["not_expressible"]))
    for name, why in sorted(SUMMARY["not_expressible"].items()):
        tr.write_line("  - %s: %s" % (name, why))
    for k, v in sorted(SUMMARY["timings"].items()):
        tr.write_line("timing %s: %s" % (k, v))
    for k, v in sorted(SUMMARY["rss_mib"].items()):
        tr.write_line("rss %s: %s MiB" % (k, v))
