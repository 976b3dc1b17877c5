"""Bad input against a running lab (DESIGN.md section 7): one diagnose run over an inventory that holds
every kind of bad input at once. Each gets a clear message naming the host/cluster and the object, no
traceback, the reports are written, and nothing else is disturbed (the good clusters are diagnosed).

- hosts whose kubeconfig file is missing, malformed YAML, binary garbage, or whose context is absent;
- in cluster1, a multiCluster Secret whose values are binary garbage, a 1 MiB value, a YAML alias bomb,
  a recursive document, a kubeconfig of the wrong shape (carrying a token that must not leak) and one
  whose certificate-authority-data is not base64 (Secret data itself is always base64: the API server
  refuses anything else, which the first case below shows);
- in cluster2, a cacerts Secret whose certificates are not PEM;
- in cluster3, Istio's CRDs absent (so its Gateway / DestinationRule reads get 404).
"""
import base64
import json
import os
import subprocess
import sys

import pytest
import yaml

from labutil import start_generated_lab
from leakcheck import assert_no_secrets, lab_secrets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
REPORTS = ("meshmend-report.json", "meshmend-report.md", "meshmend-report.html", "meshmend-junit.xml")
BAD_TOKEN = "badinput-" + "t0k3n" * 10

pytestmark = pytest.mark.slow


def _bomb(levels=9):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append("a%d: &a%d [%s]" % (i, i, ",".join(["*a%d" % (i - 1)] * 9)))
    return "\n".join(lines) + "\n"


def _kubeconfig(server, token=BAD_TOKEN, ca=None):
    cluster = {"server": server}
    if ca is not None:
        cluster["certificate-authority-data"] = ca
    return {"apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": cluster}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "users": [{"name": "u", "user": {"token": token}}]}


def _b64(raw):
    return base64.b64encode(raw if isinstance(raw, bytes) else raw.encode("utf-8")).decode("ascii")


# data key -> (value, words the finding must show)
BAD_VALUES = {
    "garbage": (_b64(bytes(range(256)) * 8), "not UTF-8"),
    # over meshmend's 256 KiB limit, under the API server's 1 MiB for a whole Secret (a real server refuses more)
    "huge": (_b64("x: " + "A" * (300 * 1024)), "bytes, more than"),
    "bomb": (_b64(_bomb()), "alias bomb"),
    "recursive": (_b64("a: &a {b: *a}\n"), "recursive"),
    "shape": (_b64(yaml.safe_dump(dict(_kubeconfig("https://127.0.2.1:1"), clusters=["just-a-name"]))),
              "cannot unmarshal"),   # istiod's own words (client-go's loader decodes into its types)
    "cadata": (_b64(yaml.safe_dump(_kubeconfig("https://127.0.2.1:1", ca="not base64!!"))),
               "illegal base64 data"),   # Go's encoding/base64 CorruptInputError, as istiod reports it
}


def _user_of(config, context):
    return [c["context"]["user"] for c in config["contexts"] if c["name"] == context][0]


