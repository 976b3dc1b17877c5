"""The meshlab CLI: list, up (state files), ctl stats/firewall/cluster/fault, generate, bad input."""
import json
import os
import socket
import ssl
import subprocess
import sys

import pytest
import yaml
from kubernetes import client

from labutil import ROOT, start_lab, LabError

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "plain")


def meshlab(*args, **kw):
    return subprocess.run([sys.executable, "-m", "meshlab"] + list(args), cwd=ROOT, capture_output=True, text=True,
                          timeout=60, **kw)


def test_list_names_bundled_scenarios():
    r = meshlab("list")
    assert r.returncode == 0, r.stderr
    base = os.path.join(ROOT, "meshlab", "scenarios")
    names = [ln.split()[0] for ln in r.stdout.splitlines() if ln.strip()]
    expected = sorted(d for d in os.listdir(base) if os.path.isfile(os.path.join(base, d, "lab.yaml")))
    assert names == expected
    for ln in r.stdout.splitlines():
        name = ln.split()[0]
        with open(os.path.join(base, name, "README.md"), encoding="utf-8") as f:
            first = next(x.strip().lstrip("#").strip() for x in f if x.strip())
        assert ln[len(name):].strip() == first


def test_state_files(plain_lab):
    kc = yaml.safe_load(open(plain_lab.kubeconfig))
    assert [c["name"] for c in kc["contexts"]] == ["cluster1", "cluster2", "cluster3"]
    assert oct(os.stat(plain_lab.kubeconfig).st_mode & 0o777) == "0o600"
    servers = {c["name"]: c["cluster"]["server"] for c in kc["clusters"]}
    for i, name in enumerate(["cluster1", "cluster2", "cluster3"], start=1):
        assert servers[name].startswith("https://127.0.%d.1:" % i)
        assert not servers[name].startswith("https://127.0.0.1")
    assert all(c["cluster"]["certificate-authority-data"] for c in kc["clusters"])
    assert all(u["user"]["token"] for u in kc["users"])
    inv = yaml.safe_load(open(plain_lab.inventory))
    hosts = inv["all"]["hosts"]
    assert list(hosts) == ["cluster1", "cluster2", "cluster3"]
    for name, h in hosts.items():
        assert h == {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                     "kube_context": name, "kubeconfig": os.path.abspath(plain_lab.kubeconfig)}


def test_tls_is_verified_against_the_lab_ca(plain_lab):
    kc = yaml.safe_load(open(plain_lab.kubeconfig))
    import base64
    ca = base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    url = kc["clusters"][0]["cluster"]["server"]
    host, port = url[len("https://"):].split(":")
    ctx = ssl.create_default_context(cadata=ca)
    with socket.create_connection((host, int(port))) as s:
        with ctx.wrap_socket(s, server_hostname=host) as tls:
            assert tls.version()
    with pytest.raises(ssl.SSLError):
        with socket.create_connection((host, int(port))) as s:
            ssl.create_default_context().wrap_socket(s, server_hostname=host)


def test_stats_count_requests_by_verb(plain_lab):
    plain_lab.ctl("reset-stats")
    st = plain_lab.stats()
    assert st["cluster2"] == {"requests": 0, "writes": 0, "verbs": {v: 0 for v in (
        "get", "list", "watch", "create", "update", "patch", "delete", "exec", "log")}}
    v1 = client.CoreV1Api(plain_lab.api_client("cluster2"))
    v1.list_namespaced_pod("default")
    v1.read_namespace("default")
    v1.create_namespaced_config_map("default", {"metadata": {"name": "stats"}})
    v1.patch_namespaced_config_map("stats", "default", {"data": {"a": "b"}})
    v1.delete_namespaced_config_map("stats", "default")
    v1.create_namespaced_config_map("default", {"metadata": {"name": "dry"}}, dry_run="All")
    st = plain_lab.stats()["cluster2"]
    assert st["requests"] == 6 and st["writes"] == 3
    assert st["verbs"] == {"get": 1, "list": 1, "watch": 0, "create": 2, "update": 0, "patch": 1, "delete": 1,
                           "exec": 0, "log": 0}
    assert plain_lab.stats()["cluster1"]["requests"] == 0


