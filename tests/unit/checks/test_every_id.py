"""Every finding id of the design contract (section 5; tests/fixtures/design/finding-ids.txt) except
connectivity.* has a check that raises it.

BREAKERS maps each id to a fault applied to a healthy mesh; the test runs the checks and
expects that id. A catalogue id without a breaker fails ``test_every_design_id_has_a_check``.
"""
import copy
import os
import re

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import CHECKED_IDS
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import EXTRA_SEVERITIES
from ansible_collections.meshmend.multicluster.plugins.module_utils.catalogue import DESIGN_IDS
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import CATALOGUE

from checks_facts import NS, build_mesh, ids, run, set_mesh_networks
import refdata  # noqa: E402


def _secret(mesh, c="cluster1", peer="cluster2"):
    return [s for s in mesh[c]["remote_secrets"] if s["name"] == "istio-remote-secret-%s" % peer][0]


def _gw(mesh, c="cluster2"):
    # a broken gateway of cluster2 leaves istiod without an address for network2: cluster1's proxy
    # then holds cluster2's raw pod IP, as split horizon does (istio-facts section 4)
    proxy = mesh["cluster1"]["proxy"]
    for row in proxy["endpoints"]:
        if row["address"] == "172.18.2.10":
            row.update(address="10.20.0.7", port=5000)
    return mesh[c]["gateways"][0]


def b_unreachable(m):
    m["cluster2"] = {"cluster": "cluster2", "server": "https://127.0.2.1:6443", "reachable": False,
                     "error": "cluster2: connection refused", "declared": {}}


def b_forbidden(m):
    m["cluster1"]["read_errors"].append({"verb": "list", "resource": "secrets", "group": "", "namespace": None,
                                         "code": 403, "reason": "Forbidden", "message": "secrets is forbidden"})
    m["cluster1"]["remote_secrets"] = None


def b_read_failed(m):
    m["cluster1"]["read_errors"].append({"verb": "list", "resource": "nodes", "group": "", "namespace": None,
                                         "code": 500, "reason": "InternalError", "message": "etcd timeout"})


def b_not_installed(m):
    m["cluster2"]["istiod"] = None
    m["cluster2"]["control_plane_services"] = []


def b_duplicate(m):
    for c in ("cluster1", "cluster2"):
        m[c]["cluster_id"] = "Kubernetes"
        m[c]["istiod"]["cluster_id"] = "Kubernetes"


def b_mesh_id(m):
    m["cluster2"]["mesh_id"] = "mesh2"


def b_missing(m):
    m["cluster1"]["remote_secrets"] = []


def b_wrong_ns(m):
    _secret(m)["namespace"] = "default"


def b_key_mismatch(m):
    _secret(m)["entries"][0]["key"] = "cluster-2"


def b_local_key(m):
    _secret(m)["entries"][0]["key"] = "cluster1"


def b_invalid(m):
    e = _secret(m)["entries"][0]
    e.update(error="kubeconfig is not allowed: exec is not allowed", auth="exec")


def b_loopback(m):
    _secret(m)["entries"][0].update(server="https://127.0.0.1:6443",
                                    probe={"ok": False, "tried_from": "controller", "error": "connection refused",
                                           "cluster": None})


def b_api_unreachable(m):
    _secret(m)["entries"][0]["probe"] = {"ok": False, "tried_from": "controller", "error": "401 Unauthorized",
                                         "cluster": "cluster2"}


def b_istiod_error(m):
    m["cluster1"]["istiod_log"]["errors"].append(
        {"cluster": "cluster2", "secret": "%s/istio-remote-secret-cluster2" % NS, "kind": "add_failed",
         "line": "Add cluster: create remote cluster failed: kubeconfig is not valid"})


def b_not_synced(m):
    m["cluster1"]["clusterz"][1]["syncStatus"] = "timeout"


def b_istiod_remote(m):
    # remote cluster2 runs a local istiod and its proxies dial it: no istiod-remote
    f = m["cluster2"]
    f["control_plane_services"] = [s for s in f["control_plane_services"] if s["name"] != "istiod-remote"]
    f["mesh_config"]["defaultConfig"]["discoveryAddress"] = "istiod.%s.svc:15012" % NS
    f["discovery_address"] = "istiod.%s.svc:15012" % NS


