"""The cluster-side modules and gather against a running lab (real HTTPS, real kubernetes client).

- gather on healthy scenarios: the facts, and at most 15 API requests per cluster (``ctl stats``);
- faults injected with kubectl show in the facts; an unreachable cluster and a forbidden read do not raise;
- each module through ``ansible localhost -m meshmend.multicluster.X`` with the repo's ansible.cfg.
"""
import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import labutil  # noqa: E402  (tests/labutil.py)

from ansible_collections.meshmend.multicluster.plugins.module_utils import api_errors  # noqa: E402
from ansible_collections.meshmend.multicluster.plugins.module_utils import client as kclient  # noqa: E402
from ansible_collections.meshmend.multicluster.plugins.module_utils.facts import ALL_SECTIONS
from ansible_collections.meshmend.multicluster.plugins.module_utils import gather  # noqa: E402
from leakcheck import assert_no_secrets, lab_secrets  # noqa: E402  (tests/integration/leakcheck.py)

BIN = os.path.dirname(sys.executable)
MAX_REQUESTS = 15

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    with labutil.start_lab("healthy-multinetwork", str(tmp_path_factory.mktemp("healthy"))) as lab:
        lab_secrets(lab)   # the credentials to look for, read while every cluster is up
        yield lab


def _peers(lab):
    with open(lab.kubeconfig) as f:
        kc = yaml.safe_load(f)
    return dict((c["cluster"]["server"], c["name"]) for c in kc["clusters"])


def _gather(lab, ctx, **opts):
    c = kclient.get_client({"kubeconfig": lab.kubeconfig, "context": ctx}, cluster=ctx)
    o = {"peers": _peers(lab)}
    o.update(opts)
    return gather.gather_cluster(c, o)


