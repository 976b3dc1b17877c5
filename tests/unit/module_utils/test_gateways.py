from ansible_collections.meshmend.multicluster.plugins.module_utils import gateways as gw


def svc(name="istio-eastwestgateway", stype="LoadBalancer", labels=None, annotations=None, ingress=None,
        external_ips=None, ports=None):
    labels = {"istio": "eastwestgateway", "topology.istio.io/network": "network1"} if labels is None else labels
    return {"metadata": {"name": name, "namespace": "istio-system", "labels": labels, "annotations": annotations or {}},
            "spec": {"type": stype, "selector": {"istio": "eastwestgateway"}, "externalIPs": external_ips or [],
                     "ports": ports if ports is not None else [
                         {"name": "status-port", "port": 15021, "nodePort": 31781},
                         {"name": "tls", "port": 15443, "nodePort": 30498},
                         {"name": "tls-istiod", "port": 15012, "nodePort": 30012},
                         {"name": "tls-webhook", "port": 15017, "nodePort": 30017}]},
            "status": {"loadBalancer": {"ingress": ingress or []}}}


def node(name, labels, external=None, internal="10.0.0.5"):
    addrs = [{"type": "InternalIP", "address": internal}] + ([{"type": "ExternalIP", "address": external}] if external else [])
    return {"metadata": {"name": name, "labels": labels}, "status": {"addresses": addrs}}


def test_load_balancer_ip_then_hostname():
    g = gw.gateway_facts(svc(ingress=[{"ip": "172.18.1.10"}, {"hostname": "a.elb.amazonaws.com"}]))
    assert [(a["value"], a["kind"], a["source"]) for a in g["addresses"]] == [
        ("172.18.1.10", "ip", "load_balancer"), ("a.elb.amazonaws.com", "hostname", "load_balancer")]
    assert not g["pending"] and not g["hostname_only"]
    assert g["gateway_port"] == 15443 and g["has_gateway_port"] and g["network_label"] == "network1"
    assert g["well_known_ports"] == {"15012": "tls-istiod", "15017": "tls-webhook", "15021": "status-port", "15443": "tls"}


def test_pending_and_external_ips_fix():
    assert gw.gateway_facts(svc())["pending"] is True
    g = gw.gateway_facts(svc(external_ips=["192.0.2.10"]))
    assert g["pending"] is False
    assert g["addresses"] == [{"value": "192.0.2.10", "kind": "ip", "source": "external_ips"}]
    # externalIPs count for any type
    g = gw.gateway_facts(svc(stype="ClusterIP", external_ips=["192.0.2.11"]))
    assert g["addresses"][0]["value"] == "192.0.2.11" and not g["pending"]


def test_hostname_only():
    g = gw.gateway_facts(svc(ingress=[{"hostname": "a.elb.amazonaws.com"}]))
    assert g["hostname_only"] is True


def test_nodeport_needs_node_selector():
    nodes = [node("n1", {"gw": "yes"}, external="198.51.100.1"), node("n2", {"gw": "no"}, external="198.51.100.2"),
             node("n3", {"gw": "yes"})]
    plain = gw.gateway_facts(svc(stype="NodePort"), nodes)
    assert plain["addresses"] == [] and plain["warnings"]
    sel = gw.gateway_facts(svc(stype="NodePort", annotations={"traffic.istio.io/nodeSelector": '{"gw": "yes"}'}), nodes)
    assert sel["addresses"] == [{"value": "198.51.100.1", "kind": "ip", "source": "node", "port": 30498}]
    assert sel["node_selector"] == {"gw": "yes"}
    bad = gw.gateway_facts(svc(stype="NodePort", annotations={"traffic.istio.io/nodeSelector": "gw=yes"}), nodes)
    assert bad["addresses"] == [] and any("not JSON" in w for w in bad["warnings"])


def test_gateway_port_label_and_ignored():
    g = gw.gateway_facts(svc(labels={"topology.istio.io/network": "n2", "networking.istio.io/gatewayPort": "16443"},
                             ports=[{"name": "tls", "port": 15443}]))
    assert g["gateway_port"] == 16443 and not g["has_gateway_port"] and g["ignored_by_istiod"]
    g = gw.gateway_facts(svc(labels={"topology.istio.io/network": "n2"}, ports=[{"name": "hbone", "port": 15008}]))
    assert not g["has_gateway_port"] and not g["ignored_by_istiod"]


def test_selection_and_external_ip_column():
    other = svc(name="web", labels={"app": "web"})
    unlabelled_net = svc(name="istio-eastwestgateway", labels={"istio": "eastwestgateway"})
    found = gw.gateways_from_services([other, unlabelled_net])
    assert [g["name"] for g in found] == ["istio-eastwestgateway"] and found[0]["network_label"] is None
    assert gw.external_ip_column(svc()) == "<pending>"
    assert gw.external_ip_column(svc(ingress=[{"ip": "172.18.1.10"}], external_ips=["192.0.2.1"])) == "172.18.1.10,192.0.2.1"
