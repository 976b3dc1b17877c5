"""Real X.509 for Istio's plug-in CA: a root, per-cluster intermediates, self-signed istiod roots."""

import base64
import datetime
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def pem_certs(text):
    """DER bytes of every certificate in a PEM bundle (empty for non-PEM text)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out = []
    for block in _PEM.findall(text or ""):
        body = "".join(block.splitlines()[1:-1])
        try:
            out.append(base64.b64decode(body))
        except ValueError:
            pass
    return out


def _name(cn, org="Istio", locality=None):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if locality:
        attrs.insert(0, x509.NameAttribute(NameOID.LOCALITY_NAME, locality))
    return x509.Name(attrs)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _ca_cert(subject, issuer, pub, signer, days, not_before=None, path_len=None):
    now = not_before or (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(pub)
         .serial_number(x509.random_serial_number()).not_valid_before(now)
         .not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                      crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False))
    return b.sign(signer, hashes.SHA256())


def make_root(cn="Root CA", days=3650):
    """{cert, key, cert_pem, key_pem} of a self-signed root."""
    key = _key()
    name = _name(cn)
    cert = _ca_cert(name, name, key.public_key(), key, days)
    return {"cert": cert, "key": key, "cert_pem": _pem_cert(cert), "key_pem": _pem_key(key)}


def make_intermediate(root, cluster, days=730, not_before=None):
    """cacerts files for one cluster: ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem."""
    key = _key()
    cert = _ca_cert(_name("Intermediate CA", locality=cluster), root["cert"].subject, key.public_key(),
                    root["key"], days, not_before=not_before, path_len=0)
    ca = _pem_cert(cert)
    return {"ca-cert.pem": ca, "ca-key.pem": _pem_key(key), "root-cert.pem": root["cert_pem"],
            "cert-chain.pem": ca + root["cert_pem"]}


def self_signed_istiod(cluster_id, org="cluster.local"):
    """What istiod writes to istio-ca-secret when no cacerts exists: its own root."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])
    cert = _ca_cert(name, name, key.public_key(), key, 3650)
    return {"ca-cert.pem": _pem_cert(cert), "ca-key.pem": _pem_key(key), "cert-chain.pem": "",
            "key.pem": _pem_key(key), "root-cert.pem": _pem_cert(cert)}


def cacerts_secret(files, namespace="istio-system"):
    """Secret cacerts as a manifest (base64 data, keys as Istio's docs create them)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "cacerts", "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(files.items())}}


def load_dir(path, suffix=""):
    """Istio's samples/certs layout (ca-cert{suffix}.pem ...) as cacerts files."""
    import os
    out = {}
    for k in ("ca-cert", "ca-key", "cert-chain"):
        with open(os.path.join(path, "%s%s.pem" % (k, suffix))) as f:
            out[k + ".pem"] = f.read()
    root = "root-cert-alt.pem" if suffix.startswith("-alt") else "root-cert.pem"
    with open(os.path.join(path, root)) as f:
        out["root-cert.pem"] = f.read()
    return out
