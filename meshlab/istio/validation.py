"""istiod's validating webhook (`validation.istio.io`), for the Istio kinds it is modelled for.

The API server first validates a custom resource against its CRD schema (meshlab/openapi.py: a Gateway port
given as a string, a DestinationRule without `host` are refused there, 422 Invalid). What passes goes to the
webhook, which checks Istio's own rules and denies with 400 (apiserver pkg/admission/plugin/webhook/errors
ToStatusErr: code 400 when the webhook gives none, no reason, message `admission webhook "validation.istio.io"
denied the request: <message>`).

Read at istio/istio 1.30.3:
- pkg/webhooks/validation/server/server.go validate: CREATE and UPDATE only; `configuration is invalid: <err>`;
- manifests/charts/base/templates/defaultrevision-validatingwebhookconfiguration.yaml: webhook
  `validation.istio.io` on groups networking/security/telemetry/extensions.istio.io, served by istiod;
- pkg/config/validation/validation.go ValidateGateway, validateServer, validateServerPort, ValidateDestinationRule,
  validateSubsetName; pkg/config/validation/agent/validation.go ValidatePort, ValidateWildcardDomain,
  ValidateDNS1123Labels, ValidateNamespaceSlashWildcardHostname, ValidatePartialWildCard;
  pkg/config/protocol/instance.go Parse; pkg/config/labels/instance.go IsDNS1123Label.
- Several errors are joined by hashicorp/go-multierror: "N errors occurred:\\n\\t* e1\\n\\t* e2\\n\\n"; one error is
  its own message.

Modelled: Gateway and DestinationRule (their structural rules: names, hosts, ports, protocols, TLS presence,
subset names). Other kinds and the traffic-policy details are accepted as they are.
"""
import ipaddress
import re

from meshlab.store import ApiError

from .world import name_of, ns_of

WEBHOOK = "validation.istio.io"
GROUPS = ("networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io")
_LABEL = re.compile(r"^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$")
_WILDCARD_LABEL = re.compile(r"^(\*|(\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$")
PROTOCOLS = {"tcp", "udp", "grpc", "grpc-web", "http", "http_proxy", "http2", "https", "tls", "mongo", "redis",
             "mysql"}


def is_dns1123_label(v):
    return len(v) <= 63 and bool(_LABEL.match(v))


def validate_dns1123_labels(domain):
    parts = domain.split(".")
    if parts[-1].isdigit():
        return ['domain name "%s" invalid (top level domain "%s" cannot be all-numeric)' % (domain, parts[-1])]
    for i, label in enumerate(parts):
        if i == len(parts) - 1 and label == "":
            return []
        if not is_dns1123_label(label):
            return ['domain name "%s" invalid (label "%s" invalid)' % (domain, label)]
    return []


def validate_wildcard_domain(domain):
    if len(domain) > 255:
        return ['domain name "%s" too long (max 255)' % domain]
    if not domain:
        return ["empty domain name not allowed"]
    parts = domain.split(".", 1)
    if not (len(parts[0]) <= 63 and _WILDCARD_LABEL.match(parts[0])):
        return ['domain name "%s" invalid (label "%s" invalid)' % (domain, parts[0])]
    if len(parts) > 1:
        return validate_dns1123_labels(parts[1])
    return []


def _is_ip(v):
    try:
        ipaddress.ip_address(v)
        return True
    except ValueError:
        return False


def _gateway_host_part(host):
    errs = []
    if host != "*" and "." not in host:
        errs.append("short names (non FQDN) are not allowed")
    e = validate_wildcard_domain(host)
    if e and not _is_ip(host):
        errs += e
    if "*" in host and len(host) != 1 and not host.startswith("*."):
        errs.append('partial wildcard "%s" not allowed' % host)
    return errs


def _gateway_host(host):
    parts = host.split("/", 1)
    if len(parts) != 2:
        return _gateway_host_part(host)
    errs = []
    if not parts[0] or not parts[1]:
        errs.append("config namespace and dnsName in host entry cannot be empty")
    if parts[0] not in ("*", ".") and not is_dns1123_label(parts[0]):
        errs.append('invalid namespace value "%s" in gateway' % parts[0])
    return errs + _gateway_host_part(parts[1])


def _go_port(port):
    """The Port message as Go's %v prints the proto message (prototext, one line) in `port name must be set: %v`
    (real prototext sometimes doubles a space on purpose, to keep callers from parsing it)."""
    fields = []
    if port.get("number"):
        fields.append("number:%d" % port["number"])
    if port.get("protocol"):
        fields.append('protocol:"%s"' % port["protocol"])
    if port.get("name"):
        fields.append('name:"%s"' % port["name"])
    return " ".join(fields)


