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
import ipaddress

try:
    from urllib.parse import urlparse
except ImportError:  # pragma: no cover
    from urlparse import urlparse  # noqa: F401

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

from ansible_collections.meshmend.multicluster.plugins.module_utils.certs import fingerprint

# The server names istioctl create-remote-secret warns about.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


# Limits for YAML read out of a cluster (remote secrets, ConfigMaps, annotations): a kubeconfig is a
# few KiB, so anything far larger, or one whose aliases expand into a huge tree ("billion laughs"),
# is refused before it can eat the controller's memory or CPU.
MAX_YAML_BYTES = 256 * 1024
MAX_YAML_NODES = 100000
MAX_YAML_ALIASES = 1000


class YamlLimitError(ValueError):
    """A YAML document over the size, alias or expansion limits."""


if HAS_YAML:
    class _LimitedLoader(yaml.SafeLoader):
        """SafeLoader that counts aliases and measures the expanded tree before constructing it."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.events.AliasEvent):
                self._meshmend_aliases = getattr(self, "_meshmend_aliases", 0) + 1
                if self._meshmend_aliases > MAX_YAML_ALIASES:
                    raise YamlLimitError("more than %d YAML aliases" % MAX_YAML_ALIASES)
            return super(_LimitedLoader, self).compose_node(parent, index)

        def compose_document(self):
            node = super(_LimitedLoader, self).compose_document()
            _expanded_size(node)
            return node


def _expanded_size(root):
    """Nodes in the tree once every alias is expanded (memoized per node: no expansion happens)."""
    sizes = {}
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in sizes and not done:
            continue
        children = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [x for pair in node.value for x in pair]
        if not done:
            sizes[key] = None   # in progress (a recursive alias refers back here)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        if any(sizes.get(id(c)) is None for c in children):
            raise YamlLimitError("a YAML alias refers to its own ancestor (a recursive document)")
        total = 1 + sum(sizes[id(c)] for c in children)
        if total > MAX_YAML_NODES:
            raise YamlLimitError("YAML aliases expand to more than %d nodes (an alias bomb)" % MAX_YAML_NODES)
        sizes[key] = total
    return sizes.get(id(root)) or 0


def safe_load(text):
    """``yaml.safe_load`` with limits: raises YamlLimitError (size, aliases, depth) or yaml.YAMLError."""
    if isinstance(text, bytes):
        size = len(text)
    else:
        size = len(text.encode("utf-8", "replace"))
    if size > MAX_YAML_BYTES:
        raise YamlLimitError("%d bytes, more than the %d a kubeconfig or Istio ConfigMap value can be"
                             % (size, MAX_YAML_BYTES))
    try:
        return yaml.load(text, Loader=_LimitedLoader)  # nosec: a SafeLoader subclass
    except RecursionError:
        raise YamlLimitError("YAML nested too deeply")


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
    """Parse a kubeconfig value (bytes or str). Returns (config_dict, error_in_istiod_words)."""
    if raw is None:
        return None, "kubeconfig is empty"
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None, "kubeconfig cannot be loaded: the value is not UTF-8 text"
    if not raw.strip():
        return None, "kubeconfig is empty"
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
        return None, "kubeconfig is empty"
    if not isinstance(data, dict):
        return None, "kubeconfig cannot be loaded: couldn't get version/kind; json parse error: not an object"
    kind = data.get("kind")
    if kind not in (None, "Config"):
        return None, "kubeconfig cannot be loaded: no kind \"%s\" is registered for version \"%s\"" % (
            kind, data.get("apiVersion", "v1"))
    for key in ("clusters", "contexts", "users"):
        if data.get(key) is not None and not isinstance(data.get(key), list):
            return None, "kubeconfig cannot be loaded: %s must be a list" % key
    return data, None


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
    """istiod's sanitizeKubeConfig: the first refusal, in its words, or None.

    Every user is checked (not only the current context's), as istiod does.
    """
    allow = set(allowlist or ())
    for entry in config.get("users") or []:
        user = (entry or {}).get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            continue
        ap = user.get("auth-provider")
        if isinstance(ap, dict) and ap.get("name") and ap.get("name") != "oidc" and ap.get("name") not in allow:
            return "auth provider %s is not allowed" % ap.get("name")
        if user.get("client-key") and "clientKey" not in allow:
            return "clientKey is not allowed"
        if user.get("client-certificate") and "clientCertificate" not in allow:
            return "clientCertificate is not allowed"
        if user.get("tokenFile") and "tokenFile" not in allow:
            return "tokenFile is not allowed"
        if user.get("exec") and "exec" not in allow:
            return "exec is not allowed"
    return None


def validate(config):
    """clientcmd.Validate, the parts that apply to an in-memory kubeconfig. Error text or None."""
    errors = []
    clusters = config.get("clusters") or []
    contexts = config.get("contexts") or []
    users = config.get("users") or []
    current = config.get("current-context") or ""
    if not clusters and not contexts and not users and not current:
        return "invalid configuration: no configuration has been provided"
    # clientcmd.Load decodes into typed structs: an entry or its body of another type fails there.
    for key, inner in (("clusters", "cluster"), ("contexts", "context"), ("users", "user")):
        for i, item in enumerate(config.get(key) or []):
            if not isinstance(item, dict):
                errors.append("%s[%d] is not an object" % (key, i))
            elif item.get(inner) is not None and not isinstance(item.get(inner), dict):
                errors.append("%s[%d].%s is not an object" % (key, i, inner))
    if current and not isinstance(current, str):
        errors.append("current-context is not a string")
        current = ""
    if current and _named(contexts, current) is None:
        errors.append("context was not found for specified context: %s" % current)
    for ctx in contexts:
        if not isinstance(ctx, dict):
            continue
        c = _d(ctx.get("context"))
        name = ctx.get("name")
        if c.get("user") and _named(users, c.get("user")) is None:
            errors.append("user %r was not found for context %r" % (c.get("user"), name))
        if not c.get("cluster"):
            errors.append("context %s has no cluster" % name) if name == current else None
        elif _named(clusters, c.get("cluster")) is None:
            errors.append("cluster %r was not found for context %r" % (c.get("cluster"), name))
    for cl in clusters:
        if not isinstance(cl, dict):
            continue
        info = _d(cl.get("cluster"))
        if not info.get("server"):
            errors.append("no server found for cluster %r" % cl.get("name"))
        elif not isinstance(info.get("server"), str):
            errors.append("server of cluster %r is not a string" % cl.get("name"))
        for key in ("certificate-authority-data", "tls-server-name"):
            if info.get(key) is not None and not isinstance(info.get(key), str):
                errors.append("%s of cluster %r is not a string" % (key, cl.get("name")))
        if info.get("certificate-authority-data") and _b64(info.get("certificate-authority-data")) is None:
            errors.append("certificate-authority-data of cluster %r is not base64" % cl.get("name"))
    for u in users:
        if not isinstance(u, dict):
            continue
        user = _d(u.get("user"))
        for key in ("token", "username", "password", "client-certificate-data", "client-key-data"):
            if user.get(key) is not None and not isinstance(user.get(key), str):
                errors.append("%s of user %r is not a string" % (key, u.get("name")))
        methods = []
        if user.get("token") or user.get("tokenFile"):
            methods.append("token")
        if user.get("username") or user.get("password"):
            methods.append("basicAuth")
        if len(methods) > 1:
            errors.append("more than one authentication method found for %s; found %s, only one is allowed"
                          % (u.get("name"), methods))
    if not current:
        errors.append("no current context is set")
    if not errors:
        return None
    if len(errors) == 1:
        return "invalid configuration: %s" % errors[0]
    return "invalid configuration: [%s]" % ", ".join(errors)


def is_loopback_server(server):
    """True for the addresses istioctl create-remote-secret warns about."""
    if not server or not isinstance(server, str):
        return False
    try:
        host = urlparse(server if "://" in server else "https://" + server).hostname
    except ValueError:
        return False
    if host is None:
        return False
    host = host.strip("[]").lower()
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host) in (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
    except ValueError:
        return False


def _current(config):
    ctx = _named(config.get("contexts"), config.get("current-context")) or {}
    c = _d(ctx.get("context"))
    cluster = _d((_named(config.get("clusters"), c.get("cluster")) or {}).get("cluster"))
    user = _d((_named(config.get("users"), c.get("user")) or {}).get("user"))
    return c, cluster, user


def resolve(config, allowlist=()):
    """Everything a probe needs from a kubeconfig dict. HOLDS SECRETS: never return or log it."""
    err = validate(config)
    if err:
        return {"error": "kubeconfig is not valid: %s" % err}
    refused = refused_auth(config, allowlist)
    if refused:
        return {"error": "kubeconfig is not allowed: %s" % refused}
    _c, cluster, user = _current(config)
    ca = cluster.get("certificate-authority-data")
    out = {
        "error": None,
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


def summarize(key, raw, allowlist=()):
    """One ``remote_secrets[].entries[]`` item of docs/facts.md: no credential, fingerprints only.

    Never raises for what the value holds: a document of an unexpected shape is an entry error.
    """
    try:
        return _summarize(key, raw, allowlist)
    except (TypeError, AttributeError, ValueError, KeyError) as exc:
        raw_bytes = raw.encode("utf-8") if isinstance(raw, str) else (raw or b"")
        return {"key": key, "fingerprint": fingerprint(raw_bytes) if raw_bytes else None, "size": len(raw_bytes),
                "error": "kubeconfig cannot be loaded: unexpected document structure (%s)" % type(exc).__name__,
                "error_stage": "load", "server": None, "loopback": False, "auth": None, "auth_methods": [],
                "user": None, "ca_fingerprint": None, "insecure": False, "probe": None}, None


def _summarize(key, raw, allowlist=()):
    if isinstance(raw, str):
        raw_bytes = raw.encode("utf-8")
    else:
        raw_bytes = raw or b""
    entry = {
        "key": key,
        "fingerprint": fingerprint(raw_bytes) if raw_bytes else None,
        "size": len(raw_bytes),
        "error": None,
        "error_stage": None,   # empty | load | validate | not_allowed (istiod's four steps)
        "server": None,
        "loopback": False,
        "auth": None,
        "auth_methods": [],
        "user": None,
        "ca_fingerprint": None,
        "insecure": False,
        "probe": None,
    }
    config, err = load(raw_bytes)
    if err:
        entry["error"] = err
        entry["error_stage"] = "empty" if err == "kubeconfig is empty" else "load"
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
    if ca:
        dec = _b64(ca)
        entry["ca_fingerprint"] = fingerprint(dec) if dec else None
    entry["insecure"] = bool(cluster.get("insecure-skip-tls-verify"))
    verr = validate(config)
    if verr:
        entry["error"] = "kubeconfig is not valid: %s" % verr
        entry["error_stage"] = "validate"
        return entry, config
    refused = refused_auth(config, allowlist)
    if refused:
        entry["error"] = "kubeconfig is not allowed: %s" % refused
        entry["error_stage"] = "not_allowed"
    return entry, config
