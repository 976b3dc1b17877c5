# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""istiod's remote-cluster log lines, in the wording of every Istio release from 1.6 to 1.31.

Read from istio/istio at each release tag (docs/istio-releases.md has the table and the sources):

| Istio        | a kubeconfig istiod cannot use (secret S, data key C, error E)                       |
|--------------|-------------------------------------------------------------------------------------|
| 1.6-1.9.3    | ``Failed to add remote cluster from secret=S for cluster_id=C: E``                   |
| 1.9.4-1.15   | ``Adding cluster_id=C from secret=S: E`` (``Updating`` for a changed secret)         |
| 1.16-1.21    | ``Adding cluster: create remote cluster failed: E<TAB>cluster=C secret=S``           |
| 1.22-1.29    | ``Add cluster: create remote cluster failed: E<TAB>cluster=C secret=S``              |
| 1.30+        | same, label ``config=S`` instead of ``secret=S``                                     |

From 1.16 the secret controller's queue (scope ``controllers``) also logs ``error handling S, and
retry budget exceeded: error adding secret S: 1 error occurred:`` (1.30+: ``error adding remote
config S``) followed by ``<TAB>* E`` lines: a multi-line record whose real cause is on the bullet
lines (go-multierror). 1.16-1.18 first retry 15 times (``retrying (retry count: N)``).

Also recognised: a data key equal to istiod's own cluster ID (``ignoring ... overwrite the local|config
cluster``), one cluster ID in two secrets (``ClusterID reused``, ``cluster %!d(string=C) from secret
S has already been registered``, ``cluster has already been registered``), sync timeouts (``remote
clusters failed to sync after D`` names no cluster before 1.15), and the remote API server's list
failures: istio's ``watch error in cluster C: failed to list T: ...`` (1.10+) and client-go's own
reflector lines in scope ``klog`` (``Failed to watch``, ``failed to list``, the structured
``...: Failed to watch<TAB>reflector=... type=...``), attributed by cluster ID or server URL.

Lines are read as istio's logger prints them: ``time<TAB>level<TAB>[scope<TAB>]message[<TAB>k=v ...]``
(the default scope has no scope column), continuation lines of a multi-line message, JSON lines
(``--log_as_json``) and ``kubectl logs --timestamps`` prefixes. Pure functions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.meshmend.multicluster.plugins.module_utils.urls import normalize_server

MAX_LINE = 500
MAX_ERROR = 1000

# Scopes istio registers (pkg/log RegisterScope calls across releases); a third column that is one of
# these, or one lowercase word followed by more columns, is the scope; otherwise the line is in the
# default scope, which has no scope column.
KNOWN_SCOPES = frozenset((
    "ads", "adsc", "ambient", "analysis", "authn", "authorization", "ca", "cache", "citadelclient", "cni",
    "controllers", "controlleruntime", "default", "delta", "deltaadsc", "dns", "endpoint", "file", "fullpush",
    "gateway", "grpcgen", "hbone", "healthcheck", "installer", "klog", "krt", "kube", "mcp", "model",
    "monitor", "monitoring", "pkica", "processing", "proxyconfig", "retry", "sds", "secretcontroller",
    "security", "server", "serverca", "serviceentry", "spiffe", "status", "telemetry", "token", "translator",
    "trustBundle", "validation", "validationController", "validationServer", "wasm", "wle", "xdsproxy",
))
_LEVELS = "debug|info|warn|warning|error|dpanic|panic|fatal"
_HEAD = re.compile(r"^(?P<time>\S+)\t(?P<level>%s)\t(?P<rest>.*)$" % _LEVELS, re.S)
_KUBECTL_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) (?=\S+\t(?:%s)\t)" % _LEVELS)
_LABELS = re.compile(r"^[A-Za-z_][\w.-]*=[^\n]*$")
_PAIR = re.compile(r"([A-Za-z_][\w.-]*)=(.*?)(?= [A-Za-z_][\w.-]*=|$)")
_URL = re.compile(r"https?://[^\s\"/]+")
_GO_WRONG_TYPE = re.compile(r"^%!\w\((?:string|int)=(.*)\)$")
_MULTI = re.compile(r"^(\d+) errors? occurred:\n(.*)$", re.S)

