"""meshNetworks samples from istio: the gateways istiod learns, as istio's code derives them.

Upstream behaviour (istio/istio 1.30.3 unless the sample says otherwise): pkg/config/mesh/mesh.go
ParseMeshNetworks (jsonpb: JSON and proto field names), pkg/config/validation/agent/validation.go
validateNetwork (one bad entry rejects the document), pilot/pkg/model/network.go NetworkManager.reload
(fixed addresses), pilot/pkg/serviceregistry/kube/controller/network.go reloadMeshNetworks /
getGatewayDetails / extractGatewaysInner (registryServiceName only in its fromRegistry cluster, label wins,
nodePort mapping). Where the upstream test asserts a result (expectGateways, vm.Expect) the sample uses it.
"""
import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import mesh_networks
import upstreamcorpus as corpus

SAMPLES = corpus.mesh_network_samples()


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["file"] for s in SAMPLES])
def test_gateways_as_istiod_learns_them(sample):
    assert corpus.judge_mesh_networks(sample, mesh_networks) == []


def test_key_spellings_jsonpb_accepts():
    camel = "networks: {n: {endpoints: [{fromRegistry: c1}], gateways: [{registryServiceName: gw.ns.svc.cluster.local, port: 15443}]}}"
    snake = "networks: {n: {endpoints: [{from_registry: c1}], gateways: [{registry_service_name: gw.ns.svc.cluster.local, port: '15443'}]}}"
    other = "networks: {n: {endpoints: [{fromRegistry: c1}], gateways: [{registry-service-name: gw.ns.svc.cluster.local, port: 15443}]}}"
    svc = {"metadata": {"name": "gw", "namespace": "ns"}, "spec": {"type": "LoadBalancer"},
           "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}}}
    for text in (camel, snake):
        out = mesh_networks.gateways_from_mesh_networks(text, {"c1": [svc]})
        assert [(g["network"], g["cluster"], g["address"], g["port"]) for g in out["gateways"]] == [
            ("n", "c1", "192.0.2.7", 15443)], text
    # an unknown key is dropped by jsonpb's lenient retry: the gateway has no address and no service; port 15443 valid
    out = mesh_networks.gateways_from_mesh_networks(other, {"c1": [svc]})
    assert out["valid"] and out["gateways"] == [] and out["declared"] == []


def test_oneof_given_twice_keeps_the_later_declared_field():
    text = "networks: {n: {gateways: [{registryServiceName: gw.ns.svc.cluster.local, address: 192.0.2.9, port: 443}]}}"
    out = mesh_networks.gateways_from_mesh_networks(text)
    assert [(g["address"], g["source"]) for g in out["gateways"]] == [("192.0.2.9", "address")]


def test_port_zero_rejects_the_document():
    out = mesh_networks.gateways_from_mesh_networks("networks: {n: {gateways: [{address: 192.0.2.1}]}}")
    assert not out["valid"] and out["errors"][0]["error"] == "invalid network n: port number 0 must be in the range 1..65535"
