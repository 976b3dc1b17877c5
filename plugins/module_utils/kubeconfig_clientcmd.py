# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""client-go's ``clientcmd.Load`` of a kubeconfig, in client-go's words: step 2 of istiod's judgement
(:mod:`.kubeconfig_istiod`). Types, base64 and duplicate names fail here as they fail in Go."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii


class LoadError(ValueError):
    pass


_STR, _BOOL, _BYTES, _STRLIST = "string", "bool", "[]uint8", "[]string"
_CLUSTER_FIELDS = {"server": _STR, "tls-server-name": _STR, "insecure-skip-tls-verify": _BOOL,
                   "certificate-authority": _STR, "certificate-authority-data": _BYTES, "proxy-url": _STR,
                   "disable-compression": _BOOL}
_USER_FIELDS = {"client-certificate": _STR, "client-certificate-data": _BYTES, "client-key": _STR,
                "client-key-data": _BYTES, "token": _STR, "tokenFile": _STR, "as": _STR, "as-uid": _STR,
                "as-groups": _STRLIST, "username": _STR, "password": _STR}
_CONTEXT_FIELDS = {"cluster": _STR, "user": _STR, "namespace": _STR}
_EXEC_FIELDS = {"command": _STR, "args": _STRLIST, "apiVersion": _STR, "installHint": _STR,
                "provideClusterInfo": _BOOL, "interactiveMode": _STR}


