"""What kube-apiserver's validation rejects, with its exact wording (Kubernetes 1.36, the version the lab serves).

Sources (read at kubernetes/apimachinery v0.36.1 and kubernetes/kubernetes pkg/apis/core/validation):
- pkg/api/validate/content/{kube.go,dns.go,errors.go}: IsLabelKey, IsLabelValue, IsDNS1123Subdomain (label key
  prefixes) and their messages ("must be no more than 63 bytes" since 1.35; 1.34 and older said "characters").
- pkg/util/validation/validation.go: IsDNS1123Label/Subdomain, IsDNS1035Label (object names, "... characters"),
  IsConfigMapKey, RegexError.
- pkg/api/validation/objectmeta.go: ValidateObjectMetaAccessor (name or generateName, namespace, labels,
  annotations (keys lowercased, total size 256 KiB), ownerReferences, finalizers).
- pkg/api/validation/generic.go: NameIsDNSSubdomain / NameIsDNSLabel / NameIsDNS1035Label (maskTrailingDash for
  generateName).
- pkg/util/validation/field/errors.go: ErrorBody (how each cause's message reads), ErrorList.ToAggregate.
- pkg/api/errors/errors.go NewInvalid: 422, reason Invalid, message `<Kind[.group]> "<name>" is invalid: <errs>`.
- kubernetes pkg/apis/core/validation/validation.go: ValidateSecret / ValidateConfigMap (data keys, 1 MiB total).

A cause is (field, reason, message) where message is field.Error.ErrorBody() (no field prefix).
"""
import functools
import json
import re

# ---- formats and messages -------------------------------------------------------------------------

_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_RE = re.compile("^" + _LABEL_KEY_FMT + "$")
_LABEL_VALUE_FMT = "(" + _LABEL_KEY_FMT + ")?"
_LABEL_VALUE_RE = re.compile("^" + _LABEL_VALUE_FMT + "$")
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE = re.compile("^" + _DNS1123_LABEL_FMT + "$")
_DNS1123_SUB_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUB_RE = re.compile("^" + _DNS1123_SUB_FMT + "$")
_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_RE = re.compile("^" + _DNS1035_FMT + "$")
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE = re.compile("^" + _CONFIG_KEY_FMT + "$")

TOTAL_ANNOTATION_SIZE = 256 * (1 << 10)   # objectmeta.go TotalAnnotationSizeLimitB
MAX_SECRET_SIZE = 1 * 1024 * 1024          # core.MaxSecretSize (Secrets and ConfigMaps)


def regex_error(msg, fmt, *examples):
    """validation.RegexError / content.RegexError (note the double space before "or")."""
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    msg += " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            msg += " or "
        msg += "'" + ex + "', "
    return msg + "regex used for validation is '" + fmt + "')"


def _max_len_chars(n):      # pkg/util/validation MaxLenError
    return "must be no more than %d characters" % n


def _max_len_bytes(n):      # pkg/api/validate/content MaxLenError (1.35+)
    return "must be no more than %d bytes" % n


def _blen(s):
    return len(s.encode("utf-8"))


def is_dns1123_label(value):
    errs = []
    if _blen(value) > 63:
        errs.append(_max_len_chars(63))
    if not _DNS1123_LABEL_RE.match(value):
        if _DNS1123_SUB_RE.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                                    "or '-', and must start and end with an alphanumeric character",
                                    _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value, byte_wording=False):
    errs = []
    if _blen(value) > 253:
        errs.append(_max_len_bytes(253) if byte_wording else _max_len_chars(253))
    if not _DNS1123_SUB_RE.match(value):
        errs.append(regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                                "'-' or '.', and must start and end with an alphanumeric character",
                                _DNS1123_SUB_FMT, "example.com"))
    return errs


def is_dns1035_label(value):
    errs = []
    if _blen(value) > 63:
        errs.append(_max_len_chars(63))
    if not _DNS1035_RE.match(value):
        errs.append(regex_error("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
                                "with an alphabetic character, and end with an alphanumeric character",
                                _DNS1035_FMT, "my-name", "abc-123"))
    return errs


_LABEL_KEY_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " \
                 "alphanumeric character"


