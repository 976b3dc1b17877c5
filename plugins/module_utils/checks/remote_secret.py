# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remote secrets: does each primary's istiod get a working kubeconfig for every peer?

The guide: "Verify that remote secrets are configured properly. If the secret is missing,
create it. If the secret is present: make sure the cluster name is used as the data key for
the remote kubeconfig. If the secret looks correct, check the logs of istiod for connectivity or
permissions issues reaching the remote Kubernetes API server."

Only primaries read remote secrets; a primary needs one for every other cluster of the mesh
(primaries and remotes alike). Each data key of every ``istio/multiCluster=true`` Secret is
matched to the peer it is meant for, strongest evidence first: the server the kubeconfig points
at (the probe's match, or the peer's API server URL), then the key as a cluster ID, then the
``networking.istio.io/cluster`` annotation, the ``istio-remote-secret-<name>`` Secret name, and
last the key as an inventory name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks._mesh import (
    as_dict, as_list, listed, make, normalize_server, resource, server_host,
)

CLUSTER_ANNOTATION = "networking.istio.io/cluster"
SECRET_PREFIX = "istio-remote-secret-"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

# The remote secret findings that explain missing remote endpoints (endpoints.remote_missing).
ENDPOINT_CAUSES = ("remote_secret.missing", "remote_secret.wrong_namespace", "remote_secret.key_mismatch",
                   "remote_secret.local_key", "remote_secret.invalid_kubeconfig",
                   "remote_secret.loopback_server", "remote_secret.api_unreachable",
                   "remote_secret.istiod_error", "remote_secret.not_synced")

LINE_LIMIT = 400


def duplicate_key(found, a, b):
    """Key of the cluster.duplicate_id finding about clusters a and b (either order), or None."""
    for x, y in ((a, b), (b, a)):
        key = "cluster.duplicate_id@%s->%s" % (x, y)
        if key in found:
            return key
    return None


def _create_cmd(primary, peer):
    return ("istioctl create-remote-secret --context=%s --name=%s | kubectl apply --context=%s -n %s -f -"
            % (peer.facts.get("context") or peer.name, peer.expected_id,
               primary.facts.get("context") or primary.name, primary.istio_namespace))


class Entry:
    """One data key of one remote secret, with the peer it is meant for."""

    def __init__(self, secret, entry):
        self.secret = as_dict(secret)
        self.entry = as_dict(entry)
        self.namespace = self.secret.get("namespace")
        self.name = self.secret.get("name")
        self.key = self.entry.get("key")
        self.target = None
        self.matched_by = None

    @property
    def ref(self):
        return "%s/%s" % (self.namespace, self.name)

    def summary(self):
        e = self.entry
        probe = as_dict(e.get("probe"))
        return {"secret": self.ref, "key": self.key, "fingerprint": e.get("fingerprint"),
                "server": e.get("server"), "auth": e.get("auth"), "error": e.get("error"),
                "probe_ok": probe.get("ok") if e.get("probe") else None,
                "matched_by": self.matched_by}


def _identify(mesh, primary, entry):
    """The peer (ClusterView) ``entry`` is meant for, and how it was matched; (None, None) if none."""
    e = entry.entry
    peers = mesh.peers_of(primary)
    for known in (as_dict(e.get("probe")).get("cluster"), e.get("server_cluster")):
        if known and known in mesh.clusters:
            return mesh.clusters[known], "server"
    if e.get("server"):
        target = mesh.by_server(e["server"])
        if target is not None:
            return target, "server"
    for p in peers:
        if p.cluster_id and entry.key == p.cluster_id:
            return p, "key"
    ann = as_dict(entry.secret.get("annotations")).get(CLUSTER_ANNOTATION)
    for p in peers:
        if ann and ann in (p.name, p.cluster_id, p.expected_id):
            return p, "annotation"
    name = entry.name or ""
    if name.startswith(SECRET_PREFIX):
        suffix = name[len(SECRET_PREFIX):]
        for p in peers:
            if suffix in (p.name, p.cluster_id, p.expected_id):
                return p, "secret name"
    for p in peers:
        if entry.key in (p.name, p.expected_id):
            return p, "key"
    return None, None


def _is_loopback(entry):
    return bool(entry.get("loopback")) or server_host(entry.get("server")) in LOOPBACK_HOSTS


