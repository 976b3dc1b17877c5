# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes API's paths and its failures in users' words: every failed request becomes a
:class:`ClusterError` whose message names the cluster and what was asked, e.g.
``cluster2: cannot list secrets in istio-system: 403 Forbidden: ...``, with the kind
(:data:`ERROR_KINDS`) the checks and retries decide on. Used by :mod:`.client`."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

try:
    from urllib.parse import quote, urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported, keeps sanity quiet
    from urllib import quote  # noqa: F401
    from urlparse import urlsplit  # noqa: F401

ERROR_KINDS = ("unreachable", "tls", "unauthorized", "forbidden", "not_found", "conflict",
               "invalid", "timeout", "server", "bad_config", "bad_request", "redirect", "too_large", "error")

# Kinds that mean "this API server cannot be used at all" (gather stops and reports unreachable).
# A redirect: the address answers as something else than a Kubernetes API server (a proxy's login page...).
FATAL_KINDS = ("unreachable", "tls", "unauthorized", "timeout", "bad_config", "redirect")

_STATUS_KIND = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                409: "conflict", 410: "conflict", 422: "invalid", 429: "server"}
_STATUS_TEXT = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect",
                308: "Permanent Redirect", 405: "Method Not Allowed", 409: "Conflict", 410: "Gone",
                415: "Unsupported Media Type",
                422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
                502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class ClusterError(Exception):
    """A failed request, mapped to one of ERROR_KINDS, with a message naming cluster and ask."""

    def __init__(self, kind, message, status=None, reason=None, cluster=None, verb=None,
                 resource=None, namespace=None, name=None, group=None, detail=None):
        super(ClusterError, self).__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.reason = reason
        self.cluster = cluster
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.group = group
        self.detail = detail  # the server's / library's own words, without the prefix

    @property
    def fatal(self):
        return self.kind in FATAL_KINDS

    def to_read_error(self):
        """The read_errors entry of docs/facts.md."""
        return {
            "verb": self.verb, "resource": self.resource, "group": self.group or "",
            "namespace": self.namespace, "name": self.name, "code": self.status,
            "reason": self.reason, "kind": self.kind, "message": self.detail or self.message,
        }

    def to_dict(self):
        d = self.to_read_error()
        d["cluster"] = self.cluster
        d["message"] = self.message
        return d


# --------------------------------------------------------------------------- path helpers

_PATH_RE = re.compile(
    r"^/(?:api/(?P<corev>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<ns>[^/]+))?(?:/(?P<resource>[^/]+))?(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?/?$")


def parse_api_path(path):
    """Split an API path into (group, resource, namespace, name, subresource).

    ``/api/v1/namespaces/istio-system`` is the Namespace object itself.
    """
    path = path.split("?", 1)[0]
    m = _PATH_RE.match(path)
    if not m:
        return {"group": "", "resource": None, "namespace": None, "name": None, "sub": None}
    g = m.group("group") or ""
    ns, res, name, sub = m.group("ns"), m.group("resource"), m.group("name"), m.group("sub")
    if ns and not res:  # /api/v1/namespaces/foo
        res, name, ns = "namespaces", ns, None
    elif ns is None and res == "namespaces" and name and sub:
        pass
    return {"group": g, "resource": res, "namespace": ns, "name": name, "sub": sub}


def api_path(resource, namespace=None, name=None, group="", version="v1", subresource=None):
    """Build ``/api/v1/...`` or ``/apis/group/version/...``."""
    base = "/api/%s" % version if not group else "/apis/%s/%s" % (group, version)
    if namespace:
        base += "/namespaces/%s" % quote(namespace, safe="")
    base += "/" + resource
    if name:
        base += "/" + quote(name, safe="")
    if subresource:
        base += "/" + subresource
    return base


def describe_ask(verb, path):
    """``list secrets in istio-system`` / ``get secrets/cacerts in istio-system``."""
    p = parse_api_path(path)
    res = p["resource"] or path
    if p["group"]:
        res = "%s.%s" % (res, p["group"])
    what = res
    if p["name"]:
        what = "%s/%s" % (res, p["name"])
    if p["sub"]:
        what = "%s/%s" % (what, p["sub"])
    where = " in %s" % p["namespace"] if p["namespace"] else ""
    if not p["namespace"] and verb == "list" and p["resource"] not in ("namespaces", "nodes"):
        where = " at cluster scope"
    return "%s %s%s" % (verb, what, where)


def verb_for(method, path):
    method = method.upper()
    p = parse_api_path(path)
    if method == "GET":
        return "get" if p["name"] else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method.lower())


def _status_body(data):
    if not data:
        return {}
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8", "replace")
        except Exception:  # pragma: no cover
            return {}
    try:
        body = json.loads(data)
    except ValueError:
        return {"message": data.strip()[:500]}
    return body if isinstance(body, dict) else {}


def map_http_error(cluster, verb, path, status, body=None, headers=None, ask=None):
    """Map an HTTP error status to a ClusterError (the one place that decides the wording)."""
    st = _status_body(body)
    reason = st.get("reason") or _STATUS_TEXT.get(status, "HTTP %s" % status)
    detail = st.get("message") or reason
    if status in _STATUS_KIND:
        kind = _STATUS_KIND[status]
    elif 500 <= status <= 599:
        kind = "server"
    else:
        kind = "error"
    p = parse_api_path(path)
    msg = "%s: cannot %s: %s %s" % (cluster, ask or describe_ask(verb, path), status,
                                    _STATUS_TEXT.get(status, reason))
    if detail and detail not in (reason, _STATUS_TEXT.get(status)):
        msg += ": %s" % detail
    return ClusterError(kind, msg, status=status, reason=reason, cluster=cluster, verb=verb,
                        resource=(p["resource"] + ("/" + p["sub"] if p["sub"] else "")) if p["resource"] else path,
                        namespace=p["namespace"], name=p["name"], group=p["group"], detail=detail)