def _kubectl(lab, ctx, *args, stdin=None):
    proc = lab.kubectl(*args, context=ctx, input=stdin)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("badinput")
    lab = start_generated_lab(base, 3)
    try:
        lab_secrets(lab)
        # The API server itself refuses Secret data that is not base64 (so gather never sees it).
        bad = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nonb64", "namespace": "istio-system"},
               "data": {"x": "not base64!!"}}
        refused = lab.kubectl("create", "-f", "-", context="cluster1", input=json.dumps(bad))
        assert refused.returncode != 0 and "base64" in refused.stderr
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": "istio-remote-secret-bad", "namespace": "istio-system",
                               "labels": {"istio/multiCluster": "true"}},
                  "data": dict((k, v[0]) for k, v in BAD_VALUES.items())}
        # through the Python client: kubectl apply would copy the 300 KiB into an annotation (256 KiB at most)
        from kubernetes import client as k8s
        k8s.CoreV1Api(lab.api_client("cluster1")).create_namespaced_secret("istio-system", secret)
        cacerts = json.loads(_kubectl(lab, "cluster2", "-n", "istio-system", "get", "secret", "cacerts", "-o", "json"))
        patch = {"data": {"root-cert.pem": _b64("this is not a certificate\n"),
                          "ca-cert.pem": _b64(os.urandom(64)),
                          "cert-chain.pem": cacerts["data"].get("cert-chain.pem", _b64("x"))}}
        _kubectl(lab, "cluster2", "-n", "istio-system", "patch", "secret", "cacerts", "--type", "merge",
                 "-p", json.dumps(patch))
        _kubectl(lab, "cluster3", "delete", "crd", "gateways.networking.istio.io",
                 "destinationrules.networking.istio.io")

        malformed = base / "malformed.kubeconfig"
        malformed.write_text("apiVersion: v1\nclusters: 5\ncontexts: {a: [\n")
        garbage = base / "garbage.kubeconfig"
        garbage.write_bytes(bytes(range(256)))
        with open(lab.inventory, encoding="utf-8") as fh:
            inv = yaml.safe_load(fh)
        hosts = inv["all"]["hosts"]
        local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
        hosts["missing-file"] = dict(local, kube_context="cluster1", kubeconfig=str(base / "nowhere" / "kubeconfig"))
        hosts["missing-context"] = dict(local, kube_context="nosuch", kubeconfig=lab.kubeconfig)
        hosts["malformed"] = dict(local, kube_context="cluster1", kubeconfig=str(malformed))
        hosts["garbage"] = dict(local, kube_context="cluster1", kubeconfig=str(garbage))
        # issue 15: a 700-byte alias bomb given as a host's kubeconfig file took the controller to 24 GB
        bomb = base / "bomb.kubeconfig"
        bomb.write_text(_bomb())
        hosts["bomb-file"] = dict(local, kube_context="cluster1", kubeconfig=str(bomb))
        # issue 15: no kube_context fell back to the current context; a missing user / exec plugin to anonymous
        hosts["no-context"] = dict(local, kubeconfig=lab.kubeconfig)
        with open(lab.kubeconfig, encoding="utf-8") as fh:
            real = yaml.safe_load(fh)
        nouser = dict(real, users=[u for u in real["users"] if u["name"] != _user_of(real, "cluster1")])
        (base / "nouser.kubeconfig").write_text(yaml.safe_dump(nouser))
        hosts["missing-user"] = dict(local, kube_context="cluster1", kubeconfig=str(base / "nouser.kubeconfig"))
        noexec = dict(real, users=[{"name": u["name"], "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": "meshmend-absent-auth-plugin"}}}
            if u["name"] == _user_of(real, "cluster1") else u for u in real["users"]])
        (base / "noexec.kubeconfig").write_text(yaml.safe_dump(noexec))
        hosts["missing-exec"] = dict(local, kube_context="cluster1", kubeconfig=str(base / "noexec.kubeconfig"))
        inventory = base / "inventory.yml"
        inventory.write_text(yaml.safe_dump(inv))

        report_dir = base / "reports"
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
        proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "diagnose.yml"),
                               "-i", str(inventory), "-e", "meshmend_report_dir=%s" % report_dir],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        with open(report_dir / "meshmend-report.json", encoding="utf-8") as fh:
            doc = json.load(fh)
        yield {"lab": lab, "proc": proc, "out": proc.stdout + proc.stderr, "doc": doc, "dir": str(report_dir),
               "base": base}
    finally:
        lab.stop()


def _findings(doc, fid=None, cluster=None):
    return [f for f in doc["findings"] if (fid is None or f["id"] == fid) and (cluster is None or f["cluster"] == cluster)]


def test_run_completes_with_reports_no_traceback_and_error_status(run):
    assert "Traceback" not in run["out"] and "MODULE FAILURE" not in run["out"], run["out"][-4000:]
    for name in REPORTS:
        assert os.path.getsize(os.path.join(run["dir"], name)) > 0
    assert run["proc"].returncode == 2, run["out"][-3000:]