def _log_errors(primary, peer, entries):
    log = as_dict(primary.facts.get("istiod_log"))
    if not log.get("errors"):
        return []
    refs = set(e.ref for e in entries)
    keys = set(e.key for e in entries) | {peer.expected_id, peer.name}
    servers = set(normalize_server(e.entry.get("server")) for e in entries if e.entry.get("server"))
    out = []
    for err in as_list(log.get("errors")):
        err = as_dict(err)
        if (err.get("cluster") in keys or err.get("secret") in refs
                or (err.get("server") and normalize_server(err["server"]) in servers)):
            line = str(err.get("line") or "")
            out.append({"cluster": err.get("cluster"), "secret": err.get("secret"), "kind": err.get("kind"),
                        "line": line[:LINE_LIMIT]})
    return out


def _sync_state(primary, key):
    """(status, source) of ``key`` in istiod's view: synced|syncing|timeout|closed|absent|None."""
    f = primary.facts
    log = as_dict(f.get("istiod_log"))
    clusterz = f.get("clusterz")
    if isinstance(clusterz, list):
        index = primary.cache.get("clusterz")
        if index is None:
            index = primary.cache["clusterz"] = {}
            for row in clusterz:
                row = as_dict(row)
                index.setdefault(row.get("id"), row.get("syncStatus"))
        if key in index:
            return index[key], "/debug/clusterz"
        return "absent", "/debug/clusterz"
    if key in as_list(log.get("sync_timeouts")):
        return "timeout", "istiod log"
    return None, None


