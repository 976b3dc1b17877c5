"""Networks, gateways, trust, locality, cluster checks: detection details and single-network silence."""
import datetime

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import AREA_NAMES, run_checks
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import sort_findings

from checks_facts import NOW, build_mesh, by_key, ids, keys, problems, run, set_mesh_networks


# ------------------------------------------------------------------ networks

def test_single_network_gets_no_gateway_or_network_findings():
    mesh = build_mesh("single")
    for f in mesh.values():
        for p in f["sidecar_pods"]:
            p["network_env"] = None
        f["istio_gateways"] = []
    assert run(mesh) == []


def test_declared_network_disagreement_is_a_label_mismatch():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["declared"]["network"] = "network7"
    f = by_key(run(mesh))["network.namespace_label_mismatch@cluster2"]
    assert f.category == "network_labels"
    assert f.evidence["intended"] == "network7"
    assert "label topology.istio.io/network=network2 but the inventory declares network7" in f.evidence[
        "disagreements"]


def test_values_network_wrong_is_manual():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["declared"]["network"] = "network2"
    mesh["cluster2"]["injector_values"]["global"]["network"] = "network9"
    f = by_key(run(mesh))["network.namespace_label_mismatch@cluster2"]
    assert f.category is None
    assert "values.global.network" in f.remedy


def test_namespace_label_missing_remedy_names_the_network():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["namespace"]["labels"] = {}
    f = by_key(run(mesh))["network.namespace_label_missing@cluster2"]
    assert "topology.istio.io/network=network2" in f.remedy
    assert f.resource == "Namespace/istio-system"


def test_pod_network_unset_lists_pods_once():
    mesh = build_mesh("multinetwork")
    for p in mesh["cluster2"]["sidecar_pods"]:
        p["network_env"] = "network1"
    found = run(mesh)
    f = by_key(found)["network.pod_network_unset@cluster2"]
    assert f.evidence["count"] == 2
    assert len([x for x in found if x.id == "network.pod_network_unset"]) == 1


# ------------------------------------------------------------------ gateways

def test_nodeport_gateway_without_address_is_pending():
    mesh = build_mesh("multinetwork")
    gw = mesh["cluster2"]["gateways"][0]
    gw.update(type="NodePort", addresses=[], pending=False)
    f = by_key(run(mesh))["eastwest_gateway.external_ip_pending@cluster2"]
    assert f.category == "gateway_addresses"
    assert f.resource == "Service/istio-system/istio-eastwestgateway"


def test_hostname_gateway_on_old_istio_is_dropped():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["gateways"][0].update(
        addresses=[{"value": "x.elb.amazonaws.com", "kind": "hostname", "source": "load_balancer"}], hostname_only=True)
    mesh["cluster2"]["istiod"]["version"] = "1.12.1"
    f = by_key(run(mesh))["eastwest_gateway.hostname_only@cluster2"]
    assert "Hostnames are not supported for gateways" in f.message
    assert f.severity == "warning"


def test_gateway_port_label_is_honoured():
    mesh = build_mesh("multinetwork")
    gw = mesh["cluster2"]["gateways"][0]
    gw["gateway_port"] = 16443
    assert "eastwest_gateway.port_missing" in ids(run(mesh))
    gw["ports"].append({"name": "tls-alt", "port": 16443, "target_port": 15443, "node_port": 31000, "protocol": "TCP"})
    assert "eastwest_gateway.port_missing" not in ids(run(mesh))


def test_expose_gateway_must_be_auto_passthrough_and_select_the_gateway():
    for change in (lambda g: g.update(selector={"istio": "ingressgateway"}),
                   lambda g: g["servers"][0].update(tls_mode="PASSTHROUGH"),
                   lambda g: g["servers"][0].update(port=443)):
        mesh = build_mesh("multinetwork")
        change(mesh["cluster1"]["istio_gateways"][0])
        assert keys(problems(run(mesh))) == ["eastwest_gateway.expose_gateway_missing@cluster1"]