def _jtype(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_error(value, where, gotype):
    return LoadError("json: cannot unmarshal %s into Go struct field %s of type %s" % (_jtype(value), where, gotype))


def _go_b64(value, where):
    """encoding/json []byte: standard base64 with padding; CR/LF are skipped (base64.StdEncoding.Decode)."""
    text = value.replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise LoadError("illegal base64 data at input byte %d (%s)" % (_bad_b64_at(text), where))


def _bad_b64_at(text):
    for i, ch in enumerate(text):
        if not (ch.isalnum() or ch in "+/="):
            return i
    return len(text) - len(text) % 4 if len(text) % 4 else len(text)


def _fields(obj, spec, where):
    out = {}
    for key, kind in spec.items():
        value = obj.get(key)
        if value is None:
            continue
        if kind == _STR:
            if not isinstance(value, str):
                raise _type_error(value, "%s.%s" % (where, key), "string")
            out[key] = value
        elif kind == _BOOL:
            if not isinstance(value, bool):
                raise _type_error(value, "%s.%s" % (where, key), "bool")
            out[key] = value
        elif kind == _BYTES:
            if not isinstance(value, str):
                raise _type_error(value, "%s.%s" % (where, key), "[]uint8")
            out[key] = _go_b64(value, "%s.%s" % (where, key))
        elif kind == _STRLIST:
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                raise _type_error(value, "%s.%s" % (where, key), "[]string")
            out[key] = list(value)
    return out


def _named(items, key, inner, spec, where, typename):
    """A named list -> ordered {name: body}; duplicates fail as in api/v1/conversion.go."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise _type_error(items, "Config.%s" % key, "[]v1.%s" % typename)
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise _type_error(item, "Config.%s" % key, "v1.%s" % typename)
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            raise _type_error(name, "%s.%s.name" % (typename, key), "string")
        name = name or ""
        body = item.get(inner)
        if body is not None and not isinstance(body, dict):
            raise _type_error(body, "%s.%s.%s" % (typename, key, inner), "v1.%s" % inner.capitalize())
        body = body or {}
        parsed = _fields(body, spec, "%s.%s.%s" % (typename, key, inner))
        parsed["_extensions"] = body.get("extensions")
        parsed["_raw"] = body
        out.append((name, parsed))
    return out


def _duplicates(entries, typename, where):
    """api/v1/conversion.go Convert_Slice_v1_Named*_To_Map...: the first repeated name fails."""
    names = set()
    for name, body in entries:
        body["_extensions"] = _extensions(body.get("_extensions"), where)
        if name in names:
            raise LoadError('error converting *[]%s into *map[string]*api.%s: duplicate name "%s" in list: [...]'
                            % (typename, where, name))
        names.add(name)


def _extensions(items, where):
    if items is None:
        return []
    if not isinstance(items, list):
        raise _type_error(items, "%s.extensions" % where, "[]v1.NamedExtension")
    names = []
    for item in items:
        name = (item or {}).get("name") if isinstance(item, dict) else None
        if name in names:
            raise LoadError('error converting *[]NamedExtension into *map[string]runtime.Object: duplicate name '
                            '"%s" in list: [...]' % name)
        names.append(name)
    return names


def decode(data):
    """clientcmd.Load of an already YAML-parsed document (dict). Raises LoadError in client-go's words."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LoadError("couldn't get version/kind; json parse error: json: cannot unmarshal %s into Go value of "
                        "type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string "
                        "\"json:\\\"kind,omitempty\\\"\" }" % _jtype(data))
    kind = data.get("kind") or "Config"
    version = data.get("apiVersion") or "v1"
    if not isinstance(kind, str) or not isinstance(version, str):
        raise LoadError("couldn't get version/kind; json parse error: json: cannot unmarshal %s into Go struct "
                        "field .kind of type string" % _jtype(kind if not isinstance(kind, str) else version))
    if kind != "Config" or version != "v1":
        raise LoadError('no kind "%s" is registered for version "%s" in scheme '
                        '"k8s.io/client-go/tools/clientcmd/api/latest/latest.go"' % (kind, version))
    current = data.get("current-context")
    if current is not None and not isinstance(current, str):
        raise _type_error(current, "Config.current-context", "string")
    clusters = _named(data.get("clusters"), "clusters", "cluster", _CLUSTER_FIELDS, "Cluster", "NamedCluster")
    users = _named(data.get("users"), "users", "user", _USER_FIELDS, "AuthInfo", "NamedAuthInfo")
    for _name, user in users:
        raw = user["_raw"]
        ap = raw.get("auth-provider")
        if ap is not None:
            if not isinstance(ap, dict):
                raise _type_error(ap, "AuthInfo.users.user.auth-provider", "api.AuthProviderConfig")
            cfg = ap.get("config")
            if cfg is not None and (not isinstance(cfg, dict) or not all(isinstance(v, str) for v in cfg.values())):
                raise _type_error(cfg, "AuthProviderConfig.auth-provider.config", "map[string]string")
            user["auth-provider"] = {"name": ap.get("name") or "", "config": dict(cfg or {})}
        ex = raw.get("exec")
        if ex is not None:
            if not isinstance(ex, dict):
                raise _type_error(ex, "AuthInfo.users.user.exec", "v1.ExecConfig")
            parsed = _fields(ex, _EXEC_FIELDS, "ExecConfig.users.user.exec")
            env = ex.get("env")
            if env is not None and (not isinstance(env, list) or not all(isinstance(e, dict) for e in env)):
                raise _type_error(env, "ExecConfig.users.user.exec.env", "[]v1.ExecEnvVar")
            parsed["env"] = [{"name": e.get("name") or "", "value": e.get("value") or ""} for e in env or []]
            # api/v1/defaults.go SetDefaults_ExecConfig
            if not parsed.get("interactiveMode") and parsed.get("apiVersion") in (
                    "client.authentication.k8s.io/v1beta1", "client.authentication.k8s.io/v1alpha1"):
                parsed["interactiveMode"] = "IfAvailable"
            user["exec"] = parsed
        extra = raw.get("as-user-extra")
        if extra is not None and not isinstance(extra, dict):
            raise _type_error(extra, "AuthInfo.users.user.as-user-extra", "map[string][]string")
        user["as-user-extra"] = extra or {}
    contexts = _named(data.get("contexts"), "contexts", "context", _CONTEXT_FIELDS, "Context", "NamedContext")
    prefs = data.get("preferences")
    if prefs is not None and not isinstance(prefs, dict):
        raise _type_error(prefs, "Config.preferences", "v1.Preferences")
    # decoding is done; the conversion to the internal maps runs in this order (zz_generated.conversion.go)
    _duplicates(clusters, "NamedCluster", "Cluster")
    _duplicates(users, "NamedAuthInfo", "AuthInfo")
    _duplicates(contexts, "NamedContext", "Context")
    exts = _extensions(data.get("extensions"), "Config")
    return {"clusters": clusters, "users": users, "contexts": contexts, "current": current or "",
            "extensions": exts, "colors": bool((prefs or {}).get("colors"))}
