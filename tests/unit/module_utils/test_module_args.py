"""Argument handling of the cluster-side modules (no cluster needed: bad input must end in a clear message)."""
import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.meshmend.multicluster.plugins.module_utils.cluster_info import probe_mode
from ansible_collections.meshmend.multicluster.plugins.modules import (
    cluster_info, eastwest_gateway_info, proxy_endpoints_info, remote_secret_check, root_cert_info,
)
import refdata  # noqa: E402


def run(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_cluster_info_bad_kubeconfig_is_facts_not_failure(capsys, tmp_path):
    missing = str(tmp_path / "kubeconfig")
    out = run(cluster_info, {"kubeconfig": missing, "context": "c1", "cluster_name": "cluster1"}, capsys)
    assert not out.get("failed") and out["changed"] is False
    assert out["facts"]["reachable"] is False and out["facts"]["error_kind"] == "bad_config"
    assert out["facts"]["error"] == "cluster1: kubeconfig file %s does not exist" % missing


def test_cluster_info_rejects_bad_probe_mode(capsys):
    out = run(cluster_info, {"context": "c1", "probe_remote_secrets": "maybe"}, capsys)
    assert out["failed"] and out["msg"] == "probe_remote_secrets must be true, false or auto, not 'maybe'"
    assert probe_mode(True) is True and probe_mode("no") is False
    assert probe_mode("auto") == "auto"


def test_cluster_info_rejects_bad_peers(capsys):
    out = run(cluster_info, {"context": "c1", "peers": "cluster2"}, capsys)
    assert out["failed"] and out["msg"].startswith("peers must be a list")


def test_remote_secret_check_requires_peers_and_not_itself(capsys):
    out = run(remote_secret_check, {"context": "c1"}, capsys)
    assert out["failed"] and "peers" in out["msg"]
    out = run(remote_secret_check, {"context": "c1", "cluster_name": "cluster1", "peers": [{"name": "cluster1"}]}, capsys)
    assert out["failed"] and out["msg"] == "cluster1: peers must list the other clusters, not cluster1 itself"


def test_remote_secret_check_unreachable_is_a_finding(capsys, tmp_path):
    missing = str(tmp_path / "kubeconfig")
    out = run(remote_secret_check, {"kubeconfig": missing, "cluster_name": "cluster1",
                                    "peers": [{"name": "cluster2"}]}, capsys)
    assert not out.get("failed") and out["reachable"] is False
    assert [f["id"] for f in out["findings"]] == ["cluster.unreachable"]
    assert out["failed_checks"] is True


@pytest.mark.parametrize("module", [eastwest_gateway_info, proxy_endpoints_info, root_cert_info])
def test_info_modules_fail_cleanly_on_bad_kubeconfig(module, capsys, tmp_path):
    missing = str(tmp_path / "kubeconfig")
    out = run(module, {"kubeconfig": missing, "cluster_name": "cluster7"}, capsys)
    assert out["failed"] and out["msg"] == "cluster7: kubeconfig file %s does not exist" % missing
    assert "exception" not in out and out["error"]["kind"] == "bad_config"


def test_root_cert_summary_pure():
    assert root_cert_info.summarize(None, None) == {
        "cacerts": None, "ca_root_cert": None, "plugged_in": False, "root_fingerprint": None,
        "in_use_matches_cacerts": None, "root_matches_expected": None, "errors": [], "cert_warnings": []}


def test_root_cert_summary_detects_unrestarted_istiod():
    import base64
    certs = refdata.ISTIO_CERTS

    def read(name):
        with open(os.path.join(certs, name), "rb") as f:
            return f.read()
    secret = {"data": dict((k, base64.b64encode(read(v)).decode()) for k, v in
                           (("root-cert.pem", "root-cert-alt.pem"), ("ca-cert.pem", "ca-cert-alt.pem"),
                            ("ca-key.pem", "ca-key-alt.pem")))}
    stale = {"data": {"root-cert.pem": read("root-cert.pem").decode()}}
    fresh = {"data": {"root-cert.pem": read("root-cert-alt.pem").decode()}}
    s = root_cert_info.summarize(secret, stale)
    assert s["in_use_matches_cacerts"] is False and s["root_fingerprint"] == s["ca_root_cert"]["fingerprint"]
    s = root_cert_info.summarize(secret, fresh, expected=s["cacerts"]["root"]["fingerprint"])
    assert s["in_use_matches_cacerts"] is True and s["root_matches_expected"] is True
    assert "PRIVATE" not in json.dumps(s)
    full = s["cacerts"]["root"]["sha256"]
    assert root_cert_info.summarize(secret, fresh, expected=full.upper())["root_matches_expected"] is True