def _ansible(lab, module, args):
    """Run one module through the ansible CLI (one-line JSON output) and return its result."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    args = dict(args, kubeconfig=lab.kubeconfig)
    cmd = [os.path.join(BIN, "ansible"), "localhost", "-o", "-m", "meshmend.multicluster.%s" % module,
           "-a", json.dumps(args)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    if getattr(lab, "state_dir", None):   # a running lab (not a stand-in with a missing kubeconfig)
        assert_no_secrets(lab, proc.stdout, proc.stderr)
    line = [x for x in proc.stdout.splitlines() if x.startswith("localhost | ")][-1]
    status, payload = line.split(" => ", 1)
    result = json.loads(payload)
    result["_status"] = status.split("|", 1)[1].strip()
    return result


def test_gather_healthy_within_budget(healthy):
    healthy.ctl("reset-stats")
    facts = dict((ctx, _gather(healthy, ctx)) for ctx in ("cluster1", "cluster2"))
    stats = healthy.stats()
    for ctx, f in facts.items():
        assert f["reachable"] and f["error"] is None and f["read_errors"] == []
        # what the lab counted is what gather says it made, and within budget
        assert stats[ctx]["requests"] == f["requests"] <= MAX_REQUESTS
        assert stats[ctx]["writes"] == 0
        assert f["istiod"]["cluster_id"] == ctx and "role" not in f and f["mesh_id"] == "mesh1"
        assert f["clusterz"] and all(c["syncStatus"] == "synced" for c in f["clusterz"])
        assert f["istiod_log"]["errors"] == []
        assert [g["name"] for g in f["gateways"]] == ["istio-eastwestgateway"]
        assert not f["gateways"][0]["pending"] and f["gateways"][0]["addresses"]
        assert f["cacerts"]["chain_valid"] is True
        [rs] = f["remote_secrets"]
        [entry] = rs["entries"]
        assert entry["error"] is None and entry["auth"] == "token" and entry["server_cluster"] != ctx
        assert entry["probe"] is None  # auto: istiod reports it synced, no probe
        # the client proxy sees one local pod IP and the peer's gateway
        eps = f["proxy"]["endpoints"]
        assert f["proxy"]["error"] is None and len(eps) == 2
        assert any(e["port"] == 15443 for e in eps)
    assert facts["cluster1"]["network"] == "network1" and facts["cluster2"]["network"] == "network2"
    assert facts["cluster1"]["cacerts"]["root"]["fingerprint"] == facts["cluster2"]["cacerts"]["root"]["fingerprint"]


def test_gather_probe_uses_the_secret_credentials(healthy):
    f = _gather(healthy, "cluster1", probe_remote_secrets=True)
    [entry] = f["remote_secrets"][0]["entries"]
    assert entry["probe"] == {"ok": True, "tried_from": "controller", "error": None, "cluster": "cluster2",
                              "server": entry["server"]}
    assert f["probe_requests"] == 1
    # no credential in the facts
    secret = healthy.kubectl("get", "secret", "-n", "istio-system", "istio-remote-secret-cluster2",
                             "-o", "json", context="cluster1", check=True)
    data = json.loads(secret.stdout)["data"]["cluster2"]
    import base64
    token = yaml.safe_load(base64.b64decode(data))["users"][0]["user"]["token"]
    assert token not in json.dumps(f)


def test_injected_faults_show_in_facts(healthy):
    healthy.kubectl("label", "namespace", "istio-system", "topology.istio.io/network-", context="cluster2", check=True)
    healthy.kubectl("patch", "service", "istio-eastwestgateway", "-n", "istio-system", "--type", "merge", "-p",
                    json.dumps({"spec": {"externalIPs": ["192.0.2.50"]}}), context="cluster2", check=True)
    try:
        f = _gather(healthy, "cluster2")
        assert f["namespace"]["labels"].get("topology.istio.io/network") is None
        assert f["network"] == "network2"  # falls back to values.global.network
        values = [a["value"] for a in f["gateways"][0]["addresses"]]
        assert "192.0.2.50" in values
    finally:
        healthy.kubectl("label", "namespace", "istio-system", "topology.istio.io/network=network2", "--overwrite",
                        context="cluster2", check=True)
        healthy.kubectl("patch", "service", "istio-eastwestgateway", "-n", "istio-system", "--type", "merge", "-p",
                        json.dumps({"spec": {"externalIPs": None}}), context="cluster2", check=True)


def test_unreachable_cluster_gives_facts_not_exception(healthy):
    healthy.ctl("cluster", "down", "cluster2")
    try:
        f = _gather(healthy, "cluster2")
    finally:
        healthy.ctl("cluster", "up", "cluster2")
    assert f["reachable"] is False and f["error_kind"] == "unreachable"
    assert f["error"].startswith("cluster2: cannot get namespaces/istio-system: API server unreachable")
    assert f["requests"] == 1


def test_bad_kubeconfig_context_is_clear():
    with pytest.raises(kclient.ClusterError) as ei:
        kclient.get_client({"kubeconfig": os.path.join(ROOT, "nonexistent"), "context": "x"}, cluster="clusterX")
    assert ei.value.kind == "bad_config" and ei.value.message.startswith("clusterX: ")


def test_client_error_kinds_live(healthy):
    c = kclient.get_client({"kubeconfig": healthy.kubeconfig, "context": "cluster1"}, cluster="cluster1")
    with pytest.raises(kclient.ClusterError) as ei:
        c.get(api_errors.api_path("secrets", "istio-system", "nope"))
    assert ei.value.kind == "not_found" and ei.value.status == 404
    assert ei.value.message.startswith('cluster1: cannot get secrets/nope in istio-system: 404 Not Found')
    # a wrong token: 401
    with open(healthy.kubeconfig) as f:
        kc = yaml.safe_load(f)
    for u in kc["users"]:
        u["user"] = {"token": "not-a-valid-token"}
    bad = kclient.get_client({"kubeconfig": kc, "context": "cluster1"}, cluster="cluster1")
    with pytest.raises(kclient.ClusterError) as ei:
        bad.list(api_errors.api_path("pods"))
    assert ei.value.kind == "unauthorized" and "401" in ei.value.message
    # TLS: the right server with a CA that did not sign it
    kc2 = yaml.safe_load(open(healthy.kubeconfig))
    ca_of = dict((cl["name"], cl["cluster"].get("certificate-authority-data")) for cl in kc2["clusters"])
    if ca_of.get("cluster1") and ca_of.get("cluster2") and ca_of["cluster1"] != ca_of["cluster2"]:
        for cl in kc2["clusters"]:
            if cl["name"] == "cluster1":
                cl["cluster"]["certificate-authority-data"] = ca_of["cluster2"]
        tls = kclient.get_client({"kubeconfig": kc2, "context": "cluster1"}, cluster="cluster1")
        with pytest.raises(kclient.ClusterError) as ei:
            tls.list(api_errors.api_path("pods"))
        assert ei.value.kind == "tls" and "x509" in ei.value.message
    # exec into a container that does not have the command
    pods = c.list(api_errors.api_path("pods", "sample"), label_selector="app=sleep")
    out, err, rc = c.exec("sample", pods[0]["metadata"]["name"], "istio-proxy", ["no-such-binary"])
    assert rc != 0


def test_forbidden_read_is_recorded_and_rest_continues(healthy):
    """A ServiceAccount that may read everything but secrets: read_errors names the read."""
    sa_manifest = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: meshmend-nosecrets, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: meshmend-nosecrets}
rules:
- apiGroups: ["", "apps", "networking.istio.io"]
  resources: [namespaces, pods, pods/log, pods/exec, services, configmaps, nodes, deployments, gateways, destinationrules]
  verbs: [get, list, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: meshmend-nosecrets}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: meshmend-nosecrets}
subjects: [{kind: ServiceAccount, name: meshmend-nosecrets, namespace: default}]
---
apiVersion: v1
kind: Secret
metadata:
  name: meshmend-nosecrets-token
  namespace: default
  annotations: {kubernetes.io/service-account.name: meshmend-nosecrets}
type: kubernetes.io/service-account-token
"""
    applied = healthy.kubectl("apply", "-f", "-", context="cluster1", input=sa_manifest)
    if applied.returncode != 0:
        pytest.skip("the lab does not serve RBAC objects: %s" % applied.stderr.strip()[:200])
    import base64
    import time
    token = None
    for _attempt in range(50):
        got = healthy.kubectl("get", "secret", "meshmend-nosecrets-token", "-n", "default", "-o", "json",
                              context="cluster1")
        data = (json.loads(got.stdout).get("data") or {}) if got.returncode == 0 else {}
        if data.get("token"):
            token = base64.b64decode(data["token"]).decode()
            break
        time.sleep(0.1)
    assert token, "the token controller filled no token"
    c = kclient.get_client({"kubeconfig": healthy.kubeconfig, "context": "cluster1", "api_key": token},
                           cluster="cluster1")
    f = gather.gather_cluster(c, {"peers": _peers(healthy)})
    assert f["reachable"] is True
    assert f["remote_secrets"] is None and f["cacerts"] is None
    resources = sorted((e["verb"], e["resource"], e["code"]) for e in f["read_errors"])
    assert ("list", "secrets", 403) in resources and ("get", "secrets", 403) in resources
    assert all(e["reason"] == "Forbidden" for e in f["read_errors"])
    assert f["istiod"] is not None and f["gateways"]  # the rest was read


