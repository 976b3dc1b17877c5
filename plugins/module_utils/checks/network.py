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

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks._mesh import (
    NETWORK_LABEL, as_dict, listed, make, resource,
)


def intended_network(c):
    """(network, source) the cluster is meant to be on: declared, else values.global.network, else label."""
    if c.declared.get("network"):
        return c.declared["network"], "declared (meshmend_network)"
    if c.values_network:
        return c.values_network, "values.global.network"
    if c.namespace_label_network:
        return c.namespace_label_network, "istio-system label"
    return None, None


def _label_cmd(c, network):
    return "kubectl --context=%s label namespace %s %s=%s --overwrite" % (
        c.facts.get("context") or c.name, c.istio_namespace, NETWORK_LABEL, network or "<network>")


def check_namespace(mesh):
    out = []
    multi = mesh.multi_network
    for c in mesh.installed():
        if c.name in mesh.not_installed or c.facts.get("namespace") is None:
            continue
        ns = c.istio_namespace
        label = c.namespace_label_network
        values = c.values_network
        declared = c.declared.get("network")
        target, source = intended_network(c)
        if multi and not label:
            out.append(make(
                "network.namespace_label_missing", c.name,
                "In this multi-network mesh, namespace %s of %s has no %s label: Istio cannot tell the network "
                "of non-injected pods and gateways there." % (ns, c.name, NETWORK_LABEL),
                resource=resource("Namespace", None, ns),
                evidence={"labels": dict(c.namespace_labels), "values_global_network": values,
                          "declared_network": declared, "networks_in_mesh": sorted(mesh.networks())},
                remedy="Set the label: %s (remediate category network_labels%s)." % (
                    _label_cmd(c, target),
                    "" if target else "; declare meshmend_network first, the network is unknown"),
                category="network_labels",
            ))
        disagreements = []
        if label and values and label != values:
            disagreements.append("label %s=%s but values.global.network=%s" % (NETWORK_LABEL, label, values))
        if declared and label and label != declared:
            disagreements.append("label %s=%s but the inventory declares %s" % (NETWORK_LABEL, label, declared))
        if declared and values and values != declared:
            disagreements.append("values.global.network=%s but the inventory declares %s" % (values, declared))
        if disagreements:
            label_is_wrong = bool(label and target and label != target)
            out.append(make(
                "network.namespace_label_mismatch", c.name,
                "The network of %s disagrees with itself: %s." % (c.name, "; ".join(disagreements)),
                resource=resource("Namespace", None, ns),
                evidence={"namespace_label": label, "values_global_network": values, "declared_network": declared,
                          "intended": target, "intended_from": source, "disagreements": disagreements},
                remedy=("Set the label to the intended network: %s (remediate category network_labels)%s." % (
                    _label_cmd(c, target),
                    "; values.global.network also differs: reinstall with --set values.global.network=%s and "
                    "restart the workloads" % target if values and values != target else "")
                    if label_is_wrong else
                    "Reinstall Istio in %s with --set values.global.network=%s and restart the workloads so "
                    "injection sets ISTIO_META_NETWORK again. Manual." % (c.name, target)),
                category="network_labels" if label_is_wrong else None,
            ))
    return out


def check_pods(mesh):
    out = []
    if not mesh.multi_network:
        return out
    for c in mesh.installed():
        if c.name in mesh.not_installed:
            continue
        pods = c.facts.get("sidecar_pods")
        if not isinstance(pods, list):
            continue
        network, source = intended_network(c)
        if not network:
            network, source = c.network, "effective"
        bad = []
        for pod in pods:
            pod = as_dict(pod)
            env = pod.get("network_env")
            lbl = pod.get("network_label")
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
        first = bad[0]["pod"].split("/", 1)
        out.append(make(
            "network.pod_network_unset", c.name,
            "%d sidecar pod(s) in %s have no ISTIO_META_NETWORK or one that is not the cluster's network %s: "
            "istiod may treat them as being on the same network as their peers and send network-local "
            "endpoints." % (len(bad), c.name, network or "(unknown)"),
            resource=resource("Pod", first[0], first[1]),
            evidence={"cluster_network": network, "cluster_network_from": source,
                      "values_global_network": c.values_network, "pods": listed(bad), "count": len(bad)},
            remedy="Check that values.global.network was set properly during install (istio-sidecar-injector "
                   "values) and that the injection webhook is configured correctly, then restart the pods "
                   "(kubectl --context=%s rollout restart deployment -n <namespace>). Manual." % (
                       c.facts.get("context") or c.name),
        ))
    return out


def check(mesh, found):
    return check_namespace(mesh) + check_pods(mesh)
