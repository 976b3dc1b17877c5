# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A remote secret's kubeconfig, judged the way istiod of a given release judges it.

istiod turns each data value of a remote secret into a Kubernetes client in these steps (istio/istio
pkg/kube/util.go NewUntrustedRestConfig from 1.21, the secret controller's BuildClientsFromConfig
before), each step with its own words, which its log then repeats:

1. ``len(value) == 0``                  -> ``kubeconfig is empty``
2. client-go ``clientcmd.Load`` (:mod:`.kubeconfig_clientcmd`) -> ``kubeconfig cannot be loaded: <err>`` (YAML, types, base64,
   duplicate names: ``error converting *[]NamedCluster ... duplicate name "x" in list``)
3. ``clientcmd.Validate`` (every context, user and cluster, not only the current one)
                                        -> ``kubeconfig is not valid: invalid configuration: <err>`` (several
   errors as ``[a, b]``); it opens ``certificate-authority``, ``client-certificate`` and
   ``client-key`` files *in istiod's container*, and checks exec plugins (command, apiVersion, env,
   ``interactiveMode`` from client-go 0.22 = Istio 1.12)
4. ``sanitizeKubeConfig`` (1.11.6+, 1.12.1+) -> ``kubeconfig is not allowed: <err>``: auth providers but
   ``oidc``, clientKey, clientCertificate, tokenFile, exec, unless listed in
   PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS (split on "," without trimming; default "" from 1.13,
   ``gcp,azure,exec,openstack,clientkey,clientCertificate,tokenFile`` in 1.11.6-1.12, whose lowercase
   ``clientkey`` never allows ``clientKey``)
5. ``ClientConfig()`` of the current context (an empty ``current-context`` ends here with client-go's
   ``invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER
   environment variable``; a ``tokenFile`` is read here, over https only)
6. ``kube.NewClient``                  -> ``failed to create kube clients: <err>``: exec apiVersion, auth
   provider plugins, TLS material (CA PEM from client-go 0.22, client key pair, insecure with a CA)

Pure functions; the caller gives the Istio release (``istiod.version`` of the facts), the allowlist and,
if it knows better, which files istiod's container holds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import json
import re
import warnings

from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig_clientcmd import LoadError, decode

try:
    from urllib.parse import urlparse
except ImportError:  # pragma: no cover
    from urlparse import urlparse  # noqa: F401

try:
    from cryptography import x509
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover
    HAS_CRYPTOGRAPHY = False


NEWEST = (1, 30, 3)
# Files every istiod pod holds (the chart's ServiceAccount token is automounted; istio-token is projected).
ISTIOD_FILES = frozenset((
    "/var/run/secrets/kubernetes.io/serviceaccount/token",
    "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
    "/var/run/secrets/tokens/istio-token",
))
PERMISSIVE_1_11 = ("gcp", "azure", "exec", "openstack", "clientkey", "clientCertificate", "tokenFile")
EMPTY_CONFIG = "no configuration has been provided, try setting KUBERNETES_MASTER environment variable"
REDACTED_TOKENS = ("REDACTED",)
# client-go tools/clientcmd/api/helpers.go ShortenConfig: kubectl config view prints these for bytes
PLACEHOLDER_BYTES = ("DATA+OMITTED", "REDACTED")


def version_tuple(version):
    """'1.30.3', '1.31.0-rc.0', (1, 20) -> (1, 30, 3) ...; None when unknown."""
    if version is None:
        return None
    if isinstance(version, (tuple, list)):
        parts = [int(x) for x in version][:3]
    else:
        m = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", str(version).strip())
        if not m:
            return None
        parts = [int(x) for x in m.groups() if x is not None]
    while len(parts) < 3:
        parts.append(0 if len(parts) < 2 else 99)   # "1.20" means the newest 1.20
    return tuple(parts)


def client_go_minor(v):
    """The k8s.io/client-go minor in istio's go.mod at that release."""
    minor, patch = v[1], v[2]
    if minor <= 10:
        return 20
    if minor == 13:
        return 24 if patch >= 9 else 23
    if minor == 14:
        return 24 if patch >= 5 else 23
    if minor == 26 and patch == 0:
        return 32
    table = {11: 21, 12: 22, 15: 24, 16: 25, 17: 26, 18: 27, 19: 28, 20: 28, 21: 29, 22: 30, 23: 30, 24: 31,
             25: 32, 26: 33, 27: 33, 28: 34, 29: 35, 30: 35, 31: 36}
    return table.get(minor, 36)


