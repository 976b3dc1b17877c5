#!/usr/bin/env python
# Copyright (c) meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make matrix`: the collection on every ansible-core it supports (2.16 to 2.19, Python 3.11).

Per version, in a virtual environment of its own cached under .cache/matrix/<version> (created when
missing or when its requirements change; packages from PyPI):
  1. ansible-test sanity (tests/sanity/run_sanity.py, the same tests as `make sanity`);
  2. pytest over what depends on ansible-core's version: every module's EXAMPLES (run against the lab,
     read-only and state-changing), the module_defaults plays with kubernetes.core, the inventory
     plugin, and diagnose playbook runs against the lab (TESTS below).

Usage: run_matrix.py [--versions 2.16,2.17] [--skip-sanity] [--skip-tests] [-k EXPR]
Exit status: 0 when every step of every version passes. A summary line per version gives its times.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(ROOT, ".cache", "matrix")
PYTHON = "python3.11"
# ansible-core versions whose every step must pass; meta/runtime.yml's requires_ansible names the oldest.
VERSIONS = ("2.16", "2.17", "2.18", "2.19")
# What each environment needs besides ansible-core: the collection's requirements, the lab's, pytest's.
EXTRA = ("-r", os.path.join(ROOT, "requirements.txt"), "aiohttp>=3.9", "orjson>=3.9", "pytest>=8.0")
# Sanity tests left out on a version, with the reason (printed in the summary). Before 2.19, ansible-test's
# empty-init requires every __init__.py under plugins/module_utils/ to be empty; checks/__init__.py holds the
# check registry. Moving that code into a module of its own (owned by the module_utils refactor) lifts this.
SANITY_SKIP = dict((version, {"empty-init": "plugins/module_utils/checks/__init__.py is not empty"})
                   for version in ("2.16", "2.17", "2.18"))
TESTS = (
    "tests/integration/test_examples.py",
    "tests/integration/test_examples_run.py",
    "tests/integration/test_module_defaults.py",
    "tests/unit/inventory",
    "tests/integration/test_diagnose_playbook.py::test_healthy_passes",
    "tests/integration/test_diagnose_playbook.py::test_reports_and_default_exit_status",
    "tests/unit/test_runtime_metadata.py",
)


def spec(version):
    return ["ansible-core>=%s.0,<%s" % (version, next_minor(version))] + list(EXTRA)


def next_minor(version):
    major, minor = version.split(".")
    return "%s.%d" % (major, int(minor) + 1)


def fingerprint(version):
    digest = hashlib.sha256(" ".join(spec(version)).encode())
    with open(os.path.join(ROOT, "requirements.txt"), "rb") as handle:
        digest.update(handle.read())
    return digest.hexdigest()


def venv(version):
    """.cache/matrix/VERSION with ansible-core VERSION.x and the rest; reused while its requirements hold."""
    path = os.path.join(CACHE, version)
    stamp = os.path.join(path, ".meshmend-matrix")
    python = os.path.join(path, "bin", "python")
    want = fingerprint(version)
    if os.path.exists(stamp) and open(stamp).read().strip() == want and os.path.exists(python):
        return python
    shutil.rmtree(path, ignore_errors=True)
    interpreter = shutil.which(PYTHON) or sys.executable
    subprocess.run([interpreter, "-m", "venv", path], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + spec(version), check=True)
    with open(stamp, "w") as handle:
        handle.write(want + "\n")
    return python


def core_version(python):
    out = subprocess.run([python, "-c", "import ansible.release as r; print(r.__version__)"], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def run_step(name, cmd, env, log):
    started = time.monotonic()
    print("matrix: %s: %s" % (name, " ".join(cmd)), flush=True)
    with open(log, "w") as handle:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, check=False)
    elapsed = time.monotonic() - started
    with open(log, encoding="utf-8", errors="replace") as handle:
        tail = handle.read().splitlines()[-25:]
    print("\n".join("    " + line for line in (tail if proc.returncode else tail[-2:])), flush=True)
    return proc.returncode == 0, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", default=os.environ.get("MESHMEND_MATRIX_VERSIONS", ",".join(VERSIONS)),
                        help="comma-separated ansible-core versions (default: %s)" % ",".join(VERSIONS))
    parser.add_argument("--skip-sanity", action="store_true")
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression for the tests step")
    args = parser.parse_args()
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    unknown = [v for v in versions if v not in VERSIONS]
    if unknown:
        print("matrix: unsupported version(s) %s; supported: %s" % (", ".join(unknown), ", ".join(VERSIONS)))
        return 2
    logs = os.path.join(ROOT, "tests", "output", "matrix")
    os.makedirs(logs, exist_ok=True)
    kubectl = os.path.join(ROOT, ".venv", "bin", "kubectl")
    if not args.skip_tests and not os.path.exists(kubectl):
        print("matrix: %s missing: run `make venv` first (the lab tests use its real kubectl)" % kubectl)
        return 2
    results = []
    for version in versions:
        started = time.monotonic()
        try:
            python = venv(version)
        except subprocess.CalledProcessError as exc:
            results.append((version, "?", False, "environment: %s" % exc))
            continue
        setup = time.monotonic() - started
        core = core_version(python)
        bindir = os.path.dirname(python)
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
                   ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        env.pop("VIRTUAL_ENV", None)
        ok, parts = True, ["environment %.0f s" % setup]
        if not args.skip_sanity:
            cmd = [python, os.path.join(ROOT, "tests", "sanity", "run_sanity.py")]
            for name in sorted(SANITY_SKIP.get(version, {})):
                cmd += ["--skip", name]
            passed, took = run_step("%s sanity" % core, cmd, env, os.path.join(logs, "%s-sanity.log" % version))
            ok = ok and passed
            left_out = "; ".join("%s left out: %s" % kv for kv in sorted(SANITY_SKIP.get(version, {}).items()))
            parts.append("sanity %s %.0f s%s" % ("ok" if passed else "FAILED", took, " (%s)" % left_out if left_out else ""))
        if not args.skip_tests:
            cmd = [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-o", "addopts=-ra --strict-markers"]
            cmd += ["-k", args.keyword] if args.keyword else []
            passed, took = run_step("%s tests" % core, cmd + list(TESTS), env, os.path.join(logs, "%s-tests.log" % version))
            ok = ok and passed
            parts.append("tests %s %.0f s" % ("ok" if passed else "FAILED", took))
        results.append((version, core, ok, ", ".join(parts)))
    print("matrix summary (logs in tests/output/matrix/):")
    for version, core, ok, detail in results:
        print("  ansible-core %-8s %s  %s" % (core, "PASS" if ok else "FAIL", detail))
    passed = sum(1 for _v, _c, ok, _d in results if ok)
    print("matrix: %d passed, %d failed" % (passed, len(results) - passed))
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
