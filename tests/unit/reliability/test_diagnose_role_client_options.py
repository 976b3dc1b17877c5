"""The diagnose role exposes the client's request_timeout and retries and passes them to cluster_info.

Unset by default (omitted), so the module's defaults and the K8S_AUTH_REQUEST_TIMEOUT /
K8S_AUTH_RETRIES environment still apply; set, they reach the module.
"""
import os

import yaml

from ansible_collections.meshmend.multicluster.plugins.module_utils.client import AUTH_ARG_SPEC

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "diagnose")
OPTIONS = {"request_timeout": "diagnose_request_timeout", "retries": "diagnose_retries"}


def _load(*parts):
    with open(os.path.join(ROLE, *parts), encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_cluster_info_task_passes_both_options_or_omits_them():
    tasks = _load("tasks", "main.yml")
    gather = [t for t in tasks if "meshmend.multicluster.cluster_info" in t]
    assert len(gather) == 1
    args = gather[0]["meshmend.multicluster.cluster_info"]
    for option, var in OPTIONS.items():
        assert args.get(option) == "{{ %s | default(omit) }}" % var


def test_unset_by_default_so_the_environment_applies():
    defaults = _load("defaults", "main.yml")
    spec = _load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    for option, var in OPTIONS.items():
        assert var not in defaults
        assert "default" not in spec[var]
        assert spec[var]["type"] == AUTH_ARG_SPEC[option]["type"]
        # the documented fallback is the module's own default
        assert str(AUTH_ARG_SPEC[option]["default"]).rstrip("0").rstrip(".") in " ".join(spec[var]["description"])


def test_readme_documents_both_variables():
    with open(os.path.join(ROLE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    for var in OPTIONS.values():
        assert "`%s`" % var in readme