# (kind, wording, regex) for the secret controller's failure lines, tried in order.
# Named groups: action, cluster, secret, err.
_FAILURES = [
    ("add_failed", "1.6-1.9.3", re.compile(
        r"^Failed to (?P<action>add|update) remote cluster from secret=(?P<secret>\S+?) for "
        r"cluster_id=(?P<cluster>\S+?): (?P<err>.*)$", re.S | re.I)),
    ("add_failed", "1.6-1.9.3", re.compile(
        r"^Error (?P<action>creating|updating) cluster_id=(?P<cluster>\S+?) from secret[= ](?P<secret>\S+?): "
        r"(?P<err>.*)$", re.S)),
    # log.Errorf("%s cluster_id from secret=%v: %s %v", action, clusterID, secretKey, err): the words and the
    # arguments disagree, so "secret=" holds the cluster ID and the secret follows the colon.
    ("add_failed", "1.6-1.15", re.compile(
        r"^(?P<action>Adding|Updating|Add|Update|Error updating) cluster_id from secret=(?P<cluster>\S+?): "
        r"(?P<secret>\S+) (?P<err>.*)$", re.S)),
    ("add_failed", "1.9.4-1.15", re.compile(
        r"^(?P<action>Adding|Updating|Add|Update) cluster_id=(?P<cluster>\S+?) from secret=(?P<secret>\S+?): "
        r"(?P<err>.*)$", re.S)),
    ("add_failed", "1.16-1.21", re.compile(
        r"^(?P<action>Adding|Updating) cluster: (?:create remote cluster|initialize cluster) failed: (?P<err>.*)$",
        re.S)),
    ("add_failed", "1.22+", re.compile(
        r"^(?P<action>Add|Update) cluster: (?:create remote cluster|initialize cluster) failed: (?P<err>.*)$", re.S)),
    ("retry", "1.13+", re.compile(
        r"^error handling (?P<secret>\S+?), (?P<action>retrying(?: \(retry count: \d+\))?|and retry budget exceeded): "
        r"(?P<err>.*)$", re.S)),
    ("retry", "1.6-1.12", re.compile(
        r"^Error processing (?P<secret>\S+) \((?P<action>will retry|giving up)\): (?P<err>.*)$", re.S)),
    ("already_registered", "1.16+", re.compile(r"^cluster has already been registered$")),
    ("already_registered", "1.13-1.15", re.compile(
        r"^cluster (?P<cluster>\S+) from secret (?P<secret>\S+) has already been registered$")),
    ("already_registered", "1.6-1.10", re.compile(
        r"^ClusterID reused in two different secrets: (?P<prev>\S+) and (?P<secret>\S+)\. ClusterID must be unique "
        r"across all secrets$")),
]
_RETRY_WRAP = [
    ("1.30+", re.compile(r"^error adding remote config (?P<secret>\S+?): (?P<err>.*)$", re.S)),
    ("1.16-1.29", re.compile(r"^error adding secret (?P<secret>\S+?): (?P<err>.*)$", re.S)),
]
_IGNORED_LOCAL = [
    ("1.16+", re.compile(r"^ignoring cluster as it would overwrite the config cluster$")),
    ("1.12-1.15", re.compile(r"^ignoring (?:(?:Adding|Updating|Add|Update) )?cluster (?P<cluster>\S+) from secret "
                             r"(?P<secret>\S+) as it would overwrite the (?:local|config) cluster$")),
]
_SYNC_TIMEOUT = re.compile(r"^remote cluster (?P<cluster>\S+?) failed to sync after (?P<after>\S+)$")
_SYNC_TIMEOUT_UNNAMED = re.compile(r"^remote clusters failed to sync after (?P<after>\S+)$")
_LOCAL_SYNC_TIMEOUT = re.compile(r"^Timed out waiting for cluster (?P<cluster>\S+) to sync\b")
_OMITTED = re.compile(r"^remote cluster (?P<cluster>\S+) is (?P<why>closed or timed out|timed out|closed), "
                      r"omitting it from the clusters collection$")
