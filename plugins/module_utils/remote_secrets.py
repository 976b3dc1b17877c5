# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A remote secret as ``istioctl create-remote-secret`` writes it, what a fix would make of an existing one,
and summaries of both without any credential (used by the remote_secret module and the remediation plan)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

try:  # PyYAML ships with ansible-core; guarded for ansible-test's import sanity.
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover
    yaml = None
    HAS_YAML = False

from ansible_collections.meshmend.multicluster.plugins.module_utils import kubeconfig as _kubeconfig
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import CLUSTER_ANNOTATION, MULTICLUSTER_LABEL, secret_annotations
from ansible_collections.meshmend.multicluster.plugins.module_utils.urls import normalize_server

# The token Secret istioctl create-remote-secret makes on the peer for istio-reader-service-account.
READER_TOKEN_SECRET = "istio-reader-service-account-istio-remote-secret-token"


def build_remote_kubeconfig(cluster_id, server, ca_data_b64, token):
    """The kubeconfig istioctl puts in a remote secret: one cluster, one token user.

    ``ca_data_b64`` is certificate-authority-data (base64 PEM). Deterministic output, so an
    unchanged peer gives an unchanged secret (idempotence).
    """
    if not HAS_YAML:  # pragma: no cover
        raise RuntimeError("PyYAML is required")
    cluster_entry = {"server": server}
    if ca_data_b64:
        cluster_entry["certificate-authority-data"] = ca_data_b64
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"cluster": cluster_entry, "name": cluster_id}],
        "contexts": [{"context": {"cluster": cluster_id, "user": cluster_id}, "name": cluster_id}],
        "current-context": cluster_id,
        "preferences": {},
        "users": [{"name": cluster_id, "user": {"token": token}}],
    }
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False)


def parse_kubeconfig_essentials(text):
    """(server, ca_data_b64, token, auth_kind) of a kubeconfig's current context; Nones when absent.

    Only for comparing an existing secret with the one we would write: values are never
    returned to the user, only their fingerprints (see summarize_kubeconfig). A thin wrapper of
    kubeconfig.essentials, which reads through the one loader with its size and alias limits.
    """
    return _kubeconfig.essentials(text)


def summarize_kubeconfig(text):
    """Credential-free view of a kubeconfig for diffs and results: server, auth kind, fingerprints.

    A thin wrapper of kubeconfig.diff_summary (the one loader, with its limits)."""
    return _kubeconfig.diff_summary(text)


def decode_secret_data(secret):
    """data of a Secret object, base64-decoded to str (undecodable values -> None)."""
    out = {}
    for key, value in ((secret or {}).get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value).decode("utf-8")
        except Exception:  # binary or broken: treat as unparsable kubeconfig
            out[key] = None
    for key, value in ((secret or {}).get("stringData") or {}).items():
        out[key] = value
    return out


def summarize_secret(secret):
    """Credential-free view of a remote secret: metadata, key names and per-key fingerprints."""
    if secret is None:
        return None
    meta = secret.get("metadata") or {}
    data = decode_secret_data(secret)
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "labels": dict(meta.get("labels") or {}),
        "annotations": secret_annotations(secret),   # others may hold the Secret (last-applied-configuration)
        "keys": sorted(data),
        "entries": {k: summarize_kubeconfig(v) for k, v in sorted(data.items())},
    }


def wanted_remote_secret(existing, name, namespace, cluster_id, kubeconfig_text, token_known=True, rekey=True,
                         peer_server=None, remove_keys=None):
    """What to write to a remote secret: (body, removed_keys); body None when ``existing`` is already right.

    - absent: the whole new Secret as istioctl makes it (label, annotation, one data key = the peer's cluster ID);
    - present: a merge patch touching only what this fix owns: the label, the annotation and the data key
      ``cluster_id`` (kept when it gives istiod the same server, CA and token, formatting aside). Every other
      key stays, except with ``rekey`` the wrong keys of this peer: those listed in ``remove_keys`` (the ones
      the diagnosis saw), or when no list is given, keys whose kubeconfig names ``peer_server``. A key of
      another peer, or one another writer added since, is never dropped.
      ``token_known=False`` (check mode before the peer's token exists) always counts as a change.
    """
    encoded = base64.b64encode(kubeconfig_text.encode("utf-8")).decode("ascii")
    if existing is None:
        return ({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                 "metadata": {"name": name, "namespace": namespace,
                              "labels": {MULTICLUSTER_LABEL: "true"},
                              "annotations": {CLUSTER_ANNOTATION: cluster_id}},
                 "data": {cluster_id: encoded}}, [])
    meta = existing.get("metadata") or {}
    data = existing.get("data") or {}
    patch = {}
    if (meta.get("labels") or {}).get(MULTICLUSTER_LABEL) != "true":
        patch.setdefault("metadata", {})["labels"] = {MULTICLUSTER_LABEL: "true"}
    if (meta.get("annotations") or {}).get(CLUSTER_ANNOTATION) != cluster_id:
        patch.setdefault("metadata", {})["annotations"] = {CLUSTER_ANNOTATION: cluster_id}
    decoded = decode_secret_data({"data": data})
    if not (token_known and same_kubeconfig(decoded.get(cluster_id), kubeconfig_text)):
        patch.setdefault("data", {})[cluster_id] = encoded
    removed = []
    if rekey:
        wanted = normalize_server(peer_server) if peer_server else None
        for key in sorted(data):
            if key == cluster_id:
                continue
            if remove_keys is not None:
                drop = key in remove_keys
            else:
                server = parse_kubeconfig_essentials(decoded.get(key))[0]
                drop = bool(wanted and server and normalize_server(server) == wanted)
            if drop:
                removed.append(key)
                patch.setdefault("data", {})[key] = None   # merge patch: null removes this key only
    return (patch or None), removed


def drop_keys_patch(existing, keys):
    """Merge patch removing ``keys`` (those present) from a Secret, and the keys it removes: (patch or None, keys)."""
    present = sorted(k for k in (keys or ()) if k in ((existing or {}).get("data") or {}))
    return ({"data": dict((k, None) for k in present)} if present else None), present


def same_kubeconfig(existing_text, wanted_text):
    """True when two kubeconfigs give istiod the same server, CA and token (formatting aside)."""
    a = parse_kubeconfig_essentials(existing_text)
    b = parse_kubeconfig_essentials(wanted_text)
    return a[0] is not None and a == b
