"""Meshes that do not run Istio's samples (issue 13): the central endpoints check still runs, or says why not."""
from checks_facts import build_mesh, by_key, pod_ip, run

HOST = "reviews.bookinfo.svc.cluster.local"


def _bookinfo(mesh, healthy=True):
    """Replace helloworld/sleep by bookinfo's reviews, running in both clusters; the client proxy is productpage,
    picked automatically (no sleep), and knows reviews' endpoints as Envoy lists them."""
    for n, (name, facts) in enumerate(sorted(mesh.items()), 1):
        facts["services"] = [{"namespace": "bookinfo", "name": "reviews", "type": "ClusterIP",
                              "selector": {"app": "reviews"}, "ports": [9080], "traffic_distribution": None}]
        facts["sidecar_pods"] = [
            {"namespace": "bookinfo", "name": "reviews-v%d-abc" % n, "labels": {"app": "reviews"},
             "pod_ip": pod_ip(n, 20), "ready": True, "network_env": facts["network"], "network_label": None},
            {"namespace": "bookinfo", "name": "productpage-v1-xyz", "labels": {"app": "productpage"},
             "pod_ip": pod_ip(n, 21), "ready": True, "network_env": facts["network"], "network_label": None}]
    for n, (name, facts) in enumerate(sorted(mesh.items()), 1):
        rows = [{"address": pod_ip(n, 20), "port": 9080, "status": "HEALTHY",
                 "cluster": "outbound|9080||" + HOST}]
        for m, (other, ofacts) in enumerate(sorted(mesh.items()), 1):
            if other != name and healthy:
                gws = [a["value"] for g in ofacts["gateways"] for a in g["addresses"]]
                rows.append({"address": gws[0], "port": 15443, "status": "HEALTHY",
                             "cluster": "outbound|9080||" + HOST})
        facts["proxy"] = {"pod": "bookinfo/productpage-v1-xyz", "service": "helloworld.sample.svc.cluster.local",
                          "port": 5000, "network": facts["network"], "error": None, "endpoints": [],
                          "client_from": "auto", "services": {HOST: rows}}
    return mesh


def test_a_service_of_the_mesh_is_judged_when_the_samples_are_absent():
    mesh = _bookinfo(build_mesh("multinetwork"))
    assert run(mesh) == []
    broken = _bookinfo(build_mesh("multinetwork"), healthy=False)
    broken["cluster1"]["remote_secrets"] = []
    found = by_key(run(broken))
    f = found["endpoints.remote_missing@cluster1->cluster2"]
    assert f.evidence["service"] == HOST and f.evidence["service_chosen"] == "auto"
    assert f.caused_by == ["remote_secret.missing@cluster1->cluster2"]
    assert "productpage" in f.message and "reviews" in f.message


def test_the_choice_is_in_the_model():
    from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import diagnose
    model = diagnose(_bookinfo(build_mesh("multinetwork")), {}).model
    assert model["clusters"]["cluster1"]["endpoints_probe"] == {
        "client": "bookinfo/productpage-v1-xyz", "client_from": "auto", "service": HOST, "chosen": "auto",
        "skipped": None}


def test_no_service_in_two_clusters_is_said_not_passed():
    mesh = _bookinfo(build_mesh("multinetwork"))
    mesh["cluster2"]["sidecar_pods"] = [p for p in mesh["cluster2"]["sidecar_pods"] if p["labels"]["app"] != "reviews"]
    found = by_key(run(mesh))
    assert sorted(found) == ["endpoints.not_checked@cluster1", "endpoints.not_checked@cluster2"]
    f = found["endpoints.not_checked@cluster1"]
    assert f.severity == "warning"
    assert "no service the proxy bookinfo/productpage-v1-xyz knows runs in more than one cluster" in f.message
    assert "diagnose_probe_service" in f.remedy


def test_no_client_pod_is_said():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["proxy"] = None
    mesh["cluster2"]["proxy_note"] = ("no Running injected pod matches sample/app=sleep and no other Ready injected "
                                      "pod runs outside istio-system")
    found = by_key(run(mesh))
    assert list(found) == ["endpoints.not_checked@cluster2"]
    assert "no other Ready injected pod" in found["endpoints.not_checked@cluster2"].message


def test_a_single_cluster_raises_nothing():
    mesh = build_mesh("multinetwork")
    del mesh["cluster2"]
    mesh["cluster1"]["remote_secrets"] = []
    assert run(mesh) == []
