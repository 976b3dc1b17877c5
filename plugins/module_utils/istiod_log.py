# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""istiod's remote-cluster log lines, in every Istio version's wording (istio-facts section 2).

| Istio      | failure line                                                                   |
|------------|--------------------------------------------------------------------------------|
| <= 1.9     | ``Failed to add remote cluster from secret=S for cluster_id=C: ERR``           |
| 1.10-1.15  | ``Add cluster_id=C from secret=S: ERR`` / ``Update cluster_id=C ...``          |
| 1.16-1.29  | ``Add cluster: create remote cluster failed: ERR  cluster=C secret=S`` then      |
|            | ``error handling S, and retry budget exceeded: error adding secret S: ERR``    |
| 1.30+      | same first line; ``... error adding remote config S: ERR``                     |

Plus, every version: ``ignoring cluster ... would overwrite the config cluster`` (a key equal to
the local cluster ID), ``cluster has already been registered``, and ``remote cluster C failed to
sync after D`` (unreachable or forbidden remote API server). Pure functions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_LABEL_RE = re.compile(r"\b(cluster|secret|clusterID|cluster_id)=(\"[^\"]*\"|[^\s,]+)")

# (kind, wording era, regex). Named groups: action, cluster, secret, err.
_PATTERNS = [
    ("add_failed", "<=1.9", re.compile(
        r"Failed to (?P<action>add|update) remote cluster from secret=(?P<secret>\S+?) for "
        r"cluster_id=(?P<cluster>\S+?): (?P<err>.*)$", re.I)),
    ("add_failed", "1.10-1.15", re.compile(
        r"\b(?P<action>Add|Update) cluster_id=(?P<cluster>\S+?) from secret=(?P<secret>\S+?): "
        r"(?P<err>.+)$")),
    ("add_failed", "1.16+", re.compile(
        r"\b(?P<action>Add|Update|Adding|Updating) cluster: create remote cluster failed: (?P<err>.+?)"
        r"(?:\s+(?:cluster|secret)=\S+)*\s*$")),
    ("retry_exhausted", "1.30+", re.compile(
        r"error handling (?P<secret>\S+?), and retry budget exceeded: error adding remote config "
        r"(?P<secret2>\S+?): (?P<err>.+)$")),
    ("retry_exhausted", "1.16-1.29", re.compile(
        r"error handling (?P<secret>\S+?), and retry budget exceeded: error adding secret "
        r"(?P<secret2>\S+?): (?P<err>.+)$")),
    ("already_registered", "any", re.compile(
        r"(?:cluster (?P<cluster>\S+) from secret (?P<secret>\S+) )?has already been registered")),
]
_IGNORED_LOCAL = re.compile(r"ignoring cluster(?: (?P<cluster>\S+))?(?: from secret (?P<secret>\S+))?"
                            r",? as it would overwrite the config cluster")
_SYNC_TIMEOUT = re.compile(r"remote cluster (?P<cluster>\S+?) failed to sync after (?P<after>\S+)")
_WATCH_FAILED = re.compile(r"(?:Failed to watch|failed to list) \*?(?P<type>[\w./]+)")
_URL = re.compile(r"https?://[^\s\"/]+")
# Normal (not failure) lines, to tell "istiod saw the secret" from "istiod never saw it".
_PROCESSED = re.compile(r"processing (?:secret event for secret|remote config event for) (?P<secret>\S+)")
_ADDED = re.compile(r"\b(?:Adding|Add|Updating|Update) cluster\b(?!.*failed)")
_NUMBER = re.compile(r"Number of remote clusters: (?P<n>\d+)")

MAX_LINE = 500


def _labels(line):
    out = {}
    for k, v in _LABEL_RE.findall(line):
        k = "cluster" if k in ("clusterID", "cluster_id") else k
        out.setdefault(k, v.strip('"').rstrip(":"))
    return out


def _short(line):
    line = line.rstrip()
    return line if len(line) <= MAX_LINE else line[:MAX_LINE] + "..."


def _secret_cluster(secret):
    """istio-remote-secret-<name> -> <name> (istioctl's naming), else None."""
    if not secret:
        return None
    name = secret.split("/")[-1]
    prefix = "istio-remote-secret-"
    return name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else None


def _server_lookup(servers, url):
    """servers maps URL -> name; compare scheme://host:port with the default port filled in."""
    def norm(u):
        u = (u or "").rstrip("/").lower()
        host = u.split("://", 1)[-1]
        if not re.search(r":\d+$", host):
            u += ":443"
        return u
    want = norm(url)
    for k, v in (servers or {}).items():
        if norm(k) == want:
            return v
    return None


def parse_log(text, servers=None):
    """Scan istiod's log. ``servers`` maps API server URL -> cluster name (to attribute watch errors).

    Returns ``{lines_read, errors, ignored_local, sync_timeouts, processed_secrets, remote_clusters}``.
    """
    servers = servers or {}
    errors, ignored, timeouts, processed = [], [], [], []
    remote_count = None
    lines = (text or "").splitlines()
    seen = set()
    for line in lines:
        if not line.strip():
            continue
        labels = _labels(line)
        m = _IGNORED_LOCAL.search(line)
        if m:
            c = m.group("cluster") or labels.get("cluster")
            if c and c not in ignored:
                ignored.append(c)
            continue
        m = _SYNC_TIMEOUT.search(line)
        if m:
            c = m.group("cluster").strip('"')
            if c not in timeouts:
                timeouts.append(c)
            continue
        m = _PROCESSED.search(line)
        if m:
            s = m.group("secret").rstrip(",:")
            if s not in processed:
                processed.append(s)
            continue
        m = _NUMBER.search(line)
        if m:
            remote_count = int(m.group("n"))
            continue
        for kind, era, rx in _PATTERNS:
            m = rx.search(line)
            if not m:
                continue
            gd = m.groupdict()
            secret = gd.get("secret") or labels.get("secret")
            cluster = gd.get("cluster") or labels.get("cluster") or _secret_cluster(secret)
            action = (gd.get("action") or "").lower()
            k = "update_failed" if kind == "add_failed" and action.startswith("update") else kind
            entry = {"cluster": cluster.rstrip(":") if cluster else None,
                     "secret": secret.rstrip(":") if secret else None,
                     "kind": k, "wording": era, "error": (gd.get("err") or "").strip() or None,
                     "line": _short(line)}
            key = (entry["cluster"], entry["secret"], entry["kind"], entry["error"])
            if key not in seen:
                seen.add(key)
                errors.append(entry)
            break
        else:
            m = _WATCH_FAILED.search(line)
            if m and ("error" in line.lower() or "failed" in line.lower()):
                url = _URL.search(line)
                server = url.group(0) if url else None
                cluster = labels.get("cluster") or (_server_lookup(servers, server) if server else None)
                if cluster or server:
                    entry = {"cluster": cluster, "secret": labels.get("secret"), "kind": "watch_failed",
                             "wording": "client-go", "error": _short(line[m.start():]), "line": _short(line),
                             "server": server}
                    key = (cluster, server, "watch_failed", None)
                    if key not in seen:
                        seen.add(key)
                        errors.append(entry)
    return {"lines_read": len(lines), "errors": errors, "ignored_local": ignored,
            "sync_timeouts": timeouts, "processed_secrets": processed, "remote_clusters": remote_count}
