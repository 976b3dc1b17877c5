#!/usr/bin/env python
# Copyright (c) meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run `ansible-test sanity` on a copy of the collection, offline apart from PyPI.

ansible-test only tests a tree that sits at `.../ansible_collections/<namespace>/<name>` and it
finds the collection from the real working directory (not through a symlink), so the repo is
copied to `<tmp>/ansible_collections/meshmend/multicluster` and tested there.

ansible-test runs most sanity tests in their own virtual environments with pinned requirements. It
bootstraps pip into each one with a script downloaded from ci-files.testing.ansible.com, which these
machines cannot reach; the script is replaced by a stand-in that runs the pip wheel bundled with
Python's `ensurepip` (the requirements themselves come from PyPI, as usual). ansible-test keeps those
environments under `~/.ansible/test`; HOME points at `.cache/ansible-test` in the repo so that state
stays out of the user's home and is reused between runs.

Usage: run_sanity.py [--test NAME ...] [--skip NAME ...] [--keep] [-v]
       MESHMEND_SANITY_SKIP=pylint make sanity   (comma-separated names, for a quick local run)
Exit status: 0 when every selected test passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMESPACE, NAME = "meshmend", "multicluster"
PYTHON_VERSION = "3.11"
CACHE_HOME = os.path.join(ROOT, ".cache", "ansible-test")

# The sanity tests that run here: all of them offline except for PyPI downloads. On an idle 2-core machine
# with a warm cache they take about 60 s of CPU together, pylint 45 s of it (the first run also builds the
# per-test virtual environments from PyPI, about a minute more).
SANITY_TESTS = (
    "action-plugin-docs",
    "ansible-doc",
    "changelog",  # antsibull-changelog lint of changelogs/
    "compile",
    "empty-init",
    "ignores",
    "import",  # plugins import with only ansible-core + PyYAML present: third-party imports must be guarded
    "line-endings",
    "no-assert",
    "no-get-exception",
    "no-illegal-filenames",
    "no-smart-quotes",
    "pep8",
    "pylint",  # the slowest (about 45 s of CPU on this tree); skip it locally with MESHMEND_SANITY_SKIP=pylint
    "replace-urlopen",
    "runtime-metadata",
    "shebang",
    "symlinks",
    "use-argspec-type-path",
    "use-compat-six",
    "validate-modules",
    "yamllint",
)
# Skipped on purpose:
# - shellcheck: needs the shellcheck binary, which is not installed (and the collection ships no shell scripts).
# - pslint: PowerShell only; the collection has no PowerShell.
# - integration-aliases: only applies to ansible-test integration targets (tests/integration/targets/);
#   this collection's integration tests are pytest files, so ansible-test skips it by itself.

# Never copied: local environments, generated trees, and the lab with everything that exists only for it.
# meshlab is not part of the collection (galaxy.yml build_ignore); its own tests (tests/lab, tests/real, tests/unit/meshlab,
# tests/labutil.py) and its scenarios/fixtures (plain Kubernetes manifests, multi-document YAML) go with it.
# Sanity judges the collection: plugins/, roles/, playbooks/, docs/, meta/, changelogs/, extensions/ and the
# collection's own tests (tests/unit, tests/integration, tests/sanity).
EXCLUDE_TOP = {
    ".venv", "collections", ".git", "meshlab", "reports", ".lab", ".cache", ".ansible",
    ".pytest_cache", "bench", "reallab",
}
EXCLUDE_PATHS = {
    os.path.join("tests", "output"),
    os.path.join("tests", "lab"),
    os.path.join("tests", "real"),   # meshlab held to real components (make test-real)
    os.path.join("tests", "unit", "meshlab"),
    os.path.join("tests", "labutil.py"),
    # Istio's samples, CRDs, certificates and Envoy output, byte for byte as upstream ships them (provenance in
    # tests/fixtures/*/PROVENANCE.md): data the tests read, not the collection's content, so not judged by its style.
    os.path.join("tests", "fixtures"),
}
EXCLUDE_ANYWHERE = {"__pycache__", ".pytest_cache", ".mypy_cache"}
EXCLUDE_SUFFIXES = (".pyc", ".pyo", ".tar.gz")

# Stand-in for get-pip.py: ansible-test runs it as `python get_pip.py <pip install args>`.
GET_PIP_SHIM = '''\
"""Offline stand-in for get-pip.py (written by meshmend's tests/sanity/run_sanity.py).

Runs the pip wheel bundled with ensurepip to install the pip version ansible-test asks for.
"""
import glob
import os
import sys

import ensurepip

BUNDLED = os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
WHEELS = sorted(glob.glob(os.path.join(BUNDLED, "pip-*.whl")))
if not WHEELS:
    sys.exit("no pip wheel bundled with ensurepip in %s" % BUNDLED)
sys.path.insert(0, WHEELS[-1])
from pip._internal.cli.main import main  # noqa: E402

ARGS = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--upgrade", "--force-reinstall"] + ARGS))
'''