def test_firewall_rules(plain_lab):
    out = plain_lab.ctl_cli("firewall", "deny", "cluster1", "cluster2", "--port", "15443")
    assert out["rule"] == {"action": "deny", "from": "cluster1", "to": "cluster2", "port": 15443}
    out = plain_lab.ctl("firewall", "allow", "cluster1", "cluster2", "--port", "15443")
    assert out["firewall"][0]["action"] == "allow"
    with pytest.raises(LabError) as ei:
        plain_lab.ctl_cli("firewall", "deny", "cluster1", "nope")
    assert "unknown cluster 'nope'" in str(ei.value)


def _refused(url):
    host, port = url[len("https://"):].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def test_cluster_down_and_up_keeps_address(plain_lab):
    url = plain_lab.urls["cluster3"]
    out = plain_lab.ctl("cluster", "down", "cluster3")
    try:
        assert out == {"cluster": "cluster3", "up": False, "url": url}
        assert _refused(url)
        r = plain_lab.kubectl("get", "ns", context="cluster3", timeout=30)
        assert r.returncode == 1
        assert "connection refused" in r.stderr or ("The connection to the server %s was refused"
                                                    % url[len("https://"):]) in r.stderr
        assert plain_lab.kubectl("get", "ns", "default", context="cluster1").returncode == 0
    finally:
        out = plain_lab.ctl("cluster", "up", "cluster3")
    assert out == {"cluster": "cluster3", "up": True, "url": url}
    assert plain_lab.kubectl("get", "ns", "default", context="cluster3").returncode == 0


def test_faults_revoke_token_rbac_and_errors(plain_lab):
    v1 = client.CoreV1Api(plain_lab.api_client("cluster3"))
    try:
        plain_lab.ctl("fault", "cluster3", "revoke-token")
        with pytest.raises(client.ApiException) as ei:
            v1.list_namespace()
        assert ei.value.status == 401
        plain_lab.ctl("fault", "cluster3", "clear")
        plain_lab.ctl("fault", "cluster3", "rbac", "read-only")
        assert v1.list_namespace().items
        with pytest.raises(client.ApiException) as ei:
            v1.create_namespaced_config_map("default", {"metadata": {"name": "ro"}})
        assert ei.value.status == 403
        assert json.loads(ei.value.body)["message"] == (
            'configmaps is forbidden: User "kubernetes-admin" cannot create resource "configmaps" in API group "" in '
            'the namespace "default"')
        plain_lab.ctl("fault", "cluster3", "clear")
        plain_lab.ctl("fault", "cluster3", "errors", "1.0", "429")
        with pytest.raises(client.ApiException) as ei:
            v1.read_namespace("default")
        assert ei.value.status == 429 and ei.value.headers["Retry-After"] == "1"
        assert json.loads(ei.value.body)["reason"] == "TooManyRequests"
        plain_lab.ctl("fault", "cluster3", "clear")
        plain_lab.ctl("fault", "cluster3", "bad-cert")
        r = plain_lab.kubectl("get", "ns", "default", context="cluster3")
        assert r.returncode == 1 and "certificate" in r.stderr
    finally:
        plain_lab.ctl("fault", "cluster3", "clear")
    assert plain_lab.kubectl("get", "ns", "default", context="cluster3").returncode == 0


def test_bad_scenario_is_a_clear_error(tmp_path):
    r = meshlab("up", "no-such-scenario", "--state-dir", str(tmp_path / "s"))
    assert r.returncode == 2
    assert "unknown scenario 'no-such-scenario'" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad"
    (bad / "c1").mkdir(parents=True)
    (bad / "lab.yaml").write_text("clusters:\n- name: c1\n")
    (bad / "c1" / "x.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    r = meshlab("up", str(bad), "--state-dir", str(tmp_path / "s2"), "--no-istio")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert 'cluster c1: c1/x.yaml: no resource type for example.com/v1 Widget "w"' in r.stderr


def test_generate_plain_and_two_labs_side_by_side(tmp_path, plain_lab):
    out = tmp_path / "gen"
    r = meshlab("generate", "--plain", "--clusters", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    with start_lab(str(out), str(tmp_path / "state"), istio=False) as lab:
        # same loopback addresses as the session lab, other ports
        assert lab.urls["cluster1"].rsplit(":", 1)[0] == plain_lab.urls["cluster1"].rsplit(":", 1)[0]
        assert lab.urls["cluster1"] != plain_lab.urls["cluster1"]
        r = lab.kubectl("-n", "sample", "get", "deploy", context="cluster3")
        assert r.returncode == 0 and len(r.stdout.splitlines()) == 4
        assert lab.stats()["cluster3"]["verbs"]["list"] >= 1
