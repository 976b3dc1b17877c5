import base64

import yaml

from ansible_collections.meshmend.multicluster.plugins.module_utils import kubeconfig as kc


def config(user, server="https://127.0.2.1:6443", ca=b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"):
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "cluster2",
                      "cluster": {"server": server, "certificate-authority-data": base64.b64encode(ca).decode()}}],
        "contexts": [{"name": "cluster2", "context": {"cluster": "cluster2", "user": "cluster2"}}],
        "current-context": "cluster2",
        "users": [{"name": "cluster2", "user": user}],
    }


def summarize(cfg):
    raw = yaml.safe_dump(cfg).encode() if not isinstance(cfg, (bytes, str)) else cfg
    return kc.summarize("cluster2", raw)[0]


SECRET_TOKEN = "eyJhbGciOiJSUzI1NiJ9.secret-token-value"


def test_token_kubeconfig_is_accepted_and_has_no_secret():
    e = summarize(config({"token": SECRET_TOKEN}))
    assert e["error"] is None and e["auth"] == "token" and e["server"] == "https://127.0.2.1:6443"
    assert e["fingerprint"].startswith("sha256:") and len(e["fingerprint"]) == 23
    assert e["ca_fingerprint"].startswith("sha256:")
    assert SECRET_TOKEN not in repr(e)
    assert e["loopback"] is False


def test_empty_and_unparsable():
    assert summarize(b"")["error"] == "kubeconfig is empty"
    assert summarize(b"   \n")["error"] == "kubeconfig is empty"
    e = summarize(b"clusters: [unclosed")
    assert e["error"].startswith("kubeconfig cannot be loaded: ") and e["error_stage"] == "load"
    assert summarize(b"- a\n- b\n")["error"].startswith("kubeconfig cannot be loaded: ")


def test_not_valid():
    cfg = config({"token": "t"})
    cfg["current-context"] = "nope"
    e = summarize(cfg)
    assert e["error"] == "kubeconfig is not valid: invalid configuration: context was not found for specified context: nope"
    cfg = config({"token": "t"}, server="")
    assert "no server found for cluster" in summarize(cfg)["error"]


def test_refused_auth_kinds_in_istiod_words():
    cases = {
        "exec": ({"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws"}}, "exec is not allowed"),
        "token_file": ({"tokenFile": "/var/run/token"}, "tokenFile is not allowed"),
        "client_key": ({"client-key": "/k.pem", "client-certificate-data": "eA=="}, "clientKey is not allowed"),
        "client_certificate": ({"client-certificate": "/c.pem"}, "clientCertificate is not allowed"),
        "auth_provider:gcp": ({"auth-provider": {"name": "gcp"}}, "auth provider gcp is not allowed"),
    }
    for auth, (user, words) in cases.items():
        e = summarize(config(user))
        assert e["error"] == "kubeconfig is not allowed: " + words, auth
        assert e["auth"] == auth and e["error_stage"] == "not_allowed"


def test_oidc_and_inline_client_cert_allowed():
    e = summarize(config({"auth-provider": {"name": "oidc", "config": {"id-token": "x", "idp-issuer-url": "https://i"}}}))
    assert e["error"] is None and e["auth"] == "oidc"
    e = summarize(config({"client-certificate-data": "eA==", "client-key-data": "eQ=="}))
    assert e["error"] is None and e["auth"] == "client_cert_data"


def test_allowlist_like_pilot_insecure_options():
    cfg = config({"exec": {"command": "aws"}})
    entry = kc.summarize("k", yaml.safe_dump(cfg), allowlist=["exec"])[0]
    assert entry["error"] is None


def test_refusal_checks_every_user_not_only_current():
    cfg = config({"token": "t"})
    cfg["users"].append({"name": "other", "user": {"exec": {"command": "x"}}})
    assert summarize(cfg)["error"] == "kubeconfig is not allowed: exec is not allowed"


def test_loopback_servers():
    for s in ("https://127.0.0.1:6443", "https://localhost:6443", "https://[::1]:6443"):
        assert summarize(config({"token": "t"}, server=s))["loopback"] is True, s
    # the lab's per-cluster addresses are not the loopback istioctl warns about
    assert kc.is_loopback_server("https://127.0.2.1:6443") is False
    assert kc.is_loopback_server("https://api.example.com") is False


def test_resolve_holds_what_a_probe_needs():
    r = kc.resolve(config({"token": "abc"}))
    assert r["error"] is None and r["token"] == "abc" and r["ca_data"].startswith("-----BEGIN")
    assert kc.resolve(config({"exec": {"command": "x"}}))["error"] == "kubeconfig is not allowed: exec is not allowed"