def rules(istio_version=None):
    """What istiod of that release checks (the newest release when unknown)."""
    v = version_tuple(istio_version) or NEWEST
    cg = client_go_minor(v)
    sanitize = v >= (1, 13, 0) or (1, 11, 6) <= v < (1, 12, 0) or (1, 12, 1) <= v < (1, 13, 0)
    default_allow = None
    if sanitize:
        default_allow = ("",) if v >= (1, 13, 0) else PERMISSIVE_1_11
    exec_versions = ["client.authentication.k8s.io/v1beta1"]
    if cg <= 23:
        exec_versions.append("client.authentication.k8s.io/v1alpha1")
    if cg >= 22:
        exec_versions.append("client.authentication.k8s.io/v1")
    providers = {"oidc": None, "gcp": None}
    if cg <= 20:
        providers.update({"azure": None, "openstack": None})
    if cg >= 26:
        providers["gcp"] = ('The gcp auth plugin has been removed.\nPlease use the "gke-gcloud-auth-plugin" '
                            'kubectl/client-go credential plugin instead.\nSee https://cloud.google.com/blog/products/'
                            'containers-kubernetes/kubectl-auth-changes-in-gke for further details')
    return {"istio": v, "client_go": cg, "sanitize": sanitize, "default_allowlist": default_allow,
            "interactive_mode": cg >= 22, "ca_pem_checked": cg >= 22, "exec_api_versions": exec_versions,
            "auth_providers": providers, "wrap_client_config": v < (1, 21, 0),
            "impersonate_uid": cg >= 23}


def allowlist_from_env(value):
    """PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS as istiod reads it: strings.Split(v, ","), no trimming."""
    return tuple((value or "").split(","))


# --------------------------------------------------------------------------- clientcmd.Validate

def _q(value):
    return json.dumps(value)


def _is_dns_label(value):
    return len(value) <= 63 and re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", value) is not None


def _cluster_empty(c):
    return not any(v for k, v in c.items() if not k.startswith("_")) and not c["_extensions"]


def _proxy_error(proxy):
    try:
        u = urlparse(proxy)
    except ValueError as exc:
        return str(exc)
    if u.scheme not in ("http", "https", "socks5"):
        return "unsupported scheme %s, must be http, https, or socks5" % _q(u.scheme)
    return None


def cluster_errors(name, c, files):
    if _cluster_empty(c):
        return ["cluster has no server defined"]
    out = []
    if not c.get("server"):
        out.append("default cluster has no server defined" if not name else "no server found for cluster %s" % _q(name))
    if c.get("proxy-url"):
        perr = _proxy_error(c["proxy-url"])
        if perr:
            out.append("invalid 'proxy-url' %s for cluster %s: %s" % (_q(c["proxy-url"]), _q(name), perr))
    if c.get("certificate-authority") and c.get("certificate-authority-data"):
        out.append("certificate-authority-data and certificate-authority are both specified for %s. "
                   "certificate-authority-data will override." % name)
    if c.get("certificate-authority") and c["certificate-authority"] not in files:
        path = c["certificate-authority"]
        out.append("unable to read certificate-authority %s for %s due to open %s: no such file or directory"
                   % (path, name, path))
    return out


