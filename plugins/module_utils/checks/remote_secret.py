# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remote secrets: does each primary's istiod get a working kubeconfig for every peer?

The guide: "Verify that remote secrets are configured properly. If the secret is missing,
create it. If the secret is present: make sure the cluster name is used as the data key for
the remote kubeconfig. If the secret looks correct, check the logs of istiod for connectivity or
permissions issues reaching the remote Kubernetes API server."

Only primaries read remote secrets; a primary needs one for every other cluster of the mesh
(primaries and remotes alike). The model matched every data key to the peer it is meant for
(``cluster_view.SecretEntry``); :func:`pairs` sorts them per peer once, and each check reads that.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.registry import check
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import make_finding, target
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import remote_secret_name
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import as_dict, as_list
from ansible_collections.meshmend.multicluster.plugins.module_utils.urls import normalize_server

MAX_LISTED = 20
LINE_LIMIT = 400
_UNREACHABLE_ID_WORDS = {"cluster": "the one read before its gather stopped",
                         "declared": "taken from the inventory declaration"}


def listed(items):
    return list(items)[:MAX_LISTED]


_UNSET = object()


class Pair:
    """What a primary holds for one peer: its entries sorted by what is wrong with them."""

    # one per primary and peer: 250,000 at 500 clusters, each without a __dict__ of its own
    __slots__ = ("primary", "peer", "local", "judged_id", "wrong_key", "here", "elsewhere", "entries", "duplicate",
                 "_invalid", "_loopback", "_states", "_synced", "_log")

    def __init__(self, primary, peer, entries, local):
        self.primary = primary
        self.peer = peer
        self.local = local           # entries keyed by the primary's own ID that are meant for this peer
        ns = primary.istio_namespace
        judged_id = peer.expected_id_source in ("cluster", "declared")
        self.judged_id = judged_id
        self.wrong_key, self.here, self.elsewhere = [], [], []
        for e in entries:
            if judged_id and e.key != peer.expected_id:
                self.wrong_key.append(e)
            elif e.namespace == ns:
                self.here.append(e)
            else:
                self.elsewhere.append(e)
        self.entries = entries
        self.duplicate = bool(peer.cluster_id and primary.cluster_id and peer.cluster_id == primary.cluster_id)

    def id_note(self):
        peer = self.peer
        note = {"expected_key": peer.expected_id, "expected_key_from": peer.expected_id_source}
        if peer.state == "unreachable":
            note["note"] = "%s is unreachable: its cluster ID is %s" % (peer.name, _UNREACHABLE_ID_WORDS.get(
                peer.expected_id_source, "unknown, so keys are compared with its inventory name"))
        return note

    def fix(self, name=None, entries=()):
        """What the remote_secrets category needs: write key <peer's ID> in <ns>/<name> from the peer's reader.

        ``entries``: the entries of this peer istiod cannot use (``bad_keys``: secret name and key, in istiod's
        namespace), so that one run settles them all; ``usable``: this peer's secrets istiod can use already
        (then nothing is written: a second secret for one cluster ID is ignored by istiod).
        """
        if self.duplicate:
            return None
        out = {"peer": self.peer.name, "key": self.peer.expected_id, "namespace": self.primary.istio_namespace,
               "name": name or remote_secret_name(self.peer.expected_id),
               "peer_namespace": self.peer.istio_namespace}
        bad = sorted(set((e.name, e.key) for e in entries if e.in_istiod_namespace and e.name))
        if bad:
            out["bad_keys"] = [{"name": n, "key": k} for n, k in bad]
            out["usable"] = sorted(set(e.name for e in self.here if e.name and (e.name, e.key) not in bad
                                       and not e.error and not e.loopback))
        return out

    def fields(self):
        return {"ctx": self.primary.context, "ns": self.primary.istio_namespace, "peer_ctx": self.peer.context,
                "peer_id": self.peer.expected_id}

    # what the present-secret checks share, worked out once per pair
    def _once(self, name, fn):
        value = getattr(self, name, _UNSET)
        if value is _UNSET:
            value = fn()
            setattr(self, name, value)
        return value

    @property
    def invalid(self):
        return self._once("_invalid", lambda: [e for e in self.here if e.error])

    @property
    def loopback(self):
        return self._once("_loopback", lambda: [e for e in self.here if not e.error and e.loopback])

    @property
    def states(self):
        """istiod's sync state of every key that is not synced."""
        return self._once("_states", lambda: [
            {"key": e.key, "status": s, "source": src} for e in self.here
            for s, src in [_sync_state(self.primary, e.key)] if s is not None and s != "synced"])

    @property
    def synced_any(self):
        return self._once("_synced", lambda: any(_sync_state(self.primary, e.key)[0] == "synced" for e in self.here))

    @property
    def log_lines(self):
        """istiod's log lines about this pair: (watch failures, other failures)."""
        return self._once("_log", lambda: _log_lines(self.primary, self))

    @property
    def suspect(self):
        """Anything the present-secret checks could report (a broken kubeconfig, a loopback server, a failed
        probe, a key istiod does not report synced, a log line): one pass, so that the healthy pairs (most of
        the N x (N-1) of a big mesh) are passed over at once."""
        for e in self.here:
            if e.error or e.loopback or (e.probe or {}).get("ok") is False:
                return True
            status = _sync_state(self.primary, e.key)[0]
            if status is not None and status != "synced":
                return True
        return bool(self.here) and _has_log_errors(self.primary) and any(self.log_lines)


