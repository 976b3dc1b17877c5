# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster-level checks: reachability, permissions, Istio present, cluster IDs and mesh IDs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks._mesh import (
    DEFAULT_CLUSTER_ID, as_dict, as_list, listed, make, resource,
)


_KIND_WORDS = {"unreachable": "connection failed", "tls": "TLS failure", "unauthorized": "401 Unauthorized",
               "timeout": "timeout", "bad_config": "unusable kubeconfig", "server": "server error",
               "forbidden": "403 Forbidden"}
REASON_LIMIT = 300


def _reason(c):
    """The gather's error without its leading cluster name (the message names it once)."""
    err = str(c.facts.get("error") or "").strip()
    prefix = "%s: " % (c.facts.get("cluster") or c.name)
    if err.startswith(prefix):
        err = err[len(prefix):]
    if len(err) > REASON_LIMIT:
        err = err[:REASON_LIMIT] + "..."
    kind = _KIND_WORDS.get(c.facts.get("error_kind"))
    if not err:
        return kind or "no reason recorded"
    return err if not kind or kind.lower() in err.lower() else "%s: %s" % (kind, err)


def check_unreachable(mesh):
    out = []
    for c in mesh.all():
        if c.state != "unreachable":
            continue
        reason = _reason(c)
        if c.stopped:
            message = ("The API server of %s stopped answering part way through the gather (%s): what was read "
                       "is incomplete, so nothing else is judged about it." % (c.name, reason))
        else:
            message = ("The controller cannot reach the API server of %s (%s): nothing else is known about it."
                       % (c.name, reason))
        evidence = {"server": c.server, "context": c.facts.get("context"),
                    "error": c.facts.get("error"), "error_kind": c.facts.get("error_kind"),
                    "gather_stopped": c.stopped}
        if c.stopped:
            errors = [as_dict(e) for e in as_list(c.facts.get("read_errors"))]
            evidence["failed_reads"] = [
                {"verb": e.get("verb"), "resource": e.get("resource"), "namespace": e.get("namespace"),
                 "code": e.get("code"), "reason": e.get("reason")} for e in listed(errors)]
        out.append(make(
            "cluster.unreachable", c.name, message,
            resource=None,
            evidence=evidence,
            remedy="Check the kubeconfig/context of %s, that the API server runs and that the controller "
                   "can reach %s; its peers' checks against it are limited to what they hold." % (
                       c.name, c.server or "it"),
        ))
    return out


_KINDS = {"secrets": "Secret", "pods": "Pod", "services": "Service", "configmaps": "ConfigMap",
          "deployments": "Deployment", "nodes": "Node", "namespaces": "Namespace", "gateways": "Gateway",
          "destinationrules": "DestinationRule", "endpointslices": "EndpointSlice"}


def _kind(plural):
    base = str(plural or "").split("/", 1)[0].split(".", 1)[0]
    return _KINDS.get(base, base or "resource")


def _permission(err):
    verb = err.get("verb") or "get"
    res = err.get("resource") or "?"
    if err.get("group"):
        res = "%s.%s" % (res, err["group"])
    where = ("in namespace %s" % err["namespace"]) if err.get("namespace") else "cluster-wide"
    return "%s %s %s" % (verb, res, where)