def test_gateway_crd_unreadable_skips_expose_check():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["istio_gateways"] = None
    mesh["cluster1"]["read_errors"] = [{"verb": "list", "resource": "gateways", "group": "networking.istio.io",
                                        "namespace": None, "code": 403, "reason": "Forbidden", "message": "no"}]
    assert ids(run(mesh)) == ["cluster.forbidden"]


def test_static_mesh_networks_gateway_replaces_the_service():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["gateways"] = []
    set_mesh_networks(mesh["cluster2"], {"networks": {"network2": {
        "endpoints": [{"fromRegistry": "cluster2"}], "gateways": [{"address": "172.18.2.10", "port": 15443}]}}})
    assert run(mesh) == []


def test_registry_service_named_by_mesh_networks_is_the_gateway():
    # pilot/pkg/serviceregistry/kube/controller/network.go: a registryServiceName gateway counts in the registries
    # its network's fromRegistry names; the Service's load-balancer address is the gateway's
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["gateways"] = []
    ingress = {"metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
               "spec": {"type": "LoadBalancer", "selector": {"istio": "ingressgateway"},
                        "ports": [{"name": "tls", "port": 15443}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "172.18.2.10"}]}}}
    set_mesh_networks(mesh["cluster2"], {"networks": {"network2": {
        "endpoints": [{"fromRegistry": "cluster2"}],
        "gateways": [{"registryServiceName": "istio-ingressgateway.istio-system.svc.cluster.local",
                      "port": 15443}]}}}, services=[ingress])
    assert run(mesh) == []
    # the same, when the named Service is absent: no gateway for network2
    set_mesh_networks(mesh["cluster2"], mesh["cluster2"]["mesh_networks"])
    assert "eastwest_gateway.missing@cluster2" in [f.key for f in run(mesh)]


# ------------------------------------------------------------------ trust

def test_chain_expired_and_not_yet_valid():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["cacerts"]["ca"]["not_after"] = "2026-01-02T00:00:00Z"
    f = by_key(run(mesh))["trust.chain_invalid@cluster2"]
    assert "cacerts ca-cert expired on 2026-01-02T00:00:00Z" in f.evidence["problems"]
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["cacerts"]["ca"]["not_before"] = "2027-01-01T00:00:00Z"
    assert "trust.chain_invalid" in ids(run(mesh))


def test_expiry_window_follows_options():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["cacerts"]["ca"]["not_after"] = "2027-01-20T00:00:00Z"   # 56 days after NOW
    assert "trust.cert_expiring" not in ids(run(mesh))
    f = by_key(run(mesh, expiry_days=60))["trust.cert_expiring@cluster2"]
    assert f.evidence["expiring"][0]["days_left"] == 55
    later = NOW + datetime.timedelta(days=40)
    assert "trust.cert_expiring" in ids(run(mesh, now=later))


def test_root_rotation_bundle_is_not_a_mismatch():
    mesh = build_mesh("multinetwork")
    new = "sha256:eeeeeeeeeeeeeeee"
    old = mesh["cluster1"]["ca_root_cert"]["fingerprint"]
    mesh["cluster2"]["ca_root_cert"] = {"fingerprint": new, "roots": [{"fingerprint": new}, {"fingerprint": old}]}
    mesh["cluster2"]["cacerts"]["root"]["fingerprint"] = new
    mesh["cluster1"]["ca_root_cert"]["roots"] = [{"fingerprint": old}, {"fingerprint": new}]
    assert run(mesh) == []


def test_root_mismatch_one_finding_per_differing_root():
    mesh = build_mesh("multinetwork", clusters=3)
    for c in ("cluster2",):
        mesh[c]["ca_root_cert"]["fingerprint"] = "sha256:ffffffffffffffff"
        mesh[c]["cacerts"]["root"]["fingerprint"] = "sha256:ffffffffffffffff"
    found = [f for f in run(mesh) if f.id == "trust.root_mismatch"]
    assert [f.key for f in found] == ["trust.root_mismatch@cluster1->cluster2"]
    assert found[0].evidence["clusters_with_other_root"] == ["cluster2"]
    assert found[0].evidence["clusters_with_mesh_root"] == ["cluster1", "cluster3"]


