# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How meshmend talks to an API server: :class:`KubeClient` (made by :mod:`.client`; its error mapper is
:mod:`.api_errors`).

- the REST layer is called with raw responses and the JSON is parsed here: no model
  deserialization (it costs more than the request itself on big lists);
- every failure becomes a :class:`ClusterError` whose message names the cluster and what
  was asked, e.g. ``cluster2: cannot list secrets in istio-system: 403 Forbidden: ...``;
- bounded retries with backoff on 429 (Retry-After), 5xx and timeouts;
- each request ends within request_timeout and the caller's deadline, its answer within a size cap.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import threading
import time

try:
    from urllib.parse import urlencode
except ImportError:  # pragma: no cover - Python 2 is not supported, keeps sanity quiet
    from urllib import urlencode  # noqa: F401

from ansible_collections.meshmend.multicluster.plugins.module_utils import jsontext
from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import (
    ClusterError, _is_retryable, _redirect_error, _retry_after, _retryable_transport, _where_of, api_path,
    describe_ask, map_http_error, map_transport_error, verb_for,
)

try:
    import urllib3
    from kubernetes.client.exceptions import ApiException
except ImportError:  # guarded: client.HAS_KUBERNETES says so, and no KubeClient is made without the library
    ApiException = None

# Limits per read, so a hostile or broken server cannot hold the controller: a response body is capped
# (a LIST's pages count together), a LIST follows at most MAX_PAGES ``continue`` tokens, and a request ends
# at request_timeout however slowly its body trickles (each socket read gets only the time left).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
MAX_PAGES = 200
_CHUNK = 256 * 1024

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


def _secs(value):
    """A timeout for messages: 10 -> "10", 0.4 -> "0.4", 3.3333 -> "3.33"."""
    return ("%.2f" % value).rstrip("0").rstrip(".")


def _discard(raw):
    """Drop a response whose body is not wanted (its connection is closed, not reused)."""
    if raw is None:
        return
    try:
        raw.close()
    except Exception:
        pass


# When the request on this thread must end (time.monotonic()); read by the connections below while they wait
# for the status line and headers, which http.client reads with a per-recv timeout only.
_REQUEST_END = threading.local()


def _cut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)   # the waiting recv returns at once; the connection is not reused
    except (OSError, ValueError):
        pass


def _headers_within_deadline(cls):
    """A urllib3 connection class whose wait for the answer's headers ends at the request's deadline."""

    class Bounded(cls):
        def getresponse(self, *args, **kwargs):
            ends = getattr(_REQUEST_END, "at", None)
            sock = getattr(self, "sock", None)
            timer = None
            if ends is not None and sock is not None:
                timer = threading.Timer(max(0.0, ends - time.monotonic()), _cut, (sock,))
                timer.daemon = True
                timer.start()
            try:
                return super(Bounded, self).getresponse(*args, **kwargs)
            finally:
                if timer is not None:
                    timer.cancel()

    Bounded.__name__ = "Bounded" + cls.__name__
    return Bounded


def _bounded_pools():
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Pool(HTTPConnectionPool):
        ConnectionCls = _headers_within_deadline(HTTPConnectionPool.ConnectionCls)

    class SPool(HTTPSConnectionPool):
        ConnectionCls = _headers_within_deadline(HTTPSConnectionPool.ConnectionCls)

    return {"http": Pool, "https": SPool}


_BOUNDED_POOLS = []


def _no_redirects(api_client):
    """Make the client's pool answer 3xx as they are (urllib3 follows redirects by default), and its
    connections stop waiting for headers at the request's deadline."""
    pool = getattr(getattr(api_client, "rest_client", None), "pool_manager", None)
    if pool is None or getattr(pool, "_meshmend_no_redirect", False):
        return
    request = pool.request

    def no_redirect(*args, **kwargs):
        kwargs["redirect"] = False
        return request(*args, **kwargs)

    pool.request = no_redirect
    pool._meshmend_no_redirect = True
    if not _BOUNDED_POOLS:
        _BOUNDED_POOLS.append(_bounded_pools())
    if isinstance(getattr(pool, "pool_classes_by_scheme", None), dict):
        pool.pool_classes_by_scheme = dict(_BOUNDED_POOLS[0])


# --------------------------------------------------------------------------- the client