def check_read_errors(mesh):
    out = []
    for c in mesh.full():
        errors = [as_dict(e) for e in as_list(c.facts.get("read_errors"))]
        forbidden = [e for e in errors if e.get("code") == 403]
        other = [e for e in errors if e.get("code") != 403]
        if forbidden:
            perms = [_permission(e) for e in forbidden]
            first = forbidden[0]
            out.append(make(
                "cluster.forbidden", c.name,
                "The credentials used for %s cannot %s: the checks that need it were skipped." % (
                    c.name, "; ".join(perms)),
                resource=resource(_kind(first.get("resource")), first.get("namespace"), first.get("name") or "*"),
                evidence={"missing_permissions": [
                    {"verb": e.get("verb"), "resource": e.get("resource"), "group": e.get("group") or "",
                     "namespace": e.get("namespace"), "message": e.get("message")} for e in listed(forbidden)],
                    "count": len(forbidden)},
                remedy="Grant the identity of context %s read access (%s), e.g. a ClusterRole with "
                       "get/list on those resources bound to it; then diagnose again." % (
                           c.facts.get("context") or c.name, ", ".join(perms)),
            ))
        if other:
            out.append(make(
                "cluster.read_failed", c.name,
                "Some reads of %s failed, so the checks that need them were skipped." % c.name,
                evidence={"failed_reads": [
                    {"verb": e.get("verb"), "resource": e.get("resource"), "namespace": e.get("namespace"),
                     "code": e.get("code"), "reason": e.get("reason"), "message": e.get("message")}
                    for e in listed(other)], "count": len(other)},
                remedy="Look at the API server of %s for the errors listed and diagnose again." % c.name,
            ))
    return out


def check_istio_installed(mesh):
    out = []
    for c in mesh.full():
        if c.istio_installed is False:
            mesh.not_installed.add(c.name)
            ns = c.istio_namespace
            out.append(make(
                "istio.not_installed", c.name,
                "Istio is not installed in %s: no istiod Deployment and no remote control-plane Service "
                "in %s." % (c.name, ns),
                resource=resource("Deployment", ns, "istiod"),
                evidence={"istio_namespace": ns, "namespace_exists": c.facts.get("namespace") is not None,
                          "istiod": None,
                          "control_plane_services": [s.get("name") for s in
                                                     as_list(c.facts.get("control_plane_services"))]},
                remedy="Install Istio in %s (istioctl install with the primary or remote profile and "
                       "values.global.meshID/multiCluster.clusterName/network), or remove it from the "
                       "inventory. Manual." % c.name,
            ))
    return out


def _known_ids(mesh):
    """name -> cluster ID read from the cluster (full) or given (partial peers)."""
    out = {}
    for c in mesh.all():
        if c.state in ("full", "partial") and c.cluster_id:
            if c.name in mesh.not_installed:
                continue
            out[c.name] = c.cluster_id
    return out


def check_duplicate_ids(mesh):
    out = []
    ids = _known_ids(mesh)
    groups = {}
    for name, cid in ids.items():
        groups.setdefault(cid, []).append(name)
    for cid, names in sorted(groups.items()):
        if len(names) < 2:
            continue
        names = sorted(names)
        # one finding per pair, on the first cluster we gathered (partial peers only carry an ID)
        owners = [n for n in names if mesh.clusters[n].full]
        if not owners:
            continue
        name = owners[0]
        c = mesh.clusters[name]
        default = cid == DEFAULT_CLUSTER_ID
        for peer in names:
            if peer == name:
                continue
            out.append(make(
                "cluster.duplicate_id", name,
                "%s and %s share the cluster ID %r%s: istiod cannot tell them apart and ignores a remote "
                "secret keyed by its own ID." % (
                    name, peer, cid,
                    " (Istio's default, values.global.multiCluster.clusterName was not set)" if default else ""),
                peer=peer,
                resource=resource("Deployment", c.istio_namespace, as_dict(c.istiod).get("name") or "istiod"),
                evidence={"cluster_id": cid, "clusters": names,
                          "istiod_env_CLUSTER_ID": as_dict(as_dict(c.istiod).get("env")).get("CLUSTER_ID"),
                          "values_clusterName": as_dict(c.injector_global.get("multiCluster")).get("clusterName")},
                remedy="Give every cluster a unique ID: reinstall Istio in %s (or %s) with "
                       "--set values.global.multiCluster.clusterName=<unique id> (istiod CLUSTER_ID follows), "
                       "restart the workloads, and recreate the remote secrets with that name. Manual." % (
                           peer, name),
            ))
    return out