def user_errors(name, u, rules_, files):
    out = []
    methods = []
    if u.get("token"):
        methods.append("token")
    if u.get("username") or u.get("password"):
        methods.append("basicAuth")
    if u.get("client-certificate") or u.get("client-certificate-data"):
        if u.get("client-certificate") and u.get("client-certificate-data"):
            out.append("client-cert-data and client-cert are both specified for %s. client-cert-data will override."
                       % name)
        if u.get("client-key") and u.get("client-key-data"):
            out.append("client-key-data and client-key are both specified for %s; client-key-data will override" % name)
        if not u.get("client-key") and not u.get("client-key-data"):
            out.append("client-key-data or client-key must be specified for %s to use the clientCert authentication "
                       "method." % name)
        for key, word in (("client-certificate", "client-cert"), ("client-key", "client-key")):
            path = u.get(key)
            if path and path not in files:
                out.append("unable to read %s %s for %s due to open %s: no such file or directory"
                           % (word, path, name, path))
    ex = u.get("exec")
    if ex is not None:
        if u.get("auth-provider") is not None:
            out.append("authProvider cannot be provided in combination with an exec plugin for %s" % name)
        if not ex.get("command"):
            out.append("command must be specified for %s to use exec authentication plugin" % name)
        if not ex.get("apiVersion"):
            out.append("apiVersion must be specified for %s to use exec authentication plugin" % name)
        for env in ex.get("env") or []:
            if not env.get("name"):
                out.append("env variable name must be specified for %s to use exec authentication plugin" % name)
        if rules_["interactive_mode"]:
            mode = ex.get("interactiveMode") or ""
            if mode == "":
                out.append("interactiveMode must be specified for %s to use exec authentication plugin" % name)
            elif mode not in ("Never", "IfAvailable", "Always"):
                out.append("invalid interactiveMode for %s: %s" % (name, _q(mode)))
    if len(methods) > 1:
        out.append("more than one authentication method found for %s; found [%s], only one is allowed"
                   % (name, " ".join(methods)))
    extra = u.get("as-user-extra") or {}
    if (u.get("as-groups") or extra or (u.get("as-uid") and rules_["impersonate_uid"])) and not u.get("as"):
        what = "uid, groups or user-extra" if rules_["impersonate_uid"] else "groups or user-extra"
        out.append("requesting %s for %s without impersonating a user" % (what, name))
    return out


def context_errors(name, c, users, clusters):
    out = []
    if not name:
        out.append("empty context name for %s is not allowed" % "api.Context{...}")
    if not c.get("user"):
        out.append("user was not specified for context %s" % _q(name))
    elif c["user"] not in users:
        out.append("user %s was not found for context %s" % (_q(c["user"]), _q(name)))
    if not c.get("cluster"):
        out.append("cluster was not specified for context %s" % _q(name))
    elif c["cluster"] not in clusters:
        out.append("cluster %s was not found for context %s" % (_q(c["cluster"]), _q(name)))
    if c.get("namespace") and not _is_dns_label(c["namespace"]):
        out.append("namespace %s for context %s does not conform to the kubernetes DNS_LABEL rules"
                   % (_q(c["namespace"]), _q(name)))
    return out


def aggregate(errors):
    """apimachinery errors.NewAggregate(...).Error(): one message, or "[a, b]" without repeats."""
    seen = []
    for e in errors:
        if e not in seen:
            seen.append(e)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


def validate_errors(cfg, rules_, files):
    """clientcmd.Validate: the list of errors (Go walks maps, so the order differs run to run)."""
    clusters = dict(cfg["clusters"])
    users = dict(cfg["users"])
    contexts = dict(cfg["contexts"])
    if not clusters and not users and not contexts and not cfg["current"] and not cfg["extensions"] \
            and not cfg["colors"]:
        return [EMPTY_CONFIG]
    out = []
    if cfg["current"] and cfg["current"] not in contexts:
        out.append("context was not found for specified context: %s" % cfg["current"])
    for name, c in cfg["contexts"]:
        out.extend(context_errors(name, c, users, clusters))
    for name, u in cfg["users"]:
        out.extend(user_errors(name, u, rules_, files))
    for name, c in cfg["clusters"]:
        out.extend(cluster_errors(name, c, files))
    return out


# --------------------------------------------------------------------------- sanitizeKubeConfig

def refusals(cfg, allow):
    """sanitizeKubeConfig for each user: [(user, refusal)] (Go stops at the first user its map walk meets)."""
    out = []
    for name, u in cfg["users"]:
        ap = u.get("auth-provider")
        if ap is not None and ap["name"] != "oidc" and ap["name"] not in allow:
            out.append((name, "auth provider %s is not allowed" % ap["name"]))
        elif u.get("client-key") and "clientKey" not in allow:
            out.append((name, "clientKey is not allowed"))
        elif u.get("client-certificate") and "clientCertificate" not in allow:
            out.append((name, "clientCertificate is not allowed"))
        elif u.get("tokenFile") and "tokenFile" not in allow:
            out.append((name, "tokenFile is not allowed"))
        elif u.get("exec") is not None and "exec" not in allow:
            out.append((name, "exec is not allowed"))
    return out


