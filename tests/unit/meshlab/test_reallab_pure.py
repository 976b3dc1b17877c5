"""The parts of reallab/ (`meshlab up --real`) that need no built binary: which scenarios the real stack can
express, the Nodes it creates, the values merge of the injector ConfigMap, the proxy shim's rendering of
xdsprobe's answer as Envoy's admin JSON, and the CRI log lines kwok serves."""
import io
import json
import time

from meshlab.controllers import lb_ingress
from meshlab.istio import envoy
from meshlab.scenario import bundled, load_spec, resolve
from reallab import cluster as rc
from reallab import lab as rl
from reallab import shim


def _reason(name):
    d = resolve(name)
    return rl.unsupported_reason(load_spec(d), d)


def test_scenarios_the_real_stack_cannot_express_say_why():
    assert _reason("healthy-multinetwork") is None
    assert _reason("remote-secret-missing") is None
    assert "remote cluster" in _reason("healthy-primary-remote") or "primary-remote" in _reason("healthy-primary-remote")
    assert "1.9.9" in _reason("remote-secret-istiod-error")      # no Istio release is served by the module proxy
    spec = load_spec(resolve("healthy-multinetwork"))
    spec = dict(spec, clusters=[dict(spec["clusters"][0], name="cluster%d" % i) for i in range(1, 51)])
    assert "50 clusters" in rl.unsupported_reason(spec, resolve("healthy-multinetwork"))
    firewalled = dict(load_spec(resolve("healthy-multinetwork")), firewall=[{"from": "cluster1", "to": "cluster2"}])
    assert "firewall" in rl.unsupported_reason(firewalled, resolve("healthy-multinetwork"))
    # every bundled scenario gets an answer (None or a reason), none raises
    for name, _ in bundled():
        _reason(name)


def test_nodes_carry_the_scenario_kubelet_versions_and_localities_for_kwok():
    spec = load_spec(resolve("healthy-classic-sidecars"))["clusters"][0]
    nodes = rl.node_objects(dict(spec, nodes=2, kubeletVersion=["v1.32.9", "v1.36.1"]))
    assert [n["metadata"]["name"] for n in nodes] == [spec["name"] + "-node-1", spec["name"] + "-node-2"]
    assert [n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes] == ["v1.32.9", "v1.36.1"]
    assert all(n["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake" for n in nodes)
    assert nodes[0]["metadata"]["labels"]["topology.kubernetes.io/region"] == spec["region"]
    assert "node-role.kubernetes.io/control-plane" in nodes[0]["metadata"]["labels"]
    assert "node-role.kubernetes.io/control-plane" not in nodes[1]["metadata"]["labels"]


def test_injector_values_are_the_renderings_overridden_by_the_scenario():
    rendered = {"global": {"hub": "gcr.io/istio-release", "tag": "1.31", "network": "network1",
                           "proxy": {"image": "proxyv2"}}, "sidecarInjectorWebhook": {"rewriteAppHTTPProbe": True}}
    scen = {"global": {"hub": "docker.io/istio", "tag": "1.30.3", "network": "network2"}}
    out = rl.deep_merge(rendered, scen)
    assert out["global"] == {"hub": "docker.io/istio", "tag": "1.30.3", "network": "network2",
                             "proxy": {"image": "proxyv2"}}
    assert rendered["global"]["network"] == "network1"      # the cached rendering is not changed


def test_load_balancer_ingress_is_shared_with_meshlab():
    assert lb_ingress("cluster1", {"loadBalancer": {"pool": "172.18.1.0/24"}}, "istio-system", "gw", "172.18.1.1") == \
        {"ip": "172.18.1.1", "ipMode": "VIP"}
    host = lb_ingress("cluster1", {"region": "us-east1", "loadBalancer": {"hostname": True}}, "istio-system", "gw",
                      "172.18.1.1")
    assert host["hostname"].endswith(".us-east1.elb.amazonaws.com") and host["_ip"] == "172.18.1.1"


def test_proxy_shim_renders_xdsprobe_endpoints_as_envoy_admin_json():
    probe = {"clusters": ["BlackHoleCluster", "outbound|5000||helloworld.sample.svc.cluster.local",
                          "outbound|80||sleep.sample.svc.cluster.local"],
             "endpoints": {"outbound|5000||helloworld.sample.svc.cluster.local": [
                 {"address": "10.10.0.7", "port": 5000, "locality": "us-east1/us-east1-a/", "weight": 1},
                 {"address": "172.18.2.1", "port": 15443, "locality": "us-west1/us-west1-b/", "weight": 1}]}}
    doc = envoy.render_clusters(shim._View(probe))
    parsed = envoy.parse_clusters(doc)
    assert isinstance(parsed, (dict, list)) and parsed
    by_name = {c["name"]: c for c in doc["cluster_statuses"]}
    hosts = by_name["outbound|5000||helloworld.sample.svc.cluster.local"]["host_statuses"]
    assert [(h["address"]["socket_address"]["address"], h["address"]["socket_address"]["port_value"])
            for h in hosts] == [("10.10.0.7", 5000), ("172.18.2.1", 15443)]
    assert hosts[1]["locality"] == {"region": "us-west1", "zone": "us-west1-b"}
    assert "host_statuses" not in by_name["outbound|80||sleep.sample.svc.cluster.local"]
    assert [c["name"] for c in doc["cluster_statuses"]].count("BlackHoleCluster") == 1


def test_istiod_output_becomes_cri_lines_for_kwok(tmp_path):
    src = io.BytesIO(b"2026-12-02T14:00:00.000000Z\tinfo\tAdd cluster\tcluster=cluster2 config=istio-system/x\n")
    t = rc.cri_tee(src, tmp_path / "raw.log", tmp_path / "cri.log")
    t.join(5)
    raw = (tmp_path / "raw.log").read_bytes()
    cri = (tmp_path / "cri.log").read_text().splitlines()
    assert raw.startswith(b"2026-12-02T14:00:00.000000Z\tinfo")
    stamp, stream, tag, rest = cri[0].split(" ", 3)
    assert (stream, tag) == ("stdout", "F") and stamp.endswith("Z") and rest.startswith("2026-12-02T14:00:00")
    time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")


def test_kubeconfig_has_one_context_per_cluster():
    doc = rc.kubeconfig_doc([("cluster1", "https://127.0.1.1:6443", "PEM1", "t1"),
                             ("cluster2", "https://127.0.2.1:6443", "PEM2", "t2")], "cluster1")
    assert [c["name"] for c in doc["contexts"]] == ["cluster1", "cluster2"]
    assert doc["contexts"][1]["context"] == {"cluster": "cluster2", "user": "cluster2-admin"}
    assert json.loads(json.dumps(doc))["current-context"] == "cluster1"
