# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remote-secret kubeconfigs, judged the way istiod judges them.

istiod (pkg/kube/util.go NewUntrustedRestConfig) turns each data value of a remote secret into
a REST config in four steps, each with its own error wording, which its log then repeats:

1. empty value                 -> ``kubeconfig is empty``
2. clientcmd.Load fails        -> ``kubeconfig cannot be loaded: <err>``
3. clientcmd.Validate fails    -> ``kubeconfig is not valid: <err>``
4. sanitizeKubeConfig refuses  -> ``kubeconfig is not allowed: <err>``: exec, clientKey,
   clientCertificate (file paths), tokenFile and every auth provider but ``oidc``, unless
   listed in PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS.

Pure functions: no I/O. :func:`summarize` gives the credential-free view that goes into
facts; :func:`resolve` gives the pieces a probe needs (it holds secrets: never return it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import functools
import ipaddress
import os
import shutil

try:
    from urllib.parse import urlparse
except ImportError:  # pragma: no cover
    from urlparse import urlparse  # noqa: F401

try:
    import yaml
except ImportError:
    pass   # HAS_YAML is False: load() says so before yaml is used

from ansible_collections.meshmend.multicluster.plugins.module_utils.certs import fingerprint
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import plain_error
from ansible_collections.meshmend.multicluster.plugins.module_utils import kubeconfig_istiod as _istiod
from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig_loader import (
    HAS_YAML, KubeconfigFileError, YamlLimitError, parse_document, safe_load,
)

# The server names istioctl create-remote-secret warns about.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def context_problem(doc, context=None, where="the kubeconfig", require_context=False, check_auth=True):
    """Why the context meshmend would use from ``doc`` cannot be trusted, in words; None when it can.

    The kubernetes library falls back silently: no context named means its current-context (two hosts may then
    diagnose one cluster), a user missing from ``users`` or an exec plugin that is not installed means anonymous
    requests (seen as 403s on every read). Each is said here instead, before any request.
    """
    contexts = [c for c in (doc.get("contexts") or []) if isinstance(c, dict)]
    names = [str(c.get("name")) for c in contexts]
    if context is None:
        if require_context and len(contexts) > 1:
            return ("%s has %d contexts (%s) and none was named (kube_context / context): meshmend does not pick "
                    "the current context for you; set the one for this cluster"
                    % (where, len(contexts), ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")))
        context = doc.get("current-context")
        if not context and len(contexts) != 1:
            return None   # the library's own words follow
        context = context or names[0]
    ctx = _named(contexts, context)
    if ctx is None:
        return None       # "context X is not in the kubeconfig", said by the caller
    body = _d(ctx.get("context"))
    cluster, user = body.get("cluster"), body.get("user")
    if cluster and _named(doc.get("clusters"), cluster) is None:
        return "context %s names cluster %s, which is not in %s" % (context, cluster, where)
    if not check_auth or not user:
        return None
    entry = _named(doc.get("users"), user)
    if entry is None:
        return ("context %s names user %s, which is not in %s (its requests would go out anonymous)"
                % (context, user, where))
    ex = _d(_d(entry.get("user")).get("exec"))
    command = ex.get("command")
    if ex and (not isinstance(command, str) or not command):
        return "user %s of %s has an exec plugin without a command" % (user, where)
    if ex:
        found = os.path.exists(command) if os.sep in command else shutil.which(command)
        if not found:
            return ("the exec plugin of user %s runs %s, which is not installed on the controller (not found%s): "
                    "install it or use another user" % (user, command, "" if os.sep in command else " in PATH"))
    return None


def exec_user(doc, context=None):
    """Name of the context's user when it authenticates with an exec plugin, else None."""
    ctx = _named(doc.get("contexts"), context or doc.get("current-context"))
    user = _d(_d(ctx).get("context")).get("user") if ctx else None
    entry = _named(doc.get("users"), user) if user else None
    return user if entry and _d(_d(entry.get("user")).get("exec")) else None


def essentials(text):
    """(server, ca_data_b64, token, auth_kind) of a kubeconfig text's current context; Nones when absent.

    For comparing secrets (never returned to users): goes through the same limits as every other read.
    """
    if not text:
        return None, None, None, None
    try:
        config = parse_document(text, "kubeconfig")
    except KubeconfigFileError:
        return None, None, None, None
    contexts = dict((c.get("name"), c.get("context") or {}) for c in config.get("contexts") or [] if isinstance(c, dict))
    ctx = contexts.get(config.get("current-context")) or (list(contexts.values())[0] if len(contexts) == 1 else {})
    ctx = _d(ctx)
    cluster = _d((_named(config.get("clusters"), ctx.get("cluster")) or {}).get("cluster"))
    user = _d((_named(config.get("users"), ctx.get("user")) or {}).get("user"))
    auth = None
    for name in ("token", "exec", "client-key-data", "client-key", "client-certificate-data",
                 "client-certificate", "tokenFile", "auth-provider"):
        if user.get(name):
            auth = name
            break
    return cluster.get("server"), cluster.get("certificate-authority-data"), user.get("token"), auth or "none"


def diff_summary(text):
    """Credential-free view of a kubeconfig text for diffs and results: server, auth kind, fingerprints."""
    server, ca, token, auth = essentials(text)
    ca_bytes = _b64(ca) if isinstance(ca, str) else None
    return {
        "server": server,
        "auth": auth,
        "token_fingerprint": fingerprint(token) if token else None,  # None: no token (yet)
        "ca_fingerprint": fingerprint(ca_bytes if ca_bytes is not None else ca) if ca else None,
        "fingerprint": fingerprint(text),
    }


def _b64(value):
    try:
        return base64.b64decode(value, validate=False)
    except Exception:
        return None


def b64_strict(value):
    """Decode a Secret data value; None when it is not valid base64 (the API never sends that)."""
    if not isinstance(value, (str, bytes)):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except Exception:
        return None


def load(raw):
    """Parse a kubeconfig value (bytes or str). Returns (document, error_in_istiod_words).

    Only the YAML layer (with the limits): an empty value is istiod's ``kubeconfig is empty``
    (``len(value) == 0``); a value of blanks parses to an empty document, which istiod's
    clientcmd.Validate then calls empty (see :func:`judge`).
    """
    if raw is None or (isinstance(raw, (bytes, str)) and len(raw) == 0):
        return None, "kubeconfig is empty"
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None, "kubeconfig cannot be loaded: the value is not UTF-8 text"
    if not HAS_YAML:
        return None, "kubeconfig cannot be loaded: PyYAML is not installed on the controller"
    try:
        data = safe_load(raw)
    except YamlLimitError as exc:
        return None, "kubeconfig cannot be loaded: refused: %s" % exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = " (line %d)" % (mark.line + 1) if mark is not None else ""
        return None, "kubeconfig cannot be loaded: yaml: %s%s" % (getattr(exc, "problem", None) or "parse error", where)
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        try:
            _istiod.decode(data)
        except _istiod.LoadError as exc:
            return None, "kubeconfig cannot be loaded: %s" % exc
    return data, None


def judge(raw, istio_version=None, allowlist=None, files=None):
    """istiod's verdict on a remote-secret value (bytes/str): see kubeconfig_istiod.judge_config.

    Returns (verdict, document): verdict ``{stage, error, errors, hint, rules, allowlist}`` where stage
    is None | empty | load | validate | not_allowed | client | placeholder; ``allowlist`` None means
    the release's default PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS.
    """
    data, err = load(raw)
    if err:
        r = _istiod.rules(istio_version)
        stage = "empty" if err == "kubeconfig is empty" else "load"
        return {"stage": stage, "error": err, "errors": [err], "hint": None, "rules": r,
                "allowlist": list(allowlist if allowlist is not None else (r["default_allowlist"] or ()))}, None
    verdict, _cfg = _istiod.judge_config(data, istio_version, allowlist, files)
    return verdict, data


def _d(value):
    """A mapping field, or {} when the document holds something else there (bad input, no crash)."""
    return value if isinstance(value, dict) else {}


def _named(items, name):
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            return item
    return None


def _auth_kinds(user):
    """Every auth method a kubeconfig user carries, in the words facts use."""
    kinds = []
    if not isinstance(user, dict):
        return kinds
    if user.get("exec"):
        kinds.append("exec")
    ap = user.get("auth-provider")
    if isinstance(ap, dict) and ap.get("name"):
        kinds.append("oidc" if ap.get("name") == "oidc" else "auth_provider:%s" % ap.get("name"))
    if user.get("client-key"):
        kinds.append("client_key")
    if user.get("client-certificate"):
        kinds.append("client_certificate")
    if user.get("tokenFile"):
        kinds.append("token_file")
    if user.get("token"):
        kinds.append("token")
    if user.get("username") or user.get("password"):
        kinds.append("basic")
    if user.get("client-certificate-data") or user.get("client-key-data"):
        kinds.append("client_cert_data")
    return kinds


def refused_auth(config, allowlist=()):
    """istiod's sanitizeKubeConfig: the first refusal (document order), in its words, or None.

    Every user is checked (not only the current context's), as istiod does.
    """
    try:
        cfg = _istiod.decode(config)
    except _istiod.LoadError:
        return None
    found = _istiod.refusals(cfg, tuple(allowlist or ()))
    return found[0][1] if found else None


def validate(config, istio_version=None, files=None):
    """client-go clientcmd.Validate as istiod runs it (files are looked up in istiod's container).

    Error text (``invalid configuration: ...``) or None; a document clientcmd.Load refuses gives the
    load error.
    """
    try:
        cfg = _istiod.decode(config)
    except _istiod.LoadError as exc:
        return "cannot be loaded: %s" % exc
    errs = _istiod.validate_errors(cfg, _istiod.rules(istio_version),
                                   _istiod.ISTIOD_FILES if files is None else frozenset(files))
    return "invalid configuration: %s" % _istiod.aggregate(errs) if errs else None


def is_loopback_server(server):
    """True for the addresses istioctl create-remote-secret warns about."""
    if not server or not isinstance(server, str):
        return False
    return _is_loopback_server(server)


@functools.lru_cache(maxsize=4096)   # one answer per server string: a mesh of N clusters asks N x (N-1) times
def _is_loopback_server(server):
    try:
        host = urlparse(server if "://" in server else "https://" + server).hostname
    except ValueError:
        return False
    if host is None:
        return False
    host = host.strip("[]").lower()
    if host in LOOPBACK_HOSTS:
        return True
    if ":" not in host:
        return False   # an IPv4 text is 127.0.0.1 only as written (ipaddress refuses leading zeros)
    try:
        return ipaddress.ip_address(host) == _IPV6_LOOPBACK
    except ValueError:
        return False


_IPV6_LOOPBACK = ipaddress.ip_address("::1")


def _current(config):
    ctx = _named(config.get("contexts"), config.get("current-context")) or {}
    c = _d(ctx.get("context"))
    cluster = _d((_named(config.get("clusters"), c.get("cluster")) or {}).get("cluster"))
    user = _d((_named(config.get("users"), c.get("user")) or {}).get("user"))
    return c, cluster, user


def resolve(config, allowlist=(), istio_version=None):
    """Everything a probe needs from a kubeconfig dict. HOLDS SECRETS: never return or log it.

    ``allowlist`` None means the default PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS of ``istio_version``.

    ``error`` is istiod's refusal; ``unprobeable`` says why the controller cannot act as istiod would
    although istiod accepts the kubeconfig (a token or certificate read from a file in istiod's
    container, an exec plugin run there).
    """
    if not isinstance(config, dict):
        return {"error": "kubeconfig cannot be loaded: not a mapping"}
    verdict, _cfg = _istiod.judge_config(config, istio_version, None if allowlist is None else tuple(allowlist))
    if verdict["stage"] not in (None, "placeholder"):
        return {"error": verdict["error"]}
    _c, cluster, user = _current(config)
    unprobeable = None
    if user.get("exec"):
        unprobeable = "the exec plugin %s runs inside istiod's container" % _d(user.get("exec")).get("command")
    elif user.get("tokenFile") and not user.get("token"):
        unprobeable = "the token is read from %s in istiod's container (tokenFile)" % user.get("tokenFile")
    elif user.get("client-certificate") or user.get("client-key"):
        unprobeable = "the client certificate is read from files in istiod's container"
    ca = cluster.get("certificate-authority-data")
    out = {
        "error": None,
        "unprobeable": unprobeable,
        "server": cluster.get("server"),
        "ca_data": (_b64(ca) or b"").decode("utf-8", "replace") if ca else None,
        "insecure": bool(cluster.get("insecure-skip-tls-verify")),
        "tls_server_name": cluster.get("tls-server-name"),
        "token": user.get("token"),
        "username": user.get("username"),
        "password": user.get("password"),
        "client_cert_data": _b64(user.get("client-certificate-data")) if user.get("client-certificate-data") else None,
        "client_key_data": _b64(user.get("client-key-data")) if user.get("client-key-data") else None,
    }
    ap = user.get("auth-provider")
    if not out["token"] and isinstance(ap, dict) and ap.get("name") == "oidc":
        out["token"] = (ap.get("config") or {}).get("id-token")
    return out


def summarize(key, raw, allowlist=None, istio_version=None, files=None):
    """One ``remote_secrets[].entries[]`` item of docs/facts.md: no credential, fingerprints only.

    ``allowlist`` is istiod's PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS as a list (None: the
    default of ``istio_version``). Never raises for what the value holds.
    """
    try:
        return _summarize(key, raw, allowlist, istio_version, files)
    except (TypeError, AttributeError, ValueError, KeyError) as exc:
        raw_bytes = raw.encode("utf-8") if isinstance(raw, str) else (raw or b"")
        return {"key": key, "fingerprint": fingerprint(raw_bytes) if raw_bytes else None, "size": len(raw_bytes),
                "error": "kubeconfig cannot be loaded: unexpected document structure (%s)" % plain_error(exc),
                "error_stage": "load", "server": None, "loopback": False, "auth": None, "auth_methods": [],
                "user": None, "ca_fingerprint": None, "insecure": False, "probe": None, "hint": None}, None


def _summarize(key, raw, allowlist=None, istio_version=None, files=None):
    if isinstance(raw, str):
        raw_bytes = raw.encode("utf-8")
    else:
        raw_bytes = raw or b""
    entry = {
        "key": key,
        "fingerprint": fingerprint(raw_bytes) if raw_bytes else None,
        "size": len(raw_bytes),
        "error": None,
        "error_stage": None,   # empty | load | validate | not_allowed | client | placeholder
        "server": None,
        "loopback": False,
        "auth": None,
        "auth_methods": [],
        "user": None,
        "ca_fingerprint": None,
        "insecure": False,
        "probe": None,
        "hint": None,
    }
    verdict, config = judge(raw_bytes, istio_version, allowlist, files)
    if config is None:
        entry["error"] = verdict["error"]
        entry["error_stage"] = verdict["stage"]
        return entry, None
    # What the current context points at, even when istiod would refuse it (say why, precisely).
    c, cluster, user = _current(config)
    entry["server"] = cluster.get("server") if isinstance(cluster.get("server"), str) else None
    entry["loopback"] = is_loopback_server(entry["server"])
    entry["user"] = c.get("user") if isinstance(c.get("user"), str) else None
    methods = _auth_kinds(user)
    entry["auth_methods"] = methods
    refused_order = ("exec", "client_key", "client_certificate", "token_file")
    primary = [m for m in methods if m in refused_order or m.startswith("auth_provider:")]
    entry["auth"] = (primary or methods or ["none"])[0]
    ca = cluster.get("certificate-authority-data")
    if ca and isinstance(ca, str):
        dec = _b64(ca)
        entry["ca_fingerprint"] = fingerprint(dec) if dec else None
    entry["insecure"] = bool(cluster.get("insecure-skip-tls-verify"))
    entry["hint"] = verdict.get("hint")
    if verdict["stage"]:
        entry["error"] = verdict["error"]
        if verdict.get("hint") and verdict["stage"] != "placeholder":
            entry["error"] += " (%s)" % verdict["hint"]
        entry["error_stage"] = verdict["stage"]
    return entry, config