def _check_primary(mesh, primary, found):
    out = []
    f = primary.facts
    secrets = f.get("remote_secrets")
    if not isinstance(secrets, list):
        return out   # read failed (cluster.forbidden explains) or not gathered
    ns = primary.istio_namespace
    own_id = primary.cluster_id
    entries = []
    for secret in secrets:
        for raw in as_list(as_dict(secret).get("entries")):
            entry = Entry(secret, raw)
            entry.target, entry.matched_by = _identify(mesh, primary, entry)
            if entry.target is not None and entry.target.name == primary.name:
                # the kubeconfig points back at this very cluster: judged as a local key only
                entry.target = None
            entries.append(entry)

    def dup_key(a, b):
        return duplicate_key(found, a, b)

    handled = set()
    # local keys: istiod skips them ("ignoring cluster as it would overwrite the config cluster")
    by_peer_local = {}
    for entry in entries:
        if own_id and entry.key == own_id:
            peer = entry.target
            if peer is None:
                same = [p for p in mesh.peers_of(primary) if p.cluster_id == own_id]
                peer = same[0] if same else None
            by_peer_local.setdefault(peer.name if peer else None, []).append(entry)
            handled.add(id(entry))
    ignored = as_list(as_dict(f.get("istiod_log")).get("ignored_local"))
    for peer_name, group in sorted(by_peer_local.items(), key=lambda kv: kv[0] or ""):
        peer = mesh.clusters.get(peer_name) if peer_name else None
        duplicate = bool(peer and peer.cluster_id and peer.cluster_id == own_id)
        cause = dup_key(primary.name, peer.name) if duplicate else None
        first = group[0]
        out.append(make(
            "remote_secret.local_key", primary.name,
            "Remote secret %s in %s has the data key %r, %s's own cluster ID: istiod ignores it (\"ignoring "
            "cluster as it would overwrite the config cluster\")%s." % (
                first.ref, primary.name, first.key, primary.name,
                ", because %s shares that cluster ID" % peer.name if duplicate else
                (", so %s is never read" % peer.name if peer else "")),
            peer=peer.name if peer else None,
            resource=resource("Secret", first.namespace, first.name),
            evidence={"cluster_id": own_id, "entries": [e.summary() for e in group],
                      "istiod_log_ignored_local": listed(ignored)},
            remedy=("Make the cluster IDs unique first (see cluster.duplicate_id): a secret cannot fix this. "
                    "Manual.") if duplicate else (
                "Recreate the secret keyed by the peer's cluster ID: %s (remediate category remote_secrets)."
                % _create_cmd(primary, peer) if peer else
                "Remove the data key %r from %s: it names this cluster. Manual." % (first.key, first.ref)),
            category=None if (duplicate or peer is None) else "remote_secrets",
            caused_by=[cause] if cause else [],
        ))

    by_target = {}
    for e in entries:
        if e.target is not None:
            by_target.setdefault(e.target.name, []).append(e)
    peers = mesh.peers_of(primary)
    for peer in peers:
        mine = [e for e in by_target.get(peer.name, ()) if id(e) not in handled]
        judged_id = peer.expected_id_source in ("cluster", "declared")
        good_here, good_elsewhere, wrong_key = [], [], []
        for e in mine:
            if judged_id and e.key != peer.expected_id:
                wrong_key.append(e)
            elif e.namespace == ns:
                good_here.append(e)
            else:
                good_elsewhere.append(e)
        duplicate = bool(peer.cluster_id and own_id and peer.cluster_id == own_id)
        dup = dup_key(primary.name, peer.name) if duplicate else None
        id_note = {"expected_key": peer.expected_id, "expected_key_from": peer.expected_id_source}
        if peer.state == "unreachable":
            id_note["note"] = "%s is unreachable: its cluster ID is %s" % (peer.name, {
                "cluster": "the one read before its gather stopped",
                "declared": "taken from the inventory declaration",
            }.get(peer.expected_id_source, "unknown, so keys are compared with its inventory name"))
        if wrong_key:
            first = wrong_key[0]
            out.append(make(
                "remote_secret.key_mismatch", primary.name,
                "Remote secret %s in %s is meant for %s (matched by %s) but its data key is %r, not %s's "
                "cluster ID %r: istiod takes the data key as the cluster ID%s." % (
                    first.ref, primary.name, peer.name, first.matched_by, first.key, peer.name, peer.expected_id,
                    " (and %s shares that ID with %s)" % (peer.name, primary.name) if duplicate else ""),
                peer=peer.name,
                resource=resource("Secret", first.namespace, first.name),
                evidence=dict(id_note, entries=[e.summary() for e in wrong_key]),
                remedy=("Make the cluster IDs unique first (cluster.duplicate_id): re-keying the secret to the "
                        "shared ID would make istiod ignore it. Manual." if duplicate else
                        "Make sure the cluster name is used as the data key for the remote kubeconfig: %s "
                        "(remediate category remote_secrets)." % _create_cmd(primary, peer)),
                category=None if duplicate else "remote_secrets",
                caused_by=[dup] if dup else [],
            ))
        if good_elsewhere and not good_here:
            first = good_elsewhere[0]
            out.append(make(
                "remote_secret.wrong_namespace", primary.name,
                "A remote secret for %s exists in %s, but in namespace %s: istiod only watches %s, so it is "
                "silently ignored." % (peer.name, primary.name, first.namespace, ns),
                peer=peer.name,
                resource=resource("Secret", first.namespace, first.name),
                evidence=dict(id_note, entries=[e.summary() for e in good_elsewhere], istiod_namespace=ns),
                remedy="Create the secret in %s: %s (remediate category remote_secrets), then delete %s by hand."
                       % (ns, _create_cmd(primary, peer), first.ref),
                category="remote_secrets",
            ))
        if not mine and not any(id(e) in handled for e in by_target.get(peer.name, ())):
            unassigned = [e for e in entries if e.target is None and id(e) not in handled and e.namespace == ns]
            if not judged_id and unassigned:
                # the peer's real cluster ID is unknown: an unmatched key may well be it
                continue
            expected_name = SECRET_PREFIX + peer.name
            caused = [dup] if dup else []
            down = ""
            if peer.state == "unreachable":
                # No secret names it by server, name, annotation or key, and no unmatched key is left
                # that could be its real ID: the absence is a fact. Whether it needs one (Istio there,
                # same mesh) cannot be read while it is down, so the finding hangs under its cause.
                caused.append("cluster.unreachable@%s" % peer.name)
                down = (" (%s is unreachable from the controller, so it is matched by %s only; fix its "
                        "connection first)" % (peer.name, {
                            "cluster": "the cluster ID read before its gather stopped, server and name",
                            "declared": "its declared cluster ID, server and name",
                        }.get(peer.expected_id_source, "server and inventory name")))
            out.append(make(
                "remote_secret.missing", primary.name,
                "No remote secret in %s/%s provides %s: the control plane cannot read endpoints from %s%s%s." % (
                    primary.name, ns, peer.name, peer.name,
                    " (%s shares %s's cluster ID, so a secret would be ignored)" % (peer.name, primary.name)
                    if duplicate else "", down),
                peer=peer.name,
                resource=resource("Secret", ns, expected_name),
                evidence=dict(id_note, istiod_namespace=ns,
                              secrets_seen=listed(["%s key=%s" % (e.ref, e.key) for e in entries])),
                remedy=("Make the cluster IDs unique first (cluster.duplicate_id), then create the secret. Manual."
                        if duplicate else
                        "If the secret is missing, create it: %s (remediate category remote_secrets)."
                        % _create_cmd(primary, peer)),
                category=None if duplicate else "remote_secrets",
                caused_by=caused,
            ))
            continue
        if not good_here:
            continue
        out.extend(_check_entries(mesh, primary, peer, good_here, id_note))
    out.extend(_unknown_and_out_of_play(mesh, primary, entries, handled))
    return out