def is_label_key(value):
    """content.IsLabelKey (= IsQualifiedName)."""
    errs = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix, byte_wording=True))
    else:
        return ["a valid label key " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif _blen(name) > 63:
        errs.append("name part " + _max_len_bytes(63))
    if not _LABEL_KEY_RE.match(name):
        errs.append("name part " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_label_value(value):
    errs = []
    if _blen(value) > 63:
        errs.append(_max_len_bytes(63))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(regex_error("a valid label must be an empty string or consist of alphanumeric characters, '-', "
                                "'_' or '.', and must start and end with an alphanumeric character",
                                _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_config_map_key(value):
    errs = []
    if _blen(value) > 253:
        errs.append(_max_len_chars(253))
    if not _CONFIG_KEY_RE.match(value):
        errs.append(regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_path_segment_name(value, prefix=False):
    """apimachinery/pkg/api/validation/path IsValidPathSegmentName (RBAC object names)."""
    if not prefix and value in (".", ".."):
        return ["may not be '%s'" % value]
    return ["may not contain '%s'" % c for c in ("/", "%") if c in value]


# ---- field errors -------------------------------------------------------------------------------

def _go_quote(v):
    """How %q / the JSON rendering of ErrorBody prints a bad value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return json.dumps(v, separators=(",", ":"), sort_keys=True)


def invalid_cause(field, value, detail):
    return (field, "FieldValueInvalid", "Invalid value: %s%s" % (_go_quote(value), ": " + detail if detail else ""))


def type_invalid_cause(field, value, detail):
    return (field, "FieldValueTypeInvalid", "Invalid value: %s%s" % (_go_quote(value), ": " + detail if detail else ""))


def required_cause(field, detail=""):
    return (field, "FieldValueRequired", "Required value" + (": " + detail if detail else ""))


def forbidden_cause(field, detail=""):
    return (field, "FieldValueForbidden", "Forbidden" + (": " + detail if detail else ""))


def too_long_cause(field, max_len):
    unit = "byte" if max_len == 1 else "bytes"
    return (field, "FieldValueTooLong", "Too long: may not be more than %d %s" % (max_len, unit)
            if max_len >= 0 else "Too long: value is too long")


def too_many_cause(field, actual, max_items):
    what = "item" if max_items == 1 else "items"
    body = "Too many: %s" % actual if actual >= 0 else "Too many"
    return (field, "FieldValueTooMany", body + ": " + ("must have at most %d %s" % (max_items, what)
                                                      if max_items >= 0 else "has too many items"))


def not_supported_cause(field, value, supported):
    detail = ("supported values: " + ", ".join(json.dumps(str(s)) for s in supported)) if supported else ""
    return (field, "FieldValueNotSupported", "Unsupported value: %s%s" % (_go_quote(value),
                                                                         ": " + detail if detail else ""))


def duplicate_cause(field, value):
    return (field, "FieldValueDuplicate", "Duplicate value: %s" % _go_quote(value))


def key_path(base, key):
    """field.Path.Key: data[key] (keys are printed as they are, not quoted)."""
    return "%s[%s]" % (base, key)


# ---- object meta -----------------------------------------------------------------------------------

RBAC = {"roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io",
        "clusterroles.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io"}
# ValidateNamespaceName = NameIsDNSLabel; Services too since RelaxedServiceNameValidation (KEP-5311, beta and on
# by default in 1.36, GA in 1.37): a Service name may start with a digit ("1svc"), as a real 1.37 server accepts.
DNS_LABEL_NAMES = {"namespaces", "services"}
DNS1035_NAMES = set()                                 # (1.35 and older: services, NameIsDNS1035Label)


def _mask_trailing_dash(name):
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_errors(kind, name, prefix=False):
    """The ValidateNameFunc of a kind (generic.go and each type's validation)."""
    return list(_name_errors(_name_rule(kind), name, prefix))


def _name_rule(kind):
    if kind.key in RBAC:
        return "path"
    if kind.plural in DNS_LABEL_NAMES and not kind.group:
        return "label"
    if kind.plural in DNS1035_NAMES and not kind.group:
        return "1035"
    return "subdomain"


@functools.lru_cache(maxsize=8192)
def _name_errors(rule, name, prefix):
    if rule == "path":
        return tuple(is_path_segment_name(name, prefix))
    if prefix:
        name = _mask_trailing_dash(name)
    if rule == "label":
        return tuple(is_dns1123_label(name))
    if rule == "1035":
        return tuple(is_dns1035_label(name))
    return tuple(is_dns1123_subdomain(name))


# The same keys and values come back on every write: remember each string's verdict (valid ones cost a dict
# lookup; the cache is bounded, and an evicted string is simply checked again).
_key_errors = functools.lru_cache(maxsize=8192)(lambda k: tuple(is_label_key(k)))
_value_errors = functools.lru_cache(maxsize=8192)(lambda v: tuple(is_label_value(v)))


def label_causes(labels, path):
    """v1validation.ValidateLabels; Go ranges over the map in random order, the lab in key order."""
    causes = []
    if not isinstance(labels, dict) or not labels:
        return causes
    for k, v in labels.items():
        if _key_errors(k) or (isinstance(v, str) and _value_errors(v)):
            break
    else:
        return causes
    for k in sorted(labels):
        v = labels[k]
        for m in _key_errors(k):
            causes.append(invalid_cause(path, k, m))
        if isinstance(v, str):
            for m in _value_errors(v):
                causes.append(invalid_cause(path, v, m))
    return causes


def annotation_causes(annotations, path):
    causes = []
    if not isinstance(annotations, dict) or not annotations:
        return causes
    for k in sorted(annotations):
        for m in _key_errors(k.lower()):
            causes.append(invalid_cause(path, k, m))
    chars = sum(len(k) + (len(v) if isinstance(v, str) else 0) for k, v in annotations.items())
    # a character is at most 4 bytes in UTF-8: only count bytes when the characters come near the limit
    total = chars if chars * 4 <= TOTAL_ANNOTATION_SIZE else \
        sum(_blen(k) + (_blen(v) if isinstance(v, str) else 0) for k, v in annotations.items())
    if total > TOTAL_ANNOTATION_SIZE:
        causes.append(too_long_cause(path, TOTAL_ANNOTATION_SIZE))
    return causes


def object_meta_causes(kind, obj, op, old=None):
    """ValidateObjectMetaAccessor (create) / ValidateObjectMetaAccessorUpdate (update), minus what the store
    already guarantees (namespace set, uid/creationTimestamp kept)."""
    md = obj.get("metadata") or {}
    causes = []
    if op == "CREATE":
        gen = md.get("generateName")
        if gen:
            for m in name_errors(kind, gen, prefix=True):
                causes.append(invalid_cause("metadata.generateName", gen, m))
        name = md.get("name") or ""
        if not name:
            causes.append(required_cause("metadata.name", "name or generateName is required"))
        else:
            for m in name_errors(kind, name):
                causes.append(invalid_cause("metadata.name", name, m))
    causes += label_causes(md.get("labels"), "metadata.labels")
    causes += annotation_causes(md.get("annotations"), "metadata.annotations")
    for f in md.get("finalizers") or []:
        if isinstance(f, str):
            for m in is_label_key(f):
                causes.append(invalid_cause("metadata.finalizers", f, m))
    return causes


def template_meta_causes(template, path):
    """ValidatePodTemplateSpec: the template's labels and annotations."""
    tmd = (template or {}).get("metadata") or {}
    return label_causes(tmd.get("labels"), path + ".labels") + \
        annotation_causes(tmd.get("annotations"), path + ".annotations")


# ---- data of Secrets and ConfigMaps ------------------------------------------------------------------

def _decoded_len(v):
    import base64
    try:
        return len(base64.b64decode(v or "", validate=False))
    except ValueError:
        return len(v or "")


def secret_causes(obj):
    """ValidateSecret: data keys, 1 MiB total, the type's required keys and annotation."""
    causes = []
    data = obj.get("data") or {}
    total = 0
    for k in sorted(data):
        for m in is_config_map_key(k):
            causes.append(invalid_cause(key_path("data", k), k, m))
        total += _decoded_len(data[k])
    if total > MAX_SECRET_SIZE:
        causes.append(too_long_cause("data", MAX_SECRET_SIZE))
    typ = obj.get("type") or "Opaque"
    if typ == "kubernetes.io/service-account-token" and \
            not ((obj.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/service-account.name"):
        causes.append(required_cause(key_path("metadata.annotations", "kubernetes.io/service-account.name")))
    need = {"kubernetes.io/dockercfg": [".dockercfg"], "kubernetes.io/dockerconfigjson": [".dockerconfigjson"],
            "kubernetes.io/tls": ["tls.crt", "tls.key"]}.get(typ, [])
    for k in need:
        if k not in data:
            causes.append(required_cause(key_path("data", k)))
    if typ == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        causes += [required_cause(key_path("data", "username")), required_cause(key_path("data", "password"))]
    if typ == "kubernetes.io/ssh-auth" and not data.get("ssh-privatekey"):
        causes.append(required_cause(key_path("data", "ssh-privatekey")))
    return causes


def configmap_causes(obj):
    causes = []
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    total = 0
    for k in sorted(data):
        for m in is_config_map_key(k):
            causes.append(invalid_cause(key_path("data", k), k, m))
        if k in binary:
            causes.append(invalid_cause(key_path("data", k), k, "duplicate of key present in binaryData"))
        total += _blen(data[k]) if isinstance(data[k], str) else 0
    for k in sorted(binary):
        for m in is_config_map_key(k):
            causes.append(invalid_cause(key_path("binaryData", k), k, m))
        total += _decoded_len(binary[k])
    if total > MAX_SECRET_SIZE:
        # ValidateConfigMap passes field.NewPath("") for the whole object
        causes.append(too_long_cause("", MAX_SECRET_SIZE))
    return causes


def immutable_causes(kind, obj, old):
    """Secrets and ConfigMaps with immutable: true (ValidateSecretUpdate / ValidateConfigMapUpdate)."""
    causes = []
    if old is None or not old.get("immutable"):
        return causes
    if not obj.get("immutable"):
        causes.append(forbidden_cause("immutable", "field is immutable when `immutable` is set"))
    if (obj.get("data") or {}) != (old.get("data") or {}):
        causes.append(forbidden_cause("data", "field is immutable when `immutable` is set"))
    if kind.plural == "configmaps" and (obj.get("binaryData") or {}) != (old.get("binaryData") or {}):
        causes.append(forbidden_cause("binaryData", "field is immutable when `immutable` is set"))
    return causes