@pytest.mark.parametrize("host,words", [
    ("missing-file", ["nowhere/kubeconfig", "does not exist"]),
    ("missing-context", ["nosuch", "not in the kubeconfig"]),
    ("malformed", ["malformed.kubeconfig"]),
    ("garbage", ["garbage.kubeconfig"]),
    ("bomb-file", ["bomb.kubeconfig", "alias bomb"]),
    ("no-context", ["contexts (cluster1, cluster2, cluster3) and none was named (kube_context"]),
    ("missing-user", ["context cluster1 names user", "which is not in the kubeconfig"]),
    ("missing-exec", ["meshmend-absent-auth-plugin, which is not installed on the controller"]),
])
def test_bad_kubeconfig_host_is_unreachable_with_its_reason(run, host, words):
    mine = _findings(run["doc"], cluster=host)
    assert [f["id"] for f in mine] == ["cluster.unreachable"], mine
    error = mine[0]["evidence"]["error"]
    assert error.startswith(host + ": "), error
    for w in words:
        assert w in error, error
        assert w in run["out"]   # shown on the console too, under the host


def test_bad_remote_secret_values_each_named(run):
    """Each bad value is an entry error of its secret and key in the facts and in the Markdown report;
    the one whose key names an inventory host is a remote_secret.invalid_kubeconfig finding."""
    secrets = run["doc"]["facts"]["cluster1"]["remote_secrets"]
    bad = [rs for rs in secrets if rs["name"] == "istio-remote-secret-bad"]
    assert bad and bad[0]["namespace"] == "istio-system"
    entries = dict((k["key"], k) for k in bad[0]["keys"])
    with open(os.path.join(run["dir"], "meshmend-report.md"), encoding="utf-8") as fh:
        markdown = fh.read()
    for key, (_value, words) in BAD_VALUES.items():
        assert words in (entries[key]["error"] or ""), entries[key]
        assert entries[key]["fingerprint"].startswith("sha256:")
    # keys that name no inventory host are judged too: remote_secret.invalid_kubeconfig with no peer
    assert "not UTF-8" in markdown and "istio-remote-secret-bad" in markdown
    found = _findings(run["doc"], "remote_secret.invalid_kubeconfig", "cluster1")
    assert any("istio-remote-secret-bad" in f["message"] and "'garbage'" in f["message"] for f in found), found
    # the good remote secrets beside it still work (the probe went through with their tokens)
    assert all(k["error"] is None for rs in secrets if rs["name"] != "istio-remote-secret-bad" for k in rs["keys"])


def test_cacerts_not_pem_is_a_trust_finding(run):
    mine = [f for f in _findings(run["doc"], cluster="cluster2") if f["id"].startswith("trust.")]
    assert mine and any("cacerts" in json.dumps(f) for f in mine), _findings(run["doc"], cluster="cluster2")
    assert any("PEM" in json.dumps(f) for f in mine), mine


def test_istio_crds_absent_is_not_a_failed_read(run):
    facts = run["doc"]["facts"]["cluster3"]
    assert facts["reachable"] is True and facts["read_errors"] == 0, facts
    assert not _findings(run["doc"], "cluster.read_failed", "cluster3")
    assert not _findings(run["doc"], "cluster.forbidden", "cluster3")


BAD_HOSTS = ("missing-file", "missing-context", "malformed", "garbage", "bomb-file", "no-context", "missing-user",
             "missing-exec")
EXPECTED = {"cluster1": ("remote_secret.invalid_kubeconfig",), "cluster2": ("trust.",),
            "cluster3": ("eastwest_gateway.expose_gateway_missing",)}   # no Gateway CRD, so no Gateway


@pytest.mark.parametrize("cluster", ["cluster1", "cluster2", "cluster3"])
def test_good_clusters_still_diagnosed(run, cluster):
    facts = run["doc"]["facts"][cluster]
    assert facts["reachable"] is True and facts["istiod"] and facts["cluster_id"] == cluster
    assert facts["proxy"] and not facts["proxy"]["error"] and len(facts["proxy"]["endpoints"]) == 3, facts["proxy"]
    others = [f for f in _findings(run["doc"], cluster=cluster)
              if f.get("peer") not in BAD_HOSTS and not f["id"].startswith(EXPECTED[cluster])]
    assert others == [], others


def test_nothing_leaks(run):
    assert_no_secrets(run["lab"], run["proc"].stdout, run["proc"].stderr, run["dir"],
                      extra=[("token inside a bad remote secret", BAD_TOKEN)])
