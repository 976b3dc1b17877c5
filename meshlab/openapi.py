"""Custom resources against their CRD's structural openAPIV3Schema, as kube-apiserver validates and prunes them.

The rules and the wording are those of kube-openapi pkg/validation/validate (type.go, validator.go,
object_validator.go, slice_validator.go, schema_props.go, formats.go, values.go) and pkg/validation/errors
(schema.go), converted to field errors by apiextensions-apiserver pkg/apiserver/validation/validation.go
kubeOpenAPIResultToFieldErrors (read at kube-openapi HEAD and apiextensions-apiserver v0.36.1):

- a type mismatch is FieldValueTypeInvalid `Invalid value: "<json type>": <path> in body must be of type <t>: "<json
  type>"`; a missing required property is `Required value`; an enum miss is `Unsupported value: ...: supported
  values: ...`; maxLength is `Too long: may not be more than N bytes`; maxItems/maxProperties are `Too many: ...`;
  every other check (minimum, maximum, minLength, pattern, minItems, formats) is FieldValueInvalid with
  kube-openapi's own sentence, e.g. `Invalid value: 70000: spec.port in body should be less than or equal to 65535`.
- oneOf/anyOf/allOf/not failures are not field errors in kube-openapi: they come out at field `<nil>` with
  `Invalid value: "": "<path>" must validate one and only one schema (oneOf). Found none valid`.
- x-kubernetes-list-type map/set duplicates are `Duplicate value: ...` (apiextensions-apiserver listtype).

Not reproduced: x-kubernetes-validations (CEL rules; the lab does not evaluate CEL), uniqueItems, multipleOf,
int32/int64 overflow checks, defaults (Istio's CRDs declare none). On update, an error that the stored object
already had is not raised again (an approximation of CRDValidationRatcheting, on by default since 1.30).
"""
import base64
import binascii
import json
import re

from .validation import (duplicate_cause, invalid_cause, not_supported_cause, required_cause, too_long_cause,
                         too_many_cause, type_invalid_cause)

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")
_PATTERNS = {}