def check_mesh_ids(mesh):
    out = []
    values = {}
    for c in mesh.installed():
        if c.name in mesh.not_installed:
            continue
        if not c.has_section("configmaps") or c.read_failed("configmaps"):
            continue   # the meshID lives in ConfigMaps that were not read
        values[c.name] = c.facts.get("mesh_id")
    distinct = set(v for v in values.values() if v)
    if len(distinct) > 1 or (distinct and None in values.values()):
        groups = {}
        for name, mid in values.items():
            groups.setdefault(mid, []).append(name)

        def rank(item):
            mid, names = item
            return (mid is None, -len(names), sorted(names)[0])

        reference_mid, reference_names = sorted(groups.items(), key=rank)[0]
        reference = sorted(reference_names)[0]
        for name in sorted(values):
            if values[name] == reference_mid:
                continue
            c = mesh.clusters[name]
            out.append(make(
                "mesh.id_mismatch", name,
                "The meshID of %s (%s) differs from that of %s (%s): clusters of one mesh must share it." % (
                    name, values[name] or "unset", reference, reference_mid or "unset"),
                peer=reference,
                resource=resource("ConfigMap", c.istio_namespace, "istio-sidecar-injector"),
                evidence={"mesh_ids": dict(sorted(values.items())),
                          "values_global_meshID": c.injector_global.get("meshID")},
                remedy="Reinstall Istio in %s with --set values.global.meshID=%s and restart the workloads. "
                       "Manual." % (name, reference_mid or "<mesh id>"),
            ))
    return out


def check_declared(mesh):
    """Inventory-declared cluster ID, mesh ID and role that the cluster contradicts."""
    out = []
    for c in mesh.installed():
        if c.name in mesh.not_installed:
            continue
        d = c.declared
        if d.get("cluster_id") and c.cluster_id and d["cluster_id"] != c.cluster_id:
            out.append(make(
                "cluster.declared_id_mismatch", c.name,
                "%s runs with cluster ID %r but the inventory declares %r." % (c.name, c.cluster_id, d["cluster_id"]),
                resource=resource("Deployment", c.istio_namespace, as_dict(c.istiod).get("name") or "istiod"),
                evidence={"cluster_id": c.cluster_id, "declared": d["cluster_id"],
                          "istiod_env_CLUSTER_ID": as_dict(as_dict(c.istiod).get("env")).get("CLUSTER_ID"),
                          "values_clusterName": as_dict(c.injector_global.get("multiCluster")).get("clusterName")},
                remedy="Either fix meshmend_cluster_id in the inventory or reinstall Istio in %s with "
                       "values.global.multiCluster.clusterName=%s (and recreate the remote secrets that name it). "
                       "Manual." % (c.name, d["cluster_id"]),
            ))
        mid = c.facts.get("mesh_id")
        if d.get("mesh_id") and d["mesh_id"] != mid and c.has_section("configmaps") \
                and not c.read_failed("configmaps"):
            out.append(make(
                "mesh.declared_id_mismatch", c.name,
                "%s runs with meshID %r but the inventory declares %r." % (c.name, mid, d["mesh_id"]),
                resource=resource("ConfigMap", c.istio_namespace, "istio-sidecar-injector"),
                evidence={"mesh_id": mid, "declared": d["mesh_id"]},
                remedy="Fix meshmend_mesh_id in the inventory or reinstall Istio in %s with "
                       "values.global.meshID=%s. Manual." % (c.name, d["mesh_id"]),
            ))
        role = c.role
        if d.get("role") == "primary" and role == "remote":
            out.append(make(
                "cluster.declared_role_mismatch", c.name,
                "The inventory declares %s a primary, but it runs no istiod and its proxies use a remote "
                "control plane." % c.name,
                resource=resource("Service", c.istio_namespace,
                                  (c.selectorless_services or [{}])[0].get("name") or "istiod"),
                evidence={"declared": "primary", "role": role,
                          "control_plane_services": [s.get("name") for s in c.selectorless_services],
                          "discovery_address": c.discovery_address},
                remedy="Fix meshmend_cluster_role in the inventory, or install istiod in %s as a primary. "
                       "Manual." % c.name,
            ))
    return out


def check(mesh, found):
    out = []
    for fn in (check_unreachable, check_read_errors, check_istio_installed, check_duplicate_ids,
               check_mesh_ids, check_declared):
        out.extend(fn(mesh))
    return out