def test_both_self_signed_roots_link_both_causes():
    mesh = build_mesh("multinetwork")
    for i, c in enumerate(("cluster1", "cluster2")):
        mesh[c]["cacerts"] = None
        mesh[c]["ca_root_cert"]["fingerprint"] = "sha256:%016d" % i
    f = by_key(run(mesh))["trust.root_mismatch@cluster1->cluster2"]
    assert sorted(f.caused_by) == ["trust.cacerts_missing@cluster1", "trust.cacerts_missing@cluster2"]


# ------------------------------------------------------------------ locality

def test_locality_needs_outlier_detection_or_traffic_distribution():
    mesh = build_mesh("multinetwork")
    dr = {"namespace": "sample", "name": "helloworld", "host": "helloworld.sample.svc.cluster.local",
          "outlier_detection": False, "locality_lb": None}
    mesh["cluster1"]["destination_rules"] = [dr]
    assert run(mesh) == []
    dr["outlier_detection"] = True
    f = by_key(run(mesh))["locality.prefers_local@cluster1->cluster2"]
    assert f.severity == "info" and f.caused_by == []
    dr["locality_lb"] = {"enabled": False}
    assert run(mesh) == []
    mesh["cluster1"]["destination_rules"] = []
    mesh["cluster2"]["services"][0]["traffic_distribution"] = "PreferClose"
    assert keys(run(mesh)) == ["locality.prefers_local@cluster2->cluster1"]


def test_locality_same_zone_or_mesh_disabled_is_silent():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["destination_rules"] = [{"namespace": "sample", "name": "hw", "host": "helloworld",
                                              "outlier_detection": True, "locality_lb": None}]
    mesh["cluster1"]["mesh_config"]["localityLbSetting"] = {"enabled": False}
    assert run(mesh) == []
    mesh["cluster1"]["mesh_config"]["localityLbSetting"] = {"enabled": True}
    mesh["cluster2"]["nodes"][0].update(region="region1", zone="region1-a")
    assert run(mesh) == []


def test_locality_remote_uses_the_primary_config():
    mesh = build_mesh("primary_remote")
    mesh["cluster1"]["destination_rules"] = [{"namespace": "sample", "name": "helloworld",
                                              "host": "helloworld.sample.svc.cluster.local",
                                              "outlier_detection": True, "locality_lb": None}]
    assert keys(run(mesh)) == ["locality.prefers_local@cluster1->cluster2", "locality.prefers_local@cluster2->cluster1"]


# ------------------------------------------------------------------ cluster

def test_forbidden_names_every_missing_permission():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["read_errors"] = [
        {"verb": "list", "resource": "secrets", "group": "", "namespace": None, "code": 403, "message": "a"},
        {"verb": "get", "resource": "pods", "group": "", "namespace": "istio-system", "code": 403, "message": "b",
         "subresource": "log"}]
    f = by_key(run(mesh))["cluster.forbidden@cluster1"]
    assert "list secrets cluster-wide" in f.message and "get pods in namespace istio-system" in f.message
    assert f.evidence["count"] == 2


def test_mesh_id_majority_and_unset():
    mesh = build_mesh("multinetwork", clusters=3)
    mesh["cluster1"]["mesh_id"] = "other"
    assert keys(run(mesh)) == ["mesh.id_mismatch@cluster1->cluster2"]
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["mesh_id"] = None
    assert keys(run(mesh)) == ["mesh.id_mismatch@cluster2->cluster1"]


def test_not_installed_cluster_is_not_judged_further():
    mesh = build_mesh("multinetwork")
    f = mesh["cluster2"]
    f.update(istiod=None, control_plane_services=[], cacerts=None, gateways=[], istio_gateways=None, proxy=None)
    f["namespace"] = None
    found = run(mesh)
    assert keys(found) == ["endpoints.not_checked@cluster1", "istio.not_installed@cluster2"]
    assert by_key(found)["endpoints.not_checked@cluster1"].caused_by == ["istio.not_installed@cluster2"]


