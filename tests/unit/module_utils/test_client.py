import socket

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import api_errors
from ansible_collections.meshmend.multicluster.plugins.module_utils import client as c
from ansible_collections.meshmend.multicluster.plugins.module_utils.client_transport import _exec_rc


def test_parse_and_describe_paths():
    assert api_errors.describe_ask("list", "/api/v1/namespaces/istio-system/secrets") == "list secrets in istio-system"
    assert api_errors.describe_ask("list", "/api/v1/secrets") == "list secrets at cluster scope"
    assert api_errors.describe_ask("get", "/api/v1/namespaces/istio-system") == "get namespaces/istio-system"
    assert api_errors.describe_ask("list", "/apis/apps/v1/namespaces/istio-system/deployments") == \
        "list deployments.apps in istio-system"
    assert api_errors.verb_for("GET", "/api/v1/namespaces/x/pods/p") == "get"
    assert api_errors.verb_for("PATCH", "/api/v1/namespaces/x/pods/p") == "patch"
    assert api_errors.api_path("gateways", "ns", group="networking.istio.io", version="v1beta1") == \
        "/apis/networking.istio.io/v1beta1/namespaces/ns/gateways"


def test_forbidden_message_names_cluster_and_ask():
    body = ('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets is forbidden: '
            'User \\"system:serviceaccount:x:y\\" cannot list resource \\"secrets\\" in API group \\"\\" in the namespace '
            '\\"istio-system\\"","reason":"Forbidden","details":{"kind":"secrets"},"code":403}')
    err = api_errors.map_http_error("cluster2", "list", "/api/v1/namespaces/istio-system/secrets", 403, body.encode())
    assert err.kind == "forbidden" and err.status == 403 and err.reason == "Forbidden"
    assert err.message.startswith("cluster2: cannot list secrets in istio-system: 403 Forbidden: secrets is forbidden")
    re_ = err.to_read_error()
    assert re_["verb"] == "list" and re_["resource"] == "secrets" and re_["namespace"] == "istio-system"


@pytest.mark.parametrize("status,kind", [(401, "unauthorized"), (404, "not_found"), (409, "conflict"),
                                         (422, "invalid"), (500, "server"), (503, "server"), (429, "server")])
def test_status_kinds(status, kind):
    err = api_errors.map_http_error("c1", "get", "/api/v1/namespaces/ns/pods/p", status, b"")
    assert err.kind == kind and err.message.startswith("c1: cannot get pods/p in ns: %d " % status)