# --------------------------------------------------------------------------- ClientConfig + kube.NewClient

_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----[ \t]*(?:\r?\n)?", re.S)


def _pem_decode(text):
    """encoding/pem.Decode: (type, der, rest) of the next valid block, or (None, None, text)."""
    pos = 0
    while True:
        m = _PEM.search(text, pos)
        if not m:
            return None, None, text
        lines = m.group(2).split("\n")
        if lines and ":" in lines[0]:        # RFC 1421 headers end at the first blank line
            while lines and lines[0].strip():
                lines.pop(0)
        try:
            der = base64.b64decode("".join("".join(lines).split()), validate=True)
            return m.group(1), der, text[m.end():]
        except (binascii.Error, ValueError):
            pos = m.start() + 1


def _pem_blocks(data):
    text = data.decode("latin-1")
    out = []
    while True:
        kind, der, text = _pem_decode(text)
        if kind is None:
            return out
        out.append((kind, der))


def _parses(der):
    if not HAS_CRYPTOGRAPHY:
        return True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # e.g. a zero serial number: Go's x509 accepts it
            x509.load_der_x509_certificate(der)
        return True
    except Exception:  # cryptography raises several types for a bad certificate
        return False


def _ca_error(ca):
    """transport.rootCertPool: AppendCertsFromPEM keeps any good certificate; when none is good,
    createErrorParsingCAData walks the blocks (client-go 0.22+)."""
    if any(kind == "CERTIFICATE" and _parses(der) for kind, der in _pem_blocks(ca)):
        return None
    text = ca.decode("latin-1")
    while text:
        kind, der, text = _pem_decode(text)
        if kind is None:
            return "unable to parse bytes as PEM block"
        if kind == "CERTIFICATE" and not _parses(der):
            return "failed to parse certificate: x509: malformed certificate"
    return "no valid certificate authority data seen"


def _keypair_error(cert, key):
    """crypto/tls X509KeyPair: the PEM checks (the cryptographic match is left to the server)."""
    cblocks = _pem_blocks(cert)
    if not cblocks:
        return "tls: failed to find any PEM data in certificate input"
    if not any(t == "CERTIFICATE" for t, _b in cblocks):
        return ('tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the '
                'following types: [%s]' % " ".join(t for t, _b in cblocks))
    kblocks = _pem_blocks(key)
    if not kblocks:
        return "tls: failed to find any PEM data in key input"
    if not any(t == "PRIVATE KEY" or t.endswith(" PRIVATE KEY") for t, _b in kblocks):
        return ('tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM '
                'blocks of the following types: [%s]' % " ".join(t for t, _b in kblocks))
    return None


