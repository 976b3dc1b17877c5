# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one client factory of meshmend (its error mapper is :mod:`.api_errors`).

Every module talks to a cluster through :class:`KubeClient`:

- one ``kubernetes.client.Configuration`` per context, never the process-wide default
  (a module that probes a peer's API server must not clobber its own connection);
- the REST layer is called with raw responses and the JSON is parsed here: no model
  deserialization (it costs more than the request itself on big lists);
- every failure becomes a :class:`ClusterError` whose message names the cluster and what
  was asked, e.g. ``cluster2: cannot list secrets in istio-system: 403 Forbidden: ...``;
- bounded retries with backoff on 429 (Retry-After), 5xx and timeouts.

The option names and ``K8S_AUTH_*`` environment fallbacks are those of kubernetes.core,
so users' ``module_defaults`` keep working.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import json
import os
import socket
import threading
import time

try:
    from urllib.parse import urlencode
except ImportError:  # pragma: no cover - Python 2 is not supported, keeps sanity quiet
    from urllib import urlencode  # noqa: F401

from ansible.module_utils.basic import env_fallback

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import (
    ClusterError, _is_retryable, _redirect_error, _retry_after, _retryable_transport, _where_of, api_path,
    describe_ask, map_http_error, map_transport_error, verb_for,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import plain_error

try:
    import urllib3
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as _exc:  # guarded: modules report missing_required_lib("kubernetes")
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = _exc
    ApiException = ConfigException = None


def _env(*names):
    return {"fallback": (env_fallback, ["K8S_AUTH_%s" % n for n in names])}


AUTH_PROXY_HEADERS_SPEC = dict(
    proxy_basic_auth=dict(type="str", no_log=True, **_env("PROXY_HEADERS_PROXY_BASIC_AUTH")),
    basic_auth=dict(type="str", no_log=True, **_env("PROXY_HEADERS_BASIC_AUTH")),
    user_agent=dict(type="str", **_env("PROXY_HEADERS_USER_AGENT")),
)

# Same names, aliases and env variables as kubernetes.core's args_common.AUTH_ARG_SPEC.
AUTH_ARG_SPEC = dict(
    # the cluster's name in facts, findings and messages (the inventory hostname); not a kubernetes.core option
    cluster_name=dict(type="str"),
    kubeconfig=dict(type="raw", **_env("KUBECONFIG")),
    context=dict(type="str", **_env("CONTEXT")),
    host=dict(type="str", **_env("HOST")),
    api_key=dict(type="str", no_log=True, **_env("API_KEY")),
    username=dict(type="str", **_env("USERNAME")),
    password=dict(type="str", no_log=True, **_env("PASSWORD")),
    validate_certs=dict(type="bool", aliases=["verify_ssl"], default=True,
                        **_env("VALIDATE_CERTS", "VERIFY_SSL")),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"], **_env("CA_CERT", "SSL_CA_CERT")),
    client_cert=dict(type="path", aliases=["cert_file"], **_env("CLIENT_CERT", "CERT_FILE")),
    client_key=dict(type="path", aliases=["key_file"], no_log=False, **_env("CLIENT_KEY", "KEY_FILE")),
    proxy=dict(type="str", **_env("PROXY")),
    no_proxy=dict(type="str", **_env("NO_PROXY")),
    proxy_headers=dict(type="dict", options=AUTH_PROXY_HEADERS_SPEC),
    persist_config=dict(type="bool", default=False, **_env("PERSIST_CONFIG")),
    impersonate_user=dict(type="str", **_env("IMPERSONATE_USER")),
    impersonate_groups=dict(type="list", elements="str", **_env("IMPERSONATE_GROUPS")),
    request_timeout=dict(type="float", default=10.0, **_env("REQUEST_TIMEOUT")),
    retries=dict(type="int", default=2, **_env("RETRIES")),
)

AUTH_PARAM_NAMES = tuple(AUTH_ARG_SPEC)

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


# --------------------------------------------------------------------------- kubeconfig secrets

_SECRET_USER_KEYS = ("token", "password", "client-key-data", "client-certificate-data")


def kubeconfig_secret_values(config):
    """Every credential string in a kubeconfig dict (for no_log_values)."""
    values = []
    if not isinstance(config, dict):
        return values
    for user in config.get("users") or []:
        u = (user or {}).get("user") if isinstance(user, dict) else None
        if not isinstance(u, dict):
            continue
        for key in _SECRET_USER_KEYS:
            v = u.get(key)
            if isinstance(v, str) and v:
                values.append(v)
                if key.endswith("-data"):
                    try:
                        values.append(base64.b64decode(v).decode("utf-8", "replace"))
                    except Exception:
                        pass
        ap = u.get("auth-provider")
        if isinstance(ap, dict):
            for k, v in (ap.get("config") or {}).items():
                secret_keys = ("id-token", "refresh-token", "access-token", "client-secret",
                               "idp-certificate-authority-data")
                if isinstance(v, str) and v and k in secret_keys:
                    values.append(v)
        ex = u.get("exec")
        if isinstance(ex, dict):
            for env in ex.get("env") or []:
                if isinstance(env, dict) and isinstance(env.get("value"), str) and env["value"]:
                    values.append(env["value"])
    return [v for v in values if len(v) >= 4]


def _redact(module, config):
    if module is None:
        return
    for v in kubeconfig_secret_values(config):
        module.no_log_values.add(v)


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
            return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data) if data else {}
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


# --------------------------------------------------------------------------- factories

def _bad_config(cluster, message):
    return ClusterError("bad_config", "%s: %s" % (cluster, message), cluster=cluster, reason="BadConfig",
                        detail=message)


def _where(where):
    """" FILE" for messages; nothing for an inline kubeconfig (its text is never echoed)."""
    return "" if not where or where == "inline kubeconfig" else " " + where


def _set_authorization(cfg, value):
    cfg.api_key = {"BearerToken": value}
    cfg.api_key_prefix = {}
    cfg.refresh_api_key_hook = None


def build_configuration(params, cluster=None, module=None, require_context=False):
    """A fresh ``Configuration`` from the auth options (kubernetes.core semantics).

    The kubeconfig is loaded when one is given, a context is named, or no host is
    given. Explicit options then override what the kubeconfig says. ``require_context``: a kubeconfig
    with several contexts needs one named (one inventory host per cluster must not fall back to
    the current context).
    """
    if not HAS_KUBERNETES:
        raise _bad_config(cluster or "cluster", "the kubernetes Python library is not installed")
    p = dict((k, params.get(k)) for k in AUTH_PARAM_NAMES)
    label = cluster or p.get("context") or p.get("host") or "cluster"
    cfg = k8s_client.Configuration()
    kubeconfig = p.get("kubeconfig")
    context = p.get("context")
    if kubeconfig or context or not p.get("host"):
        # Every kubeconfig (file, KUBECONFIG list, inline text, dict) goes through kubeconfig.py's loader and
        # its size / alias limits first: a YAML alias bomb is this cluster's error, not the controller's memory.
        from ansible_collections.meshmend.multicluster.plugins.module_utils import kubeconfig as _kc
        try:
            document, where = _kc.load_option(kubeconfig)
        except _kc.KubeconfigFileError as exc:
            raise _bad_config(label, str(exc))
        single_file = where != "inline kubeconfig" and os.pathsep not in where
        problem = _kc.context_problem(document, context, "the kubeconfig" + _where(where), require_context,
                                      check_auth=not (p.get("api_key") or p.get("username")))
        if problem:
            raise _bad_config(label, problem)
        try:
            _redact(module, document)
            if not (p.get("persist_config") and single_file):
                k8s_config.load_kube_config_from_dict(
                    config_dict=copy.deepcopy(document), context=context, client_configuration=cfg,
                    persist_config=False)
            else:
                # persist_config writes refreshed tokens back to the file: the library loads the file it has
                # to write, now that the limits let it through.
                k8s_config.load_kube_config(
                    config_file=where, context=context, client_configuration=cfg, persist_config=True)
        except ClusterError:
            raise
        except ConfigException as exc:
            text = str(exc)
            if context and ("contexts" in text or "context" in text.lower() and "not" in text.lower()):
                raise _bad_config(label, "context %s is not in the kubeconfig (%s)" % (context, text))
            raise _bad_config(label, "invalid kubeconfig: %s" % text)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise _bad_config(label, "malformed kubeconfig%s: not a kubeconfig document (%s)"
                              % (_where(where), plain_error(exc)))
        except Exception as exc:  # exec plugin failures
            raise _bad_config(label, "cannot load kubeconfig%s: %s" % (_where(where), exc))
        runs_exec = _kc.exec_user(document, context)
        if runs_exec and not (p.get("api_key") or p.get("username")) and not (cfg.api_key or cfg.cert_file):
            # the library logs the plugin's failure and goes on anonymous: every read would be a 403
            raise _bad_config(label, "the exec plugin of user %s gave no credentials (it failed or printed no "
                                     "token): run it by hand to see why" % runs_exec)
    if p.get("host"):
        cfg.host = p["host"]
    # The client reads api_key["BearerToken"] first and a kubeconfig token installs a hook that
    # rewrites it before every request: an explicit credential must replace both.
    if p.get("api_key"):
        _set_authorization(cfg, "Bearer %s" % p["api_key"])
    elif p.get("username") and p.get("password") is not None:
        _set_authorization(cfg, urllib3.util.make_headers(
            basic_auth="%s:%s" % (p["username"], p["password"]))["authorization"])
    if p.get("ca_cert"):
        cfg.ssl_ca_cert = p["ca_cert"]
    if p.get("client_cert"):
        cfg.cert_file = p["client_cert"]
    if p.get("client_key"):
        cfg.key_file = p["client_key"]
    if p.get("validate_certs") is not None:
        cfg.verify_ssl = bool(p["validate_certs"])
    if p.get("proxy"):
        cfg.proxy = p["proxy"]
    if p.get("no_proxy"):
        cfg.no_proxy = p["no_proxy"]
    ph = p.get("proxy_headers") or {}
    if any(ph.get(k) for k in ("proxy_basic_auth", "basic_auth", "user_agent")):
        cfg.proxy_headers = urllib3.util.make_headers(
            proxy_basic_auth=ph.get("proxy_basic_auth"), basic_auth=ph.get("basic_auth"),
            user_agent=ph.get("user_agent"))
    if not cfg.host or cfg.host == "http://localhost":
        if not p.get("host"):
            raise _bad_config(label, "no API server: the kubeconfig names no server and no host was given")
    # Our own bounded retries decide; urllib3 must not retry refused connections behind our back.
    cfg.retries = False
    return cfg


def _impersonation_headers(params):
    headers = []
    if params.get("impersonate_user"):
        headers.append(("Impersonate-User", params["impersonate_user"]))
    for g in params.get("impersonate_groups") or []:
        headers.append(("Impersonate-Group", g))
    return headers


def get_client(params, cluster=None, module=None, require_context=False):
    """THE factory: a KubeClient for the auth options in ``params``.

    ``cluster`` names the cluster in messages (inventory hostname); defaults to the context,
    then the host. Raises ClusterError(kind="bad_config") for a kubeconfig problem.
    """
    cfg = build_configuration(params, cluster, module, require_context)
    name = cluster or params.get("context") or _current_context(params) or cfg.host
    if module is not None and params.get("validate_certs") is False:
        module.warn("%s: TLS certificate verification is disabled (validate_certs=false)" % name)
    api = k8s_client.ApiClient(cfg)
    return KubeClient(api, name, context=params.get("context"),
                      request_timeout=params.get("request_timeout") or 10.0,
                      retries=params.get("retries") if params.get("retries") is not None else 2,
                      extra_headers=_impersonation_headers(params))


def kubeconfig_path(kubeconfig):
    """A kubeconfig option (path or list of paths) as one KUBECONFIG-style string, ``~`` expanded;
    None for a dict or nothing."""
    if isinstance(kubeconfig, (list, tuple)):
        return os.pathsep.join(os.path.expanduser(str(k)) for k in kubeconfig)
    if isinstance(kubeconfig, str):
        return os.path.expanduser(kubeconfig)
    return None


def _current_context(params):
    """The kubeconfig's current-context, to name the cluster in messages when nothing else does."""
    kubeconfig = params.get("kubeconfig")
    if params.get("host") and not kubeconfig:
        return None
    from ansible_collections.meshmend.multicluster.plugins.module_utils import kubeconfig as _kc
    try:
        document, _where = _kc.load_option(kubeconfig)
        return document.get("current-context") or None
    except Exception:  # naming only: never fail for it
        return None


def get_module_client(module, cluster=None):
    """get_client for an AnsibleModule; a bad kubeconfig fails the module with a clear message."""
    if not HAS_KUBERNETES:
        from ansible_collections.meshmend.multicluster.plugins.module_utils.requirements import fail_missing
        fail_missing(module, KUBERNETES_IMPORT_ERROR, "kubernetes")
    error = None
    try:
        return get_client(module.params, cluster=cluster or module.params.get("cluster_name"), module=module)
    except ClusterError as exc:
        error = exc
    # outside the except block: ansible would otherwise report "An exception occurred"
    module.fail_json(msg=error.message, error=error.to_dict())


def client_from_kubeconfig_data(config, cluster, request_timeout=5.0, retries=0, module=None,
                                client_cert_files=None, resolved=None):
    """A KubeClient for a kubeconfig read out of a remote secret: built in memory.

    The kubernetes library's loader writes certificate data to temp files; remote-secret
    credentials must never touch disk, so the Configuration is built here from the
    already-validated pieces (see kubeconfig.resolve): server, CA data, token or basic auth.
    Client certificates use ``client_cert_files`` (paths the caller made in memory, e.g.
    memfd) or are refused. ``resolved`` is the caller's kubeconfig.resolve(config, allowlist) result:
    resolving again here would forget the allowlist istiod runs with.
    """
    from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig import resolve

    if not HAS_KUBERNETES:
        raise _bad_config(cluster, "the kubernetes Python library is not installed")
    _redact(module, config)
    r = resolved if resolved is not None else resolve(config)
    if r.get("error"):
        raise _bad_config(cluster, r["error"])
    cfg = k8s_client.Configuration()
    cfg.host = r["server"]
    if r.get("ca_data"):
        cfg.ca_cert_data = r["ca_data"]
    cfg.verify_ssl = not r.get("insecure")
    if r.get("tls_server_name"):
        cfg.tls_server_name = r["tls_server_name"]
    if r.get("token"):
        _set_authorization(cfg, "Bearer %s" % r["token"])
    elif r.get("username") is not None and r.get("password") is not None:
        _set_authorization(cfg, urllib3.util.make_headers(
            basic_auth="%s:%s" % (r["username"], r["password"]))["authorization"])
    if client_cert_files:
        cfg.cert_file, cfg.key_file = client_cert_files
    cfg.retries = False
    return KubeClient(k8s_client.ApiClient(cfg), cluster, request_timeout=request_timeout, retries=retries)
