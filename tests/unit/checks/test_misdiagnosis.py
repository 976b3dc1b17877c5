"""No misdiagnosis, as classes (issue 13): each fault is named as what it is, never as something else.

- a remote cluster whose primary-remote wiring broke is diagnosed as that wiring, never istio.not_installed;
- when proxies reach no istiod (istiod at zero replicas, a remote's stale control-plane address, the
  istiod expose Gateway gone), the finding says so and the missing endpoints hang under it; the remote
  secrets, which are fine, are not blamed.
"""
from checks_facts import build_mesh, by_key, run

SECRET_IDS = ("remote_secret.",)


def _only_local(mesh, cluster, keep_prefix):
    proxy = mesh[cluster]["proxy"]
    proxy["endpoints"] = [e for e in proxy["endpoints"] if e["address"].startswith(keep_prefix)]


def _no_secret_blamed(found):
    assert not [k for k in found if k.startswith(SECRET_IDS)], sorted(found)


def test_remote_without_its_control_plane_service_is_not_called_uninstalled():
    mesh = build_mesh("primary_remote")
    mesh["cluster2"]["control_plane_services"] = []      # the selector-less istiod Service was deleted
    _only_local(mesh, "cluster2", "10.20.")               # its proxy gets nothing from the primary any more
    found = by_key(run(mesh))
    assert "istio.not_installed@cluster2" not in found
    f = found["primary_remote.control_plane_service_missing@cluster2->cluster1"]
    assert "istiod.istio-system.svc:15012" in f.message and "remotePilotAddress" in f.remedy
    symptom = found["endpoints.remote_missing@cluster2->cluster1"]
    assert "primary_remote.control_plane_service_missing@cluster2->cluster1" in symptom.caused_by
    _no_secret_blamed(found)


def test_stale_control_plane_address():
    mesh = build_mesh("primary_remote")
    cps = [s for s in mesh["cluster2"]["control_plane_services"] if s["selectorless"]][0]
    cps["endpoints"] = ["192.0.2.77"]                     # the primary's gateway moved
    _only_local(mesh, "cluster2", "10.20.")
    found = by_key(run(mesh))
    f = found["primary_remote.control_plane_address_stale@cluster2->cluster1"]
    assert "192.0.2.77" in f.message and "172.18.1.10" in f.message
    assert "primary_remote.control_plane_address_stale@cluster2->cluster1" in \
        found["endpoints.remote_missing@cluster2->cluster1"].caused_by
    _no_secret_blamed(found)


def test_istiod_expose_gateway_gone():
    mesh = build_mesh("primary_remote")
    mesh["cluster1"]["istio_gateways"] = [g for g in mesh["cluster1"]["istio_gateways"] if g["name"] != "istiod-gateway"]
    _only_local(mesh, "cluster2", "10.20.")
    found = by_key(run(mesh))
    f = found["primary_remote.istiod_not_exposed@cluster1->cluster2"]
    assert "expose-istiod.yaml" in f.remedy
    assert "primary_remote.istiod_not_exposed@cluster1->cluster2" in \
        found["endpoints.remote_missing@cluster2->cluster1"].caused_by
    _no_secret_blamed(found)


def test_istiod_at_zero_replicas_is_the_cause_not_the_secrets():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["istiod"].update(ready_replicas=0, replicas=0, pods=[])
    mesh["cluster1"]["clusterz"] = None                   # nothing to exec into
    mesh["cluster1"]["istiod_log"] = None
    _only_local(mesh, "cluster1", "10.10.")
    found = by_key(run(mesh))
    assert "istio.istiod_not_ready@cluster1" in found
    assert found["endpoints.remote_missing@cluster1->cluster2"].caused_by == ["istio.istiod_not_ready@cluster1"]
    _no_secret_blamed(found)


def test_a_cluster_without_any_istio_is_still_not_installed():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"].update(istiod=None, control_plane_services=[], injector_values=None, mesh_config=None,
                            discovery_address=None)
    found = by_key(run(mesh))
    assert "istio.not_installed@cluster2" in found