class KubeClient(object):
    """One cluster, one context, one ApiClient. Raw JSON in and out."""

    def __init__(self, api_client, cluster, context=None, request_timeout=10.0, retries=2,
                 extra_headers=None):
        self.api_client = api_client
        self.configuration = api_client.configuration
        self.cluster = cluster
        self.context = context
        self.server = self.configuration.host
        self.request_timeout = float(request_timeout or 10.0)
        self.retries = max(0, int(retries if retries is not None else 2))
        self.requests = 0
        self.extra_headers = extra_headers or []
        self.max_response_bytes = MAX_RESPONSE_BYTES
        self.max_pages = MAX_PAGES
        # time.monotonic() after which no request starts and none goes on (gather_cluster sets it); and its
        # wording for messages: ``the gather deadline of 60s (gather_timeout)``
        self.deadline = None
        self.deadline_name = None
        _no_redirects(api_client)

    # -- plumbing
    def _url_and_headers(self, method, path, query=None, content_type=None, accept=None):
        query_list = []
        if query:
            items = query.items() if isinstance(query, dict) else query
            for k, v in items:
                if v is None:
                    continue
                if isinstance(v, bool):
                    v = "true" if v else "false"
                if isinstance(v, (list, tuple)):
                    for one in v:
                        query_list.append((k, str(one)))
                else:
                    query_list.append((k, str(v)))
        header_params = {"Accept": accept or "application/json"}
        if content_type:
            header_params["Content-Type"] = content_type
        _m, url, headers, _b, _p = self.api_client.param_serialize(
            method=method, resource_path=path, header_params=header_params, auth_settings=["BearerToken"])
        if query_list:
            url += ("&" if "?" in url else "?") + urlencode(query_list)
        if self.extra_headers:
            hd = urllib3.HTTPHeaderDict(headers)
            for k, v in self.extra_headers:
                hd.add(k, v)
            headers = hd
        return url, headers

    def _left(self, verb, path):
        """Seconds this request may take: request_timeout, cut to what is left of the deadline (if any)."""
        if self.deadline is None:
            return self.request_timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self._deadline_error(verb, path)
        return min(self.request_timeout, left)

    def _deadline_error(self, verb, path):
        what = self.deadline_name or "the deadline"
        return ClusterError("timeout", "%s: cannot %s: %s passed" % (self.cluster, describe_ask(verb, path), what),
                            cluster=self.cluster, verb=verb, reason="Deadline", detail="deadline passed",
                            **_where_of(path))

    def _past_deadline(self):
        return self.deadline is not None and time.monotonic() >= self.deadline - 0.05

    def _read_body(self, resp, ends, verb, path, budget):
        """The body, read in pieces: ends at ``ends`` (monotonic) and at ``budget`` bytes, however it trickles."""
        raw = getattr(resp, "response", resp)
        if not hasattr(raw, "read1"):   # a test double or an old urllib3: no streaming
            data = resp.read()
            if data is not None and len(data) > budget:
                raise self._too_large(verb, path)
            return data
        sock = getattr(getattr(raw, "_connection", None), "sock", None)
        chunks, size = [], 0
        try:
            while True:
                left = ends - time.monotonic()
                if left <= 0:
                    raise ClusterError("timeout", "timeout", cluster=self.cluster, verb=verb, reason="Timeout",
                                       detail="timeout", **_where_of(path))
                if sock is not None:
                    sock.settimeout(left)   # one recv never outlives the request
                chunk = raw.read1(_CHUNK)
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > budget:
                    raise self._too_large(verb, path)
                chunks.append(chunk)
        except ClusterError:
            _discard(raw)   # the rest of the body is not read: the connection cannot be reused
            raise
        finally:
            try:
                raw.release_conn()
            except Exception:
                pass

    def _too_large(self, verb, path):
        return ClusterError("too_large", "%s: cannot %s: the answer is larger than %d bytes (a read is capped)"
                            % (self.cluster, describe_ask(verb, path), self.max_response_bytes),
                            cluster=self.cluster, verb=verb, reason="ResponseTooLarge", detail="response too large",
                            **_where_of(path))

    def _send(self, method, path, query=None, body=None, content_type=None, accept=None, verb=None, budget=None):
        """One logical request with bounded retries. Returns (status, bytes, headers).

        Each attempt ends within request_timeout (headers and body together) and within the deadline;
        the body may hold at most ``budget`` bytes (default max_response_bytes).
        """
        method = method.upper()
        verb = verb or verb_for(method, path)
        budget = self.max_response_bytes if budget is None else budget
        attempt = 0
        while True:
            url, headers = self._url_and_headers(method, path, query, content_type, accept)
            timeout = self._left(verb, path)
            ends = time.monotonic() + timeout
            self.requests += 1
            _REQUEST_END.at = ends
            try:
                try:
                    resp = self.api_client.rest_client.request(
                        method, url, headers=headers, body=body, _request_timeout=timeout)
                finally:
                    _REQUEST_END.at = None
                status = resp.status
                rheaders = resp.headers
                if 300 <= status <= 399:
                    _discard(getattr(resp, "response", None))
                    raise _redirect_error(self.cluster, verb, path, status, rheaders)
                data = self._read_body(resp, ends, verb, path, budget)
            except ClusterError as exc:
                if exc.kind != "timeout" or exc.reason == "Deadline":
                    raise
                err = exc   # the body did not end in time: like any timeout, below
                status, data, rheaders = None, None, None
            except ApiException as exc:  # the REST layer wraps SSL errors, status 0
                err = map_transport_error(self.cluster, verb, path, exc)
                status, data, rheaders = None, None, None
            except Exception as exc:  # urllib3 connection / timeout errors
                err = map_transport_error(self.cluster, verb, path, exc)
                if time.monotonic() >= ends - 0.01:   # our own cut at the deadline, seen as a closed connection
                    err = ClusterError("timeout", "timeout", cluster=self.cluster, verb=verb, reason="Timeout",
                                       detail="timeout", **_where_of(path))
                status, data, rheaders = None, None, None
            else:
                if 200 <= status <= 299:
                    return status, data, rheaders
                err = map_http_error(self.cluster, verb, path, status, data, rheaders)
            if err.kind == "timeout" and timeout < self.request_timeout and self._past_deadline():
                raise self._deadline_error(verb, path)   # cut short by the deadline: say so
            if err.kind == "timeout":
                err.message = "%s: cannot %s: no answer within %ss (request_timeout), %d attempt(s)" % (
                    self.cluster, describe_ask(verb, path), _secs(timeout), attempt + 1)
            retryable = (status is not None and _is_retryable(status, method)) or \
                (status is None and _retryable_transport(err, method))
            if retryable and attempt < self.retries:
                pause = _retry_after(rheaders, attempt)
                if self.deadline is not None and time.monotonic() + pause >= self.deadline:
                    raise err   # no time left for another attempt
                time.sleep(pause)
                attempt += 1
                continue
            raise err

    @staticmethod
    def _json(data, cluster, what):
        try:
            return jsontext.loads(data) if data else {}
        except ValueError:
            raise ClusterError("server", "%s: %s: the API server sent a body that is not JSON" % (cluster, what),
                               cluster=cluster)

    # -- the API
    def get(self, path, query=None):
        """GET a path and return its JSON (dict)."""
        _s, data, _h = self._send("GET", path, query=query)
        return self._json(data, self.cluster, "get %s" % path)

    def get_or_none(self, path, query=None):
        """GET, with 404 meaning None."""
        try:
            return self.get(path, query)
        except ClusterError as exc:
            if exc.kind == "not_found":
                return None
            raise

    def list(self, resource_path, label_selector=None, field_selector=None, limit=500):
        """LIST a collection path; follows ``continue``. Returns the items (dicts)."""
        return self.list_object(resource_path, label_selector, field_selector, limit)["items"]

    def list_object(self, resource_path, label_selector=None, field_selector=None, limit=500):
        """LIST and return ``{"items": [...], "resourceVersion": ...}``."""
        items = []
        cont = None
        rv = None
        left = self.max_response_bytes   # the pages of one LIST share one size cap
        for _page in range(self.max_pages):
            query = [("labelSelector", label_selector), ("fieldSelector", field_selector),
                     ("limit", limit), ("continue", cont)]
            _s, data, _h = self._send("GET", resource_path, query=query, budget=left)
            left -= len(data or b"")
            obj = self._json(data, self.cluster, "list %s" % resource_path)
            page = obj.get("items") if isinstance(obj, dict) else None
            items.extend(page if isinstance(page, list) else [])
            meta = (obj.get("metadata") if isinstance(obj, dict) else None) or {}
            rv = meta.get("resourceVersion", rv)
            cont = meta.get("continue")
            if not cont:
                return {"items": items, "resourceVersion": rv}
        raise ClusterError("too_large", "%s: cannot %s: more than %d pages of %d (the server keeps answering "
                           "with a continue token)" % (self.cluster, describe_ask("list", resource_path),
                                                       self.max_pages, limit),
                           cluster=self.cluster, verb="list", reason="TooManyPages", detail="too many pages",
                           **_where_of(resource_path))

    def request(self, method, path, body=None, query=None, content_type=None, dry_run=False,
                field_manager=None):
        """Any verb. ``content_type`` may be merge|strategic|json|apply or a MIME type.

        ``dry_run=True`` adds ``dryRun=All`` (server-side dry run: nothing persisted).
        Returns the parsed JSON response.
        """
        ct = PATCH_TYPES.get(content_type, content_type)
        if method.upper() == "PATCH" and not ct:
            ct = PATCH_TYPES["merge"]
        if ct is None and body is not None:
            ct = "application/json"
        q = list(query.items()) if isinstance(query, dict) else list(query or [])
        if dry_run:
            q.append(("dryRun", "All"))
        if field_manager:
            q.append(("fieldManager", field_manager))
        _s, data, _h = self._send(method, path, query=q, body=body, content_type=ct)
        return self._json(data, self.cluster, "%s %s" % (method, path))

    def log(self, namespace, pod, container=None, tail_lines=None):
        """The pod's log as text."""
        path = api_path("pods", namespace, pod, subresource="log")
        q = [("container", container), ("tailLines", tail_lines)]
        _s, data, _h = self._send("GET", path, query=q, accept="text/plain, */*", verb="get")
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")

    def exec(self, namespace, pod, container, command, timeout=None):
        """Run a command in a container over WebSocket. Returns (stdout, stderr, rc).

        rc is the command's exit code (from the status channel). Failures to reach or
        upgrade raise ClusterError, like any other request.
        """
        from kubernetes.stream import ws_client  # lazy: only exec needs websocket-client

        path = api_path("pods", namespace, pod, subresource="exec")
        timeout = min(float(timeout or self.request_timeout), self._left("create", path))
        q = [("command", c) for c in command] + [("container", container), ("stdin", "false"),
                                                 ("stdout", "true"), ("stderr", "true"), ("tty", "false")]
        url, headers = self._url_and_headers("GET", path, [x for x in q if x[1] is not None])
        ws_url = ws_client.get_websocket_url(url)
        self.requests += 1
        where = " container %s" % container if container else ""
        ask = "exec %s in pod %s/%s%s" % (" ".join(command[:4]), namespace, pod, where)
        ws = self._open_exec(ws_client, ws_url, headers, path, ask)
        try:
            ws.run_forever(timeout=timeout)
            if ws.is_open():
                ws.close()
                raise ClusterError("timeout", "%s: %s: no answer within %ss" % (self.cluster, ask, timeout),
                                   cluster=self.cluster, verb="create", resource="pods/exec",
                                   namespace=namespace, name=pod, reason="Timeout", detail="timeout")
            out = ws.read_channel(1)
            err_out = ws.read_channel(2)
            status_raw = ws.read_channel(3)
        finally:
            try:
                ws.close()
            except Exception:
                pass
        rc = _exec_rc(status_raw)
        return out, err_out, rc

    def _open_exec(self, ws_client, ws_url, headers, path, ask):
        """The WebSocket upgrade, retried like a GET: until it succeeds the command has not run."""
        attempt = 0
        while True:
            rheaders = None
            try:
                return ws_client.WSClient(self.configuration, ws_url, dict(headers), capture_all=False)
            except Exception as exc:
                status = getattr(exc, "status_code", None)
                if status and status >= 400:
                    rheaders = getattr(exc, "resp_headers", None)
                    err = map_http_error(self.cluster, "create", path, status, getattr(exc, "resp_body", None),
                                         ask=ask)
                    retryable = _is_retryable(status, "GET")
                elif status:
                    # an answer that is not 101 Switching Protocols, e.g. cut off mid-body
                    err = ClusterError("unreachable", "%s: cannot %s: API server unreachable: the exec upgrade "
                                       "got HTTP %s instead of 101 Switching Protocols" % (self.cluster, ask, status),
                                       cluster=self.cluster, verb="create", resource="pods/exec",
                                       reason="Unreachable", detail="connection dropped mid-response")
                    retryable = True
                else:
                    err = map_transport_error(self.cluster, "create", path, exc, ask=ask)
                    retryable = _retryable_transport(err, "GET")
            if retryable and attempt < self.retries:
                time.sleep(_retry_after(rheaders, attempt))
                attempt += 1
                self.requests += 1
                continue
            raise err


def _exec_rc(status_raw):
    """Exit code from the exec status channel (v4/v5): Success -> 0, NonZeroExitCode -> N."""
    if not status_raw:
        return 0
    try:
        st = json.loads(status_raw)
    except ValueError:
        return 1
    if not isinstance(st, dict) or st.get("status") == "Success":
        return 0
    for cause in ((st.get("details") or {}).get("causes") or []):
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message"))
            except (TypeError, ValueError):
                break
    return 1
