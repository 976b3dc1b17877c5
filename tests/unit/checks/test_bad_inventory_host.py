"""An inventory host whose kubeconfig is bad (unreachable): what its peers say about their secrets for it."""
from checks_facts import build_mesh, by_key, keys, problems, run


def _bad_kubeconfig(mesh, name="cluster3"):
    # gather could not load the host's kubeconfig: no server known, nothing read
    mesh[name] = {"cluster": name, "context": name, "server": None, "reachable": False,
                  "error": "%s: kubeconfig /nonexistent/kubeconfig cannot be read: no such file" % name,
                  "error_kind": "bad_config", "declared": {}}
    for facts in mesh.values():
        for secret in facts.get("remote_secrets") or []:
            for entry in secret["entries"]:
                if entry.get("server_cluster") == name or (entry.get("probe") or {}).get("cluster") == name:
                    entry["server_cluster"] = None
                    entry["probe"] = None
    return mesh


def test_secrets_that_name_the_bad_host_are_not_called_missing():
    mesh = _bad_kubeconfig(build_mesh("multinetwork", clusters=3))
    found = run(mesh)
    assert keys(problems(found)) == ["cluster.unreachable@cluster3"]
    assert "cannot be read: no such file" in by_key(found)["cluster.unreachable@cluster3"].message


def test_secret_under_an_unknown_key_may_be_the_real_id_so_nothing_is_claimed():
    mesh = _bad_kubeconfig(build_mesh("multinetwork", clusters=3))
    for name in ("cluster1", "cluster2"):
        s = next(s for s in mesh[name]["remote_secrets"] if s["name"] == "istio-remote-secret-cluster3")
        s.update(name="east", annotations={})
        s["entries"][0].update(key="east-3", server="https://api.east.example:6443")
    assert keys(problems(run(mesh))) == ["cluster.unreachable@cluster3"]


def test_no_secret_at_all_is_missing_but_caused_by_the_unreachable_host():
    mesh = _bad_kubeconfig(build_mesh("multinetwork", clusters=3))
    for name in ("cluster1", "cluster2"):
        mesh[name]["remote_secrets"] = [s for s in mesh[name]["remote_secrets"]
                                        if s["name"] != "istio-remote-secret-cluster3"]
        mesh[name]["clusterz"] = [c for c in mesh[name]["clusterz"] if c["id"] != "cluster3"]
    found = by_key(run(mesh))
    for name in ("cluster1", "cluster2"):
        f = found["remote_secret.missing@%s->cluster3" % name]
        assert f.caused_by == ["cluster.unreachable@cluster3"]
        assert "cluster3 is unreachable" in f.message and "fix its connection first" in f.message
        assert f.evidence["expected_key_from"] == "inventory name"
    assert set(k for k in found if found[k].severity in ("error", "warning")) == {
        "cluster.unreachable@cluster3", "remote_secret.missing@cluster1->cluster3",
        "remote_secret.missing@cluster2->cluster3"}


def test_reachable_peer_missing_secret_has_no_such_cause():
    mesh = build_mesh("multinetwork", clusters=3)
    mesh["cluster1"]["remote_secrets"] = [s for s in mesh["cluster1"]["remote_secrets"]
                                          if s["name"] != "istio-remote-secret-cluster3"]
    f = by_key(run(mesh))["remote_secret.missing@cluster1->cluster3"]
    assert f.caused_by == [] and "unreachable" not in f.message
