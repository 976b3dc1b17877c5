"""The simulated data plane: curl's options, exit codes and Envoy's answers."""
import pytest

from meshlab.istio.dataplane import DataPlane, parse_curl, CurlUsage, run_exec, TLS_VERIFY, TLS_HTTP, REFUSED

import worldbuild as wb


def curl(world, cluster, prefix, args, container=None, dp=None):
    pod = wb.pod(world, cluster, prefix)
    dp = dp or DataPlane()
    return dp.curl(world, cluster, pod, container or pod["spec"]["containers"][0]["name"], ["curl"] + args)


def versions(world, cluster, n=20, args=None):
    dp = DataPlane()
    return [curl(world, cluster, "sleep", args or ["-sS", "helloworld.sample:5000/hello"], dp=dp)[0] for _ in range(n)]


def test_parse_options():
    o = parse_curl(["curl", "-sS", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", "http://x:5000/hello"])
    assert (o["silent"], o["show_error"], o["max_time"], o["output"], o["write_out"]) == (True, True, 3.0, "/dev/null", "%{http_code}")
    o = parse_curl(["curl", "-sSm5", "x"])
    assert o["max_time"] == 5.0 and o["url"] == "x"
    with pytest.raises(CurlUsage):
        parse_curl(["curl", "--bogus", "x"])
    with pytest.raises(CurlUsage):
        parse_curl(["curl", "-s"])


def test_healthy_multinetwork_sees_v1_and_v2():
    w = wb.scenario("healthy-multinetwork").world
    out = versions(w, "cluster1")
    assert {o.split(",")[0] for o in out} == {"Hello version: v1", "Hello version: v2"}
    assert all(o.startswith("Hello version: v") and "instance: helloworld-v" in o for o in out)


def test_write_out_and_fail():
    w = wb.scenario("healthy-multinetwork").world
    out, err, code = curl(w, "cluster1", "sleep", ["-s", "-o", "/dev/null", "-w", "%{http_code}\n", "helloworld.sample:5000/hello"])
    assert (out, code) == ("200\n", 0)
    out, err, code = curl(w, "cluster1", "sleep", ["-sS", "helloworld.sample:5000/nope"])
    assert code == 0 and "404 Not Found" in out
    out, err, code = curl(w, "cluster1", "sleep", ["-sSf", "helloworld.sample:5000/nope"])
    assert code == 22 and "returned error: 404" in err
    out, err, code = curl(w, "cluster1", "sleep", ["-sS", "nosuch.sample:5000/hello"])
    assert code == 6 and err == "curl: (6) Could not resolve host: nosuch.sample\n"


def test_firewall_on_15443_times_out_remote_half():
    w = wb.scenario("healthy-multinetwork").world
    w.spec["firewall"] = [{"action": "deny", "from": "cluster1", "to": "cluster2", "port": 15443}]
    dp = DataPlane()
    res = [curl(w, "cluster1", "sleep", ["-sS", "-m", "2", "helloworld.sample:5000/hello"], dp=dp) for _ in range(4)]
    codes = sorted(r[2] for r in res)
    assert codes == [0, 0, 28, 28]
    assert any(r[1] == "curl: (28) Operation timed out after 2000 milliseconds with 0 bytes received\n" for r in res)


def test_root_mismatch_gives_tls_error():
    w = wb.scenario("trust-root-mismatch").world
    out = versions(w, "cluster1", 4)
    assert TLS_VERIFY in out and any(o.startswith("Hello version: v1") for o in out)


def test_l7_load_balancer_breaks_passthrough():
    w = wb.scenario("healthy-multinetwork").world
    w.cluster_spec("cluster2")["loadBalancer"]["mode"] = "L7"
    assert TLS_HTTP in versions(w, "cluster1", 4)


def test_missing_expose_gateway_refuses():
    w = wb.scenario("eastwest-gateway-expose-gateway-missing").world
    assert REFUSED in versions(w, "cluster1", 4)


def test_locality_keeps_traffic_local():
    w = wb.scenario("locality-prefers-local").world
    assert {o.split(",")[0] for o in versions(w, "cluster1")} == {"Hello version: v1"}
    assert {o.split(",")[0] for o in versions(w, "cluster2")} == {"Hello version: v2"}


def test_raw_remote_pod_ip_not_routable_across_networks():
    w = wb.scenario("eastwest-gateway-external-ip-pending").world
    res = [r[2] for r in [curl(w, "cluster1", "sleep", ["-sS", "-m", "1", "helloworld.sample:5000/hello"],
                                dp=dp) for dp in [DataPlane()] for _ in range(4)]]
    assert sorted(res) == [0, 0, 28, 28]


def test_uninjected_direct_pod_ip():
    flat = wb.scenario("healthy-single-network").world
    ip2 = wb.pod(flat, "cluster2", "helloworld")["status"]["podIP"]
    out, err, code = curl(flat, "cluster1", "sleep", ["-sS", "%s:5000/hello" % ip2], container="istio-proxy")
    assert code == 0 and out.startswith("Hello version: v2")
    flat.spec["firewall"] = [{"action": "deny", "from": "cluster1", "to": "cluster2"}]
    out, err, code = curl(flat, "cluster1", "sleep", ["-sS", "-m", "5", "%s:5000/hello" % ip2], container="istio-proxy")
    assert (code, err) == (28, "curl: (28) Connection timed out after 5000 milliseconds\n")
    multi = wb.scenario("healthy-multinetwork").world
    ip2 = wb.pod(multi, "cluster2", "helloworld")["status"]["podIP"]
    out, err, code = curl(multi, "cluster1", "sleep", ["-sS", "-m", "5", "%s:5000/hello" % ip2], container="istio-proxy")
    assert code == 28


def test_gateway_probe_from_uninjected_pod():
    w = wb.scenario("healthy-multinetwork").world
    gw = w.get("cluster2", "services", "istio-system", "istio-eastwestgateway")["status"]["loadBalancer"]["ingress"][0]["ip"]
    out, err, code = curl(w, "cluster1", "sleep", ["-sS", "-m", "3", "http://%s:15443/" % gw], container="istio-proxy")
    assert code == 56
    w.spec["firewall"] = [{"action": "deny", "from": "cluster1", "to": "cluster2", "port": 15443}]
    out, err, code = curl(w, "cluster1", "sleep", ["-sS", "-m", "3", "http://%s:15443/" % gw], container="istio-proxy")
    assert code == 28
    w.spec["firewall"] = []
    w.objects["cluster2"] = [o for o in w.objects["cluster2"] if o["kind"] != "Gateway"]
    out, err, code = curl(w, "cluster1", "sleep", ["-sS", "-m", "3", "http://%s:15443/" % gw], container="istio-proxy")
    assert code == 7


def test_run_exec_shell_and_other_commands():
    w = wb.scenario("healthy-multinetwork").world
    pod = wb.pod(w, "cluster1", "sleep")
    out, err, code = run_exec(DataPlane(), w, "cluster1", pod, "sleep",
                              ["sh", "-c", "curl -sS helloworld.sample:5000/hello"])
    assert out.startswith("Hello version: v")
    assert run_exec(DataPlane(), w, "cluster1", pod, "sleep", ["ls"]) is None


def test_run_exec_docs_loop():
    w = wb.scenario("healthy-multinetwork").world
    pod = wb.pod(w, "cluster1", "sleep")
    out, err, code = run_exec(DataPlane(), w, "cluster1", pod, "sleep",
                              ["sh", "-c", "for i in $(seq 6); do curl -sS helloworld.sample:5000/hello; done"])
    lines = out.splitlines()
    assert len(lines) == 6 and {l.split(",")[0] for l in lines} == {"Hello version: v1", "Hello version: v2"}
