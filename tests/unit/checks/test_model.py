"""The mesh model: derived once by the checks, read as it is by the reports and remediation."""
import copy

from ansible_collections.meshmend.multicluster.plugins.module_utils import report
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import REGISTRY, diagnose
from ansible_collections.meshmend.multicluster.plugins.module_utils.catalogue import CATALOGUE

from checks_facts import NOW, build_mesh


def _diagnose(mesh):
    return diagnose(copy.deepcopy(mesh), {"now": NOW})


def _report(mesh):
    result = _diagnose(mesh)
    findings = [f.to_dict() for f in result.findings]
    return result, report.build_report(mesh, findings, model=result.model)


def test_healthy_model():
    model = _diagnose(build_mesh("multinetwork")).model
    c1 = model["clusters"]["cluster1"]
    assert (c1["state"], c1["installed"], c1["role"], c1["cluster_id"], c1["network"]) == \
        ("full", True, "primary", "cluster1", "network1")
    assert c1["serving"] == ["cluster1"]
    assert model["multi_network"] is True
    assert model["networks"]["network2"]["gateway_addresses"] == ["172.18.2.10"]
    assert [(lk["source"], lk["target"], lk["state"]) for lk in model["links"]] == [
        ("cluster1", "cluster2", "ok"), ("cluster2", "cluster1", "ok")]
    entry = [e for e in model["remote_secrets"] if e["cluster"] == "cluster1"][0]
    assert (entry["target"], entry["matched_by"], entry["state"]) == ("cluster2", "server", "ok")


def test_trailing_slash_and_rekeyed_secret_agree_in_checks_and_picture():
    # issue 14: the checks said key_mismatch while the report's picture labelled the link "missing"
    mesh = build_mesh("multinetwork")
    entry = mesh["cluster1"]["remote_secrets"][0]["entries"][0]
    entry.update(server="HTTPS://127.0.2.1:6443/", key="renamed", probe=None)
    result, doc = _report(mesh)
    assert "remote_secret.key_mismatch@cluster1->cluster2" in [f.key for f in result.findings]
    link = [lk for lk in doc["model"]["links"] if (lk["source"], lk["target"]) == ("cluster1", "cluster2")][0]
    assert link["secret"] == "istio-system/istio-remote-secret-cluster2"
    assert link["state"] == "error" and "remote_secret.key_mismatch" in link["ids"]
    keys = doc["facts"]["cluster1"]["remote_secrets"][0]["keys"]
    assert keys[0]["target"] == "cluster2"


def test_role_is_derived_once_and_the_report_shows_it():
    # issue 14: with a declared remote the checks raised istiod_remote_missing while the report said primary
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["declared"]["role"] = "remote"
    result, doc = _report(mesh)
    assert "primary_remote.istiod_remote_missing@cluster2->cluster1" in [f.key for f in result.findings]
    assert result.model["clusters"]["cluster2"]["role"] == "remote_bound_local"
    assert doc["facts"]["cluster2"]["role"] == "remote_bound_local"
    assert doc["model"]["clusters"]["cluster2"]["remote_because"] == ["declared role remote"]


def test_checks_do_not_depend_on_order():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["istiod"] = None                    # Istio gone in cluster2
    mesh["cluster2"]["control_plane_services"] = []
    mesh["cluster1"]["remote_secrets"] = []
    before = [f.to_dict() for f in _diagnose(mesh).findings]
    saved = list(REGISTRY)
    try:
        REGISTRY.reverse()
        after = [f.to_dict() for f in _diagnose(mesh).findings]
    finally:
        REGISTRY[:] = saved
    assert before == after
    assert "istio.not_installed@cluster2" in [f["key"] for f in before]


def test_every_registered_check_raises_catalogue_ids_only():
    registered = [fid for c in REGISTRY for fid in c.ids]
    assert len(registered) == len(set(registered))           # one check per id
    assert all(fid in CATALOGUE for fid in registered)
    assert all(CATALOGUE[fid].message and CATALOGUE[fid].remedy for fid in registered)


def test_one_mislabelled_workload_does_not_make_a_flat_mesh_multi_network():
    # issue 13: a workload label in a single-network mesh turned the whole mesh multi-network
    mesh = build_mesh("single")
    pod = mesh["cluster1"]["sidecar_pods"][0]
    pod.update(network_label="network9", network_env="network9")
    result = _diagnose(mesh)
    assert result.model["multi_network"] is False
    assert not [f for f in result.findings if f.id.startswith(("eastwest_gateway.", "network."))]


def test_fix_payloads_are_what_remediation_needs():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["remote_secrets"] = []
    mesh["cluster2"]["namespace"]["labels"] = {}
    found = dict((f.key, f) for f in _diagnose(mesh).findings)
    assert found["remote_secret.missing@cluster1->cluster2"].fix == {
        "peer": "cluster2", "key": "cluster2", "namespace": "istio-system",
        "name": "istio-remote-secret-cluster2", "peer_namespace": "istio-system"}
    assert found["network.namespace_label_missing@cluster2"].fix == {
        "label": "topology.istio.io/network", "value": "network2", "value_from": "values.global.network",
        "objects": [{"kind": "Namespace", "namespace": None, "name": "istio-system", "current": None}]}
    assert found["network.namespace_label_missing@cluster2"].target == {
        "kind": "Namespace", "namespace": None, "name": "istio-system"}