_UNREACHABLE_PATTERNS = (
    ("connection refused", "connection refused"),
    ("name or service not known", "no such host"),
    ("nodename nor servname", "no such host"),
    ("temporary failure in name resolution", "no such host"),
    ("no route to host", "no route to host"),
    ("network is unreachable", "network is unreachable"),
    ("incompleteread", "connection dropped mid-response"),
    ("connection broken", "connection dropped mid-response"),
    ("connection to remote host was lost", "connection dropped mid-response"),   # websocket-client
    ("connection reset", "connection reset by peer"),
    ("remote end closed", "connection closed by the server"),
    ("connection aborted", "connection aborted"),
)


def map_transport_error(cluster, verb, path, exc, ask=None):
    """Map a connection / TLS / timeout failure (no HTTP status) to a ClusterError."""
    text = "%s: %s" % (type(exc).__name__, exc)
    reason_exc = getattr(exc, "reason", None)
    if reason_exc is not None and not isinstance(reason_exc, str):
        text += " %s: %s" % (type(reason_exc).__name__, reason_exc)
    low = text.lower()
    ask = ask or (describe_ask(verb, path) if path else verb)
    p = parse_api_path(path or "")
    where = dict(resource=(p["resource"] + ("/" + p["sub"] if p["sub"] else "")) if p["resource"] else None,
                 namespace=p["namespace"], name=p["name"], group=p["group"])
    if "certificate verify failed" in low or "ssl" in low or "tls" in low or "certificate" in low:
        m = re.search(r"certificate verify failed: ([^(\]\)'\"]+)", text)
        why = m.group(1).strip() if m else "TLS handshake failed"
        if "hostname mismatch" in low or "doesn't match" in low or "ip address mismatch" in low:
            why = "certificate does not match the server address"
        detail = "x509: %s" % why if m else why
        return ClusterError("tls", "%s: cannot %s: TLS error: %s" % (cluster, ask, detail),
                            cluster=cluster, verb=verb, reason="TLSError", detail=detail, **where)
    if "timed out" in low or "timeout" in low:
        return ClusterError("timeout", "%s: cannot %s: request timed out" % (cluster, ask),
                            cluster=cluster, verb=verb, reason="Timeout", detail="timeout", **where)
    for needle, words in _UNREACHABLE_PATTERNS:
        if needle in low:
            return ClusterError("unreachable", "%s: cannot %s: API server unreachable: %s" % (cluster, ask, words),
                                cluster=cluster, verb=verb, reason="Unreachable", detail=words, **where)
    short = str(reason_exc or exc).strip() or type(exc).__name__
    return ClusterError("unreachable", "%s: cannot %s: API server unreachable: %s" % (cluster, ask, short[:300]),
                        cluster=cluster, verb=verb, reason="Unreachable", detail=short[:300], **where)


def _retry_after(headers, attempt):
    """Seconds to wait: Retry-After (capped) or exponential backoff."""
    try:
        value = None
        if headers is not None:
            value = headers.get("Retry-After")
            if value is None:
                value = headers.get("retry-after")   # websocket-client lower-cases its headers
        if value is not None:
            return max(0.0, min(float(value), 5.0))
    except (TypeError, ValueError):
        pass
    return min(0.1 * (2 ** attempt), 2.0)


# Transport failures after which a GET is simply sent again: the server may be fine next time.
_DROPPED = ("connection dropped mid-response", "connection reset by peer", "connection closed by the server",
            "connection aborted")


def _retryable_transport(err, method):
    """A timeout or a connection cut mid-answer: safe to repeat for a read, never for a write."""
    if method != "GET":
        return False
    return err.kind == "timeout" or (err.kind == "unreachable" and err.detail in _DROPPED)


def _is_retryable(status, method):
    if status == 429:
        return True
    # Writes are retried only on 429: a 5xx on a write may have been applied.
    return method == "GET" and status in (500, 502, 503, 504)


def _where_of(path):
    """resource / namespace / name / group of an API path, as ClusterError takes them."""
    p = parse_api_path(path or "")
    return dict(resource=(p["resource"] + ("/" + p["sub"] if p["sub"] else "")) if p["resource"] else path,
                namespace=p["namespace"], name=p["name"], group=p["group"])


def _bare_url(url):
    """scheme://host/path of a URL: user info and query (which may hold a token) left out."""
    try:
        u = urlsplit(str(url))
        host = u.hostname or ""
        if u.port:
            host = "%s:%s" % (host, u.port)
        return "%s://%s%s" % (u.scheme or "https", host, u.path) if host else (u.path or "?")[:200]
    except ValueError:
        return "an unparsable address"


def _redirect_error(cluster, verb, path, status, headers):
    """A 3xx: an API server never redirects its API; whatever answers is not the cluster (a proxy, a login)."""
    location = None
    try:
        location = (headers or {}).get("Location")
    except Exception:
        pass
    target = _bare_url(location) if location else "no Location"
    return ClusterError("redirect", "%s: cannot %s: %s %s: a redirect to %s: the server is not answering as a "
                        "Kubernetes API server (a proxy or login page in front of it?); meshmend does not follow "
                        "redirects" % (cluster, describe_ask(verb, path), status,
                                       _STATUS_TEXT.get(status, "Redirect"), target),
                        status=status, reason="Redirect", cluster=cluster, verb=verb,
                        detail="%s redirect to %s" % (status, target), **_where_of(path))