def b_ns_label_missing(m):
    m["cluster2"]["namespace"]["labels"] = {}
    m["cluster2"]["network"] = "network2"


def b_ns_label_mismatch(m):
    m["cluster2"]["namespace"]["labels"]["topology.istio.io/network"] = "network1"
    m["cluster2"]["network"] = "network1"


def b_pod_network(m):
    m["cluster2"]["sidecar_pods"][0]["network_env"] = None


def b_gw_missing(m):
    _gw(m)
    m["cluster2"]["gateways"] = []


def b_gw_pending(m):
    _gw(m).update(addresses=[], pending=True)


def b_gw_hostname(m):
    _gw(m).update(addresses=[{"value": "abc.elb.amazonaws.com", "kind": "hostname", "source": "load_balancer"}],
                  hostname_only=True)


def b_gw_label_missing(m):
    _gw(m)["network_label"] = None
    del _gw(m)["labels"]["topology.istio.io/network"]


def b_gw_label_mismatch(m):
    _gw(m)["network_label"] = "network1"


def b_gw_port(m):
    _gw(m)["ports"] = [p for p in _gw(m)["ports"] if p["port"] != 15443]


def b_expose(m):
    m["cluster2"]["istio_gateways"] = []


def b_cacerts(m):
    m["cluster2"]["cacerts"] = None
    m["cluster2"]["ca_root_cert"]["fingerprint"] = "sha256:bbbbbbbbbbbbbbbb"


def b_root_mismatch(m):
    m["cluster2"]["cacerts"]["root"]["fingerprint"] = "sha256:cccccccccccccccc"
    m["cluster2"]["ca_root_cert"]["fingerprint"] = "sha256:cccccccccccccccc"


def b_chain(m):
    m["cluster2"]["cacerts"]["chain_valid"] = False
    m["cluster2"]["cacerts"]["errors"] = ["ca-cert is not signed by root-cert"]


def b_expiring(m):
    m["cluster2"]["cacerts"]["ca"]["not_after"] = "2026-12-05T00:00:00Z"


def b_remote_missing(m):
    m["cluster1"]["remote_secrets"] = []
    m["cluster1"]["proxy"]["endpoints"] = [e for e in m["cluster1"]["proxy"]["endpoints"]
                                           if e["address"].startswith("10.10.")]


def b_remote_pod_ips(m):
    _gw(m).update(addresses=[], pending=True)
    m["cluster1"]["proxy"]["endpoints"] = [e for e in m["cluster1"]["proxy"]["endpoints"]
                                           if e["address"].startswith("10.10.")]
    m["cluster1"]["proxy"]["endpoints"].append(dict(m["cluster1"]["proxy"]["endpoints"][0], address="10.20.0.7"))


def b_locality(m):
    m["cluster1"]["destination_rules"] = [{"namespace": "sample", "name": "helloworld",
                                           "host": "helloworld.sample.svc.cluster.local",
                                           "outlier_detection": True, "locality_lb": None}]


def b_not_checked(m):
    # a mesh without Istio's samples, whose own services all run in one cluster
    for c in ("cluster1", "cluster2"):
        m[c]["sidecar_pods"] = [p for p in m[c]["sidecar_pods"] if p["labels"].get("app") != "helloworld" or c == "cluster1"]


def b_istiod_not_ready(m):
    m["cluster2"]["istiod"].update(ready_replicas=0, replicas=0, pods=[])


def _cps(m, c="cluster2"):
    return [s for s in m[c]["control_plane_services"] if s["selectorless"]][0]


def b_cp_service_missing(m):
    m["cluster2"]["control_plane_services"] = [s for s in m["cluster2"]["control_plane_services"]
                                               if not s["selectorless"]]


def b_cp_address_stale(m):
    _cps(m)["endpoints"] = ["192.0.2.77"]


def b_istiod_not_exposed(m):
    m["cluster1"]["istio_gateways"] = [g for g in m["cluster1"]["istio_gateways"] if g["name"] != "istiod-gateway"]


def b_same_cluster(m):
    m["prod-east"] = copy.deepcopy(m["cluster2"])      # a second context for cluster2's API server
    m["prod-east"].update(cluster="prod-east", context="prod-east")


