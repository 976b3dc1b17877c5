# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster-level checks: reachability, permissions, Istio present, cluster IDs and mesh IDs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.registry import check
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import make_finding, target
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import DEFAULT_CLUSTER_ID
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import as_dict, as_list
from ansible_collections.meshmend.multicluster.plugins.module_utils import rbac

MAX_LISTED = 20
REASON_LIMIT = 300
_KIND_WORDS = {"unreachable": "connection failed", "tls": "TLS failure", "unauthorized": "401 Unauthorized",
               "timeout": "timeout", "bad_config": "unusable kubeconfig", "server": "server error",
               "forbidden": "403 Forbidden", "redirect": "HTTP redirect", "too_large": "answer too large"}
_KINDS = {"secrets": "Secret", "pods": "Pod", "services": "Service", "configmaps": "ConfigMap",
          "deployments": "Deployment", "nodes": "Node", "namespaces": "Namespace", "gateways": "Gateway",
          "destinationrules": "DestinationRule", "endpointslices": "EndpointSlice"}


def listed(items):
    """At most MAX_LISTED items of a list, for evidence that stays readable."""
    return list(items)[:MAX_LISTED]


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


@check("cluster.unreachable")
def unreachable(mesh):
    for c in mesh.all():
        if c.state != "unreachable":
            continue
        evidence = {"server": c.server, "context": c.facts.get("context"), "error": c.facts.get("error"),
                    "error_kind": c.facts.get("error_kind"), "gather_stopped": c.stopped}
        if c.stopped:
            errors = [as_dict(e) for e in as_list(c.facts.get("read_errors"))]
            evidence["failed_reads"] = [
                {"verb": e.get("verb"), "resource": e.get("resource"), "namespace": e.get("namespace"),
                 "code": e.get("code"), "reason": e.get("reason")} for e in listed(errors)]
        yield make_finding("cluster.unreachable", c.name, evidence=evidence,
                           variant="stopped" if c.stopped else None,
                           reason=_reason(c), server=c.server or "it")


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


def _read_errors(c):
    return [as_dict(e) for e in as_list(c.facts.get("read_errors"))]


@check("cluster.forbidden")
def forbidden(mesh):
    for c in mesh.full():
        denied = [e for e in _read_errors(c) if e.get("code") == 403]
        if not denied:
            continue
        perms = [_permission(e) for e in denied]
        first = denied[0]
        # the shipped least-privilege RBAC (docs/rbac) under the names this cluster uses
        client_ns = str(as_dict(c.facts.get("proxy")).get("pod") or "sample/").split("/", 1)[0] or "sample"
        names = {"istio-system": c.istio_namespace, "sample": client_ns}
        shipped = rbac.remedy(denied, c.context, "diagnose", names)
        yield make_finding(
            "cluster.forbidden", c.name,
            target=target(_kind(first.get("resource")), first.get("namespace"), first.get("name") or "*"),
            evidence={"missing_permissions": [
                {"verb": e.get("verb"), "resource": e.get("resource"), "group": e.get("group") or "",
                 "namespace": e.get("namespace"), "message": e.get("message"),
                 "rule": (rbac.needed_rule(e, "diagnose", names) or (None, None))[1]} for e in listed(denied)],
                "count": len(denied)},
            variant="rbac" if shipped else None,
            permissions="; ".join(perms), permissions_list=", ".join(perms), ctx=c.context, rbac=shipped)


@check("cluster.read_failed")
def read_failed(mesh):
    for c in mesh.full():
        other = [e for e in _read_errors(c) if e.get("code") != 403]
        if other:
            yield make_finding("cluster.read_failed", c.name, evidence={"failed_reads": [
                {"verb": e.get("verb"), "resource": e.get("resource"), "namespace": e.get("namespace"),
                 "code": e.get("code"), "reason": e.get("reason"), "message": e.get("message")}
                for e in listed(other)], "count": len(other)})


@check("istio.not_installed")
def not_installed(mesh):
    for c in mesh.full():
        if c.installed is not False:
            continue
        ns = c.istio_namespace
        yield make_finding(
            "istio.not_installed", c.name, target=target("Deployment", ns, "istiod"),
            evidence={"istio_namespace": ns, "namespace_exists": c.facts.get("namespace") is not None,
                      "istiod": None,
                      "control_plane_services": [s.get("name") for s in as_list(c.facts.get("control_plane_services"))]},
            ns=ns)


@check("cluster.duplicate_id")
def duplicate_id(mesh):
    for cid, names in sorted(mesh.duplicate_ids.items()):
        # one finding per pair, on the first cluster gathered (partial peers only carry an ID)
        owners = [n for n in names if mesh.clusters[n].full]
        if not owners:
            continue
        c = mesh.clusters[owners[0]]
        for peer in names:
            if peer == c.name:
                continue
            yield make_finding(
                "cluster.duplicate_id", c.name, peer=peer,
                target=target("Deployment", c.istio_namespace, c.istiod_name),
                evidence={"cluster_id": cid, "clusters": names,
                          "istiod_env_CLUSTER_ID": as_dict(as_dict(c.istiod).get("env")).get("CLUSTER_ID"),
                          "values_clusterName": as_dict(c.injector_global.get("multiCluster")).get("clusterName")},
                cluster_id=cid,
                default_note=" (Istio's default, values.global.multiCluster.clusterName was not set)"
                if cid == DEFAULT_CLUSTER_ID else "")


