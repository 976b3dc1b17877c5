import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.meshmend.multicluster.plugins.module_utils import certs
import refdata  # noqa: E402

NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.timezone.utc)


def _read(name):
    with open(refdata.path("istio", "certs", name), "rb") as f:
        return f.read()


def plugin(root, ca, chain=None):
    data = {"root-cert.pem": _read(root), "ca-cert.pem": _read(ca), "ca-key.pem": b"PRIVATE KEY MATERIAL"}
    if chain:
        data["cert-chain.pem"] = _read(chain)
    return data


def test_alt_and_alt2_share_one_root():
    c1 = certs.analyze_cacerts(plugin("root-cert-alt.pem", "ca-cert-alt.pem", "cert-chain-alt.pem"), now=NOW, decoded=True)
    c2 = certs.analyze_cacerts(plugin("root-cert-alt.pem", "ca-cert-alt-2.pem", "cert-chain-alt-2.pem"), now=NOW, decoded=True)
    assert c1["chain_valid"] and c2["chain_valid"] and c1["errors"] == [] == c2["errors"]
    assert c1["root"]["fingerprint"] == c2["root"]["fingerprint"]
    assert c1["ca"]["fingerprint"] != c2["ca"]["fingerprint"]
    assert c1["layout"] == "plugin" and c1["key_present"] is True
    assert "PRIVATE KEY" not in repr(c1)


def test_plain_vs_alt_root_mismatch_and_wrong_pairing():
    plain = certs.analyze_cacerts(plugin("root-cert.pem", "ca-cert.pem", "cert-chain.pem"), now=NOW, decoded=True)
    alt = certs.analyze_cacerts(plugin("root-cert-alt.pem", "ca-cert-alt.pem"), now=NOW, decoded=True)
    assert plain["chain_valid"] and alt["chain_valid"]
    assert plain["root"]["fingerprint"] != alt["root"]["fingerprint"]
    wrong = certs.analyze_cacerts(plugin("root-cert.pem", "ca-cert-alt.pem"), now=NOW, decoded=True)
    assert wrong["chain_valid"] is False
    assert any("ca-cert.pem is not signed by root-cert.pem" in e for e in wrong["errors"])


def test_base64_secret_data_and_configmap():
    import base64
    data = dict((k, base64.b64encode(v).decode()) for k, v in plugin("root-cert-alt.pem", "ca-cert-alt.pem").items())
    c = certs.analyze_cacerts(data, now=NOW)
    cm = certs.analyze_root_configmap({"root-cert.pem": _read("root-cert-alt.pem").decode()}, now=NOW)
    assert c["chain_valid"] and cm["fingerprint"] == c["root"]["fingerprint"] and cm["subject"] == "CN=Root CA,O=Istio"
    combined = certs.analyze_root_configmap({"root-cert.pem": _read("root-cert-combined.pem").decode()}, now=NOW)
    assert len(combined["roots"]) == 2


def _make(subject, issuer_name, key, issuer_key, not_before, not_after, ca=True):
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return b.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _pair(root_after, ca_after):
    rk, ck = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    start = NOW - datetime.timedelta(days=400)
    root = _make("Root CA", "Root CA", rk, rk, start, root_after)
    ca = _make("Intermediate CA", "Root CA", ck, rk, start, ca_after)
    return {"root-cert.pem": root, "ca-cert.pem": ca, "cert-chain.pem": ca + root}


def test_expired_intermediate():
    c = certs.analyze_cacerts(_pair(NOW + datetime.timedelta(days=3650), NOW - datetime.timedelta(days=1)),
                              now=NOW, decoded=True)
    assert c["chain_valid"] is True and c["ca"]["expired"] is True
    assert any(e.startswith("ca-cert expired on") for e in c["errors"])


def test_expiring_root_warns():
    c = certs.analyze_cacerts(_pair(NOW + datetime.timedelta(days=10), NOW + datetime.timedelta(days=5)),
                              now=NOW, decoded=True)
    assert c["errors"] == []
    assert c["root"]["expiring"] and c["ca"]["expiring"] and c["ca"]["days_left"] in (4, 5)
    assert len(c["warnings"]) == 2


def test_not_pem_and_cert_manager_layout():
    c = certs.analyze_cacerts({"root-cert.pem": b"garbage", "ca-cert.pem": b"also garbage"}, now=NOW, decoded=True)
    assert "root-cert.pem is not PEM" in c["errors"] and c["chain_valid"] is None
    p = _pair(NOW + datetime.timedelta(days=3650), NOW + datetime.timedelta(days=365))
    cm = certs.analyze_cacerts({"ca.crt": p["root-cert.pem"], "tls.crt": p["ca-cert.pem"], "tls.key": b"k"},
                               now=NOW, decoded=True)
    assert cm["layout"] == "cert-manager" and cm["chain_valid"] and cm["key_present"]


def test_fingerprint_format():
    fp = certs.fingerprint(b"abc")
    assert fp == "sha256:ba7816bf8f01cfea"