_SYNC_FAILED = re.compile(r"^remote cluster (?P<cluster>\S+) failed to sync(?: handler| KRT collection .*)?$")
_PROCESSED = [
    re.compile(r"^processing (?:secret event for secret|remote config event for) (?P<secret>\S+)$"),
    re.compile(r"^Processing (?:add|update): (?P<secret>\S+)$"),
    re.compile(r"^secret controller got event from queue for secret (?P<secret>\S+)$"),
]
_NUMBER = re.compile(r"^Number of remote clusters: (?P<n>\d+)$")
_DELETING = re.compile(r"^Deleting cluster_id=(?P<cluster>\S+) configured by secret=(?P<secret>\S+)$")
# istio's WatchErrorHandler (pilot/pkg/util/informermetric, 1.10+): names the cluster ID
_WATCH_ISTIO = re.compile(r"^watch error in cluster (?P<cluster>\S+): (?P<err>.*)$", re.S)
# client-go's reflector through klog: "<name>: Failed to watch T: E", "<name>: failed to list T: E",
# and (client-go 0.31+) "... : Unhandled Error" / "E: Failed to watch" with reflector/type labels
_WATCH_KLOG = re.compile(r"^(?:(?P<name>\S+\.go:\d+): )?(?P<what>Failed to watch|failed to list) (?P<type>\S+?): "
                         r"(?P<err>.*?)(?:: Unhandled Error)?$", re.S)
_WATCH_KLOG_STRUCTURED = re.compile(r"^(?P<err>.*): Failed to watch$", re.S)


def _short(text, limit=MAX_LINE):
    text = (text or "").rstrip()
    return text if len(text) <= limit else text[:limit] + "..."


def _unwrap_go(value):
    """``%!d(string=cluster2)`` (Go's output for a string given to %d) -> ``cluster2``."""
    if value is None:
        return None
    value = value.rstrip(":,")
    m = _GO_WRONG_TYPE.match(value)
    return m.group(1) if m else value


def causes(err):
    """The real causes in an error text: go-multierror's bullet lines, else the text itself."""
    if err is None:
        return []
    err = err.strip("\n")
    m = _MULTI.match(err.strip())
    if m:
        items = []
        for line in m.group(2).split("\n"):
            line = line.strip()
            if line.startswith("* "):
                items.append(line[2:].strip())
            elif line and items:
                items[-1] += " " + line
        return items or [err.strip()]
    return [err.strip()]


def _error_text(err):
    found = causes(err)
    if not found:
        return None
    text = "; ".join(found)
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR] + "..."


def _secret_cluster(secret):
    """istio-remote-secret-<name> -> <name> (istioctl's naming), else None."""
    if not secret:
        return None
    name = secret.split("/")[-1]
    prefix = "istio-remote-secret-"
    return name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else None


def _server_lookup(servers, url):
    """servers maps URL -> name; URLs compared in their one normal form (urls.py)."""
    want = normalize_server(url)
    if want is None:
        return None
    for k, name in (servers or {}).items():
        if normalize_server(k) == want:
            return name
    return None


# --------------------------------------------------------------------------- records

def _split_labels(text):
    """(message, labels) of a record's text: labels are the last TAB column when it is ``k=v ...``."""
    idx = text.rfind("\t")
    if idx >= 0:
        tail = text[idx + 1:]
        if _LABELS.match(tail) and "\n" not in tail:
            labels = {}
            for k, val in _PAIR.findall(tail):
                labels.setdefault(k, val)
            return text[:idx].rstrip("\n\t "), labels
    return text.rstrip("\n\t "), {}


def _record_from_console(time_, level, rest):
    scope = None
    first, sep, after = rest.partition("\t")
    if sep and "\n" not in first and (first in KNOWN_SCOPES or re.match(r"^[a-z][a-z0-9_-]*$", first)):
        _msg, labels = _split_labels(after)
        # one lowercase word followed only by labels is a message, not a scope
        if first in KNOWN_SCOPES or _msg:
            scope = None if first == "default" else first
            rest = after
    msg, labels = _split_labels(rest)
    return {"time": time_, "level": "warn" if level == "warning" else level, "scope": scope, "msg": msg,
            "labels": labels}


