"""Unreachable clusters, partial peers (standalone remote_secret_check) and --limit (out_of_play)."""
import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import ChecksError, run_checks

from checks_facts import build_mesh, by_key, ids, keys, run


def _down(name, n, declared=None):
    return {"cluster": name, "context": name, "server": "https://127.0.%d.1:6443" % n, "reachable": False,
            "error": "%s: connection refused (https://127.0.%d.1:6443)" % (name, n),
            "declared": declared or {}}


def test_unreachable_cluster_yields_exactly_one_finding():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"] = _down("cluster2", 2)
    found = run(mesh)
    assert [f.key for f in found if f.cluster == "cluster2"] == ["cluster.unreachable@cluster2"]
    f = by_key(found)["cluster.unreachable@cluster2"]
    assert f.evidence["error"].startswith("cluster2:")
    # cluster1 still holds a secret for cluster2 (matched by its server): no invented findings; its proxy's
    # endpoints cannot be compared with cluster2's, which is said, under the cause
    assert keys(found) == ["cluster.unreachable@cluster2", "endpoints.not_checked@cluster1"]
    assert by_key(found)["endpoints.not_checked@cluster1"].caused_by == ["cluster.unreachable@cluster2"]


def test_unreachable_peer_probe_failure_links_to_unreachable():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"] = _down("cluster2", 2)
    entry = mesh["cluster1"]["remote_secrets"][0]["entries"][0]
    entry["probe"] = {"ok": False, "tried_from": "controller", "error": "connection refused", "cluster": "cluster2"}
    f = by_key(run(mesh))["remote_secret.api_unreachable@cluster1->cluster2"]
    assert f.caused_by == ["cluster.unreachable@cluster2"]
    assert f.evidence["tried_from"] == "controller"


def test_unreachable_peer_missing_secret_compared_by_name():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"] = _down("cluster2", 2)
    mesh["cluster1"]["remote_secrets"] = []
    f = by_key(run(mesh))["remote_secret.missing@cluster1->cluster2"]
    assert f.evidence["expected_key"] == "cluster2"
    assert f.evidence["expected_key_from"] == "inventory name"
    assert "unknown" in f.evidence["note"]


def test_unreachable_peer_declared_id_is_used():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"] = _down("cluster2", 2, {"cluster_id": "east-2"})
    # the secret (matched by server) carries key cluster2, the inventory says east-2
    f = by_key(run(mesh))["remote_secret.key_mismatch@cluster1->cluster2"]
    assert f.evidence["expected_key_from"] == "declared"


def test_unreachable_peer_with_unknown_id_does_not_judge_keys():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"] = _down("cluster2", 2)
    entry = mesh["cluster1"]["remote_secrets"][0]["entries"][0]
    entry["key"] = "east-2"    # maybe the real ID: cannot tell while cluster2 is down
    mesh["cluster1"]["clusterz"][1]["id"] = "east-2"
    assert keys(run(mesh)) == ["cluster.unreachable@cluster2", "endpoints.not_checked@cluster1"]


def test_unreachable_peer_unmatched_secret_is_not_called_missing():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"] = _down("cluster2", 2)
    s = mesh["cluster1"]["remote_secrets"][0]
    s["name"] = "east"
    s["annotations"] = {}
    s["entries"][0].update(key="east-2", server="https://api.east.example:6443", probe=None)
    assert keys(run(mesh)) == ["cluster.unreachable@cluster2", "endpoints.not_checked@cluster1"]


def test_partial_peers_are_used_for_what_they_hold():
    mesh = build_mesh("multinetwork", clusters=3)
    facts = {"cluster1": mesh["cluster1"],
             "cluster2": {"cluster": "cluster2", "cluster_id": "cluster2", "partial": True},
             "cluster3": {"cluster": "cluster3", "cluster_id": "cluster3", "partial": True}}
    assert run(facts) == []
    facts["cluster1"]["remote_secrets"] = [s for s in facts["cluster1"]["remote_secrets"]
                                           if s["name"] != "istio-remote-secret-cluster3"]
    found = run(facts)
    assert keys(found) == ["remote_secret.missing@cluster1->cluster3"]
    # nothing is reported about the partial peers themselves
    assert not [f for f in found if f.cluster in ("cluster2", "cluster3")]


def test_partial_peer_key_mismatch_and_duplicate():
    mesh = build_mesh("multinetwork")
    facts = {"cluster1": mesh["cluster1"], "cluster2": {"cluster": "cluster2", "cluster_id": "c2", "partial": True}}
    found = by_key(run(facts))
    assert "remote_secret.key_mismatch@cluster1->cluster2" in found
    facts["cluster2"]["cluster_id"] = "cluster1"
    found = by_key(run(facts))
    assert "cluster.duplicate_id@cluster1->cluster2" in found
    assert "cluster.duplicate_id@cluster2->cluster1" not in found


