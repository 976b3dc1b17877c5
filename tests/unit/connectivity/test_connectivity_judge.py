"""Planning and judging: sites -> targets, outcomes -> test cases and connectivity.* findings."""
import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import connectivity as c
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import Finding
from ansible_collections.meshmend.multicluster.plugins.module_utils.gateways import GATEWAY_PORT_LABEL
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import NETWORK_LABEL

GUIDE_TLS = ("upstream connect error or disconnect/reset before headers. reset reason: local reset, "
             "transport failure reason: TLS error: 268435612:SSL routines:OPENSSL_internal:HTTP_REQUEST")
TIMEOUT = "curl: (28) Connection timed out after 2001 milliseconds\n"


def pod(name, app, ip="10.0.0.1", ready=True, version=None, waiting=None):
    labels = {"app": app}
    if version:
        labels["version"] = version
    status = {"phase": "Running" if ready or not waiting else "Pending", "podIP": ip,
              "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if waiting:
        status["containerStatuses"] = [{"name": app, "ready": False,
                                        "state": {"waiting": {"reason": waiting, "message": "back-off"}}}]
    return {"metadata": {"name": name, "labels": labels}, "status": status}


def gw_service(ip=None, network="network2", pending=False, externalIPs=None):
    svc = {"metadata": {"namespace": "istio-system", "name": "istio-eastwestgateway",
                        "labels": {"istio": "eastwestgateway", NETWORK_LABEL: network}},
           "spec": {"type": "LoadBalancer", "ports": [{"port": 15021}, {"port": 15443}]},
           "status": {"loadBalancer": {} if pending or not ip else {"ingress": [{"ip": ip}]}}}
    if externalIPs:
        svc["spec"]["externalIPs"] = externalIPs
    return svc


def site(name, network, idx, gateway_ip=None, mesh_version=None, sleep=True):
    test_pods = [pod("helloworld-v%d-abc%s" % (idx, name[-1]), "helloworld", "10.%d.0.5" % idx,
                     version="v%d" % idx)]
    if sleep:
        test_pods.append(pod("sleep-xyz%s" % name[-1], "sleep", "10.%d.0.6" % idx))
    mesh_pods = [pod("helloworld-%s-mesh%s" % (mesh_version or "v%d" % idx, name[-1]), "helloworld",
                     version=mesh_version or "v%d" % idx),
                 pod("sleep-mesh%s" % name[-1], "sleep")]
    return c.build_site(name, "uninjected-sample", test_pods,
                        istio_namespace_obj={"metadata": {"labels": {NETWORK_LABEL: network} if network else {}}},
                        gateway_services=[gw_service(gateway_ip, network)] if gateway_ip is not None else [],
                        mesh_pods=mesh_pods)


def test_build_site():
    s = site("cluster1", "network1", 1, gateway_ip="172.18.1.10")
    assert s["network"] == "network1"
    assert s["network_source"].startswith("istio-system label")
    assert s["helloworld"] == {"pod": "helloworld-v1-abc1", "ip": "10.1.0.5", "version": "v1", "port": 5000}
    assert s["sleep"] == {"pod": "sleep-xyz1"}
    assert s["gateways"][0]["address"] == "172.18.1.10" and s["gateways"][0]["port"] == 15443
    assert s["gateways"][0]["port_exposed"] is True
    assert s["mesh"]["clients"] == ["sleep-mesh1"]
    assert s["mesh"]["instances"] == [{"pod": "helloworld-v1-mesh1", "version": "v1", "ready": True}]
    declared = c.build_site("c", "ns", [], declared_network="netX",
                            injector_values={"global": {"network": "other"}})
    assert declared["network"] == "netX"
    assert c.build_site("c", "ns", [], injector_values={"global": {"network": "n9"}})["network"] == "n9"


def test_site_gateways_are_the_addresses_istiod_uses():
    def site_gateways(*services):
        return [(g["address"], g["kind"], g["port"]) for g in c.build_site("c", "ns", [], gateway_services=services)["gateways"]]
    assert site_gateways(gw_service(pending=True)) == [(None, None, 15443)]     # pending: listed, no address
    assert site_gateways(gw_service("1.2.3.4", externalIPs=["5.6.7.8", "1.2.3.4"])) == [
        ("1.2.3.4", "ip", 15443), ("5.6.7.8", "ip", 15443)]
    host = gw_service()
    host["status"]["loadBalancer"] = {"ingress": [{"hostname": "a.elb.amazonaws.com"}]}
    assert site_gateways(host) == [("a.elb.amazonaws.com", "hostname", 15443)]
    labelled = gw_service("1.1.1.1")
    labelled["metadata"]["labels"][GATEWAY_PORT_LABEL] = "15444"
    assert site_gateways(labelled) == [("1.1.1.1", "ip", 15444)]


def test_select_manifests_like_the_guide():
    docs = [
        {"kind": "Service", "metadata": {"name": "helloworld", "labels": {"app": "helloworld", "service": "helloworld"}}},
        {"kind": "Deployment", "metadata": {"name": "helloworld-v1", "labels": {"app": "helloworld", "version": "v1"}}},
        {"kind": "Deployment", "metadata": {"name": "helloworld-v2", "labels": {"app": "helloworld", "version": "v2"}}},
        {"kind": "ServiceAccount", "metadata": {"name": "sleep"}},
        None,
    ]
    picked = c.select_manifests(docs, "v2", "uninjected-sample")
    assert [d["metadata"]["name"] for d in picked] == ["helloworld", "helloworld-v2", "sleep"]
    assert all(d["metadata"]["namespace"] == "uninjected-sample" for d in picked)
    assert "namespace" not in docs[0]["metadata"]  # input untouched
    with pytest.raises(c.ConnectivityError, match="version=v7"):
        c.select_manifests(docs, "v7", "x")


def test_select_manifests_from_the_shipped_lists():
    import os
    import yaml
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "connectivity", "files")
    hello = list(yaml.safe_load_all(open(os.path.join(root, "helloworld.yaml"))))
    sleep = list(yaml.safe_load_all(open(os.path.join(root, "sleep.yaml"))))
    import refdata
    # the shipped objects are Istio's, unchanged (tests/fixtures/istio/samples: upstream's files)
    with open(refdata.path("istio", "samples", "helloworld.yaml")) as upstream:
        assert c.expand_lists(hello) == [d for d in yaml.safe_load_all(upstream) if d]
    with open(refdata.path("istio", "samples", "sleep.yaml")) as upstream:
        assert c.expand_lists(sleep) == [d for d in yaml.safe_load_all(upstream) if d]
    picked = c.select_manifests(hello + sleep, "v1", "uninjected-sample")
    assert [(d["kind"], d["metadata"]["name"]) for d in picked] == [
        ("Service", "helloworld"), ("Deployment", "helloworld-v1"),
        ("ServiceAccount", "sleep"), ("Service", "sleep"), ("Deployment", "sleep")]