def _record_from_json(line):
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("msg"), str):
        return None
    labels = dict((k, str(v)) for k, v in doc.items()
                  if k not in ("level", "time", "scope", "msg", "caller", "stack") and v is not None)
    return {"time": doc.get("time"), "level": doc.get("level"), "scope": doc.get("scope") or None,
            "msg": doc["msg"].rstrip("\n"), "labels": labels}


def records(text):
    """Physical lines -> log records (a multi-line message is one record). Returns (records, lines_read)."""
    lines = (text or "").splitlines()
    out = []
    current = None
    for raw in lines:
        line = _KUBECTL_TS.sub("", raw, count=1)
        stripped = line.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            rec = _record_from_json(stripped)
            if rec is not None:
                rec["first"] = raw
                out.append(rec)
                current = None
                continue
        m = _HEAD.match(line)
        if m:
            current = {"time": m.group("time"), "level": m.group("level"), "parts": [m.group("rest")], "first": raw}
            out.append(current)
            continue
        if current is not None and (line == "" or line[:1] in ("\t", " ")):
            current["parts"].append(line)
            continue
        if not stripped:
            continue
        # a line without istio's header (another logger, or a tail cut mid-record): judged on its own
        current = {"time": None, "level": None, "parts": [line], "first": raw, "headless": True}
        out.append(current)
    result = []
    for rec in out:
        if "parts" not in rec:
            result.append(rec)
            continue
        text = "\n".join(rec["parts"])
        if rec.get("headless"):
            msg, labels = _split_labels(text)
            parsed = {"time": None, "level": None, "scope": None, "msg": msg, "labels": labels}
        else:
            parsed = _record_from_console(rec["time"], rec["level"], text)
        parsed["first"] = rec["first"]
        result.append(parsed)
    return result, len(lines)


# --------------------------------------------------------------------------- classification

def _failure(rec):
    """(kind, wording, groups) of a secret-controller failure record, or None."""
    msg = rec["msg"]
    for kind, wording, rx in _FAILURES:
        m = rx.match(msg)
        if m:
            return kind, wording, m.groupdict()
    return None


def _watch(rec, servers):
    """A list/watch failure of client-go against some cluster's API server, or None."""
    msg = rec["msg"]
    m = _WATCH_ISTIO.match(msg)
    if m:
        err = m.group("err").strip()
        url = _URL.search(err)
        return {"cluster": m.group("cluster"), "error": err, "server": url.group(0) if url else None,
                "wording": "istio 1.10+"}
    structured = _WATCH_KLOG_STRUCTURED.match(msg)
    m = _WATCH_KLOG.match(msg)
    if structured and (rec["labels"].get("reflector") or rec["labels"].get("type")):
        err = structured.group("err").strip()
        wording = "client-go 0.33+"
    elif m and rec.get("scope") in (None, "klog"):
        err = m.group("err").strip()
        if m.group("what") == "failed to list":
            err = "failed to list %s: %s" % (m.group("type"), err)
        wording = "client-go <=0.32"
    else:
        return None
    url = _URL.search(err)
    server = url.group(0) if url else None
    cluster = _server_lookup(servers, server) if server else None
    if not cluster and not server:
        return None
    return {"cluster": cluster, "error": err, "server": server, "wording": wording}