def test_transport_errors():
    class E(Exception):
        pass
    tls = api_errors.map_transport_error("c1", "list", "/api/v1/pods",
                                         E("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1000)"))
    assert tls.kind == "tls" and "x509: unable to get local issuer certificate" in tls.message
    assert api_errors.map_transport_error("c1", "list", "/api/v1/pods", E("Read timed out. (read timeout=10)")).kind == "timeout"
    dns = api_errors.map_transport_error("c1", "list", "/api/v1/pods", E("[Errno -2] Name or service not known"))
    assert dns.kind == "unreachable" and "no such host" in dns.message


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _kubeconfig(server, token="tok-123456"):
    return {"apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "c", "users": [{"name": "u", "user": {"token": token}}]}


def test_connection_refused_is_unreachable_and_counted():
    k = c.get_client({"kubeconfig": _kubeconfig("https://127.0.0.1:%d" % _closed_port())}, cluster="cluster9")
    with pytest.raises(c.ClusterError) as ei:
        k.list("/api/v1/namespaces/istio-system/secrets", label_selector="istio/multiCluster=true")
    assert ei.value.kind == "unreachable"
    assert ei.value.message == "cluster9: cannot list secrets in istio-system: API server unreachable: connection refused"
    assert k.requests == 1  # refused connections are not retried


def test_bad_config():
    with pytest.raises(c.ClusterError) as ei:
        c.get_client({"kubeconfig": "/nonexistent/kubeconfig"}, cluster="c1")
    assert ei.value.kind == "bad_config" and "c1: kubeconfig file /nonexistent/kubeconfig does not exist" == ei.value.message
    with pytest.raises(c.ClusterError) as ei:
        c.get_client({"kubeconfig": _kubeconfig("https://127.0.0.1:1"), "context": "other"}, cluster="c1")
    assert ei.value.kind == "bad_config" and "context other is not in the kubeconfig" in ei.value.message


def test_dict_kubeconfig_secrets_go_to_no_log_values():
    class M(object):
        no_log_values = set()

        def warn(self, msg):
            self.warned = msg
    m = M()
    c.get_client({"kubeconfig": _kubeconfig("https://127.0.0.1:1", token="s3cr3t-token"), "validate_certs": False},
                 cluster="c1", module=m)
    assert "s3cr3t-token" in m.no_log_values and "TLS certificate verification is disabled" in m.warned


def test_auth_arg_spec_matches_kubernetes_core_names():
    for name in ("host", "api_key", "kubeconfig", "context", "username", "password", "client_cert", "client_key",
                 "ca_cert", "validate_certs", "proxy", "no_proxy", "proxy_headers", "persist_config",
                 "impersonate_user", "impersonate_groups", "request_timeout", "retries"):
        assert name in c.AUTH_ARG_SPEC
    assert c.AUTH_ARG_SPEC["api_key"]["no_log"] and c.AUTH_ARG_SPEC["password"]["no_log"]
    assert "K8S_AUTH_VERIFY_SSL" in c.AUTH_ARG_SPEC["validate_certs"]["fallback"][1]


def test_exec_rc():
    assert _exec_rc('{"metadata":{},"status":"Success"}') == 0
    assert _exec_rc('{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}') == 3
    assert _exec_rc("") == 0


def test_doc_fragment_matches_arg_spec():
    import yaml
    from ansible_collections.meshmend.multicluster.plugins.doc_fragments.auth import ModuleDocFragment
    opts = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(opts) == set(c.AUTH_ARG_SPEC)
    for name, spec in c.AUTH_ARG_SPEC.items():
        assert opts[name]["type"] == spec.get("type", "str"), name
        assert opts[name].get("default") == spec.get("default"), name
        assert sorted(opts[name].get("aliases", [])) == sorted(spec.get("aliases", [])), name
        assert opts[name].get("elements") == spec.get("elements"), name
    assert set(opts["proxy_headers"]["suboptions"]) == set(c.AUTH_PROXY_HEADERS_SPEC)


def test_only_the_context_in_use_is_loaded_and_its_credentials_go_to_no_log():
    """An inventory's kubeconfig holds one context per cluster: a cluster is read with its own, and no_log
    learns its credentials, not every other cluster's."""
    class M(object):
        no_log_values = set()

        def warn(self, msg):
            pass
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "a", "preferences": {},
           "clusters": [{"name": n, "cluster": {"server": "https://10.0.0.%d:6443" % i, "insecure-skip-tls-verify": True}}
                        for i, n in enumerate("abc", 1)],
           "contexts": [{"name": n, "context": {"cluster": n, "user": "u" + n}} for n in "abc"],
           "users": [{"name": "u" + n, "user": {"token": "token-of-cluster-" + n}} for n in "abc"]}
    m = M()
    cfg = c.build_configuration({"kubeconfig": doc, "context": "b"}, cluster="b", module=m)
    assert cfg.host == "https://10.0.0.2:6443"
    assert list(cfg.api_key.values()) == ["Bearer token-of-cluster-b"]
    assert m.no_log_values == {"token-of-cluster-b"}
    # the current context when none is named; a context that is not there is still refused, by name
    assert c.build_configuration({"kubeconfig": doc}, cluster="a").host == "https://10.0.0.1:6443"
    with pytest.raises(c.ClusterError) as ei:
        c.build_configuration({"kubeconfig": doc, "context": "z"}, cluster="z")
    assert "context z is not in the kubeconfig" in ei.value.message
