"""Connectivity results -> the report document and JUnit (merged with diagnose's report)."""
import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import connectivity as c
from ansible_collections.meshmend.multicluster.plugins.module_utils import report as rp
from ansible_collections.meshmend.multicluster.plugins.module_utils.report import connectivity as rc
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import Finding

TLS = ("upstream connect error or disconnect/reset before headers. reset reason: connection failure, "
       "transport failure reason: TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED")


def tls_finding():
    return Finding("connectivity.tls_error", "cluster1", "mesh traffic fails with a TLS error", peer="cluster2",
                   resource="Service/sample/helloworld", evidence={"output": TLS}).to_dict()


def cases():
    return [
        c.test_case("mesh", "cluster1", "cluster2", "failed", "TLS error", output=TLS,
                    finding="connectivity.tls_error@cluster1->cluster2"),
        c.test_case("mesh", "cluster2", "cluster1", "passed", "10/20 answers", output="Hello version: v1, instance: x\n"),
        c.test_case("pod_to_pod", "cluster1", "cluster2", "skipped", "different networks"),
    ]


def diagnose_report():
    facts = {"cluster1": {"cluster": "cluster1", "reachable": True, "network": "network1"},
             "cluster2": {"cluster": "cluster2", "reachable": True, "network": "network2"}}
    old = Finding("connectivity.local_only", "cluster2", "old run", peer="cluster1").to_dict()
    root = Finding("trust.root_mismatch", "cluster2", "roots differ", peer="cluster1").to_dict()
    return json.loads(rp.render_json(rp.build_report(facts, [root, old])))


def test_new_report_from_scratch():
    r = rc.merge_report(None, [tls_finding()], cases(), ["cluster1", "cluster2"], fail_on="error")
    assert r["areas"] == ["connectivity"]
    assert [f["id"] for f in r["findings"]] == ["connectivity.tls_error"]
    assert r["failed"] is True
    assert r["summary"]["counts"]["error"] == 1
    assert r["connectivity"]["counts"] == {"failed": 1, "passed": 1, "skipped": 1}
    assert r["clusters"]["in_play"] == ["cluster1", "cluster2"]
    assert not rc.merge_report(None, [tls_finding()], [], ["cluster1"], fail_on="never")["failed"]


def test_merge_keeps_diagnose_and_replaces_old_connectivity():
    r = rc.merge_report(diagnose_report(), [tls_finding()], cases(), ["cluster1", "cluster2"])
    ids = sorted(f["id"] for f in r["findings"])
    assert ids == ["connectivity.tls_error", "trust.root_mismatch"]
    assert "connectivity" in r["areas"] and "trust" in r["areas"]
    assert r["facts"]["cluster1"]["network"] == "network1"
    assert r["summary"]["by_cluster"]["cluster1"]["error"] == 1


def test_merge_links_diagnose_causes():
    r = rc.merge_report(diagnose_report(), [tls_finding()], cases(), ["cluster1", "cluster2"])
    tls = [f for f in r["findings"] if f["id"] == "connectivity.tls_error"][0]
    assert tls["caused_by"] == ["trust.root_mismatch@cluster2->cluster1"]
    secret = Finding("remote_secret.missing", "cluster1", "no secret", peer="cluster2").to_dict()
    other = Finding("remote_secret.missing", "cluster2", "no secret", peer="cluster3").to_dict()
    local = Finding("connectivity.local_only", "cluster1", "only v1", peer="cluster2").to_dict()
    (linked,) = c.link_causes([local], [secret, other])
    assert linked["caused_by"] == ["remote_secret.missing@cluster1->cluster2"]


def test_merge_rejects_foreign_findings():
    bad = Finding("trust.root_mismatch", "c1", "x").to_dict()
    with pytest.raises(c.ConnectivityError):
        rc.merge_report(None, [bad], [], ["c1"])