def go_v(x):
    """Go's %v of an int64 or a float64 (strconv 'g' with the shortest digits: %e when the exponent is
    below -4 or at least 6, e.g. 4.294967295e+09)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if not isinstance(x, float):
        return str(x)
    if x == 0:
        return "0"
    import decimal
    t = decimal.Decimal(repr(x)).normalize().as_tuple()
    digits = "".join(str(d) for d in t.digits)
    exp = len(digits) - 1 + t.exponent
    sign = "-" if t.sign else ""
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (sign, mant, "-" if exp < 0 else "+", abs(exp))
    return sign + format(decimal.Decimal(digits).scaleb(t.exponent), "f")


def _json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _inferred_format(v):
    # kube-openapi type.go schemaInfoForType: int64 for integers, double for floats, none otherwise
    if isinstance(v, bool):
        return ""
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "double"
    return ""


class _Err:
    __slots__ = ("code", "name", "value", "msg", "extra")

    def __init__(self, code, name, value=None, msg="", extra=None):
        self.code, self.name, self.value, self.msg, self.extra = code, name, value, msg, extra


def _validate(s, data, path, errs):
    """Append kube-openapi errors for `data` at `path` (the validator chain of SchemaValidator.Validate)."""
    if not isinstance(s, dict):
        return
    types = []
    if s.get("x-kubernetes-int-or-string"):
        types = ["integer", "string"]
    elif s.get("type"):
        types = [s["type"]]
    fmt = s.get("format") or ""
    if data is None:
        if types and not s.get("nullable"):
            errs.append(_Err("type", path, "null", "%s in body must be of type %s: \"null\"" % (path, ",".join(types))))
        _common(s, data, path, errs)
        return
    jt = _json_type(data)
    is_float_int = jt == "number" and float(data).is_integer() and "integer" in types
    is_int_float = jt == "integer" and "number" in types
    if types or fmt:
        # type.go typeValidator.Validate, in its order
        numeric = "number" in types or "integer" in types
        if jt not in ("string", "array") and fmt and not (jt in types or _inferred_format(data) == fmt
                                                          or is_float_int or is_int_float):
            f = _inferred_format(data)
            errs.append(_Err("type", path, f, "%s in body must be of type %s: %s" % (path, fmt, json.dumps(f))))
            return
        if not (not numeric and fmt and jt in ("string", "array")):
            if not (jt in types or is_float_int or is_int_float):
                errs.append(_Err("type", path, jt, "%s in body must be of type %s: %s"
                                 % (path, ",".join(types), json.dumps(jt))))
                return
    _props(s, data, path, errs)
    if jt == "string":
        _string(s, data, path, errs)
        if fmt in ("byte", "date-time"):
            ok = True
            if fmt == "byte":
                try:
                    base64.b64decode(data, validate=True)
                except (binascii.Error, ValueError):
                    ok = False
            else:
                ok = bool(_DATE_TIME.match(data))
            if not ok:
                errs.append(_Err("type", path, data, "%s in body must be of type %s: %s"
                                 % (path, fmt, json.dumps(data, ensure_ascii=False))))
    elif jt in ("integer", "number"):
        _number(s, data, path, errs)
    elif jt == "array":
        _slice(s, data, path, errs)
    _common(s, data, path, errs)
    if jt == "object":
        _object(s, data, path, errs)


def _props(s, data, path, errs):
    """schema_props.go: anyOf, oneOf, allOf, not (value validations only in structural schemas)."""
    if s.get("anyOf"):
        best = None
        ok = False
        for sub in s["anyOf"]:
            e = []
            _validate(sub, data, path, e)
            if not e:
                ok = True
                best = None
                break
            if best is None or len(e) < len(best):
                best = e
        if not ok:
            errs.append(_Err("composite", path, msg="%s must validate at least one schema (anyOf)" % json.dumps(path)))
        if best:
            errs.extend(best)
    if s.get("oneOf"):
        valid = 0
        best = None
        for sub in s["oneOf"]:
            e = []
            _validate(sub, data, path, e)
            if not e:
                valid += 1
                best = None
                continue
            if valid == 0 and (best is None or len(e) < len(best)):
                best = e
        if valid != 1:
            extra = "Found none valid" if valid == 0 else "Found %d valid alternatives" % valid
            errs.append(_Err("composite", path, msg="%s must validate one and only one schema (oneOf). %s"
                             % (json.dumps(path), extra)))
            if best:
                errs.extend(best)
    if s.get("allOf"):
        inner = []
        for sub in s["allOf"]:
            _validate(sub, data, path, inner)
        if inner:
            errs.append(_Err("composite", path, msg="%s must validate all the schemas (allOf)" % json.dumps(path)))
            errs.extend(inner)
    if isinstance(s.get("not"), dict):
        e = []
        _validate(s["not"], data, path, e)
        if not e:
            errs.append(_Err("composite", path, msg="%s must not validate the schema (not)" % json.dumps(path)))


def _string(s, data, path, errs):
    n = len(data)   # runes, as utf8.RuneCount
    if s.get("maxLength") is not None and n > s["maxLength"]:
        errs.append(_Err("toolong", path, data, extra=s["maxLength"]))
        return
    if s.get("minLength") is not None and n < s["minLength"]:
        errs.append(_Err("invalid", path, data, "%s in body should be at least %d chars long" % (path, s["minLength"])))
        return
    pat = s.get("pattern")
    if pat:
        rx = _PATTERNS.get(pat)
        if rx is None:
            try:
                rx = _PATTERNS[pat] = re.compile(pat)
            except re.error:
                return
        if not rx.search(data):
            errs.append(_Err("invalid", path, data, "%s in body should match '%s'" % (path, pat)))


def _number(s, data, path, errs):
    mx, mn = s.get("maximum"), s.get("minimum")
    as_int = isinstance(data, int) and not isinstance(data, bool)
    if mn is not None:
        ex = bool(s.get("exclusiveMinimum"))
        lim = int(mn) if as_int else float(mn)
        if (not ex and data < lim) or (ex and data <= lim):
            errs.append(_Err("invalid", path, data, "%s in body should be greater than %s%s"
                             % (path, "" if ex else "or equal to ", go_v(lim))))
    if mx is not None:
        ex = bool(s.get("exclusiveMaximum"))
        lim = int(mx) if as_int else float(mx)
        if (not ex and data > lim) or (ex and data >= lim):
            errs.append(_Err("invalid", path, data, "%s in body should be less than %s%s"
                             % (path, "" if ex else "or equal to ", go_v(lim))))
    # minimum before maximum above is the order of res.Merge(resMultiple, resMinimum, resMaximum)


def _slice(s, data, path, errs):
    items = s.get("items")
    if isinstance(items, dict):
        for i, v in enumerate(data):
            _validate(items, v, "%s[%d]" % (path, i), errs)
    if s.get("minItems") is not None and len(data) < s["minItems"]:
        errs.append(_Err("invalid", path, len(data), "%s in body should have at least %d items" % (path, s["minItems"])))
    if s.get("maxItems") is not None and len(data) > s["maxItems"]:
        errs.append(_Err("maxitems", path, len(data), extra=s["maxItems"]))
    lt = s.get("x-kubernetes-list-type")
    if lt in ("set", "map"):
        seen = {}
        keys = s.get("x-kubernetes-list-map-keys") or []
        for i, v in enumerate(data):
            if lt == "map" and isinstance(v, dict):
                k = json.dumps({kk: v.get(kk) for kk in keys if kk in v}, sort_keys=True)
                dup = {kk: v[kk] for kk in keys if kk in v}
            else:
                k = json.dumps(v, sort_keys=True)
                dup = v
            if k in seen:
                errs.append(_Err("duplicate", "%s[%d]" % (path, i), dup))
            seen[k] = True


def _common(s, data, path, errs):
    enum = s.get("enum")
    if enum:
        for e in enum:
            if e == data and type(e) is type(data) or (isinstance(e, (int, float)) and isinstance(data, (int, float))
                                                       and not isinstance(data, bool) and e == data):
                return
        errs.append(_Err("enum", path, data, extra=enum))


def _object(s, data, path, errs):
    n = len(data)
    if s.get("minProperties") is not None and n < s["minProperties"]:
        errs.append(_Err("invalid", path, n, "%s in body should have at least %d properties" % (path, s["minProperties"])))
    if s.get("maxProperties") is not None and n > s["maxProperties"]:
        errs.append(_Err("maxprops", path, n, extra=s["maxProperties"]))
    props = s.get("properties") or {}
    addl = s.get("additionalProperties")
    if isinstance(addl, dict):
        for k, v in data.items():
            if k not in props:
                _validate(addl, v, path + "." + k, errs)
    for k, sub in props.items():
        if k in data:
            _validate(sub, data[k], k if not path else path + "." + k, errs)
    for k in s.get("required") or []:
        if k not in data:
            errs.append(_Err("required", path + "." + k))


def _to_causes(errs):
    """kubeOpenAPIResultToFieldErrors."""
    out = []
    for e in errs:
        if e.code == "composite":
            out.append(invalid_cause(None, "", e.msg))
            continue
        field = e.name[1:] if e.name.startswith(".") else e.name
        field = field or None
        if e.code == "required":
            out.append(required_cause(field))
        elif e.code == "enum":
            out.append(not_supported_cause(field, e.value, [v if isinstance(v, str) else json.dumps(v)
                                                            for v in e.extra]))
        elif e.code == "toolong":
            out.append(too_long_cause(field, int(e.extra)))
        elif e.code in ("maxitems", "maxprops"):
            out.append(too_many_cause(field, e.value, int(e.extra)))
        elif e.code == "type":
            out.append(type_invalid_cause(field, e.value, e.msg))
        elif e.code == "duplicate":
            out.append(duplicate_cause(field, e.value))
        else:
            out.append(invalid_cause(field, e.value, e.msg))
    return out


def validate(schema, obj):
    """Field-error causes of obj (a whole custom resource) against its version's openAPIV3Schema."""
    errs = []
    _validate(schema, obj, "", errs)
    return _to_causes(errs)


def validate_update(schema, obj, old):
    """Update validation with ratcheting approximated: errors the stored object had already are let through."""
    causes = validate(schema, obj)
    if not causes or old is None:
        return causes
    before = set(validate(schema, old))
    return [c for c in causes if c not in before]


def prune(schema, obj):
    """Drop fields the schema does not know (apiextensions-apiserver pruning; kept under
    x-kubernetes-preserve-unknown-fields). apiVersion, kind and metadata are never pruned at the root."""
    def walk(s, v):
        if not isinstance(s, dict) or s.get("x-kubernetes-preserve-unknown-fields"):
            return v
        if isinstance(v, dict):
            props = s.get("properties")
            addl = s.get("additionalProperties")
            out = {}
            for k, x in v.items():
                if props is not None and k in props:
                    out[k] = walk(props[k], x)
                elif isinstance(addl, dict):
                    out[k] = walk(addl, x)
                elif addl is True:
                    out[k] = x
            return out
        if isinstance(v, list) and isinstance(s.get("items"), dict):
            return [walk(s["items"], x) for x in v]
        return v
    if not isinstance(obj, dict) or not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return obj
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    pruned = walk(schema, body)
    if pruned == body:
        return obj
    out = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
    out.update(pruned)
    return out
