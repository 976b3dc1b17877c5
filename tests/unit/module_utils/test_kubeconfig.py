"""Remote-secret kubeconfigs judged as istiod judges them (pkg/kube/util.go NewUntrustedRestConfig at
1.30.3; client-go v0.35.3 tools/clientcmd validation.go for the "not valid" words). The release-by-release
corpus is tests/unit/upstream/test_kubeconfigs.py."""
import base64
import os

import yaml

from ansible_collections.meshmend.multicluster.plugins.module_utils import kubeconfig as kc

CERTS = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "upstream", "istio", "certs")
with open(os.path.join(CERTS, "root-cert.pem"), "rb") as _fh:
    ROOT_PEM = _fh.read()   # istio/istio samples/certs/root-cert.pem at 1.30.3: a certificate that parses
EXEC = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws"}   # v1beta1: interactiveMode defaulted


def config(user, server="https://127.0.2.1:6443", ca=ROOT_PEM):
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
    # istiod checks len(value) == 0 only; blanks load as an empty Config, which clientcmd.Validate calls empty
    assert summarize(b"   \n")["error"] == ("kubeconfig is not valid: invalid configuration: no configuration has "
                                            "been provided, try setting KUBERNETES_MASTER environment variable")
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
    """sanitizeKubeConfig's words; files named by client-key / client-certificate must exist in istiod's
    container or clientcmd.Validate refuses them first (``unable to read client-key ...``)."""
    cases = {
        "exec": ({"exec": EXEC}, "kubeconfig is not allowed: exec is not allowed", "not_allowed"),
        "token_file": ({"tokenFile": "/var/run/token"}, "kubeconfig is not allowed: tokenFile is not allowed",
                       "not_allowed"),
        "client_key": ({"client-key": "/k.pem", "client-certificate-data": "eA=="},
                       "kubeconfig is not valid: invalid configuration: unable to read client-key /k.pem for cluster2 "
                       "due to open /k.pem: no such file or directory", "validate"),
        "auth_provider:gcp": ({"auth-provider": {"name": "gcp"}}, "kubeconfig is not allowed: auth provider gcp is not "
                              "allowed", "not_allowed"),
    }
    for auth, (user, words, stage) in cases.items():
        e = summarize(config(user))
        assert e["error"] == words, auth
        assert e["auth"] == auth and e["error_stage"] == stage
    e = summarize(config({"client-certificate": "/c.pem"}))
    assert e["auth"] == "client_certificate" and e["error_stage"] == "validate"
    assert "client-key-data or client-key must be specified for cluster2" in e["error"]
    assert "unable to read client-cert /c.pem for cluster2 due to open /c.pem: no such file or directory" in e["error"]
    # a file istiod's pod does hold passes Validate and meets sanitizeKubeConfig
    sa = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    e = summarize(config({"client-key": sa, "client-certificate": sa}))
    assert e["error"] == "kubeconfig is not allowed: clientKey is not allowed"


def test_oidc_and_inline_client_cert_allowed():
    e = summarize(config({"auth-provider": {"name": "oidc", "config": {
        "id-token": "x", "idp-issuer-url": "https://i", "client-id": "c"}}}))
    assert e["error"] is None and e["auth"] == "oidc"
    # client-go's oidc plugin needs a client-id when istiod builds the client
    e = summarize(config({"auth-provider": {"name": "oidc", "config": {"id-token": "x", "idp-issuer-url": "https://i"}}}))
    assert e["error"] == "failed to create kube clients: Must provide client-id" and e["error_stage"] == "client"
    with open(os.path.join(CERTS, "workload-foo-cert.pem"), "rb") as c, open(os.path.join(CERTS, "workload-foo-key.pem"),
                                                                             "rb") as k:
        e = summarize(config({"client-certificate-data": base64.b64encode(c.read()).decode(),
                              "client-key-data": base64.b64encode(k.read()).decode()}))
    assert e["error"] is None and e["auth"] == "client_cert_data"


def test_allowlist_like_pilot_insecure_options():
    cfg = config({"exec": EXEC})
    entry = kc.summarize("k", yaml.safe_dump(cfg), allowlist=["exec"])[0]
    assert entry["error"] is None
    # istiod splits the variable on "," without trimming: " exec" is not "exec"
    assert kc.summarize("k", yaml.safe_dump(cfg), allowlist=["tokenFile", " exec"])[0]["error_stage"] == "not_allowed"


def test_refusal_checks_every_user_not_only_current():
    cfg = config({"token": "t"})
    cfg["users"].append({"name": "other", "user": {"exec": EXEC}})
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
    assert kc.resolve(config({"exec": EXEC}))["error"] == "kubeconfig is not allowed: exec is not allowed"
    # an allowed tokenFile that istiod's container holds: istiod uses it, the controller cannot read it
    r = kc.resolve(config({"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}), allowlist=["tokenFile"])
    assert r["error"] is None and r["token"] is None and "tokenFile" in r["unprobeable"]
    # one it does not hold: ClientConfig() reads it and fails (istio 1.21+ returns the error unwrapped)
    r = kc.resolve(config({"tokenFile": "/var/run/t"}), allowlist=["tokenFile"])
    assert r["error"] == "open /var/run/t: no such file or directory"