def ignored(rel_dir, name):
    rel = os.path.normpath(os.path.join(rel_dir, name))
    if rel_dir in ("", ".") and name in EXCLUDE_TOP:
        return True
    return rel in EXCLUDE_PATHS or name in EXCLUDE_ANYWHERE or name.endswith(EXCLUDE_SUFFIXES)


def copy_tree(dest):
    """Copy the working tree (including uncommitted files) into dest, minus EXCLUDE_*."""
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = os.path.relpath(dirpath, ROOT)
        dirnames[:] = sorted(d for d in dirnames if not ignored(rel_dir, d))
        target_dir = os.path.normpath(os.path.join(dest, rel_dir))
        os.makedirs(target_dir, exist_ok=True)
        for name in filenames:
            if ignored(rel_dir, name):
                continue
            src = os.path.join(dirpath, name)
            dst = os.path.join(target_dir, name)
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)  # kept as is: the symlinks test judges them
            else:
                shutil.copy2(src, dst)


def pip_version():
    try:
        from types import SimpleNamespace

        from ansible_test._internal.python_requirements import get_venv_packages

        return get_venv_packages(SimpleNamespace(version=PYTHON_VERSION))["pip"]
    except Exception:  # private API of ansible-test: fall back to the version of ansible-core 2.19
        return "24.2"


def prepare_home():
    cache = os.path.join(CACHE_HOME, ".ansible", "test", "cache")
    os.makedirs(cache, exist_ok=True)
    shim = os.path.join(cache, "get_pip_%s.py" % pip_version().replace(".", "_"))
    with open(shim, "w", encoding="utf-8") as handle:
        handle.write(GET_PIP_SHIM)
    return CACHE_HOME


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", action="append", dest="tests", metavar="NAME",
                        help="run only this sanity test (repeatable); default: %s" % " ".join(SANITY_TESTS))
    parser.add_argument("--skip", action="append", default=[], metavar="NAME",
                        help="leave this sanity test out (repeatable; also $MESHMEND_SANITY_SKIP, comma-separated)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy and print its path")
    parser.add_argument("-v", "--verbose", action="store_true", help="pass -v to ansible-test")
    args = parser.parse_args()
    skip = set(args.skip) | set(n.strip() for n in os.environ.get("MESHMEND_SANITY_SKIP", "").split(",") if n.strip())
    tests = [t for t in (args.tests or SANITY_TESTS) if t not in skip]
    if not tests:
        print("sanity: FAILED: no sanity test left to run", file=sys.stderr)
        return 1

    bindir = os.path.dirname(os.path.abspath(sys.executable))
    ansible_test = os.path.join(bindir, "ansible-test")
    if not os.path.exists(ansible_test):
        print("sanity: FAILED: %s not found (run `make venv`)" % ansible_test, file=sys.stderr)
        return 1

    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="meshmend-sanity-")
    try:
        dest = os.path.join(tmp, "ansible_collections", NAMESPACE, NAME)
        copy_tree(dest)
        env = dict(os.environ)
        real_home = os.path.expanduser("~")
        env["HOME"] = prepare_home()
        # pip inside ansible-test's environments keeps the user's configuration, credentials and cache.
        env.setdefault("XDG_CONFIG_HOME", os.path.join(real_home, ".config"))
        env.setdefault("XDG_CACHE_HOME", os.path.join(real_home, ".cache"))
        legacy_pip_conf = os.path.join(real_home, ".pip", "pip.conf")
        if "PIP_CONFIG_FILE" not in env and os.path.exists(legacy_pip_conf):
            env["PIP_CONFIG_FILE"] = legacy_pip_conf
        if "NETRC" not in env and os.path.exists(os.path.join(real_home, ".netrc")):
            env["NETRC"] = os.path.join(real_home, ".netrc")
        # --python 3.11 resolves `python3.11` on PATH: the venv's, where ansible-core is installed.
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        env.pop("ANSIBLE_CONFIG", None)  # the Makefile exports the repo's ansible.cfg; not the copy's business
        cmd = [ansible_test, "sanity", "--python", PYTHON_VERSION, "--color", "no"]
        for test in tests:
            cmd += ["--test", test]
        if args.verbose:
            cmd.append("-v")
        print("sanity: %s (in %s)" % (" ".join(cmd[1:]), dest), flush=True)
        rc = subprocess.call(cmd, cwd=dest, env=env)
    finally:
        if args.keep:
            print("sanity: copy kept at %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - started
    if rc == 0:
        skipped = " (skipped on request: %s)" % ", ".join(sorted(skip)) if skip else ""
        print("sanity: OK, %d tests passed in %.1f s (%s)%s" % (len(tests), elapsed, ", ".join(tests), skipped))
        return 0
    print("sanity: FAILED (ansible-test exit %d) after %.1f s; tests: %s" % (rc, elapsed, ", ".join(tests)))
    return 1


if __name__ == "__main__":
    sys.exit(main())