def pairs(mesh):
    """[(primary, {peer name: Pair}, unassigned entries)] for every judged primary (computed once)."""
    out = []
    for primary in mesh.primaries():
        if not primary.judged or not isinstance(primary.facts.get("remote_secrets"), list):
            continue   # a read that failed (cluster.forbidden explains) or was not made
        cached = primary.cache.get("pairs")
        if cached is None:
            own_id = primary.cluster_id
            local, rest, unassigned, targeted, targeted_local = [], [], [], {}, {}
            for e in primary.entries:
                is_local = bool(own_id and e.key == own_id)
                (local if is_local else rest).append(e)
                if e.target is None:
                    if not is_local:
                        unassigned.append(e)
                else:
                    (targeted_local if is_local else targeted).setdefault(e.target.name, []).append(e)
            by_peer = dict((peer.name, Pair(primary, peer, targeted.get(peer.name, []),
                                            targeted_local.get(peer.name, [])))
                           for peer in mesh.peers_of(primary))
            cached = primary.cache["pairs"] = (by_peer, local, unassigned)
            primary.cache["suspect_pairs"] = [pair for pair in by_peer.values() if pair.suspect]
        out.append((primary,) + cached)
    return out


def _target(entry):
    return target("Secret", entry.namespace, entry.name)


@check("remote_secret.local_key")
def local_key(mesh):
    for primary, _pairs, local, _unassigned in pairs(mesh):
        own_id = primary.cluster_id
        groups = {}
        for e in local:
            peer = e.target
            if peer is None:
                same = [p for p in mesh.peers_of(primary) if p.cluster_id == own_id]
                peer = same[0] if same else None
            groups.setdefault(peer.name if peer else None, []).append(e)
        ignored = as_list(as_dict(primary.facts.get("istiod_log")).get("ignored_local"))
        for peer_name, group in sorted(groups.items(), key=lambda kv: kv[0] or ""):
            peer = mesh.clusters.get(peer_name) if peer_name else None
            duplicate = bool(peer and peer.cluster_id and peer.cluster_id == own_id)
            first = group[0]
            fields = {"ctx": primary.context, "ns": primary.istio_namespace}
            if peer is not None:
                fields.update(peer_ctx=peer.context, peer_id=peer.expected_id)
            yield make_finding(
                "remote_secret.local_key", primary.name, peer=peer_name, target=_target(first),
                evidence={"cluster_id": own_id, "entries": [e.summary() for e in group],
                          "istiod_log_ignored_local": listed(ignored)},
                variant="duplicate" if duplicate else (None if peer else "no_peer"),
                category=None if (duplicate or peer is None) else "default",
                fix=None if (duplicate or peer is None) else Pair(primary, peer, [], []).fix(
                    first.name if first.in_istiod_namespace else None),
                secret=first.ref, key=first.key,
                why=(", because %s shares that cluster ID" % peer.name if duplicate else
                     (", so %s is never read" % peer.name if peer else "")),
                **fields)