def client_error(cfg, rules_, files):
    """(error, wrapped) of ClientConfig() + kube.NewClient for the current context, or (None, False)."""
    contexts = dict(cfg["contexts"])
    ctx = contexts.get(cfg["current"]) if cfg["current"] else None
    if ctx is None:
        # DirectClientConfig.ConfirmUsable: no context, so no user and an empty cluster
        return "invalid configuration: " + EMPTY_CONFIG, rules_["wrap_client_config"]
    cluster = dict(cfg["clusters"]).get(ctx.get("cluster")) or {}
    user = dict(cfg["users"]).get(ctx.get("user")) or {}
    server = cluster.get("server") or ""
    try:
        tls = urlparse(server).scheme.lower() == "https"
    except ValueError:
        tls = False
    if not tls:
        return None, False      # no credentials and no CA are read for a plain-http server
    if not user.get("token") and user.get("tokenFile") and user["tokenFile"] not in files:
        return "open %s: no such file or directory" % user["tokenFile"], rules_["wrap_client_config"]
    ex = user.get("exec")
    ap = user.get("auth-provider")
    if ex is not None and ap is not None:
        return "execProvider and authProvider cannot be used in combination", True
    if ex is not None and ex.get("apiVersion") not in rules_["exec_api_versions"]:
        return "exec plugin: invalid apiVersion %s" % _q(ex.get("apiVersion") or ""), True
    if ap is not None:
        providers = rules_["auth_providers"]
        if ap["name"] not in providers:
            return "no Auth Provider found for name %s" % _q(ap["name"]), True
        if providers[ap["name"]]:
            return providers[ap["name"]], True
        if ap["name"] == "oidc":
            for key in ("idp-issuer-url", "client-id"):
                if not ap["config"].get(key):
                    return "Must provide %s" % key, True
    ca = cluster.get("certificate-authority-data") or cluster.get("certificate-authority")
    if ca and cluster.get("insecure-skip-tls-verify"):
        return "specifying a root certificates file with the insecure flag is not allowed", True
    if cluster.get("certificate-authority-data") and rules_["ca_pem_checked"]:
        err = _ca_error(cluster["certificate-authority-data"])
        if err:
            return "unable to load root certificates: " + err, True
    if user.get("client-certificate-data") and user.get("client-key-data"):
        err = _keypair_error(user["client-certificate-data"], user["client-key-data"])
        if err:
            return err, True
    return None, False


def placeholder(cfg):
    """kubectl config view's placeholders left in the current context (client-go ShortenConfig), or None."""
    contexts = dict(cfg["contexts"])
    ctx = contexts.get(cfg["current"]) or {}
    user = dict(cfg["users"]).get(ctx.get("user")) or {}
    cluster = dict(cfg["clusters"]).get(ctx.get("cluster")) or {}
    if user.get("token") in REDACTED_TOKENS:
        return ('token is "REDACTED", the placeholder of kubectl config view (not a credential): the remote API '
                'server answers 401 Unauthorized')
    for holder, key in ((cluster, "certificate-authority-data"), (user, "client-certificate-data"),
                        (user, "client-key-data")):
        value = holder.get(key)
        if value is not None and base64.b64encode(value).decode() in PLACEHOLDER_BYTES:
            return ("%s is %s, the placeholder of kubectl config view (use kubectl config view --raw)"
                    % (key, base64.b64encode(value).decode()))
    return None


# --------------------------------------------------------------------------- the judgement

def judge_config(data, istio_version=None, allowlist=None, files=None):
    """istiod's verdict on an already YAML-parsed kubeconfig: {stage, error, errors, refusals, rules}.

    ``stage``: None (istiod builds a client) | load | validate | not_allowed | client | placeholder.
    ``errors`` lists every part istiod may report (Validate walks maps in random order; sanitize stops at
    the first refused user it meets); ``error`` is the text with the parts in document order.
    """
    r = rules(istio_version)
    files = ISTIOD_FILES if files is None else frozenset(files)
    allow = r["default_allowlist"] if allowlist is None else tuple(allowlist)
    out = {"stage": None, "error": None, "errors": [], "rules": r, "allowlist": list(allow or ()), "hint": None}
    try:
        cfg = decode(data)
    except LoadError as exc:
        out.update(stage="load", error="kubeconfig cannot be loaded: %s" % exc, errors=[str(exc)])
        return out, None
    errs = validate_errors(cfg, r, files)
    if errs:
        out.update(stage="validate", error="kubeconfig is not valid: invalid configuration: %s" % aggregate(errs),
                   errors=errs)
        return out, cfg
    if r["sanitize"]:
        refused = refusals(cfg, allow or ())
        if refused:
            out.update(stage="not_allowed", error="kubeconfig is not allowed: %s" % refused[0][1],
                       errors=sorted(set(x for _u, x in refused)), refusals=refused)
            return out, cfg
    err, wrapped = client_error(cfg, r, files)
    if err:
        text = ("failed to create kube clients: %s" % err) if wrapped else err
        out.update(stage="client", error=text, errors=[err])
    out["hint"] = placeholder(cfg)
    if out["hint"] and out["stage"] is None:
        out.update(stage="placeholder", error="kubeconfig holds a placeholder: %s" % out["hint"],
                   errors=[out["hint"]])
    return out, cfg