def validate_gateway(obj):
    errs = []
    name = name_of(obj) or ""
    if not is_dns1123_label(name):
        errs.append('invalid gateway name: "%s"' % name)
    spec = obj.get("spec") or {}
    servers = spec.get("servers") or []
    if not servers:
        errs.append("gateway must have at least one server")
    for srv in servers:
        if srv is None:
            errs.append("cannot have nil server")
            continue
        hosts = srv.get("hosts") or []
        if not hosts:
            errs.append("server config must contain at least one host")
        for h in hosts:
            errs += _gateway_host(h)
        port = srv.get("port")
        bind = srv.get("bind") or ""
        port_errs = []
        if port is None:
            port_errs.append("port is required")
        else:
            proto = port.get("protocol") or ""
            if proto.lower() not in PROTOCOLS:
                port_errs.append('invalid protocol "%s", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, '
                                 'REDIS, MYSQL, TCP' % proto)
            number = port.get("number") or 0
            if number > 0 or not bind.startswith("unix://"):
                if not 1 <= number <= 65535:
                    port_errs.append("port number %d must be in the range 1..65535" % number)
            if port.get("targetPort"):
                port_errs.append("targetPort has no impact on Gateways")
            if not port.get("name"):
                port_errs.append("port name must be set: %s" % _go_port(port))
        errs += port_errs
        if not port_errs:
            p = (port.get("protocol") or "").lower()
            tls = srv.get("tls")
            if p in ("https", "tls") and tls is None:
                errs.append("server must have TLS settings for HTTPS/TLS protocols")
            elif p not in ("https", "tls") and tls is not None:
                if p in ("http", "http2", "http_proxy", "grpc", "grpc-web"):
                    passthrough = bool(tls.get("httpsRedirect")) and set(tls) <= {"httpsRedirect"}
                    if not passthrough:
                        errs.append("server cannot have TLS settings for plain text HTTP ports")
                else:
                    errs.append("server cannot have TLS settings for non HTTPS/TLS ports")
    seen = set()
    for srv in servers:
        port = (srv or {}).get("port")
        if srv is not None and port is not None:
            if port.get("name", "") in seen:
                errs.append("port names in servers must be unique: duplicate name %s" % port.get("name", ""))
            seen.add(port.get("name", ""))
    return errs


def validate_destination_rule(obj):
    spec = obj.get("spec") or {}
    errs = validate_wildcard_domain(spec.get("host") or "")
    names = set()
    for sub in spec.get("subsets") or []:
        if sub is None:
            errs.append("subset may not be null")
            continue
        n = sub.get("name") or ""
        if n in names:
            errs.append("duplicate subset names: %s" % n)
        names.add(n)
        if not n:
            errs.append("subset name cannot be empty")
        elif not is_dns1123_label(n):
            errs.append("subset name is invalid: %s" % n)
    return errs


VALIDATORS = {("networking.istio.io", "Gateway"): validate_gateway,
              ("networking.istio.io", "DestinationRule"): validate_destination_rule}


def multierror(errs):
    """How go-multierror's default ErrorFormat prints (one error is printed bare)."""
    if len(errs) == 1:
        return errs[0]
    return "%d errors occurred:\n%s\n\n" % (len(errs), "\n".join("\t* " + e for e in errs))


def check(obj):
    """None when istiod admits obj, else the webhook's message (without the apiserver's prefix)."""
    group = (obj.get("apiVersion") or "").rpartition("/")[0]
    fn = VALIDATORS.get((group, obj.get("kind")))
    if fn is None:
        return None
    errs = fn(obj)
    if not errs:
        return None
    return "configuration is invalid: " + multierror(errs)


def denial(message):
    """The Status the API server returns for a webhook denial (ToStatusErr: 400, no reason, no details)."""
    return ApiError(400, None, 'admission webhook "%s" denied the request: %s' % (WEBHOOK, message))


def admit(world, cluster, op, obj):
    """The webhook where istiod serves it: a cluster with a running istiod, or whose istiod Service reaches one.
    Without a reachable istiod the webhook's failurePolicy (Ignore until istiod first patches it) lets writes
    through."""
    if op not in ("CREATE", "UPDATE"):
        return
    group = (obj.get("apiVersion") or "").rpartition("/")[0]
    if group not in GROUPS:
        return
    from .istiod import istiod_deployment, serving_istiod
    if istiod_deployment(world, cluster) is None and serving_istiod(world, cluster) is None:
        return
    msg = check(obj)
    if msg is not None:
        raise denial(msg)


__all__ = ["check", "admit", "denial", "validate_gateway", "validate_destination_rule", "ns_of"]