def b_mesh_networks_invalid(m):
    set_mesh_networks(m["cluster1"], {"networks": {"network1": {"endpoints": [{"fromRegistry": "Cluster_1"}],
                                                                "gateways": [{"address": "172.18.1.10", "port": 15443}]}}})


def b_declared_id(m):
    m["cluster1"]["declared"]["cluster_id"] = "east"


def b_declared_mesh(m):
    m["cluster1"]["declared"]["mesh_id"] = "mesh9"


def b_declared_role(m):
    m["cluster2"]["declared"]["role"] = "primary"


def b_unknown_cluster(m):
    stale = copy.deepcopy(_secret(m))
    stale.update(name="istio-remote-secret-cluster9", annotations={"networking.istio.io/cluster": "cluster9"})
    stale["entries"][0].update(key="cluster9", server="https://127.0.9.1:6443", probe=None)
    m["cluster1"]["remote_secrets"].append(stale)


BREAKERS = {
    "cluster.unreachable": ("multinetwork", b_unreachable, {}),
    "cluster.forbidden": ("multinetwork", b_forbidden, {}),
    "cluster.read_failed": ("multinetwork", b_read_failed, {}),
    "istio.not_installed": ("multinetwork", b_not_installed, {}),
    "cluster.duplicate_id": ("multinetwork", b_duplicate, {}),
    "mesh.id_mismatch": ("multinetwork", b_mesh_id, {}),
    "remote_secret.missing": ("multinetwork", b_missing, {}),
    "remote_secret.wrong_namespace": ("multinetwork", b_wrong_ns, {}),
    "remote_secret.key_mismatch": ("multinetwork", b_key_mismatch, {}),
    "remote_secret.local_key": ("multinetwork", b_local_key, {}),
    "remote_secret.invalid_kubeconfig": ("multinetwork", b_invalid, {}),
    "remote_secret.loopback_server": ("multinetwork", b_loopback, {}),
    "remote_secret.api_unreachable": ("multinetwork", b_api_unreachable, {}),
    "remote_secret.istiod_error": ("multinetwork", b_istiod_error, {}),
    "remote_secret.not_synced": ("multinetwork", b_not_synced, {}),
    "remote_secret.unknown_cluster": ("multinetwork", b_unknown_cluster, {}),
    "remote_secret.peers_out_of_play": ("multinetwork", lambda m: None, {"out_of_play": ["cluster3"]}),
    "primary_remote.istiod_remote_missing": ("primary_remote_local_istiod", b_istiod_remote, {}),
    "network.namespace_label_missing": ("multinetwork", b_ns_label_missing, {}),
    "network.namespace_label_mismatch": ("multinetwork", b_ns_label_mismatch, {}),
    "network.pod_network_unset": ("multinetwork", b_pod_network, {}),
    "eastwest_gateway.missing": ("multinetwork", b_gw_missing, {}),
    "eastwest_gateway.external_ip_pending": ("multinetwork", b_gw_pending, {}),
    "eastwest_gateway.hostname_only": ("multinetwork", b_gw_hostname, {}),
    "eastwest_gateway.network_label_missing": ("multinetwork", b_gw_label_missing, {}),
    "eastwest_gateway.network_label_mismatch": ("multinetwork", b_gw_label_mismatch, {}),
    "eastwest_gateway.port_missing": ("multinetwork", b_gw_port, {}),
    "eastwest_gateway.expose_gateway_missing": ("multinetwork", b_expose, {}),
    "trust.cacerts_missing": ("multinetwork", b_cacerts, {}),
    "trust.root_mismatch": ("multinetwork", b_root_mismatch, {}),
    "trust.chain_invalid": ("multinetwork", b_chain, {}),
    "trust.cert_expiring": ("multinetwork", b_expiring, {}),
    "trust.root_not_in_use": ("multinetwork", lambda m: m["cluster2"]["ca_root_cert"].update(
        fingerprint="sha256:dddddddddddddddd"), {}),
    "endpoints.remote_missing": ("multinetwork", b_remote_missing, {}),
    "endpoints.remote_pod_ips": ("multinetwork", b_remote_pod_ips, {}),
    "locality.prefers_local": ("multinetwork", b_locality, {}),
    "endpoints.not_checked": ("multinetwork", b_not_checked, {}),
    "istio.istiod_not_ready": ("multinetwork", b_istiod_not_ready, {}),
    "cluster.same_cluster": ("multinetwork", b_same_cluster, {}),
    "network.mesh_networks_invalid": ("multinetwork", b_mesh_networks_invalid, {}),
    "primary_remote.control_plane_service_missing": ("primary_remote", b_cp_service_missing, {}),
    "primary_remote.control_plane_address_stale": ("primary_remote", b_cp_address_stale, {}),
    "primary_remote.istiod_not_exposed": ("primary_remote", b_istiod_not_exposed, {}),
    "cluster.declared_id_mismatch": ("multinetwork", b_declared_id, {}),
    "mesh.declared_id_mismatch": ("multinetwork", b_declared_mesh, {}),
    "cluster.declared_role_mismatch": ("primary_remote", b_declared_role, {}),
}