def test_version_for_alternates():
    assert [c.version_for(i, ["v1", "v2"]) for i in range(4)] == ["v1", "v2", "v1", "v2"]
    assert c.version_for(2, ["v1", "v2", "v3"]) == "v3"


def test_readiness_and_problems():
    dep = {"metadata": {"name": "helloworld-v1"}, "spec": {"replicas": 1,
           "selector": {"matchLabels": {"app": "helloworld"}}}}
    ok, rep = c.deployment_readiness([dep], [pod("h1", "helloworld")])
    assert ok and rep[0]["pods"] == ["h1"]
    ok, rep = c.deployment_readiness([dep], [pod("h1", "helloworld", ready=False, waiting="ImagePullBackOff")])
    assert not ok
    assert rep[0]["problems"] == ["h1: helloworld: ImagePullBackOff (back-off)"]
    ok, rep = c.deployment_readiness([dep], [])
    assert not ok and rep[0]["problems"] == ["no pods created yet"]


def test_plan_multi_network():
    s1 = site("cluster1", "network1", 1, gateway_ip="172.18.1.10")
    s2 = site("cluster2", "network2", 2, gateway_ip="172.18.2.10")
    targets, skipped = c.plan_probes(s1, [s1, s2])
    kinds = [t["kind"] for t in targets]
    assert kinds == ["gateway", "mesh"]
    gw = targets[0]
    assert gw["url"] == "http://172.18.2.10:15443/" and gw["peer"] == "cluster2"
    assert gw["source"] == {"namespace": "uninjected-sample", "pod": "sleep-xyz1", "container": "sleep"}
    mesh = targets[1]
    assert mesh["url"] == "helloworld.sample:5000/hello" and mesh["attempts"] == 20
    assert mesh["source"]["namespace"] == "sample"
    assert [i["pod"] for i in mesh["expect"]["peers"]["cluster2"]] == ["helloworld-v2-mesh2"]
    assert len(skipped) == 1 and skipped[0]["classname"] == "connectivity.pod_to_pod"
    assert skipped[0]["status"] == "skipped" and "different networks" in skipped[0]["message"]
    # always: pod IPs probed across networks too
    targets, skipped = c.plan_probes(s1, [s2], pod_to_pod="always", gateway="never", mesh=False)
    assert [t["kind"] for t in targets] == ["pod_to_pod"] and targets[0]["expect"]["multi_network"]