def test_modules_through_ansible(healthy):
    r = _ansible(healthy, "cluster_info", {"context": "cluster1", "cluster_name": "cluster1"})
    assert r["changed"] is False and r["reachable"] is True
    assert r["facts"]["requests"] <= MAX_REQUESTS and r["facts"]["cluster"] == "cluster1"

    r = _ansible(healthy, "eastwest_gateway_info", {"context": "cluster2", "network": "network2"})
    [g] = r["gateways"]
    assert g["network_label_matches"] is True and g["external_ip_column"] == g["addresses"][0]["value"]

    r = _ansible(healthy, "proxy_endpoints_info", {"context": "cluster1", "service": "helloworld.sample", "port": 5000})
    assert len(r["endpoints"]) == 2 and r["table"].splitlines()[0].startswith("ENDPOINT")
    r2 = _ansible(healthy, "proxy_endpoints_info", {"context": "cluster1", "service": "helloworld.sample",
                                                    "source": "config_dump"})
    assert sorted(e["endpoint"] for e in r2["endpoints"]) == sorted(e["endpoint"] for e in r["endpoints"])

    r = _ansible(healthy, "root_cert_info", {"context": "cluster1"})
    r2 = _ansible(healthy, "root_cert_info", {"context": "cluster2", "expected_root_fingerprint": r["root_fingerprint"]})
    assert r["plugged_in"] and r["in_use_matches_cacerts"] and r["cacerts"]["chain_valid"]
    assert r2["root_matches_expected"] is True
    assert "ca-key.pem" in r["cacerts"]["keys"] and "BEGIN" not in json.dumps(r)

    peers = [{"name": n, "server": s} for s, n in _peers(healthy).items() if n != "cluster1"]
    r = _ansible(healthy, "remote_secret_check", {"context": "cluster1", "cluster_name": "cluster1", "peers": peers})
    assert r["findings"] == [] and r["failed_checks"] is False and r["cluster_id"] == "cluster1"
    assert r["remote_secrets"][0]["entries"][0]["probe"]["ok"] is True


