"""Leak scanner for integration tests: no credential the lab minted may show in what a run leaves.

    from leakcheck import assert_no_secrets
    assert_no_secrets(lab, proc_stdout, proc_stderr, report_dir, "/path/to/file")

Collected from the running lab (real API reads with the lab's admin kubeconfig, cached per lab):

- the lab kubeconfig's user tokens (and any password / client-key-data);
- every ServiceAccount token Secret's ``token`` (istio-reader tokens among them);
- every private key in any Secret (``cacerts`` ``ca-key.pem``, ``istio-ca-secret``, TLS secrets);
- the tokens, passwords and keys inside kubeconfigs held in ``istio/multiCluster=true`` Secrets.

Each secret is searched raw, base64-encoded (as it sits in a Secret's data) and, for JWTs and PEM
keys, piece by piece (payload / signature segment, each body line of a key), so a truncated or
re-wrapped copy is caught too. Any ``PRIVATE KEY-----`` marker is a hit whatever its origin.
A failure message names where the hit is and a fingerprint of the secret, never the secret.
"""
import base64
import hashlib
import json
import os
import re

import yaml

_PEM_KEY_RE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(.*?)-----END [A-Z ]*PRIVATE KEY-----", re.S)
_MARKERS = ("PRIVATE KEY-----",)
_CACHE = {}


def _fp(value):
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:16]


def _b64(value):
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def _decode(value):
    try:
        return base64.b64decode(value).decode("utf-8")
    except Exception:
        return None


def needles_for(kind, value):
    """(needle, label) pairs for one secret value: the forms it could leak in."""
    out = []
    if not isinstance(value, str) or len(value.strip()) < 8:
        return out
    value = value.strip()
    label = "%s %s" % (kind, _fp(value))
    out.append((value, label))
    out.append((_b64(value), label + " (base64)"))
    if value.count(".") == 2 and value.startswith("eyJ"):   # a JWT: payload and signature are unique
        head, payload, sig = value.split(".")
        for part in (payload, sig):
            if len(part) >= 16:
                out.append((part, label + " (JWT segment)"))
    elif len(value) >= 24 and "\n" not in value and "-----" not in value and not value.startswith("LS0t"):
        out.append((value[:20], label + " (prefix)"))   # truncated messages still must not hold it
    for m in _PEM_KEY_RE.finditer(value):
        body = m.group(1)
        lines = [ln.strip() for ln in body.splitlines() if len(ln.strip()) >= 40]
        for ln in lines:
            out.append((ln, label + " (key body line)"))
        joined = "".join(body.split())
        if joined:
            out.append((joined, label + " (key body)"))
    return out


def _kubeconfig_secrets(cfg):
    out = []
    if not isinstance(cfg, dict):
        return out
    for u in cfg.get("users") or []:
        user = (u or {}).get("user") if isinstance(u, dict) else None
        if not isinstance(user, dict):
            continue
        for key in ("token", "password"):
            if isinstance(user.get(key), str):
                out.append(("kubeconfig user %s %s" % (u.get("name"), key), user[key]))
        if isinstance(user.get("client-key-data"), str):
            out.append(("kubeconfig user %s client-key-data" % u.get("name"), _decode(user["client-key-data"]) or ""))
            out.append(("kubeconfig user %s client-key-data" % u.get("name"), user["client-key-data"]))
    return out


def lab_secrets(lab, refresh=False):
    """[(kind, value)] of every credential the lab holds now (cached per state dir)."""
    key = os.path.abspath(lab.state_dir)
    if not refresh and key in _CACHE:
        return _CACHE[key]
    found = []
    with open(lab.kubeconfig, encoding="utf-8") as fh:
        found.extend(_kubeconfig_secrets(yaml.safe_load(fh)))
    for ctx in lab.contexts:
        proc = lab.kubectl("get", "secrets", "-A", "-o", "json", context=ctx)
        if proc.returncode != 0:
            continue   # a cluster under a fault: what it held was collected before (refresh=False)
        for s in json.loads(proc.stdout).get("items") or []:
            meta = s.get("metadata") or {}
            where = "%s secret %s/%s" % (ctx, meta.get("namespace"), meta.get("name"))
            for k, v in (s.get("data") or {}).items():
                text = _decode(v)
                if text is None:
                    continue
                if k == "token" and s.get("type") == "kubernetes.io/service-account-token":
                    found.append(("%s token" % where, text))
                elif "PRIVATE KEY" in text:
                    found.append(("%s %s" % (where, k), text))
                elif (meta.get("labels") or {}).get("istio/multiCluster") == "true":
                    try:
                        cfg = yaml.safe_load(text)
                    except yaml.YAMLError:
                        continue
                    for kind, val in _kubeconfig_secrets(cfg):
                        found.append(("%s key %s: %s" % (where, k, kind), val))
    _CACHE[key] = found
    return found


def _texts(items):
    for item in items:
        if item is None:
            continue
        if isinstance(item, bytes):
            yield "<bytes>", item.decode("utf-8", "replace")
        elif isinstance(item, str) and "\n" not in item and len(item) < 4096 and os.path.isdir(item):
            for base, _dirs, files in os.walk(item):
                for f in sorted(files):
                    path = os.path.join(base, f)
                    with open(path, "rb") as fh:
                        yield path, fh.read().decode("utf-8", "replace")
        elif isinstance(item, str) and "\n" not in item and len(item) < 4096 and os.path.isfile(item):
            with open(item, "rb") as fh:
                yield item, fh.read().decode("utf-8", "replace")
        else:
            yield "<text %d chars>" % len(str(item)), str(item)


def find_secrets(secrets, *texts_or_paths):
    """[(where, secret label)] for each leak found."""
    needles = []
    for kind, value in secrets:
        needles.extend(needles_for(kind, value))
    hits = []
    for where, text in _texts(texts_or_paths):
        for marker in _MARKERS:
            if marker in text:
                hits.append((where, "a PEM private key marker %r" % marker))
        for needle, label in needles:
            if needle in text:
                hits.append((where, label))
    return hits


def assert_no_secrets(lab, *texts_or_paths, extra=()):
    """Fail naming where each credential of ``lab`` (plus ``extra`` [(kind, value)]) was found."""
    secrets = list(lab_secrets(lab)) + list(extra)
    assert secrets, "leakcheck: no credential collected from the lab (nothing to look for)"
    hits = find_secrets(secrets, *texts_or_paths)
    assert not hits, "credentials leaked:\n" + "\n".join("  %s: %s" % h for h in sorted(set(hits)))
