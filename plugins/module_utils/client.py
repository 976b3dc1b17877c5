# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one client factory of meshmend: auth options or a remote secret's kubeconfig in, a
:class:`~.client_transport.KubeClient` out (the transport is :mod:`.client_transport`, its error
mapper :mod:`.api_errors`).

- one ``kubernetes.client.Configuration`` per context, never the process-wide default
  (a module that probes a peer's API server must not clobber its own connection);
- a kubeconfig goes through the loader's size and alias limits (:mod:`.kubeconfig_loader`) and its
  context is judged (:func:`.kubeconfig.context_problem`) before the kubernetes library sees it;
- a kubeconfig problem is a :class:`ClusterError` of kind ``bad_config`` naming the cluster.

The option names and ``K8S_AUTH_*`` environment fallbacks are those of kubernetes.core,
so users' ``module_defaults`` keep working.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import os

from ansible.module_utils.basic import env_fallback

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import ClusterError
from ansible_collections.meshmend.multicluster.plugins.module_utils.client_transport import KubeClient
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import plain_error
from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig_loader import KubeconfigFileError, load_option

try:
    import urllib3
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as _exc:  # guarded: modules report missing_required_lib("kubernetes")
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = _exc
    ConfigException = None


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


def _context_in_use(document, context):
    """The kubeconfig cut down to the context this cluster is read with, its cluster and its user (every entry of
    those names, so a duplicate still fails as the library fails it). An inventory's kubeconfig holds one
    context per cluster: each worker then copies and loads a few entries, not all of them, and no_log learns the
    credentials this cluster is read with, not every other cluster's."""
    name = context or document.get("current-context")
    contexts = [c for c in document.get("contexts") or [] if isinstance(c, dict) and c.get("name") == name]
    inner = contexts[0].get("context") if contexts and isinstance(contexts[0].get("context"), dict) else None
    if not inner:
        return document   # the library words the problem
    cut = dict(document, contexts=contexts)
    for key, ref in (("clusters", inner.get("cluster")), ("users", inner.get("user"))):
        cut[key] = [e for e in document.get(key) or [] if isinstance(e, dict) and e.get("name") == ref]
    return cut


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
        # Every kubeconfig (file, KUBECONFIG list, inline text, dict) goes through kubeconfig_loader and
        # its size / alias limits first: a YAML alias bomb is this cluster's error, not the controller's memory.
        from ansible_collections.meshmend.multicluster.plugins.module_utils import kubeconfig as _kc
        try:
            document, where = load_option(kubeconfig)
        except KubeconfigFileError as exc:
            raise _bad_config(label, str(exc))
        single_file = where != "inline kubeconfig" and os.pathsep not in where
        problem = _kc.context_problem(document, context, "the kubeconfig" + _where(where), require_context,
                                      check_auth=not (p.get("api_key") or p.get("username")))
        if problem:
            raise _bad_config(label, problem)
        try:
            in_use = _context_in_use(document, context)
            _redact(module, in_use)
            if not (p.get("persist_config") and single_file):
                k8s_config.load_kube_config_from_dict(
                    config_dict=copy.deepcopy(in_use), context=context, client_configuration=cfg,
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
    try:
        document, _where = load_option(kubeconfig)
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