def _check_entries(mesh, primary, peer, entries, id_note):
    """The secret providing ``peer`` is there: is it usable, and does istiod use it?"""
    out = []
    pair_keys = []
    log_lines = _log_errors(primary, peer, entries)
    # client-go list/watch failures are istiod's own view of reachability, not secret-controller errors
    watch_lines = [e for e in log_lines if e.get("kind") == "watch_failed"]
    log_errors = [e for e in log_lines if e.get("kind") != "watch_failed"]
    states = []
    for e in entries:
        status, source = _sync_state(primary, e.key)
        if status is not None and status != "synced":
            states.append({"key": e.key, "status": status, "source": source})
    synced_any = any(_sync_state(primary, e.key)[0] == "synced" for e in entries)
    invalid = [e for e in entries if e.entry.get("error")]
    loopback = [e for e in entries if not e.entry.get("error") and _is_loopback(e.entry)]
    if invalid:
        first = invalid[0]
        out.append(make(
            "remote_secret.invalid_kubeconfig", primary.name,
            "The kubeconfig in remote secret %s (key %r) is refused by istiod: %s." % (
                first.ref, first.key, first.entry.get("error")),
            peer=peer.name,
            resource=resource("Secret", first.namespace, first.name),
            evidence=dict(id_note, entries=[e.summary() for e in invalid], istiod_sync=states),
            remedy="Regenerate it with a ServiceAccount token (istioctl's default; exec plugins, tokenFile, "
                   "client key files and most auth providers are not allowed): %s (remediate category "
                   "remote_secrets)." % _create_cmd(primary, peer),
            category="remote_secrets",
        ))
        pair_keys.append(out[-1].key)
    if loopback:
        first = loopback[0]
        out.append(make(
            "remote_secret.loopback_server", primary.name,
            "The kubeconfig in remote secret %s points at %s, a loopback address: from inside %s it never "
            "reaches %s's API server (istioctl warns about this)." % (
                first.ref, first.entry.get("server"), primary.name, peer.name),
            peer=peer.name,
            resource=resource("Secret", first.namespace, first.name),
            evidence=dict(id_note, entries=[e.summary() for e in loopback],
                          peer_server_seen_by_controller=peer.server, istiod_sync=states,
                          istiod_watch_errors=listed(watch_lines)),
            remedy="Recreate the secret with an API server address reachable from %s's pods "
                   "(istioctl create-remote-secret --server=https://<address>:<port> ...): %s "
                   "(remediate category remote_secrets)." % (primary.name, _create_cmd(primary, peer)),
            category="remote_secrets",
        ))
        pair_keys.append(out[-1].key)
    usable = [e for e in entries if e not in invalid and e not in loopback]
    failed = [e for e in usable if e.entry.get("probe") and as_dict(e.entry["probe"]).get("ok") is False]
    probed_ok = [e for e in usable if as_dict(e.entry.get("probe")).get("ok") is True]
    # istiod's own failures count even when the controller got through: it tries from another place
    if usable and ((failed and len(failed) == len(usable)) or (watch_lines and not synced_any)):
        first = failed[0] if failed else usable[0]
        probe = as_dict(first.entry.get("probe"))
        tried_from = probe.get("tried_from") if failed else "istiod in %s (its log)" % primary.name
        error = probe.get("error") if failed else (watch_lines[0].get("error") or watch_lines[0].get("line"))
        caused = []
        if peer.state == "unreachable":
            caused.append("cluster.unreachable@%s" % peer.name)
        out.append(make(
            "remote_secret.api_unreachable", primary.name,
            "The kubeconfig in remote secret %s fails against %s (tried from %s): %s." % (
                first.ref, first.entry.get("server"), tried_from or "the controller", error or "no answer"),
            peer=peer.name,
            resource=resource("Secret", first.namespace, first.name),
            evidence=dict(id_note, entries=[e.summary() for e in (failed or usable)], tried_from=tried_from,
                          probe_error=probe.get("error"), probe_cluster=probe.get("cluster"),
                          controller_probe_ok=bool(probed_ok), istiod_watch_errors=listed(watch_lines)),
            remedy="Check that %s's API server at %s is reachable from %s's istiod and that the token is valid "
                   "and may list pods, services and endpointslices (istio-reader-service-account); regenerate "
                   "the secret if the token was revoked: %s. Manual unless regenerated." % (
                       peer.name, first.entry.get("server"), primary.name, _create_cmd(primary, peer)),
            caused_by=caused,
        ))
        pair_keys.append(out[-1].key)
    if log_errors:
        first = log_errors[0]
        out.append(make(
            "remote_secret.istiod_error", primary.name,
            "istiod in %s logs a failure for remote cluster %s: %s" % (primary.name, peer.name, first["line"]),
            peer=peer.name,
            resource=resource("Pod", primary.istio_namespace,
                              as_dict(primary.facts.get("istiod_log")).get("pod") or "istiod"),
            evidence=dict(id_note, log_lines=listed(log_errors), count=len(log_errors)),
            remedy="Check the logs of istiod for connectivity or permissions issues reaching the remote "
                   "Kubernetes API server; fix the secret or the access the line names. Manual.",
            caused_by=list(pair_keys),
        ))
        pair_keys.append(out[-1].key)
    log_timeouts = as_list(as_dict(primary.facts.get("istiod_log")).get("sync_timeouts"))
    # a kubeconfig istiod refuses or that points at itself fully explains the sync state: shown there
    if states and not synced_any and not invalid and not loopback:
        first = states[0]
        out.append(make(
            "remote_secret.not_synced", primary.name,
            "istiod in %s reports remote cluster %s %s (%s)." % (
                primary.name, first["key"], "not registered" if first["status"] == "absent" else
                "not synced: %s" % first["status"], first["source"]),
            peer=peer.name,
            resource=resource("Deployment", primary.istio_namespace,
                              as_dict(primary.istiod).get("name") or "istiod"),
            evidence=dict(id_note, sync=states,
                          istiod_log_sync_timeouts=[k for k in log_timeouts if k in set(e.key for e in entries)],
                          istiod_watch_errors=listed(watch_lines)),
            remedy="Run istioctl remote-clusters --context=%s; a cluster stuck in syncing/timeout cannot be "
                   "read with the secret's credentials from istiod: check reachability and RBAC of %s's API "
                   "server. Manual." % (primary.facts.get("context") or primary.name, peer.name),
            caused_by=list(pair_keys),
        ))
    return out


