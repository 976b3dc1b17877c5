"""A gather that stopped part way (reachable, error set) is cluster.unreachable; isolated failures are read_failed."""
from checks_facts import build_mesh, by_key, keys, problems, run

SERVICES_503 = {"verb": "list", "resource": "services", "group": "", "namespace": None, "code": 503,
                "reason": "ServiceUnavailable", "message": "cluster2: cannot list services: 503 Service Unavailable"}


def _stopped_after_deployments(mesh, name="cluster2"):
    """cluster2's facts as gather leaves them when services failed twice with 503 after istiod was read."""
    f = mesh[name]
    f["error"] = SERVICES_503["message"]
    f["error_kind"] = "server"
    f["read_errors"] = [dict(SERVICES_503)]
    # every read after the stop was never made: null, and not listed as failed
    for key in ("services", "control_plane_services", "gateways", "mesh_config", "injector_values", "mesh_id",
                "network", "discovery_address", "remote_secrets", "cacerts", "ca_root_cert", "sidecar_pods",
                "nodes", "istio_gateways", "destination_rules", "istiod_log", "clusterz", "proxy"):
        f[key] = None
    f["namespace"] = {"labels": {}, "annotations": {}}
    return f


def test_stopped_gather_is_unreachable_with_the_reason_in_the_message():
    mesh = build_mesh("multinetwork")
    _stopped_after_deployments(mesh)
    found = run(mesh)
    f = by_key(found)["cluster.unreachable@cluster2"]
    assert f.severity == "error"
    assert "cannot list services: 503 Service Unavailable" in f.message
    assert "stopped" in f.message and "cluster2: cluster2:" not in f.message
    assert f.evidence["gather_stopped"] is True
    assert f.evidence["error_kind"] == "server"
    assert f.evidence["failed_reads"][0]["code"] == 503
    # nothing is judged on what the stopped gather never read (no mesh-id, network or gateway guesses),
    # and cluster1's secret for it (matched by server, keyed by the ID read before the stop) stays fine
    assert keys(problems(found)) == ["cluster.unreachable@cluster2", "endpoints.not_checked@cluster1"]
    assert by_key(found)["endpoints.not_checked@cluster1"].caused_by == ["cluster.unreachable@cluster2"]


def test_stopped_gather_on_a_fatal_kind_names_it():
    mesh = build_mesh("multinetwork")
    f = _stopped_after_deployments(mesh)
    f["error"] = "cluster2: cannot list configmaps in istio-system: request timed out"
    f["error_kind"] = "timeout"
    found = by_key(run(mesh))
    assert "request timed out" in found["cluster.unreachable@cluster2"].message
    assert "cluster.read_failed@cluster2" not in found


def test_stopped_gather_keeps_the_cluster_id_it_read():
    mesh = build_mesh("multinetwork")
    _stopped_after_deployments(mesh)
    # cluster1's secret for cluster2 is keyed by something else than the ID read before the stop
    mesh["cluster1"]["remote_secrets"][0]["entries"][0]["key"] = "east-2"
    f = by_key(run(mesh))["remote_secret.key_mismatch@cluster1->cluster2"]
    assert f.evidence["expected_key"] == "cluster2" and f.evidence["expected_key_from"] == "cluster"
    assert "read before" in f.evidence["note"]


def test_unreachable_message_carries_the_reason():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"] = {"cluster": "cluster2", "server": "https://127.0.2.1:6443", "reachable": False,
                        "error": "cluster2: cannot get namespaces/istio-system: 401 Unauthorized",
                        "error_kind": "unauthorized", "declared": {}}
    f = by_key(run(mesh))["cluster.unreachable@cluster2"]
    assert "401 Unauthorized" in f.message
    assert f.evidence["gather_stopped"] is False


def test_unreachable_message_without_error_text_names_the_kind():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"] = {"cluster": "cluster2", "server": "https://127.0.2.1:6443", "reachable": False,
                        "error": None, "error_kind": "tls", "declared": {}}
    assert "TLS failure" in by_key(run(mesh))["cluster.unreachable@cluster2"].message


def test_isolated_server_error_stays_a_read_failed_warning():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["read_errors"] = [dict(SERVICES_503, resource="nodes")]
    mesh["cluster2"]["nodes"] = None
    found = by_key(run(mesh))
    assert found["cluster.read_failed@cluster2"].severity == "warning"
    assert "cluster.unreachable@cluster2" not in found