def test_plan_single_network_and_pending_gateway():
    s1 = site("cluster1", "network1", 1)
    s2 = site("cluster2", "network1", 2)
    targets, skipped = c.plan_probes(s1, [s1, s2], mesh=False)
    assert [t["kind"] for t in targets] == ["pod_to_pod"]
    assert targets[0]["url"] == "http://10.2.0.5:5000/hello"
    assert targets[0]["expect"]["pod"] == "helloworld-v2-abc2"
    assert not skipped
    s3 = site("cluster3", "network3", 3, gateway_ip="")
    targets, skipped = c.plan_probes(s1, [s3], mesh=False)
    assert targets == []
    assert "no address" in skipped[-1]["message"] and skipped[-1]["classname"] == "connectivity.gateway"
    with pytest.raises(c.ConnectivityError):
        c.plan_probes(s1, [s2], pod_to_pod="sometimes")


def test_plan_without_sleep():
    s1 = site("cluster1", None, 1, sleep=False)
    s2 = site("cluster2", None, 2)
    targets, skipped = c.plan_probes(s1, [s2], mesh=False)
    assert targets == [] and "no Ready sleep" in skipped[0]["message"]


def outcomes(*texts):
    out = []
    for t in texts:
        if t.startswith("curl:"):
            rc = int(t.split("(")[1].split(")")[0])
            out.append(c.parse_curl("", t, rc))
        else:
            out.append(c.parse_curl(t, "", 0))
    return out


def p2p_target():
    s1 = site("cluster1", "network1", 1)
    s2 = site("cluster2", "network1", 2)
    targets, _skipped = c.plan_probes(s1, [s2], mesh=False)
    t = targets[0]
    t["command"] = c.curl_command(t["url"], 3, 2)
    return t


def test_pod_to_pod_pass_and_block():
    t = p2p_target()
    cases, findings = c.judge("cluster1", [{"target": t, "attempts": outcomes(
        "Hello version: v2, instance: helloworld-v2-abc2\n")}])
    assert findings == [] and cases[0]["status"] == "passed" and cases[0]["name"] == "cluster1 -> cluster2"

    cases, findings = c.judge("cluster1", [{"target": t, "attempts": outcomes(TIMEOUT, TIMEOUT)}])
    assert cases[0]["status"] == "failed"
    (f,) = findings
    assert f["id"] == "connectivity.pod_to_pod_blocked" and f["severity"] == "error"
    assert f["cluster"] == "cluster1" and f["peer"] == "cluster2"
    assert f["resource"] == "Pod/uninjected-sample/helloworld-v2-abc2"
    assert f["evidence"]["output"] == TIMEOUT  # the exact curl output
    assert f["evidence"]["exit_code"] == 28
    assert f["evidence"]["command"] == "curl -sS --max-time 3 --connect-timeout 2 http://10.2.0.5:5000/hello"
    assert cases[0]["finding"] == f["key"] == "connectivity.pod_to_pod_blocked@cluster1->cluster2"
    Finding.from_dict(f)


