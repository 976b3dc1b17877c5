# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cluster_info, shared by the module and its controller-side action plugin.

The action plugin runs it inside Ansible's worker process when the host's connection is local
(the inventory contract), which saves a Python start and the kubernetes import per cluster; the
module runs it everywhere else. Both validate the same argument spec and return the same result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import kind_words
from ansible_collections.meshmend.multicluster.plugins.module_utils.redact import redact, redacted_json
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import (
    AUTH_ARG_SPEC, ClusterError, get_client,
)

try:
    from ansible_collections.meshmend.multicluster.plugins.module_utils.facts import DECLARED_KEYS, SCHEMA
    from ansible_collections.meshmend.multicluster.plugins.module_utils.gather import gather_cluster
    GATHER_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - PyYAML / cryptography missing
    GATHER_IMPORT_ERROR = exc
    SCHEMA = None
    DECLARED_KEYS = ("network", "cluster_id", "mesh_id", "role", "gateway_ip")


class ClusterInfoError(ValueError):
    """Bad module input: the task fails with this message (the other hosts go on)."""


def argument_spec():
    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        istio_namespace=dict(type="str", default="istio-system"),
        probe_service=dict(type="str", default="helloworld.sample"),
        probe_port=dict(type="int", default=5000),
        probe_client=dict(type="str", default="sample/app=sleep"),
        service_namespaces=dict(type="list", elements="str"),
        log_lines=dict(type="int", default=2000),
        probe_remote_secrets=dict(type="raw", default="auto", no_log=False),
        probe_timeout=dict(type="float", default=5.0),
        peers=dict(type="raw"),
        declared=dict(type="dict", options=dict(
            network=dict(type="str"), cluster_id=dict(type="str"), mesh_id=dict(type="str"),
            role=dict(type="str", choices=["primary", "remote"]), gateway_ip=dict(type="str"))),
        exec_timeout=dict(type="float", default=10.0),
        gather_timeout=dict(type="float", default=60.0),
        sections=dict(type="list", elements="str",
                      choices=["istiod", "services", "configmaps", "remote_secrets", "cacerts", "sidecar_pods",
                               "nodes", "istio_crds", "log", "clusterz", "proxy", "networkz"]),
        insecure_kubeconfig_options=dict(type="list", elements="str", default=[]),
        facts_on_console=dict(type="bool", default=True),
        facts_format=dict(type="str", default="dict", choices=["dict", "json"]),
        end_unreachable=dict(type="bool", default=False),
    )
    return spec


def facts_in_format(result, params, secrets=()):
    """``result`` with ``secrets`` redacted (redact.py) and its facts as the task asked: a mapping (RV facts), or
    one JSON text (RV facts_json).

    The text costs one dump here and one parse where it is read; in return the registered result is a few objects
    whatever the mesh's size, which Ansible's main process copies, keeps and hands to each later worker cheaply
    (at 500 clusters each cluster's facts are some 15,000 objects). The text holds what the mapping would."""
    if params.get("facts_format") == "json" and isinstance(result.get("facts"), dict):
        result = dict(result)
        facts = result.pop("facts")
        result = redact(result, secrets)
        result["facts_json"] = redacted_json(facts, secrets)
        return result
    return redact(result, secrets)


def probe_mode(value, default="auto", option="probe_remote_secrets"):
    """true / false / auto, from a YAML bool or a string (None: ``default``)."""
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else default).strip().lower()
    if text in ("true", "yes", "on", "1", "always"):
        return True
    if text in ("false", "no", "off", "0", "never"):
        return False
    if text == "auto":
        return "auto"
    raise ValueError("%s must be true, false or auto, not %r" % (option, value))


def gather_options(params, module=None):
    return {
        "istio_namespace": params["istio_namespace"],
        "probe_service": params["probe_service"],
        "probe_port": params["probe_port"],
        "probe_client": params["probe_client"],
        "service_namespaces": params.get("service_namespaces"),
        "log_lines": params["log_lines"],
        "read_log": bool(params["log_lines"]),
        "probe_remote_secrets": probe_mode(params.get("probe_remote_secrets")),
        "probe_timeout": params["probe_timeout"],
        "peers": params.get("peers") or {},
        "declared": params.get("declared") or {},
        "exec_timeout": params["exec_timeout"],
        "gather_timeout": params.get("gather_timeout"),
        "sections": params.get("sections") or None,
        "insecure_kubeconfig_options": params.get("insecure_kubeconfig_options") or [],
        "no_log_values": module.no_log_values if module is not None else None,
    }


def unreachable_facts(name, params, exc):
    """Facts of a cluster whose connection could not even be configured (bad kubeconfig...)."""
    return {"schema": SCHEMA, "cluster": name, "context": params.get("context"), "server": params.get("host"),
            "reachable": False, "error": exc.message, "error_kind": exc.kind, "read_errors": [],
            "requests": 0, "probe_requests": 0, "duration_s": 0.0, "istio_namespace": params.get("istio_namespace"),
            "declared": dict((k, (params.get("declared") or {}).get(k)) for k in DECLARED_KEYS)}


def run(params, module):
    """Gather one cluster. ``module`` needs ``warn(msg)`` and ``no_log_values`` (a set).

    Returns the module result; raises ClusterInfoError on bad input. A cluster that cannot be
    reached is a result (``reachable: false``), never an exception: one broken cluster must not
    stop the others.
    """
    p = params
    peers = p.get("peers")
    if peers is not None and not isinstance(peers, (dict, list)):
        raise ClusterInfoError("peers must be a list of {name, server, cluster_id} or a dict of server URL -> name, "
                               "not %s" % kind_words(peers))
    try:
        probe_mode(p.get("probe_remote_secrets"))
    except ValueError as exc:
        raise ClusterInfoError(str(exc))
    name = p.get("cluster_name") or p.get("context") or p.get("host") or "cluster"
    client, facts = None, None
    try:
        # one host per cluster: with several contexts, the host must name its own (no silent current-context)
        client = get_client(p, cluster=name, module=module, require_context=True)
    except ClusterError as exc:
        # A bad kubeconfig for one cluster must not stop the others: report it as facts.
        facts = unreachable_facts(name, p, exc)
    if client is not None:
        facts = gather_cluster(client, gather_options(p, module))
    # The reason shows on the console under the host, not only in the report's evidence.
    if not facts["reachable"]:
        module.warn(facts["error"])
    else:
        errors = facts.get("read_errors") or []
        for err in errors[:3]:
            what = " ".join(str(x) for x in (err.get("verb"), err.get("resource")) if x) or "read"
            module.warn("%s: cannot %s%s: %s" % (
                facts["cluster"], what, " in %s" % err["namespace"] if err.get("namespace") else "",
                err.get("message") or "no reason given"))
        if len(errors) > 3:
            module.warn("%s: %d more reads failed (see the report)" % (facts["cluster"], len(errors) - 3))
    return dict(changed=False, facts=facts, reachable=facts["reachable"], cluster=facts["cluster"])
