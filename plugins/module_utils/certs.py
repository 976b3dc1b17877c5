# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 facts for the root of trust: fingerprints, subjects, chain validation, expiry.

Only certificates are ever parsed. Key material (``ca-key.pem``, ``tls.key``) is never read:
facts record that the key is present, nothing else.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import hashlib

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as _exc:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = _exc

EXPIRING_DAYS = 30

# Secret cacerts layouts: plug-in (root-cert.pem, ca-cert.pem, cert-chain.pem, ca-key.pem) or cert-manager
# (ca.crt, tls.crt, tls.key).
KEY_KEYS = ("ca-key.pem", "tls.key")


def fingerprint(data):
    """``sha256:`` + first 16 hex chars of SHA-256: how facts name any secret or blob."""
    if data is None:
        return None
    if not isinstance(data, bytes):
        data = str(data).encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]


def _utc(dt):
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt


def _iso(dt):
    return _utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def _not_before(cert):
    return _utc(getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before)


def _not_after(cert):
    return _utc(getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def load_pem_certs(pem):
    """Every certificate in a PEM bundle. Raises ValueError with a short reason."""
    if not HAS_CRYPTOGRAPHY:
        raise ValueError("the cryptography library is not installed")
    if isinstance(pem, str):
        pem = pem.encode("utf-8")
    if not pem or b"-----BEGIN CERTIFICATE-----" not in pem:
        raise ValueError("not PEM")
    try:
        if hasattr(x509, "load_pem_x509_certificates"):
            return list(x509.load_pem_x509_certificates(pem))
        out = []
        for block in pem.split(b"-----END CERTIFICATE-----")[:-1]:
            out.append(x509.load_pem_x509_certificate(block + b"-----END CERTIFICATE-----\n"))
        return out
    except ValueError as exc:
        raise ValueError("not a valid PEM certificate (%s)" % str(exc).split("\n", maxsplit=1)[0][:80])


def cert_summary(cert, now=None, expiring_days=EXPIRING_DAYS):
    """Public facts of one certificate (fingerprint of the DER encoding)."""
    now = now or now_utc()
    der = cert.public_bytes(serialization.Encoding.DER)
    is_ca = False
    try:
        is_ca = bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        pass
    not_after = _not_after(cert)
    not_before = _not_before(cert)
    days_left = (not_after - now).total_seconds() / 86400.0
    return {
        "fingerprint": fingerprint(der),
        "sha256": hashlib.sha256(der).hexdigest(),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": _iso(not_before),
        "not_after": _iso(not_after),
        "is_ca": is_ca,
        "self_signed": cert.subject == cert.issuer,
        "expired": now > not_after,
        "not_yet_valid": now < not_before,
        "expiring": (not now > not_after) and days_left <= expiring_days,
        "days_left": int(days_left) if days_left >= 0 else int(days_left) - 1,
    }


def signed_by(child, issuer):
    """True when ``issuer`` signed ``child`` (names and signature)."""
    if child.issuer != issuer.subject:
        return False
    try:
        if hasattr(child, "verify_directly_issued_by"):
            child.verify_directly_issued_by(issuer)
            return True
    except Exception:
        return False
    return False  # pragma: no cover - cryptography < 40 is not supported


def _decode_data(data):
    """Secret data values are base64; accept already-decoded bytes/str too."""
    out = {}
    for k, v in (data or {}).items():
        if v is None:
            out[k] = b""
            continue
        if isinstance(v, bytes):
            out[k] = v
            continue
        try:
            out[k] = base64.b64decode(v, validate=True)
        except Exception:
            out[k] = v.encode("utf-8")
    return out


def _time_errors(name, summary, errors, warnings):
    if summary["expired"]:
        errors.append("%s expired on %s" % (name, summary["not_after"]))
    elif summary["not_yet_valid"]:
        errors.append("%s is not valid before %s" % (name, summary["not_before"]))
    elif summary["expiring"]:
        warnings.append("%s expires on %s (in %d days)" % (name, summary["not_after"], summary["days_left"]))


def analyze_cacerts(data, now=None, expiring_days=EXPIRING_DAYS, decoded=False):
    """The ``cacerts`` facts from Secret data (base64 values unless ``decoded``).

    Returns layout, root, ca, chain, chain_valid, errors, warnings, keys, key_present.
    ``ca-key.pem`` / ``tls.key`` are never decoded.
    """
    now = now or now_utc()
    raw = dict(data or {})
    keys = sorted(raw)
    key_present = any(k in raw and raw[k] for k in KEY_KEYS)
    for k in KEY_KEYS:  # never decode key material
        raw.pop(k, None)
    values = raw if decoded else _decode_data(raw)
    if "root-cert.pem" in values or "ca-cert.pem" in values:
        layout, root_key, ca_key, chain_key = "plugin", "root-cert.pem", "ca-cert.pem", "cert-chain.pem"
    elif "ca.crt" in values or "tls.crt" in values:
        layout, root_key, ca_key, chain_key = "cert-manager", "ca.crt", "tls.crt", None
    else:
        layout, root_key, ca_key, chain_key = "unknown", None, None, None
    facts = {"layout": layout, "keys": keys, "key_present": key_present, "root": None, "roots": [],
             "ca": None, "chain": [], "chain_valid": None, "errors": [], "warnings": []}
    errors, warnings = facts["errors"], facts["warnings"]
    if layout == "unknown":
        errors.append("cacerts holds none of root-cert.pem, ca-cert.pem, ca.crt, tls.crt")
        return facts
    roots, ca_certs = [], []
    if root_key in values:
        try:
            roots = load_pem_certs(values[root_key])
        except ValueError as exc:
            errors.append("%s is %s" % (root_key, exc))
    else:
        errors.append("%s is missing" % root_key)
    if ca_key in values:
        try:
            ca_certs = load_pem_certs(values[ca_key])
        except ValueError as exc:
            errors.append("%s is %s" % (ca_key, exc))
    else:
        errors.append("%s is missing" % ca_key)
    if roots:
        facts["roots"] = [cert_summary(c, now, expiring_days) for c in roots]
        facts["root"] = facts["roots"][0]
        for i, s in enumerate(facts["roots"]):
            _time_errors("root certificate %s" % s["subject"] if i else "root-cert", s, errors, warnings)
    if ca_certs:
        facts["ca"] = cert_summary(ca_certs[0], now, expiring_days)
        _time_errors("ca-cert", facts["ca"], errors, warnings)
    chain_certs = []
    if chain_key and chain_key in values:
        try:
            chain_certs = load_pem_certs(values[chain_key])
            facts["chain"] = [cert_summary(c, now, expiring_days) for c in chain_certs]
        except ValueError as exc:
            errors.append("%s is %s" % (chain_key, exc))
    if roots and ca_certs:
        ca = ca_certs[0]
        # Walk from ca-cert through cert-chain (intermediates) up to one of the roots.
        pool = chain_certs[1:] + ca_certs[1:]
        current, ok, hops = ca, False, 0
        while hops < 10:
            hops += 1
            if any(signed_by(current, r) for r in roots) or any(
                    current.public_bytes(serialization.Encoding.DER) == r.public_bytes(serialization.Encoding.DER)
                    for r in roots):
                ok = True
                break
            nxt = [c for c in pool if signed_by(current, c)]
            if not nxt:
                break
            current = nxt[0]
        facts["chain_valid"] = ok
        if not ok:
            errors.append("%s is not signed by %s (issuer %s, root %s)"
                          % (ca_key, root_key, facts["ca"]["issuer"], facts["root"]["subject"]))
        if chain_certs and chain_certs[0].public_bytes(serialization.Encoding.DER) != ca.public_bytes(
                serialization.Encoding.DER):
            warnings.append("cert-chain.pem does not start with ca-cert.pem")
    return facts


def analyze_root_configmap(data, now=None, expiring_days=EXPIRING_DAYS):
    """ConfigMap istio-ca-root-cert (key root-cert.pem, plain text): the root istiod really uses."""
    pem = (data or {}).get("root-cert.pem")
    if not pem:
        return {"fingerprint": None, "subject": None, "not_after": None, "roots": [],
                "errors": ["istio-ca-root-cert has no root-cert.pem"]}
    try:
        certs = load_pem_certs(pem)
    except ValueError as exc:
        return {"fingerprint": None, "subject": None, "not_after": None, "roots": [],
                "errors": ["root-cert.pem is %s" % exc]}
    roots = [cert_summary(c, now, expiring_days) for c in certs]
    first = roots[0]
    return {"fingerprint": first["fingerprint"], "subject": first["subject"], "issuer": first["issuer"],
            "not_after": first["not_after"], "expired": first["expired"], "expiring": first["expiring"],
            "roots": roots, "errors": []}