def test_pod_to_pod_answered_by_wrong_pod():
    t = p2p_target()
    cases, findings = c.judge("cluster1", [{"target": t, "attempts": outcomes(
        "Hello version: v1, instance: helloworld-v1-abc1\n")}])
    assert findings[0]["id"] == "connectivity.pod_to_pod_blocked"
    assert "overlapping pod CIDRs" in findings[0]["message"]


def test_pod_to_pod_multi_network_failure_is_no_error():
    s1 = site("cluster1", "network1", 1)
    s2 = site("cluster2", "network2", 2)
    (t,), _skipped = c.plan_probes(s1, [s2], pod_to_pod="always", gateway="never", mesh=False)
    cases, findings = c.judge("cluster1", [{"target": t, "attempts": outcomes(TIMEOUT)}])
    assert findings == [] and cases[0]["status"] == "skipped"


def gw_target():
    s1 = site("cluster1", "network1", 1, gateway_ip="172.18.1.10")
    s2 = site("cluster2", "network2", 2, gateway_ip="172.18.2.10")
    targets, _skipped = c.plan_probes(s1, [s2])
    return targets


@pytest.mark.parametrize("text,status", [
    ("curl: (56) Recv failure: Connection reset by peer\n", "passed"),
    ("curl: (52) Empty reply from server\n", "passed"),
    (TIMEOUT, "failed"),
    ("curl: (7) Failed to connect to 172.18.2.10 port 15443 after 0 ms: Couldn't connect to server\n", "failed"),
])
def test_gateway_probe(text, status):
    gw = gw_target()[0]
    cases, findings = c.judge("cluster1", [{"target": gw, "attempts": outcomes(text)}])
    assert cases[0]["status"] == status
    if status == "failed":
        (f,) = findings
        assert f["id"] == "connectivity.gateway_blocked" and f["peer"] == "cluster2"
        assert f["resource"] == "Service/istio-system/istio-eastwestgateway"
        assert f["evidence"]["output"] == text and f["evidence"]["gateway"] == "172.18.2.10:15443"
        assert "172.18.2.10:15443" in f["message"]
    else:
        assert findings == []


def mesh_judge(texts, gateway_text=None):
    targets = gw_target()
    results = [{"target": targets[1], "attempts": outcomes(*texts)}]
    if gateway_text:
        results.append({"target": targets[0], "attempts": outcomes(gateway_text)})
    return c.judge("cluster1", results)


def test_mesh_both_versions():
    cases, findings = mesh_judge(["Hello version: v1, instance: helloworld-v1-mesh1",
                                  "Hello version: v2, instance: helloworld-v2-mesh2"] * 10)
    assert findings == []
    (case,) = cases
    assert case["status"] == "passed" and case["classname"] == "connectivity.mesh"
    assert case["name"] == "cluster1 -> cluster2"


def test_mesh_tls_error():
    cases, findings = mesh_judge(["Hello version: v1, instance: helloworld-v1-mesh1", GUIDE_TLS] * 10)
    (f,) = findings
    assert f["id"] == "connectivity.tls_error" and f["peer"] == "cluster2" and f["severity"] == "error"
    assert f["evidence"]["output"] == GUIDE_TLS
    assert f["evidence"]["versions"] == {"v1": 10}
    assert "L7 load balancer" in f["message"]
    assert cases[0]["status"] == "failed"


def test_mesh_local_only():
    cases, findings = mesh_judge(["Hello version: v1, instance: helloworld-v1-mesh1\n"] * 20)
    (f,) = findings
    assert f["id"] == "connectivity.local_only" and f["severity"] == "warning"
    assert f["evidence"]["versions"] == {"v1": 20}
    assert f["evidence"]["answered_by"] == {"cluster1": 20}
    assert f["evidence"]["output"] == "Hello version: v1, instance: helloworld-v1-mesh1\n"
    assert "reached only local versions" in f["message"]
    assert f["caused_by"] == []


def test_mesh_local_only_caused_by_blocked_gateway():
    upstream = "upstream connect error or disconnect/reset before headers. reset reason: connection timeout"
    cases, findings = mesh_judge(["Hello version: v1, instance: helloworld-v1-mesh1", upstream] * 5, TIMEOUT)
    ids = sorted(f["id"] for f in findings)
    assert ids == ["connectivity.gateway_blocked", "connectivity.local_only"]
    local = [f for f in findings if f["id"] == "connectivity.local_only"][0]
    assert local["caused_by"] == ["connectivity.gateway_blocked@cluster1->cluster2"]
    assert local["evidence"]["output"] == upstream


