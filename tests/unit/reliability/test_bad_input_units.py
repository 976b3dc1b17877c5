"""Bad input at the unit level: every case ends in a message naming where it came from, never an
exception, and never the credential it carried (DESIGN.md section 7)."""
import base64
import os

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import api_errors, certs, client, kubeconfig, kubeconfig_loader
from ansible_collections.meshmend.multicluster.plugins.module_utils.facts import remote_secret_facts

TOKEN = "tok-" + "s3cr3t" * 8


def _bomb(levels=9):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append("a%d: &a%d [%s]" % (i, i, ",".join(["*a%d" % (i - 1)] * 9)))
    return "\n".join(lines) + "\n"


def _kubeconfig(server="https://10.0.0.1:6443", token=TOKEN, **user):
    u = dict({"token": token}, **user)
    return {"apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "users": [{"name": "u", "user": u}]}


# --------------------------------------------------------------------------- YAML limits

@pytest.mark.parametrize("doc,words", [
    (_bomb(), "alias bomb"),
    ("a: &a {x: *a}\n", "recursive"),
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ("x: " + "A" * (kubeconfig_loader.MAX_YAML_BYTES + 1), "bytes, more than"),
    ("\n".join("k%d: &k%d 1" % (i, i) for i in range(1200)) + "\nl: [" +
     ",".join("*k%d" % i for i in range(1200)) + "]\n", "aliases"),
])
def test_yaml_limits_refuse(doc, words):
    with pytest.raises(kubeconfig_loader.YamlLimitError) as err:
        kubeconfig_loader.safe_load(doc)
    assert words in str(err.value)


def test_yaml_limits_allow_ordinary_aliases_and_refuse_python_tags():
    assert kubeconfig_loader.safe_load("a: &a [1]\nb: *a\n") == {"a": [1], "b": [1]}
    import yaml
    with pytest.raises(yaml.YAMLError):
        kubeconfig_loader.safe_load("!!python/object/apply:os.system ['true']")


# --------------------------------------------------------------------------- remote secret values

def _secret(**data):
    return {"metadata": {"name": "istio-remote-secret-x", "namespace": "istio-system",
                         "labels": {"istio/multiCluster": "true"}}, "data": data}


def _b64(raw):
    return base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode()


@pytest.mark.parametrize("value,words", [
    ("not base64 at all!!", "not valid base64"),
    (_b64(os.urandom(512) + b"\xff\xfe"), "not UTF-8"),
    (_b64("x: " + "A" * (1 << 20)), "more than"),
    (_b64(_bomb()), "alias bomb"),
    (_b64("- just\n- a list\n"), "cannot unmarshal array"),   # clientcmd.Load's words
    (_b64(""), "kubeconfig is empty"),
    (_b64("{{{{"), "cannot be loaded: yaml"),
])
def test_remote_secret_value_is_an_entry_error(value, words):
    facts, configs = remote_secret_facts([_secret(cluster2=value)])
    entry = facts[0]["entries"][0]
    assert entry["key"] == "cluster2" and words in entry["error"], entry
    assert configs == {}


@pytest.mark.parametrize("mutate", [
    lambda c: c["clusters"][0]["cluster"].update(server=["https://a", "https://b"]),
    lambda c: c["users"][0].update(user="a string"),
    lambda c: c["users"][0]["user"].update(token={"nested": TOKEN}),
    lambda c: c["contexts"][0].update(context="just-a-name"),
    lambda c: c.update(clusters=[None, 5, "x"]),
    lambda c: c["clusters"][0]["cluster"].update({"certificate-authority-data": 12}),
    lambda c: c.update({"current-context": ["c"]}),
])
def test_kubeconfig_of_the_wrong_shape_is_named_not_raised(mutate):
    import yaml
    cfg = _kubeconfig()
    mutate(cfg)
    facts, _configs = remote_secret_facts([_secret(cluster2=_b64(yaml.safe_dump(cfg)))])
    entry = facts[0]["entries"][0]
    assert entry["error"], entry
    assert TOKEN not in repr(facts)
    assert kubeconfig.resolve(cfg).get("error") or entry["error_stage"] in ("load", "validate")


def test_summary_of_a_good_kubeconfig_holds_no_credential():
    import yaml
    facts, configs = remote_secret_facts([_secret(cluster2=_b64(yaml.safe_dump(_kubeconfig())))])
    assert facts[0]["entries"][0]["error"] is None and facts[0]["entries"][0]["fingerprint"].startswith("sha256:")
    assert TOKEN not in repr(facts)
    assert list(configs) == [("istio-system", "istio-remote-secret-x", "cluster2")]


# --------------------------------------------------------------------------- certificates

KEY_PEM = ("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg" + "Q" * 40 +
           "\n-----END PRIVATE KEY-----\n")


@pytest.mark.parametrize("data", [
    {"root-cert.pem": "not a certificate", "ca-cert.pem": "still not"},
    {"root-cert.pem": base64.b64encode(os.urandom(300)).decode()},
    {"root-cert.pem": base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").decode()},
    {"root-cert.pem": base64.b64encode(KEY_PEM.encode()).decode(), "ca-key.pem": base64.b64encode(KEY_PEM.encode()).decode()},
    {"ca.crt": None},
    {"something-else": "x"},
])
def test_cacerts_not_pem_is_an_error_not_an_exception(data):
    facts = certs.analyze_cacerts(data)
    assert facts["errors"], facts
    assert "PRIVATE KEY" not in repr(facts) and "QQQQQQQQ" not in repr(facts)


# --------------------------------------------------------------------------- kubeconfig files (the user's own)

@pytest.mark.parametrize("content,words", [
    (None, "does not exist"),
    ("clusters: 5\n", "kubeconfig"),
    ("\x00\x01\x02binary\xff", "kubeconfig"),
    ("", "kubeconfig"),
    ("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n", "context"),
])
def test_bad_kubeconfig_file_names_cluster_and_file(tmp_path, content, words):
    path = tmp_path / "kubeconfig"
    if content is not None:
        path.write_bytes(content.encode("latin-1"))
    with pytest.raises(client.ClusterError) as err:
        client.get_client({"kubeconfig": str(path), "context": "cluster7"}, cluster="cluster7")
    msg = err.value.message
    assert err.value.kind == "bad_config" and msg.startswith("cluster7: ") and words in msg, msg
    assert "Traceback" not in msg


def test_missing_context_is_named(tmp_path):
    import yaml
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(_kubeconfig()))
    with pytest.raises(client.ClusterError) as err:
        client.get_client({"kubeconfig": str(path), "context": "nosuch"}, cluster="cluster9")
    assert "cluster9" in err.value.message and "nosuch" in err.value.message
    assert TOKEN not in err.value.message


def test_inline_kubeconfig_bomb_is_refused():
    with pytest.raises(client.ClusterError) as err:
        client.get_client({"kubeconfig": _bomb(), "context": "c"}, cluster="c1")
    assert err.value.kind == "bad_config"


# --------------------------------------------------------------------------- retry policy (pure)

def test_retry_after_is_honoured_capped_and_case_insensitive():
    assert api_errors._retry_after({"Retry-After": "1"}, 0) == 1.0
    assert api_errors._retry_after({"retry-after": "2"}, 0) == 2.0
    assert api_errors._retry_after({"Retry-After": "3600"}, 0) == 5.0
    assert api_errors._retry_after({}, 0) == 0.1 and api_errors._retry_after(None, 3) == 0.8
    assert api_errors._retry_after(None, 10) == 2.0


def test_only_reads_are_retried_on_5xx_and_dropped_connections():
    assert api_errors._is_retryable(429, "PATCH") and api_errors._is_retryable(503, "GET")
    assert not api_errors._is_retryable(503, "PATCH") and not api_errors._is_retryable(500, "POST")
    assert not api_errors._is_retryable(404, "GET") and not api_errors._is_retryable(403, "GET")

    class Exc(Exception):
        pass
    dropped = api_errors.map_transport_error(
        "c1", "list", "/api/v1/pods",
        Exc("('Connection broken: IncompleteRead(49 bytes read, 4047 more expected)', IncompleteRead(49))"))
    assert dropped.kind == "unreachable" and dropped.detail == "connection dropped mid-response"
    assert api_errors._retryable_transport(dropped, "GET") and not api_errors._retryable_transport(dropped, "PATCH")
    lost = api_errors.map_transport_error("c1", "create", "/api/v1/namespaces/a/pods/p/exec",
                                          Exc("Connection to remote host was lost."))
    assert lost.detail == "connection dropped mid-response"
    refused = api_errors.map_transport_error("c1", "get", "/api/v1/namespaces/x",
                                             Exc("[Errno 111] Connection refused"))
    assert refused.kind == "unreachable" and not api_errors._retryable_transport(refused, "GET")


@pytest.mark.parametrize("content", [
    "apiVersion: v1\nusers:\n- name: u\n  user:\n    token: %s: x: [\n" % TOKEN,
    "apiVersion: v1\nusers:\n- name: u\n  user:\n    token: %s\n\t- broken\n" % TOKEN,
    "users: [{name: u, user: {token: %s}}]\ncontexts: {c: 5}\n" % TOKEN,
])
def test_kubeconfig_parse_errors_never_echo_the_line(tmp_path, content):
    """YAML errors can quote the offending line; the message must not carry the token on it."""
    path = tmp_path / "kubeconfig"
    path.write_text(content)
    with pytest.raises(client.ClusterError) as err:
        client.get_client({"kubeconfig": str(path), "context": "c"}, cluster="c9")
    assert TOKEN not in err.value.message and TOKEN[:20] not in err.value.message, err.value.message
    with pytest.raises(client.ClusterError) as err:
        client.get_client({"kubeconfig": content, "context": "c"}, cluster="c9")   # inline
    assert TOKEN not in err.value.message and TOKEN[:20] not in err.value.message, err.value.message
    _config, error = kubeconfig.load(content.encode())
    assert error is None or (TOKEN not in error and TOKEN[:20] not in error), error