SCENARIO_FINDINGS = {
    "remote-secret-invalid-kubeconfig": {"remote_secret.invalid_kubeconfig"},
    "remote-secret-loopback-server": {"remote_secret.loopback_server"},
    "remote-secret-not-synced": {"remote_secret.api_unreachable", "remote_secret.not_synced"},
    "remote-secret-wrong-namespace": {"remote_secret.wrong_namespace"},
    "remote-secret-missing": {"remote_secret.missing"},
}


@pytest.mark.parametrize("scenario", sorted(SCENARIO_FINDINGS))
def test_remote_secret_check_on_fault_scenarios(scenario, tmp_path):
    with labutil.start_lab(scenario, str(tmp_path / "lab")) as lab:
        peers = [{"name": n, "server": s} for s, n in _peers(lab).items() if n != "cluster1"]
        r = _ansible(lab, "remote_secret_check", {"context": "cluster1", "cluster_name": "cluster1", "peers": peers})
    ids = set(f["id"] for f in r["findings"])
    assert SCENARIO_FINDINGS[scenario] <= ids, (scenario, ids)
    assert r["failed_checks"] is True
    assert all(f["cluster"] == "cluster1" for f in r["findings"])
    # never a credential in the result
    assert "token:" not in json.dumps(r)


def test_bad_input_is_a_clear_message_not_a_traceback(healthy, tmp_path):
    class NoLab(object):
        kubeconfig = str(tmp_path / "missing-kubeconfig")
    r = _ansible(NoLab, "root_cert_info", {"context": "cluster1", "cluster_name": "cluster1"})
    assert r["_status"].startswith("FAILED") and "exception" not in r
    assert r["msg"] == "cluster1: kubeconfig file %s does not exist" % NoLab.kubeconfig
    # cluster_info reports it as facts instead, so the other clusters of a play go on
    r = _ansible(NoLab, "cluster_info", {"context": "cluster1", "cluster_name": "cluster1"})
    assert r["_status"].startswith("SUCCESS") and r["facts"]["reachable"] is False
    assert r["facts"]["error_kind"] == "bad_config"
    r = _ansible(healthy, "proxy_endpoints_info", {"context": "cluster1", "namespace": "sample", "label_selector": "app=nope"})
    assert r["msg"] == "cluster1: no Running pod matches app=nope in namespace sample"
    r = _ansible(healthy, "remote_secret_check", {"context": "cluster1", "cluster_name": "cluster1",
                                                  "peers": [{"name": "cluster2"}], "probe": "sometimes"})
    assert r["msg"] == "probe must be true, false or auto, not 'sometimes'"


def test_gather_networkz_on_request(healthy):
    f = _gather(healthy, "cluster1", sections=list(ALL_SECTIONS) + ["networkz"])
    assert f["requests"] == MAX_REQUESTS
    assert sorted((g["Network"], g["Port"]) for g in f["networkz"]) == [("network1", 15443), ("network2", 15443)]
    addrs = dict((g["Network"], g["Addr"]) for g in f["networkz"])
    assert addrs["network1"] == f["gateways"][0]["addresses"][0]["value"]