def test_attribute_by_version_when_instance_unknown():
    local = [{"pod": "a", "version": "v1"}]
    peers = {"cluster2": [{"pod": "b", "version": "v2"}], "cluster3": [{"pod": "c", "version": "v1"}]}
    assert c.attribute_answer({"instance": "zzz", "version": "v2"}, local, peers) == "cluster2"
    assert c.attribute_answer({"instance": "zzz", "version": "v1"}, local, peers) is None
    assert c.attribute_answer({"instance": "c", "version": "v1"}, local, peers) == "cluster3"


def test_summarize_counts():
    targets = gw_target()
    results = [{"target": targets[1], "attempts": outcomes("Hello version: v1, instance: helloworld-v1-mesh1",
                                                           "Hello version: v2, instance: helloworld-v2-mesh2",
                                                           GUIDE_TLS), "duration": 0.5}]
    c.judge("cluster1", results)
    (s,) = c.summarize(results)
    assert s["counts"]["versions"] == {"v1": 1, "v2": 1}
    assert s["counts"]["clusters"] == {"cluster1": 1, "cluster2": 1}
    assert s["counts"]["outcomes"] == {"ok": 2, "tls_error": 1}


def test_custom_targets_pass_only_with_answers():
    target = {"kind": "custom", "url": "http://172.18.2.1:15443/", "peer": "cluster2",
              "source": {"namespace": "sample", "pod": "sleep", "container": "sleep"}}
    (closed,) = c.custom_cases("cluster1", [{"target": target, "attempts": outcomes(
        "curl: (56) Recv failure: Connection reset by peer\n")}])
    assert closed["status"] == "failed" and closed["classname"] == "connectivity.custom"
    assert closed["details"]["outcomes"] == {"closed": 1}
    hello = dict(target, url="helloworld.sample:5000/hello", peer=None)
    (ok,) = c.custom_cases("cluster1", [{"target": hello, "attempts": outcomes(
        "Hello version: v1, instance: a", "Hello version: v2, instance: b")}])
    assert ok["status"] == "passed" and ok["details"]["versions"] == {"v1": 1, "v2": 1}
    assert ok["name"] == "cluster1 -> helloworld.sample:5000/hello"


@pytest.mark.parametrize("bad,words", [
    ({"network": "n"}, "no cluster name"),
    ({"cluster": "c9", "sleep": {"pod": "s"}}, "no namespace"),
    ({"cluster": "c9", "helloworld": {"ip": "1.2.3.4"}}, "helloworld has no pod"),
    ({"cluster": "c9", "gateways": [{"address": "1.1.1.1"}]}, "needs service and address"),
    ({"cluster": "c9", "mesh": {"instances": [{"version": "v1"}]}}, "needs a pod name"),
    ({"cluster": "c9", "gateways": "x"}, "gateways must be a list"),
])
def test_bad_sites_are_named(bad, words):
    good = site("cluster1", "network1", 1)
    with pytest.raises(c.ConnectivityError, match=words):
        c.plan_probes(good, [bad])


def test_controller_pid_is_the_topmost_ansible_process():
    chain = [(50, ["/bin/sh", "-c", "python3 module.py"]),
             (40, ["/srv/meshmend/.venv/bin/python3.11", "/srv/meshmend/.venv/bin/ansible-playbook", "play.yml"]),  # worker
             (30, ["/srv/meshmend/.venv/bin/python3.11", "/srv/meshmend/.venv/bin/ansible-playbook", "play.yml"]),  # main
             (20, ["/usr/bin/python", "-m", "pytest"]), (1, ["/sbin/init"])]
    assert c.controller_pid(chain) == 30
    assert c.controller_pid([(9, ["ansible", "all", "-m", "ping"]), (1, ["init"])]) == 9
    assert c.controller_pid([(5, ["bash"]), (1, ["init"])]) is None