@check("remote_secret.key_mismatch")
def key_mismatch(mesh):
    for primary, by_peer, _local, _unassigned in pairs(mesh):
        for pair in by_peer.values():
            if not pair.wrong_key:
                continue
            first = pair.wrong_key[0]
            yield make_finding(
                "remote_secret.key_mismatch", primary.name, peer=pair.peer.name, target=_target(first),
                evidence=dict(pair.id_note(), entries=[e.summary() for e in pair.wrong_key]),
                variant="duplicate" if pair.duplicate else None,
                category=None if pair.duplicate else "default",
                fix=pair.fix(first.name if first.in_istiod_namespace else None, pair.wrong_key),
                secret=first.ref, matched_by=first.matched_by, key=first.key,
                duplicate_note=" (and %s shares that ID with %s)" % (pair.peer.name, primary.name)
                if pair.duplicate else "",
                **pair.fields())


@check("remote_secret.wrong_namespace")
def wrong_namespace(mesh):
    for primary, by_peer, _local, _unassigned in pairs(mesh):
        for pair in by_peer.values():
            if not pair.elsewhere or pair.here:
                continue
            first = pair.elsewhere[0]
            yield make_finding(
                "remote_secret.wrong_namespace", primary.name, peer=pair.peer.name, target=_target(first),
                evidence=dict(pair.id_note(), entries=[e.summary() for e in pair.elsewhere],
                              istiod_namespace=primary.istio_namespace),
                fix=pair.fix(), secret=first.ref, secret_ns=first.namespace, **pair.fields())


@check("remote_secret.missing")
def missing(mesh):
    for primary, by_peer, _local, unassigned in pairs(mesh):
        for pair in by_peer.values():
            if pair.entries or pair.local:
                continue
            peer = pair.peer
            if not pair.judged_id and any(e.in_istiod_namespace for e in unassigned):
                continue   # the peer's real cluster ID is unknown: an unmatched key may well be it
            down = ""
            if peer.state == "unreachable":
                # No secret names it by server, name, annotation or key, and no unmatched key is left that
                # could be its real ID: the absence is a fact. Whether it needs one cannot be read while it
                # is down, so the finding hangs under its cluster.unreachable.
                down = (" (%s is unreachable from the controller, so it is matched by %s only; fix its connection "
                        "first)" % (peer.name, {
                            "cluster": "the cluster ID read before its gather stopped, server and name",
                            "declared": "its declared cluster ID, server and name",
                        }.get(peer.expected_id_source, "server and inventory name")))
            yield make_finding(
                "remote_secret.missing", primary.name, peer=peer.name,
                target=target("Secret", primary.istio_namespace, remote_secret_name(peer.expected_id)),
                evidence=dict(pair.id_note(), istiod_namespace=primary.istio_namespace,
                              secrets_seen=["%s key=%s" % (e.ref, e.key) for e in listed(primary.entries)]),
                variant="duplicate" if pair.duplicate else None,
                category=None if pair.duplicate else "default", fix=pair.fix(),
                duplicate_note=" (%s shares %s's cluster ID, so a secret would be ignored)" % (peer.name, primary.name)
                if pair.duplicate else "", down_note=down, **pair.fields())


# -- the secret is there: is it usable, and does istiod use it? --------------------------------

def _sync_state(primary, key):
    """(status, source) of ``key`` in istiod's view: synced|syncing|timeout|closed|absent|None."""
    clusterz = primary.facts.get("clusterz")
    if isinstance(clusterz, list):
        index = primary.cache.get("clusterz")
        if index is None:
            index = primary.cache["clusterz"] = {}
            for row in clusterz:
                row = as_dict(row)
                index.setdefault(row.get("id"), row.get("syncStatus"))
        return (index[key], "/debug/clusterz") if key in index else ("absent", "/debug/clusterz")
    if key in as_list(as_dict(primary.facts.get("istiod_log")).get("sync_timeouts")):
        return "timeout", "istiod log"
    return None, None


