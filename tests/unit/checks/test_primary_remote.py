"""Primary-remote: roles, remote secrets only on primaries, istiod vs istiod-remote, the guide's branches."""
from checks_facts import NS, build_mesh, by_key, ids, run


def _bind_local(facts):
    """The remote's proxies dial the in-cluster istiod: no istiod-remote, discoveryAddress istiod."""
    facts["control_plane_services"] = [s for s in facts["control_plane_services"] if s["name"] != "istiod-remote"]
    facts["mesh_config"]["defaultConfig"]["discoveryAddress"] = "istiod.%s.svc:15012" % NS
    facts["discovery_address"] = "istiod.%s.svc:15012" % NS


def test_remote_needs_no_remote_secret_primary_does():
    mesh = build_mesh("primary_remote")
    assert mesh["cluster2"]["remote_secrets"] == []
    assert run(mesh) == []
    mesh["cluster1"]["remote_secrets"] = []
    assert [f.key for f in run(mesh)] == ["remote_secret.missing@cluster1->cluster2"]


def test_remote_with_local_istiod_and_istiod_remote_is_healthy():
    assert run(build_mesh("primary_remote_local_istiod")) == []


def test_istiod_remote_missing_when_bound_to_local_istiod():
    mesh = build_mesh("primary_remote_local_istiod")
    _bind_local(mesh["cluster2"])
    found = by_key(run(mesh))
    f = found["primary_remote.istiod_remote_missing@cluster2->cluster1"]
    assert f.resource == "Service/istio-system/istiod-remote"
    assert f.evidence["istiod_remote_service"] is False
    assert any("istiod.istio-system.svc:15012" in b for b in f.evidence["bound_to_local_istiod"])
    assert "remotePilotAddress" in f.remedy
    # the misbound remote is not treated as a primary: no remote secret findings for it
    assert not [k for k in found if k.startswith("remote_secret.") and "@cluster2" in k]


def test_declared_remote_without_marks_and_local_istiod():
    """The guide's case: no istiod-remote, no remotePilotAddress, the inventory says remote."""
    mesh = build_mesh("primary_remote_local_istiod")
    f = mesh["cluster2"]
    _bind_local(f)
    f["injector_values"]["global"]["remotePilotAddress"] = None
    f["role"] = "primary"
    f["declared"]["role"] = "remote"
    # proxy in cluster2 sees only its own pod: the "endpoint is a Pod in the remote cluster" branch
    f["proxy"]["endpoints"] = [e for e in f["proxy"]["endpoints"] if e["address"].startswith("10.20.")]
    found = by_key(run(mesh))
    assert "primary_remote.istiod_remote_missing@cluster2->cluster1" in found
    sym = found["endpoints.remote_missing@cluster2->cluster1"]
    assert sym.caused_by == ["primary_remote.istiod_remote_missing@cluster2->cluster1"]


def test_istiod_remote_missing_names_the_primary_of_the_annotation():
    mesh = build_mesh("primary_remote_local_istiod", clusters=3)
    mesh["cluster3"] = build_mesh("multinetwork", clusters=3)["cluster3"]   # a second primary
    mesh["cluster2"]["namespace"]["annotations"]["topology.istio.io/controlPlaneClusters"] = "cluster3"
    _bind_local(mesh["cluster2"])
    assert "primary_remote.istiod_remote_missing@cluster2->cluster3" in by_key(run(mesh))
    del mesh["cluster2"]["namespace"]["annotations"]["topology.istio.io/controlPlaneClusters"]
    # two primaries, none named: the finding names no peer
    assert "primary_remote.istiod_remote_missing@cluster2" in by_key(run(mesh))


def test_pod_discovery_address_annotation_binds_locally():
    mesh = build_mesh("primary_remote_local_istiod")
    mesh["cluster2"]["sidecar_pods"][1]["discovery_address"] = "istiod.istio-system.svc:15012"
    assert "primary_remote.istiod_remote_missing" in ids(run(mesh))


def test_remote_own_endpoints_missing_caused_by_primary_secret():
    """From the remote's sleep only the primary's pod: the primary cannot read the remote cluster."""
    mesh = build_mesh("primary_remote")
    mesh["cluster1"]["remote_secrets"][0]["entries"][0]["key"] = "cluster-two"
    for name in ("cluster1", "cluster2"):
        proxy = mesh[name]["proxy"]
        proxy["endpoints"] = [e for e in proxy["endpoints"] if e["address"] not in ("10.20.0.7", "172.18.2.10")]
    found = by_key(run(mesh))
    own = found["endpoints.remote_missing@cluster2"]
    assert own.peer is None
    assert own.caused_by == ["remote_secret.key_mismatch@cluster1->cluster2"]
    assert found["endpoints.remote_missing@cluster1->cluster2"].caused_by == [
        "remote_secret.key_mismatch@cluster1->cluster2"]


def test_primary_gateway_needs_istiod_ports_for_remote():
    mesh = build_mesh("primary_remote")
    gw = mesh["cluster1"]["gateways"][0]
    gw["ports"] = [p for p in gw["ports"] if p["port"] not in (15012, 15017)]
    f = by_key(run(mesh))["eastwest_gateway.port_missing@cluster1"]
    assert f.evidence["services"][0]["missing"] == [15012, 15017]
    assert f.evidence["services"][0]["remote_clusters_using_it"] == ["cluster2"]
    # a multi-primary mesh does not need them
    mesh = build_mesh("multinetwork")
    gw = mesh["cluster1"]["gateways"][0]
    gw["ports"] = [p for p in gw["ports"] if p["port"] not in (15012, 15017)]
    assert run(mesh) == []


def test_remote_without_istiod_needs_no_cacerts():
    mesh = build_mesh("primary_remote")
    assert mesh["cluster2"]["cacerts"] is None
    assert "trust.cacerts_missing" not in ids(run(mesh))


def test_declared_role_primary_on_a_remote():
    mesh = build_mesh("primary_remote")
    mesh["cluster2"]["declared"]["role"] = "primary"
    f = by_key(run(mesh))["cluster.declared_role_mismatch@cluster2"]
    assert f.severity == "warning"