def parse_log(text, servers=None):
    """Scan istiod's log. ``servers`` maps API server URL -> cluster name (to attribute client-go lines).

    Returns ``{lines_read, records, errors, ignored_local, sync_timeouts, sync_timeout_unnamed,
    omitted_clusters, deleted_clusters, processed_secrets, remote_clusters}``; each error is
    ``{cluster, secret, kind, wording, error, line, level, scope[, server]}`` where ``kind`` is
    add_failed | update_failed | retrying | retry_exhausted | already_registered | watch_failed and
    ``error`` is the real cause (the bullet lines of a multi-line error, joined by "; ").
    """
    servers = servers or {}
    recs, lines_read = records(text)
    errors, ignored, timeouts, omitted, deleted, processed = [], [], [], [], [], []
    unnamed_timeout = False
    remote_count = None
    seen = set()

    def add(entry):
        key = (entry["cluster"], entry["secret"], entry["kind"], entry["error"], entry.get("server"))
        if key in seen:
            return
        seen.add(key)
        errors.append(entry)

    def base(rec):
        return {"line": _short(rec["first"]), "level": rec.get("level"), "scope": rec.get("scope")}

    for rec in recs:
        msg, labels = rec["msg"], rec["labels"]
        secret_label = labels.get("config") or labels.get("secret")
        m = _IGNORED_LOCAL[0][1].match(msg) or _IGNORED_LOCAL[1][1].match(msg)
        if m:
            hit = m.groupdict().get("cluster") or labels.get("cluster")
            if hit and hit not in ignored:
                ignored.append(hit)
            continue
        m = _SYNC_TIMEOUT.match(msg) or _LOCAL_SYNC_TIMEOUT.match(msg)
        if m:
            c = m.group("cluster").strip('"')
            if c not in timeouts:
                timeouts.append(c)
            continue
        if _SYNC_TIMEOUT_UNNAMED.match(msg):
            unnamed_timeout = True
            continue
        m = _OMITTED.match(msg) or _SYNC_FAILED.match(msg)
        if m:
            c = m.group("cluster")
            if c not in omitted:
                omitted.append(c)
            if m.groupdict().get("why") == "timed out" and c not in timeouts:
                timeouts.append(c)
            continue
        matched = False
        for rx in _PROCESSED:
            m = rx.match(msg)
            if m:
                s = m.group("secret").rstrip(",:")
                if s not in processed:
                    processed.append(s)
                matched = True
                break
        if matched:
            continue
        m = _NUMBER.match(msg)
        if m:
            remote_count = int(m.group("n"))
            continue
        m = _DELETING.match(msg)
        if m:
            if m.group("cluster") not in deleted:
                deleted.append(m.group("cluster"))
            continue
        found = _failure(rec)
        if found:
            kind, wording, gd = found
            action = (gd.get("action") or "").lower()
            secret = gd.get("secret") or secret_label
            cluster = _unwrap_go(gd.get("cluster") or labels.get("cluster"))
            err = gd.get("err")
            if kind == "retry":
                kind = "retrying" if action.startswith("retrying") or action == "will retry" else "retry_exhausted"
                for w, rx in _RETRY_WRAP:
                    wm = rx.match((err or "").strip())
                    if wm:
                        err, wording = wm.group("err"), w
                        break
                else:
                    if wording == "1.13+" and action.startswith("retrying ("):
                        wording = "1.16+"
            elif kind == "add_failed" and "updat" in action:
                kind = "update_failed"
            entry = dict(base(rec), cluster=cluster, secret=_unwrap_go(secret) if secret else None, kind=kind,
                         wording=wording, error=_error_text(err) if kind != "already_registered" else None,
                         causes=causes(err)[:20] if kind != "already_registered" else [])
            if kind == "already_registered" and gd.get("prev"):
                entry["other_secret"] = gd["prev"]
            add(entry)
            continue
        w = _watch(rec, servers)
        if w:
            entry = dict(base(rec), cluster=w["cluster"], secret=labels.get("secret"), kind="watch_failed",
                         wording=w["wording"], error=_short(w["error"], MAX_ERROR), server=w["server"])
            add(entry)
    _attribute_retries(errors)
    return {"lines_read": lines_read, "records": len(recs), "errors": errors, "ignored_local": ignored,
            "sync_timeouts": timeouts, "sync_timeout_unnamed": unnamed_timeout, "omitted_clusters": omitted,
            "deleted_clusters": deleted, "processed_secrets": processed, "remote_clusters": remote_count}


def _attribute_retries(errors):
    """A queue line names the secret only: its cluster is the one whose add line failed with that cause.

    With no add line for the secret in the tail, fall back to istioctl's secret naming
    (istio-remote-secret-<cluster>); with several keys failing, the line stays unattributed.
    """
    adds = [e for e in errors if e["kind"] in ("add_failed", "update_failed")]
    for e in errors:
        if e["kind"] not in ("retrying", "retry_exhausted") or e["cluster"]:
            continue
        same = [a for a in adds if a["secret"] == e["secret"]]
        if not same:
            e["cluster"] = _secret_cluster(e["secret"])
            continue
        wanted = set(e.get("causes") or [])
        clusters = set(a["cluster"] for a in same if a["error"] in wanted)
        if len(clusters) == 1 and len(wanted) == 1:
            e["cluster"] = clusters.pop()