def _mesh_ids(mesh):
    """{cluster: meshID or None} of the installed clusters whose ConfigMaps were read."""
    values = {}
    for c in mesh.judged():
        if c.has_section("configmaps") and not c.read_failed("configmaps"):
            values[c.name] = c.facts.get("mesh_id")
    return values


@check("mesh.id_mismatch")
def mesh_id_mismatch(mesh):
    values = _mesh_ids(mesh)
    distinct = set(v for v in values.values() if v)
    if not (len(distinct) > 1 or (distinct and None in values.values())):
        return
    groups = {}
    for name, mid in values.items():
        groups.setdefault(mid, []).append(name)
    # the reference: a set meshID shared by the most clusters, then the first name
    reference_mid, reference_names = sorted(
        groups.items(), key=lambda kv: (kv[0] is None, -len(kv[1]), sorted(kv[1])[0]))[0]
    reference = sorted(reference_names)[0]
    for name in sorted(values):
        if values[name] == reference_mid:
            continue
        c = mesh.clusters[name]
        yield make_finding(
            "mesh.id_mismatch", name, peer=reference,
            target=target("ConfigMap", c.istio_namespace, "istio-sidecar-injector"),
            evidence={"mesh_ids": dict(sorted(values.items())), "values_global_meshID": c.injector_global.get("meshID")},
            mesh_id=values[name] or "unset", peer_mesh_id=reference_mid or "unset",
            wanted=reference_mid or "<mesh id>")


@check("cluster.declared_id_mismatch")
def declared_id_mismatch(mesh):
    for c in mesh.judged():
        declared = c.declared.get("cluster_id")
        if declared and c.cluster_id and declared != c.cluster_id:
            yield make_finding(
                "cluster.declared_id_mismatch", c.name,
                target=target("Deployment", c.istio_namespace, c.istiod_name),
                evidence={"cluster_id": c.cluster_id, "declared": declared,
                          "istiod_env_CLUSTER_ID": as_dict(as_dict(c.istiod).get("env")).get("CLUSTER_ID"),
                          "values_clusterName": as_dict(c.injector_global.get("multiCluster")).get("clusterName")},
                cluster_id=c.cluster_id, declared=declared)


@check("mesh.declared_id_mismatch")
def declared_mesh_id_mismatch(mesh):
    for c in mesh.judged():
        declared = c.declared.get("mesh_id")
        mid = c.facts.get("mesh_id")
        if declared and declared != mid and c.has_section("configmaps") and not c.read_failed("configmaps"):
            yield make_finding(
                "mesh.declared_id_mismatch", c.name,
                target=target("ConfigMap", c.istio_namespace, "istio-sidecar-injector"),
                evidence={"mesh_id": mid, "declared": declared}, mesh_id=mid, declared=declared)


@check("cluster.declared_role_mismatch")
def declared_role_mismatch(mesh):
    for c in mesh.judged():
        if c.declared.get("role") == "primary" and c.role == "remote":
            yield make_finding(
                "cluster.declared_role_mismatch", c.name,
                target=target("Service", c.istio_namespace,
                              (c.selectorless_services or [{}])[0].get("name") or "istiod"),
                evidence={"declared": "primary", "role": c.role,
                          "control_plane_services": [s.get("name") for s in c.selectorless_services],
                          "discovery_address": c.discovery_address})


@check("istio.istiod_not_ready")
def istiod_not_ready(mesh):
    for c in mesh.judged():
        istiod = c.istiod
        if not istiod or istiod.get("ready_replicas"):
            continue
        remotes = sorted(o.name for o in mesh.judged() if o.is_remote and c.name in o.serving)
        yield make_finding(
            "istio.istiod_not_ready", c.name, target=target("Deployment", c.istio_namespace, c.istiod_name),
            evidence={"ready_replicas": istiod.get("ready_replicas") or 0, "replicas": istiod.get("replicas"),
                      "running_pods": as_list(istiod.get("pods")), "remote_clusters_served": remotes},
            ready=istiod.get("ready_replicas") or 0, replicas=istiod.get("replicas"),
            remotes=" (and those of remote cluster(s) %s)" % ", ".join(remotes) if remotes else "",
            ctx=c.context, ns=c.istio_namespace, istiod=c.istiod_name)


@check("cluster.same_cluster")
def same_cluster(mesh):
    for alias, keep in sorted(mesh.aliases.items()):
        c = mesh.clusters[alias]
        yield make_finding("cluster.same_cluster", alias, peer=keep,
                           evidence={"server": c.server, "cluster_id": c.cluster_id, "context": c.facts.get("context"),
                                     "diagnosed_as": keep},
                           server=c.server, cluster_id=c.cluster_id)