def design_ids():
    """Ids of the design contract's section 5 (tests/fixtures/design/finding-ids.txt, a committed copy)."""
    return set(fid for fid, _severity in refdata.design_finding_ids())


def test_design_ids_are_in_the_catalogue_with_their_severity():
    rows = refdata.design_finding_ids()
    assert len(rows) == 36 and rows[0] == ("cluster.unreachable", "error")
    assert [(fid, CATALOGUE[fid].severity) for fid, _severity in rows if fid in CATALOGUE] == rows
    assert list(DESIGN_IDS) == [fid for fid, _severity in rows]


def test_every_design_id_has_a_check():
    wanted = set(i for i in design_ids() | set(CATALOGUE) if not i.startswith("connectivity."))
    assert wanted, "no ids read"
    assert not (wanted - set(BREAKERS)), "ids without a check: %s" % sorted(wanted - set(BREAKERS))
    assert not (wanted - set(CHECKED_IDS))
    assert set(EXTRA_SEVERITIES) <= set(BREAKERS)


@pytest.mark.parametrize("fid", sorted(BREAKERS))
def test_breaker_raises_id(fid):
    kind, breaker, options = BREAKERS[fid]
    mesh = copy.deepcopy(build_mesh(kind))
    assert fid not in ids(run(mesh, **options)) or options, "raised on the healthy mesh"
    breaker(mesh)
    findings = run(mesh, **options)
    assert fid in ids(findings), [f.key for f in findings]
    for f in findings:
        if f.id == fid:
            assert f.message and f.remedy and isinstance(f.evidence, dict) and f.evidence
            expected = EXTRA_SEVERITIES.get(fid) or CATALOGUE[fid].severity
            assert f.severity == expected


@pytest.mark.parametrize("kind", ["multinetwork", "single", "primary_remote", "primary_remote_local_istiod"])
def test_healthy_meshes_raise_nothing(kind):
    assert run(build_mesh(kind)) == []
    assert run(build_mesh(kind, clusters=3)) == []


def test_findings_doc_has_an_anchor_per_id():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    with open(os.path.join(root, "docs", "findings.md")) as fh:
        doc = fh.read()
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', doc))
    wanted = design_ids() | set(CATALOGUE) | set(EXTRA_SEVERITIES)
    assert not (wanted - anchors), "ids without a section: %s" % sorted(wanted - anchors)
    assert not (anchors - wanted), "sections for unknown ids: %s" % sorted(anchors - wanted)
    for fid in wanted:
        section = doc.split('<a id="%s"></a>' % fid, 1)[1].split("<a id=", 1)[0]
        assert "### %s" % fid in section and "**Severity**" in section and "**Remediate**" in section, fid
    index = dict(re.findall(r"^\| \[([a-z_.]+)\]\(#[a-z_.]+\) \| (error|warning|info) \|", doc, re.M))
    for fid in wanted:
        assert index.get(fid) == (EXTRA_SEVERITIES.get(fid) or CATALOGUE[fid].severity), fid


def test_fixtures_are_healthy(multinetwork, single, primary_remote, primary_remote_local_istiod):
    for mesh in (multinetwork, single, primary_remote, primary_remote_local_istiod):
        assert sorted(mesh) == ["cluster1", "cluster2"]
        assert run(mesh) == []