def _has_log_errors(primary):
    if "log_errors" not in primary.cache:
        primary.cache["log_errors"] = bool(as_dict(primary.facts.get("istiod_log")).get("errors"))
    return primary.cache["log_errors"]


def _log_lines(primary, pair):
    log = as_dict(primary.facts.get("istiod_log"))
    if not log.get("errors"):
        return [], []
    refs = set(e.ref for e in pair.here)
    keys = set(e.key for e in pair.here) | {pair.peer.expected_id, pair.peer.name}
    servers = set(normalize_server(e.server) for e in pair.here if e.server)
    lines = []
    for err in as_list(log.get("errors")):
        err = as_dict(err)
        if err.get("secret") and err["secret"] not in refs:
            continue   # about a secret that holds no key for this peer now (fixed or emptied since): history
        if (err.get("cluster") in keys or err.get("secret") in refs
                or (err.get("server") and normalize_server(err["server"]) in servers)):
            lines.append({"cluster": err.get("cluster"), "secret": err.get("secret"), "kind": err.get("kind"),
                          "line": str(err.get("line") or "")[:LINE_LIMIT], "error": err.get("error")})
    # client-go list/watch failures are istiod's own view of reachability, not secret-controller errors
    return [x for x in lines if x["kind"] == "watch_failed"], [x for x in lines if x["kind"] != "watch_failed"]


def _present(mesh):
    """Pairs whose secret is in istiod's namespace with the right key and that show something to judge."""
    for primary, _by_peer, _local, _unassigned in pairs(mesh):
        for pair in primary.cache["suspect_pairs"]:
            yield primary, pair


@check("remote_secret.invalid_kubeconfig")
def invalid_kubeconfig(mesh):
    for primary, pair in _present(mesh):
        invalid = pair.invalid
        if invalid:
            first = invalid[0]
            yield make_finding(
                "remote_secret.invalid_kubeconfig", primary.name, peer=pair.peer.name, target=_target(first),
                evidence=dict(pair.id_note(), entries=[e.summary() for e in invalid],
                              istiod_sync=pair.states),
                fix=pair.fix(first.name, invalid), secret=first.ref, key=first.key, error=first.error,
                **pair.fields())
    # istiod refuses a broken kubeconfig whatever cluster its key names (only keys in its namespace are read)
    for primary, _by_peer, _local, unassigned in pairs(mesh):
        invalid = [e for e in unassigned if e.error and e.in_istiod_namespace]
        if invalid:
            first = invalid[0]
            yield make_finding(
                "remote_secret.invalid_kubeconfig", primary.name, target=_target(first),
                evidence={"entries": [e.summary() for e in listed(invalid)],
                          "known_cluster_ids": sorted(set(p.expected_id for p in mesh.all())),
                          "peers_with_unknown_id": _peers_unknown_id(mesh, primary),
                          "out_of_play": list(mesh.out_of_play)},
                variant="unknown_key", category=None, secret=first.ref, key=first.key, error=first.error)


@check("remote_secret.loopback_server")
def loopback_server(mesh):
    for primary, pair in _present(mesh):
        loopback = pair.loopback
        if loopback:
            first = loopback[0]
            watch, _other = pair.log_lines
            yield make_finding(
                "remote_secret.loopback_server", primary.name, peer=pair.peer.name, target=_target(first),
                evidence=dict(pair.id_note(), entries=[e.summary() for e in loopback],
                              peer_server_seen_by_controller=pair.peer.server, istiod_sync=pair.states,
                              istiod_watch_errors=listed(watch)),
                fix=pair.fix(first.name, loopback), secret=first.ref, server=first.server, **pair.fields())