def test_partial_peer_without_id_matches_by_name():
    mesh = build_mesh("multinetwork")
    facts = {"cluster1": mesh["cluster1"], "cluster2": {"cluster": "cluster2", "cluster_id": None, "partial": True}}
    assert run(facts) == []
    facts["cluster1"]["remote_secrets"] = []
    f = by_key(run(facts))["remote_secret.missing@cluster1->cluster2"]
    assert f.evidence["expected_key_from"] == "inventory name"


def test_out_of_play_peers_are_not_missing_but_noted():
    mesh = build_mesh("multinetwork", clusters=3)
    del mesh["cluster3"]
    found = run(mesh, out_of_play=["cluster3"])
    assert ids(found) == ["remote_secret.peers_out_of_play"]
    assert all(f.severity == "info" for f in found)
    f = by_key(found)["remote_secret.peers_out_of_play@cluster1"]
    assert f.evidence["out_of_play"] == ["cluster3"]
    # the secret for cluster3 is listed as unmatched, not reported as unknown
    assert [e["key"] for e in f.evidence["unmatched_entries"]] == ["cluster3"]
    # without out_of_play the same secret names a cluster nobody knows
    assert "remote_secret.unknown_cluster" in ids(run(mesh))


def test_bad_input_is_a_clear_error():
    with pytest.raises(ChecksError, match="facts_by_cluster"):
        run_checks(["cluster1"])
    with pytest.raises(ChecksError, match="cluster1"):
        run_checks({"cluster1": "oops"})
    with pytest.raises(ChecksError, match="unknown check area"):
        run_checks({}, {"areas": ["bogus"]})


def test_garbage_facts_do_not_crash():
    facts = {"cluster1": {"cluster": "cluster1", "reachable": True, "istiod": {"name": "istiod"},
                          "remote_secrets": [{"name": "x", "entries": [None, {"key": None}]}],
                          "gateways": [None], "sidecar_pods": [{}], "proxy": {"endpoints": [None]},
                          "cacerts": {"root": {"not_after": "not a date"}}, "nodes": "nope"},
             "cluster2": {"cluster": "cluster2", "partial": True}}
    run(facts)


def test_sections_left_out_are_not_judged():
    """remote_secret_check reads only some sections: nulls there are not 'missing' objects."""
    mesh = build_mesh("multinetwork")
    f = mesh["cluster1"]
    f["sections"] = ["istiod", "services", "configmaps", "remote_secrets", "log", "clusterz"]
    for key in ("cacerts", "sidecar_pods", "nodes", "istio_gateways", "destination_rules", "proxy"):
        f[key] = None
    peers = {"cluster2": {"cluster": "cluster2", "cluster_id": "cluster2", "server": "https://127.0.2.1:6443",
                          "partial": True, "reachable": True}}
    assert run(dict(peers, cluster1=f)) == []
    f["remote_secrets"][0]["entries"][0]["key"] = "c2"
    assert keys(run(dict(peers, cluster1=f), areas=["remote_secret"])) == [
        "remote_secret.key_mismatch@cluster1->cluster2"]
    # nothing that sets the cluster ID was read: no duplicate-ID guess from the default
    f["sections"] = ["remote_secrets"]
    f["cluster_id"] = "Kubernetes"
    peer = dict(peers["cluster2"], cluster_id="Kubernetes")
    assert "cluster.duplicate_id" not in ids(run({"cluster1": f, "cluster2": peer}))


@pytest.mark.parametrize("options,match", [
    ({"now": "yesterday"}, "option now"),
    ({"expiry_days": "soon"}, "expiry_days"),
    ({"expiry_days": -1}, "expiry_days"),
    ({"out_of_play": "cluster3"}, "out_of_play"),
])
def test_bad_options_are_clear_errors(options, match):
    with pytest.raises(ChecksError, match=match):
        run_checks({}, options)
    with pytest.raises(ChecksError, match="options must be a dict"):
        run_checks({}, ["areas"])


def test_now_as_iso_string():
    mesh = build_mesh("multinetwork")
    mesh["cluster2"]["cacerts"]["ca"]["not_after"] = "2026-12-05T00:00:00Z"
    assert "trust.cert_expiring" in ids(run_checks(mesh, {"now": "2026-11-25T12:00:00Z"}))