def _unknown_and_out_of_play(mesh, primary, entries, handled):
    out = []
    unknown = [e for e in entries if e.target is None and id(e) not in handled]
    peers_unknown_id = [p.name for p in mesh.peers_of(primary) if p.expected_id_source == "inventory name"]
    # istiod refuses a broken kubeconfig whatever cluster its key names: that is known without
    # knowing the cluster (only keys in istiod's namespace are read at all).
    invalid = [e for e in unknown if e.entry.get("error") and e.namespace == primary.istio_namespace]
    if invalid:
        first = invalid[0]
        out.append(make(
            "remote_secret.invalid_kubeconfig", primary.name,
            "The kubeconfig in remote secret %s (key %r, which names no cluster of the inventory) is refused by "
            "istiod: %s." % (first.ref, first.key, first.entry.get("error")),
            resource=resource("Secret", first.namespace, first.name),
            evidence={"entries": [e.summary() for e in listed(invalid)],
                      "known_cluster_ids": sorted(set(p.expected_id for p in mesh.all())),
                      "peers_with_unknown_id": peers_unknown_id, "out_of_play": list(mesh.out_of_play)},
            remedy="Fix or delete data key %r of %s by hand (if it is a cluster of the mesh, add that cluster to "
                   "the inventory and diagnose again: remediation can then regenerate the secret). Manual." % (
                       first.key, first.ref),
            category=None,
        ))
    unknown = [e for e in unknown if e not in invalid]
    if mesh.out_of_play:
        out.append(make(
            "remote_secret.peers_out_of_play", primary.name,
            "Remote secrets of %s were not checked against %s: out of play (not gathered, e.g. --limit)." % (
                primary.name, ", ".join(mesh.out_of_play)),
            evidence={"out_of_play": list(mesh.out_of_play),
                      "unmatched_entries": [e.summary() for e in listed(unknown)]},
            remedy="Run the diagnosis over every cluster of the mesh to check them.",
        ))
        return out
    if unknown and not peers_unknown_id:
        first = unknown[0]
        out.append(make(
            "remote_secret.unknown_cluster", primary.name,
            "Remote secret %s in %s has key %r, which names no cluster of the inventory: istiod will try to "
            "read it as a remote cluster." % (first.ref, primary.name, first.key),
            resource=resource("Secret", first.namespace, first.name),
            evidence={"entries": [e.summary() for e in listed(unknown)],
                      "known_cluster_ids": sorted(set(p.expected_id for p in mesh.all()))},
            remedy="Delete the stale secret by hand if that cluster left the mesh, or add the cluster to the "
                   "inventory. Manual.",
        ))
    return out


def check(mesh, found):
    out = []
    for primary in mesh.primaries():
        if primary.name in mesh.not_installed:
            continue
        out.extend(_check_primary(mesh, primary, found))
    return out