@check("remote_secret.api_unreachable")
def api_unreachable(mesh):
    for primary, pair in _present(mesh):
        bad = set(id(e) for e in pair.invalid + pair.loopback)
        usable = [e for e in pair.here if id(e) not in bad]
        failed = [e for e in usable if e.probe is not None and e.probe.get("ok") is False]
        probed_ok = [e for e in usable if (e.probe or {}).get("ok") is True]
        watch, _other = pair.log_lines
        # istiod's own failures count even when the controller got through: it tries from another place
        if not usable or not ((failed and len(failed) == len(usable)) or (watch and not pair.synced_any)):
            continue
        first = failed[0] if failed else usable[0]
        probe = first.probe or {}
        tried_from = probe.get("tried_from") if failed else "istiod in %s (its log)" % primary.name
        error = probe.get("error") if failed else (watch[0].get("error") or watch[0].get("line"))
        yield make_finding(
            "remote_secret.api_unreachable", primary.name, peer=pair.peer.name, target=_target(first),
            evidence=dict(pair.id_note(), entries=[e.summary() for e in (failed or usable)], tried_from=tried_from,
                          probe_error=probe.get("error"), probe_cluster=probe.get("cluster"),
                          controller_probe_ok=bool(probed_ok), istiod_watch_errors=listed(watch)),
            secret=first.ref, server=first.server, tried_from=tried_from or "the controller",
            error=error or "no answer", **pair.fields())


@check("remote_secret.istiod_error")
def istiod_error(mesh):
    for primary, pair in _present(mesh):
        _watch, errors = pair.log_lines
        if errors:
            yield make_finding(
                "remote_secret.istiod_error", primary.name, peer=pair.peer.name,
                target=target("Pod", primary.istio_namespace,
                              as_dict(primary.facts.get("istiod_log")).get("pod") or "istiod"),
                evidence=dict(pair.id_note(), count=len(errors), log_lines=listed(
                    [dict((k, x[k]) for k in ("cluster", "secret", "kind", "line")) for x in errors])),
                line=errors[0]["line"])


@check("remote_secret.not_synced")
def not_synced(mesh):
    for primary, pair in _present(mesh):
        states = pair.states
        # a kubeconfig istiod refuses or that points at itself fully explains the sync state: shown there
        if not states or pair.synced_any or pair.invalid or pair.loopback:
            continue
        watch, _other = pair.log_lines
        keys = set(e.key for e in pair.here)
        timeouts = as_list(as_dict(primary.facts.get("istiod_log")).get("sync_timeouts"))
        first = states[0]
        yield make_finding(
            "remote_secret.not_synced", primary.name, peer=pair.peer.name,
            target=target("Deployment", primary.istio_namespace, primary.istiod_name),
            evidence=dict(pair.id_note(), sync=states, istiod_log_sync_timeouts=[k for k in timeouts if k in keys],
                          istiod_watch_errors=listed(watch)),
            key=first["key"], source=first["source"],
            status="not registered" if first["status"] == "absent" else "not synced: %s" % first["status"],
            **pair.fields())


# -- keys that name no peer -----------------------------------------------------------------------

def _peers_unknown_id(mesh, primary):
    return [p.name for p in mesh.peers_of(primary) if p.expected_id_source == "inventory name"]


@check("remote_secret.peers_out_of_play")
def peers_out_of_play(mesh):
    if not mesh.out_of_play:
        return
    for primary, _by_peer, _local, unassigned in pairs(mesh):
        unknown = [e for e in unassigned if not (e.error and e.in_istiod_namespace)]
        yield make_finding(
            "remote_secret.peers_out_of_play", primary.name,
            evidence={"out_of_play": list(mesh.out_of_play), "unmatched_entries": [e.summary() for e in listed(unknown)]},
            out_of_play=", ".join(mesh.out_of_play))


@check("remote_secret.unknown_cluster")
def unknown_cluster(mesh):
    if mesh.out_of_play:
        return   # an unmatched key may name a cluster left out of play: peers_out_of_play says so
    for primary, _by_peer, _local, unassigned in pairs(mesh):
        unknown = [e for e in unassigned if not (e.error and e.in_istiod_namespace)]
        if unknown and not _peers_unknown_id(mesh, primary):
            first = unknown[0]
            yield make_finding(
                "remote_secret.unknown_cluster", primary.name, target=_target(first),
                evidence={"entries": [e.summary() for e in listed(unknown)],
                          "known_cluster_ids": sorted(set(p.expected_id for p in mesh.all()))},
                secret=first.ref, key=first.key)
