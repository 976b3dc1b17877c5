# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Python package missing where a module runs: one message naming the package, the interpreter and
the install command, and a marker (``missing_library``) so that mesh_report says it once for the run
instead of reporting every cluster as unreachable."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sys

# import name -> the distribution pip installs (requirements.txt names the versions)
PIP_NAMES = {"yaml": "PyYAML", "kubernetes": "kubernetes", "cryptography": "cryptography", "jmespath": "jmespath"}


def pip_name(import_error, default):
    """The pip distribution of the module an ImportError could not import (``default`` when unknown)."""
    top = (getattr(import_error, "name", None) or "").split(".")[0]
    return PIP_NAMES.get(top, default)


def missing_message(package, python=None):
    python = python or sys.executable
    return ("the Python package %s is not installed for %s, which runs meshmend's modules: install it with "
            "`%s -m pip install %s` (or `-r requirements.txt` of the collection)" % (package, python, python, package))


def fail_missing(module, import_error, default):
    """fail_json for a failed import: the package by name, the install command, the marker."""
    package = pip_name(import_error, default)
    module.fail_json(msg=missing_message(package), missing_library=package, python=sys.executable,
                     exception=str(import_error))


def missing_in_results(results):
    """One message for the hosts whose gather failed on a missing package ({host: registered result}), or None."""
    by_package = {}
    for host, result in sorted((results or {}).items()):
        if isinstance(result, dict) and result.get("failed") and result.get("missing_library"):
            key = (result["missing_library"], result.get("python") or "python3")
            by_package.setdefault(key, []).append(host)
    if not by_package:
        return None
    return "; ".join("%s (cluster%s %s)" % (missing_message(package, python), "s" if len(hosts) > 1 else "",
                                            ", ".join(hosts))
                     for (package, python), hosts in sorted(by_package.items()))
