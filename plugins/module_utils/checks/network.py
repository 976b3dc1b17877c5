# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Networks: istio-system's network label, values.global.network, the proxies' ISTIO_META_NETWORK.

The guide: "Istio determines the network of a Pod using the topology.istio.io/network label
which is set during injection. For non-injected Pods, Istio relies on the
topology.istio.io/network label set on the system namespace in the cluster." and "If either of
these values aren't set, or have the wrong value, istiod may treat the source and client
proxies as being on the same network and send network-local endpoints."
Single-network meshes need no label: only a declared network that the cluster contradicts is
reported there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.registry import check
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import make_finding, target
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import NETWORK_LABEL
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import as_dict

MAX_LISTED = 20


def label_cmd(c, network):
    return "kubectl --context=%s label namespace %s %s=%s --overwrite" % (
        c.context, c.istio_namespace, NETWORK_LABEL, network or "<network>")


def label_fix(c, objects):
    """The network_labels fix: set the cluster's intended network on ``objects``."""
    if not c.network:
        return None
    return {"label": NETWORK_LABEL, "value": c.network, "value_from": c.network_source, "objects": objects}


def _namespaces(mesh):
    return [c for c in mesh.judged() if c.facts.get("namespace") is not None]


@check("network.namespace_label_missing")
def namespace_label_missing(mesh):
    if not mesh.multi_network:
        return
    for c in _namespaces(mesh):
        if c.namespace_label_network:
            continue
        known = c.network_source not in (None, "effective")
        network = c.network if known else None
        yield make_finding(
            "network.namespace_label_missing", c.name, target=target("Namespace", None, c.istio_namespace),
            evidence={"labels": dict(c.namespace_labels), "values_global_network": c.values_network,
                      "declared_network": c.declared.get("network"), "networks_in_mesh": sorted(mesh.networks)},
            variant=None if network else "unknown",
            fix=label_fix(c, [{"kind": "Namespace", "namespace": None, "name": c.istio_namespace, "current": None}])
            if network else None,
            ns=c.istio_namespace, label_cmd=label_cmd(c, network))


@check("network.namespace_label_mismatch")
def namespace_label_mismatch(mesh):
    for c in _namespaces(mesh):
        label, values, declared = c.namespace_label_network, c.values_network, c.declared.get("network")
        disagreements = []
        if label and values and label != values:
            disagreements.append("label %s=%s but values.global.network=%s" % (NETWORK_LABEL, label, values))
        if declared and label and label != declared:
            disagreements.append("label %s=%s but the inventory declares %s" % (NETWORK_LABEL, label, declared))
        if declared and values and values != declared:
            disagreements.append("values.global.network=%s but the inventory declares %s" % (values, declared))
        if not disagreements:
            continue
        intended = c.network
        label_is_wrong = bool(label and intended and label != intended)
        yield make_finding(
            "network.namespace_label_mismatch", c.name, target=target("Namespace", None, c.istio_namespace),
            evidence={"namespace_label": label, "values_global_network": values, "declared_network": declared,
                      "intended": intended, "intended_from": c.network_source, "disagreements": disagreements},
            variant="relabel" if label_is_wrong else None,
            category="network_labels" if label_is_wrong else None,
            fix=label_fix(c, [{"kind": "Namespace", "namespace": None, "name": c.istio_namespace, "current": label}])
            if label_is_wrong else None,
            disagreements="; ".join(disagreements), label_cmd=label_cmd(c, intended), network=intended,
            values_note="; values.global.network also differs: reinstall with --set values.global.network=%s and "
                        "restart the workloads" % intended if values and values != intended else "")


@check("network.pod_network_unset")
def pod_network_unset(mesh):
    if not mesh.multi_network:
        return
    for c in mesh.judged():
        pods = c.facts.get("sidecar_pods")
        if not isinstance(pods, list):
            continue
        network = c.network
        bad = []
        for pod in pods:
            pod = as_dict(pod)
            env, lbl = pod.get("network_env"), pod.get("network_label")
            why = None
            if not env:
                why = "ISTIO_META_NETWORK unset"
            elif network and env != network:
                why = "ISTIO_META_NETWORK=%s" % env
            elif network and lbl and lbl != network:
                why = "label %s=%s" % (NETWORK_LABEL, lbl)
            if why:
                bad.append({"pod": "%s/%s" % (pod.get("namespace"), pod.get("name")), "why": why,
                            "network_env": env, "network_label": lbl})
        if not bad:
            continue
        first_ns, _sep, first_name = bad[0]["pod"].partition("/")
        injected = c.values_network
        yield make_finding(
            "network.pod_network_unset", c.name, target=target("Pod", first_ns, first_name),
            evidence={"cluster_network": network, "cluster_network_from": c.network_source,
                      "values_global_network": injected, "pods": bad[:MAX_LISTED], "count": len(bad)},
            # restarting helps only where injection now gives the right network (opt-in: restart_workloads)
            fix={"restart": True, "network": network, "value_from": c.network_source, "injected_network": injected,
                 "istio_namespace": c.istio_namespace} if network else None,
            count=len(bad), network=network or "(unknown)", ctx=c.context)


@check("network.mesh_networks_invalid")
def mesh_networks_invalid(mesh):
    for c in mesh.judged():
        found = as_dict(c.facts.get("mesh_networks_gateways"))
        if not found or found.get("valid") is not False:
            continue
        errors = [str(as_dict(e).get("error")) for e in found.get("errors") or []]
        yield make_finding("network.mesh_networks_invalid", c.name, target=target("ConfigMap", c.istio_namespace, "istio"),
                           evidence={"errors": errors[:MAX_LISTED], "notes": list(found.get("notes") or [])[:MAX_LISTED]},
                           errors="; ".join(errors[:3]) + ("; ..." if len(errors) > 3 else ""), ns=c.istio_namespace)