def test_junit_one_case_per_pair():
    r = rc.merge_report(diagnose_report(), [tls_finding()], cases(), ["cluster1", "cluster2"])
    xml = rp.render_junit(r)
    root = ET.fromstring(xml.split("\n", 1)[1])
    suite = [s for s in root.findall("testsuite") if s.get("name") == "connectivity"][0]
    tcs = suite.findall("testcase")
    assert [(t.get("classname"), t.get("name")) for t in tcs] == [
        ("connectivity.mesh", "cluster1 -> cluster2"), ("connectivity.mesh", "cluster2 -> cluster1"),
        ("connectivity.pod_to_pod", "cluster1 -> cluster2")]
    assert tcs[0].find("failure").text == TLS
    assert tcs[2].find("skipped") is not None
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("skipped") == "1"
    # diagnose's suites are still there, without the connectivity findings counted twice
    names = [s.get("name") for s in root.findall("testsuite")]
    assert "cluster2" in names
    assert "connectivity.tls_error" not in "".join(
        t.get("name") for s in root.findall("testsuite") if s.get("name") != "connectivity" for t in s)
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in root.findall("testsuite"))


def test_warning_case_fails_only_with_fail_on_warning():
    f = Finding("connectivity.local_only", "cluster1", "only v1", peer="cluster2").to_dict()
    case = c.test_case("mesh", "cluster1", "cluster2", "failed", "only v1", finding=f["key"])
    for fail_on, failures in (("error", "0"), ("warning", "1")):
        r = rc.merge_report(None, [f], [case], ["cluster1"], fail_on=fail_on)
        root = ET.fromstring(rp.render_junit(r).split("\n", 1)[1])
        assert root.get("failures") == failures


def test_render_report_all_formats():
    out = rp.render_all(rc.merge_report(None, [tls_finding()], cases(), ["cluster1", "cluster2"]))
    assert set(out) == {"json", "markdown", "html", "junit"}
    assert json.loads(out["json"])["findings"][0]["evidence"]["output"] == TLS
    assert "connectivity.tls_error" in out["markdown"] and "connectivity.tls_error" in out["html"]
    assert "| mesh | cluster1 \u2192 cluster2 | failed | TLS error |" in out["markdown"]
    assert '<section id="connectivity-tests">' in out["html"] and "CERTIFICATE_VERIFY_FAILED" in out["html"]
    assert out["html"].rstrip().endswith("</html>")


def test_collect_results_names_failed_clusters():
    probes = {"cluster1": {"findings": [tls_finding()], "tests": cases()[:1]},
              "cluster2": {}, "cluster3": {"failed": True, "msg": "cluster3: cannot exec"}}
    workloads = {"cluster1": {"site": {}}, "cluster2": {"failed": True, "msg": "pods not Ready: ImagePullBackOff"},
                 "cluster3": {"site": {}}}
    findings, tests = rc.collect_results(probes, workloads)
    assert [f["id"] for f in findings] == ["connectivity.tls_error"]
    errors = [t for t in tests if t["status"] == "error"]
    assert [(t["classname"], t["cluster"]) for t in errors] == [
        ("connectivity.setup", "cluster2"), ("connectivity.probe", "cluster3")]
    assert "ImagePullBackOff" in errors[0]["message"]


def test_normalize_peers_and_failed_peer_case():
    s2 = {"cluster": "cluster2", "network": "n1", "helloworld": None, "gateways": [], "mesh": {}}
    peers = c.normalize_peers([{"site": s2}, {"failed": True, "cluster": "cluster3", "msg": "boom"}, {}, "x"])
    assert peers == [s2, {"cluster": "cluster3", "error": "boom"}]
    me = {"cluster": "cluster1", "network": "n1", "namespace": "uninjected-sample", "sleep": {"pod": "s"},
          "helloworld": None, "gateways": [], "mesh": {"clients": []}}
    _targets, skipped = c.plan_probes(me, peers, mesh=False)
    assert ("connectivity.setup", "cluster1 -> cluster3") in [(s["classname"], s["name"]) for s in skipped]


def test_case_lines_failures_first():
    lines = rc.case_lines(cases())
    assert lines[0].startswith("FAILED  connectivity.mesh cluster1 -> cluster2")
    assert lines[-1].startswith("PASSED")