# ------------------------------------------------------------------ run_checks

def test_areas_filter_and_prune_links():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["remote_secrets"] = []
    mesh["cluster1"]["proxy"]["endpoints"] = [e for e in mesh["cluster1"]["proxy"]["endpoints"]
                                              if e["address"].startswith("10.10.")]
    only = run(mesh, areas=["endpoints"])
    assert keys(only) == ["endpoints.remote_missing@cluster1->cluster2"]
    assert only[0].caused_by == []   # its cause was not asked for
    assert keys(run(mesh, areas="remote_secret,endpoints")) == [
        "endpoints.remote_missing@cluster1->cluster2", "remote_secret.missing@cluster1->cluster2"]
    assert set(AREA_NAMES) == {"cluster", "primary_remote", "remote_secret", "network", "gateway", "trust",
                               "locality", "endpoints"}


def test_output_is_sorted_unique_and_deterministic():
    mesh = build_mesh("multinetwork", clusters=3)
    mesh["cluster1"]["remote_secrets"] = []
    mesh["cluster3"]["gateways"][0].update(addresses=[], pending=True)
    mesh["cluster2"]["cacerts"] = None
    first = run(mesh)
    assert first == sort_findings(first)
    assert len(set(f.key for f in first)) == len(first)
    assert [f.to_dict() for f in first] == [f.to_dict() for f in run(mesh)]
    reordered = dict(reversed(list(mesh.items())))
    assert [f.to_dict() for f in run(reordered)] == [f.to_dict() for f in first]


def test_input_is_not_mutated():
    import copy
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["remote_secrets"] = []
    before = copy.deepcopy(mesh)
    run_checks(mesh, {"now": NOW})
    assert mesh == before


@pytest.mark.parametrize("kind", ["multinetwork", "single", "primary_remote"])
def test_findings_are_json_safe(kind):
    import json
    mesh = build_mesh(kind)
    mesh["cluster1"]["remote_secrets"] = []
    mesh["cluster2"]["cacerts"] = None
    json.dumps([f.to_dict() for f in run(mesh)])


def test_timings_filled_per_area():
    timings = {}
    run(build_mesh("multinetwork"), timings=timings)
    assert set(timings) == {"mesh_model"} | set(AREA_NAMES)
    assert all(isinstance(v, float) and v >= 0 for v in timings.values())


def test_forbidden_resource_names_the_kind():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["read_errors"] = [{"verb": "create", "resource": "pods/exec", "group": "",
                                        "namespace": "istio-system", "name": "istiod-x", "code": 403, "message": "x"}]
    f = by_key(run(mesh))["cluster.forbidden@cluster1"]
    assert f.resource == "Pod/istio-system/istiod-x"
    assert "create pods/exec in namespace istio-system" in f.message


def test_forbidden_names_the_shipped_manifest_and_rule():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["remote_secrets"] = None
    mesh["cluster1"]["proxy"] = None
    mesh["cluster1"]["read_errors"] = [
        {"verb": "list", "resource": "secrets", "group": "", "namespace": None, "code": 403,
         "reason": "Forbidden", "message": "secrets is forbidden"},
        {"verb": "create", "resource": "pods/exec", "group": "", "namespace": "sample", "name": "sleep-1",
         "code": 403, "reason": "Forbidden", "message": "pods \"sleep-1\" is forbidden"}]
    f = [x for x in run(mesh) if x.id == "cluster.forbidden"][0]
    assert "docs/rbac/meshmend-diagnose/" in f.remedy
    assert "list secrets (cluster-wide)" in f.remedy and "get,create pods/exec (sample)" in f.remedy
    assert [p["rule"] for p in f.evidence["missing_permissions"]] == [
        "list secrets (cluster-wide)", "get,create pods/exec (sample)"]
