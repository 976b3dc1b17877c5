"""The remediation plan: one diagnosis (findings with their fix payloads + the mesh model) -> actions.

The findings come from the real checks over facts of a broken mesh (checks_facts.build_mesh), so the
plan is tested on what the checks really say, never on hand-made findings.
"""
import base64
import copy

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import diagnose
from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig import is_loopback_server
from ansible_collections.meshmend.multicluster.plugins.module_utils.remediation import (
    build_plan, category_of, normalize_categories, PlanError, stale_network_pods, validate_gateway_address,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.remote_secrets import (
    build_remote_kubeconfig, parse_kubeconfig_essentials, same_kubeconfig, summarize_secret, wanted_remote_secret,
)

from checks_facts import NOW, build_mesh

GW = "istio-system/istio-eastwestgateway"


def plan_for(mesh, **kwargs):
    result = diagnose(copy.deepcopy(mesh), {"now": NOW})
    findings = [f.to_dict() for f in result.findings]
    return build_plan(findings, result.model, **kwargs), {f["key"]: f for f in findings}


def _gw(mesh, c):
    return mesh[c]["gateways"][0]


def _secret(mesh, c, peer):
    return [s for s in mesh[c]["remote_secrets"] if s["name"] == "istio-remote-secret-%s" % peer][0]


def demo():
    """The demo's faults: istio-system of cluster1 unlabelled, cluster2's gateway pending, no secret for
    cluster2 in cluster1 (so cluster1's proxy holds only local endpoints), and another root in cluster2."""
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["namespace"]["labels"] = {}
    gw = _gw(mesh, "cluster2")
    gw.update(addresses=[], pending=True)
    mesh["cluster1"]["remote_secrets"] = []
    mesh["cluster1"]["proxy"]["endpoints"] = [r for r in mesh["cluster1"]["proxy"]["endpoints"]
                                              if r["address"].startswith("10.10.")]
    for holder in (mesh["cluster2"]["ca_root_cert"], mesh["cluster2"]["cacerts"]["root"]):
        holder["fingerprint"] = "sha256:bbbbbbbbbbbbbbbb"
    return mesh


def test_demo_plan_has_one_action_per_cluster_and_category():
    plan, _found = plan_for(demo(), gateway_addresses={"cluster2": "172.18.2.100"})
    cats = [(a["cluster"], a["category"]) for a in plan["actions"]]
    assert cats == [("cluster1", "network_labels"), ("cluster1", "remote_secrets"),
                    ("cluster2", "gateway_addresses")]
    label = plan["actions"][0]
    assert label["params"] == {"network": "network1", "namespace": "istio-system", "label_namespace": True,
                               "gateway_services": [], "force": False}
    assert label["network_source"] == "values.global.network"
    secret = plan["actions"][1]
    assert secret["peer"] == "cluster2"
    assert secret["params"]["cluster_id"] == "cluster2"
    assert secret["params"]["name"] == "istio-remote-secret-cluster2"
    gw = plan["actions"][2]
    assert gw["params"] == {"namespace": "istio-system", "name": "istio-eastwestgateway",
                            "address": "172.18.2.100", "force": False}
    # what each host runs (the remediate role loops over by_cluster[inventory_hostname])
    assert plan["by_cluster"]["cluster2"] == [gw]
    assert plan["by_cluster"]["cluster1"] == [plan["actions"][0], secret]
    assert plan["skipped"] == [] and plan["not_asked"] == []


def test_declared_gateway_address_comes_from_the_model():
    mesh = demo()
    mesh["cluster2"]["declared"]["gateway_ip"] = "172.18.2.100"
    plan, found = plan_for(mesh)
    assert [a["params"]["address"] for a in plan["actions"] if a["category"] == "gateway_addresses"] == ["172.18.2.100"]
    # and the remedy names it rather than a placeholder
    assert '["172.18.2.100"]' in found["eastwest_gateway.external_ip_pending@cluster2"]["remedy"]


def test_manual_steps_for_unfixable_and_symptoms_linked_to_plan():
    plan, _found = plan_for(demo(), gateway_addresses={"cluster2": "172.18.2.100"})
    manual = {m["id"]: m for m in plan["manual"]}
    assert {"trust.root_mismatch", "endpoints.remote_missing"} <= set(manual)
    assert all(m["id"].split(".")[0] != "locality" for m in plan["manual"])   # info findings are not listed
    assert any("root" in s for s in manual["trust.root_mismatch"]["steps"])
    assert manual["endpoints.remote_missing"]["resolved_by_plan"] is True
    assert manual["trust.root_mismatch"]["resolved_by_plan"] is False


def test_only_asked_categories_are_planned():
    plan, _found = plan_for(demo(), categories=["network_labels"], gateway_addresses={"cluster2": "172.18.2.100"})
    assert [a["category"] for a in plan["actions"]] == ["network_labels"]
    not_asked = sorted(n["id"] for n in plan["not_asked"])
    assert not_asked == ["eastwest_gateway.external_ip_pending", "remote_secret.missing"]
    # a symptom whose cause is not planned is not "resolved by plan"
    manual = {m["id"]: m for m in plan["manual"]}
    assert manual["endpoints.remote_missing"]["resolved_by_plan"] is False


def test_categories_validated():
    assert normalize_categories(None) == ["network_labels", "gateway_addresses", "remote_secrets"]
    assert normalize_categories("remote_secrets, network_labels") == ["network_labels", "remote_secrets"]
    with pytest.raises(PlanError, match="reboot"):
        normalize_categories(["reboot"])


def test_no_gateway_address_is_skipped_with_the_host_var_to_set():
    plan, _found = plan_for(demo())
    assert "gateway_addresses" not in [a["category"] for a in plan["actions"]]
    (skip,) = plan["skipped"]
    assert skip["cluster"] == "cluster2" and "meshmend_eastwest_gateway_ip" in skip["reason"]


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", "169.254.1.1", "not-an-ip", "::1"])
def test_unusable_gateway_addresses_rejected(address):
    assert validate_gateway_address(address)
    plan, _found = plan_for(demo(), gateway_addresses={"cluster2": address})
    assert [s["id"] for s in plan["skipped"]] == ["eastwest_gateway.external_ip_pending"]


def test_two_pending_gateways_one_address_is_not_guessed():
    mesh = build_mesh("multinetwork")
    gw = _gw(mesh, "cluster2")
    gw.update(addresses=[], pending=True)
    mesh["cluster2"]["gateways"].append(dict(copy.deepcopy(gw), name="other-gw"))
    plan, _found = plan_for(mesh, gateway_addresses={"cluster2": "10.0.0.5"})
    assert [a for a in plan["actions"] if a["category"] == "gateway_addresses"] == []
    (skip,) = [s for s in plan["skipped"] if s["category"] == "gateway_addresses"]
    assert "2 gateway Services" in skip["reason"] and "by hand" in skip["reason"]


def _mislabelled(declared=None, ns_label="netA", gw_label="netA", values="netA"):
    mesh = build_mesh("multinetwork")
    c = mesh["cluster1"]
    c["injector_values"]["global"]["network"] = values
    c["declared"]["network"] = declared
    c["namespace"]["labels"] = {"topology.istio.io/network": ns_label} if ns_label else {}
    gw = _gw(mesh, "cluster1")
    if gw_label:
        gw["labels"]["topology.istio.io/network"] = gw_label
    else:
        gw["labels"].pop("topology.istio.io/network")
    gw["network_label"] = gw_label
    return mesh


def test_declared_network_wins_and_may_replace_a_wrong_label():
    plan, _found = plan_for(_mislabelled(declared="netB"))
    (action,) = [a for a in plan["actions"] if a["module"] == "network_label_fix"]
    assert action["params"]["network"] == "netB"
    assert action["params"]["force"] is True
    assert action["params"]["label_namespace"] is True
    assert action["params"]["gateway_services"] == [GW]
    assert action["network_source"].startswith("declared")


def test_mismatch_without_declared_network_needs_force():
    plan, _found = plan_for(_mislabelled(ns_label="wrong", gw_label=None))
    (action,) = [a for a in plan["actions"] if a["module"] == "network_label_fix"]
    # the missing gateway label is still fixed; the conflicting namespace label is not touched
    assert action["params"]["label_namespace"] is False
    assert action["params"]["gateway_services"] == [GW]
    (skip,) = [s for s in plan["skipped"] if s["category"] == "network_labels"]
    assert skip["id"] == "network.namespace_label_mismatch" and "meshmend_remediate_force" in skip["reason"]
    forced, _found = plan_for(_mislabelled(ns_label="wrong", gw_label=None), force=True)
    (action,) = [a for a in forced["actions"] if a["module"] == "network_label_fix"]
    assert action["params"]["label_namespace"] is True
    assert [s for s in forced["skipped"] if s["category"] == "network_labels"] == []


def test_unknown_network_is_skipped():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["namespace"]["labels"] = {}
    mesh["cluster1"]["injector_values"]["global"]["network"] = None
    mesh["cluster1"]["network"] = None
    plan, found = plan_for(mesh)
    assert "network.namespace_label_missing@cluster1" in found
    assert [a for a in plan["actions"] if a["category"] == "network_labels"] == []
    (skip,) = [s for s in plan["skipped"] if s["id"] == "network.namespace_label_missing"]
    assert "meshmend_network" in skip["reason"]


def test_remote_secret_guards():
    mesh = build_mesh("multinetwork", clusters=5)
    for peer in ("cluster2", "cluster3", "cluster4", "cluster5"):
        mesh["cluster1"]["remote_secrets"].remove(_secret(mesh, "cluster1", peer))
    for c in ("cluster1", "cluster2"):    # a shared ID: a secret would be ignored
        mesh[c]["cluster_id"] = "Kubernetes"
        mesh[c]["istiod"]["cluster_id"] = "Kubernetes"
    mesh["cluster3"] = {"cluster": "cluster3", "server": "https://127.0.3.1:6443", "reachable": False,
                        "error": "cluster3: connection refused", "declared": {}}
    del mesh["cluster4"]                  # out of play
    plan, found = plan_for(mesh)
    assert [a["peer"] for a in plan["actions"] if a["cluster"] == "cluster1"] == ["cluster5"]
    # the duplicate-ID pair is manual (the check judged it unsafe), the others skipped with a reason
    assert found["remote_secret.missing@cluster1->cluster2"]["category"] is None
    reasons = dict((s["peer"], s["reason"]) for s in plan["skipped"] if s["cluster"] == "cluster1")
    assert "unreachable" in reasons["cluster3"]
    assert "cluster4" not in reasons    # not in play: no finding at all, so nothing to skip


def test_remote_secret_only_in_primaries_and_rekey_names_the_secret():
    mesh = build_mesh("multinetwork")
    sec = _secret(mesh, "cluster1", "cluster2")
    sec["name"] = "istio-remote-secret-custom"
    sec["entries"][0]["key"] = "wrong"
    plan, found = plan_for(mesh)
    assert "remote_secret.key_mismatch@cluster1->cluster2" in found
    (action,) = [a for a in plan["actions"] if a["category"] == "remote_secrets"]
    assert action["params"]["name"] == "istio-remote-secret-custom"
    assert action["params"]["cluster_id"] == "cluster2"


def test_a_remote_cluster_gets_no_secret():
    mesh = build_mesh("primary_remote")
    mesh["cluster1"]["remote_secrets"] = []
    plan, found = plan_for(mesh)
    (action,) = [a for a in plan["actions"] if a["category"] == "remote_secrets"]
    assert action["cluster"] == "cluster1" and action["peer"] == "cluster2"
    assert not any(k.startswith("remote_secret.missing@cluster2") for k in found)


def test_wrong_namespace_creates_the_right_one_and_leaves_a_manual_delete():
    mesh = build_mesh("multinetwork")
    _secret(mesh, "cluster1", "cluster2")["namespace"] = "default"
    plan, _found = plan_for(mesh)
    (action,) = [a for a in plan["actions"] if a["category"] == "remote_secrets"]
    assert action["params"]["name"] == "istio-remote-secret-cluster2"
    assert action["params"]["namespace"] == "istio-system"
    (manual,) = [m for m in plan["manual"] if m["id"] == "remote_secret.wrong_namespace"]
    assert "delete it by hand" in manual["steps"][0] and "default/istio-remote-secret-cluster2" in manual["steps"][0]


def test_unsafe_findings_are_never_actions():
    mesh = demo()
    mesh["cluster2"]["gateways"] = []                        # eastwest_gateway.missing
    mesh["cluster1"]["istio_gateways"] = []                  # expose_gateway_missing
    plan, found = plan_for(mesh, gateway_addresses={"cluster1": "10.1.1.1", "cluster2": "10.1.1.2"})
    unsafe = {"trust.root_mismatch", "eastwest_gateway.missing", "eastwest_gateway.expose_gateway_missing"}
    assert unsafe <= set(f["id"] for f in found.values())
    planned = set(k for a in plan["actions"] for k in a["fixes"])
    assert not [k for k in planned if found[k]["id"] in unsafe]
    assert unsafe <= set(m["id"] for m in plan["manual"])
    assert all(m["steps"] for m in plan["manual"])


def test_category_is_the_checks_word():
    assert category_of({"id": "remote_secret.missing", "category": "remote_secrets"}) == "remote_secrets"
    # the check said "not safe" (e.g. duplicate cluster IDs): no category, no action
    assert category_of({"id": "remote_secret.missing", "category": None}) is None
    assert category_of({"id": "remote_secret.missing"}) is None


def test_unreachable_target_is_skipped():
    mesh = build_mesh("multinetwork")
    mesh["cluster1"]["namespace"]["labels"] = {}
    result = diagnose(copy.deepcopy(mesh), {"now": NOW})
    findings = [f.to_dict() for f in result.findings]
    model = dict(result.model, clusters=dict(result.model["clusters"]))
    model["clusters"]["cluster1"] = dict(model["clusters"]["cluster1"], state="unreachable")
    plan = build_plan(findings, model)
    assert plan["actions"] == [] and "unreachable" in plan["skipped"][0]["reason"]


# --- remote secret helpers ---------------------------------------------------------------

def test_loopback_servers():
    for server in ("https://127.0.0.1:6443", "https://localhost", "https://[::1]:6443", "https://LOCALHOST:1"):
        assert is_loopback_server(server)
    for server in ("https://127.0.2.1:6443", "https://10.0.0.1", "https://api.example.com:443", None):
        assert not is_loopback_server(server)


def test_kubeconfig_roundtrip_and_summaries_hold_no_token():
    token = "eyJhbGciOiJSUzI1NiJ9.secret-token-value"
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
    text = build_remote_kubeconfig("cluster2", "https://127.0.2.1:6443", ca, token)
    assert parse_kubeconfig_essentials(text) == ("https://127.0.2.1:6443", ca, token, "token")
    assert build_remote_kubeconfig("cluster2", "https://127.0.2.1:6443", ca, token) == text  # deterministic
    secret = {"metadata": {"name": "istio-remote-secret-cluster2", "namespace": "istio-system",
                           "labels": {"istio/multiCluster": "true"}},
              "data": {"cluster2": base64.b64encode(text.encode()).decode()}}
    summary = summarize_secret(secret)
    assert summary["keys"] == ["cluster2"]
    entry = summary["entries"]["cluster2"]
    assert entry["server"] == "https://127.0.2.1:6443" and entry["auth"] == "token"
    assert entry["token_fingerprint"].startswith("sha256:") and len(entry["token_fingerprint"]) == 23
    assert token not in repr(summary) and ca not in repr(summary)


def test_same_kubeconfig_ignores_formatting():
    text = build_remote_kubeconfig("c2", "https://10.0.0.1", "Q0E=", "tok")
    reformatted = ("apiVersion: v1\nkind: Config\ncurrent-context: c2\nclusters:\n- name: c2\n  cluster:\n"
                   "    server: https://10.0.0.1\n    certificate-authority-data: Q0E=\ncontexts:\n"
                   "- name: c2\n  context: {cluster: c2, user: c2}\nusers:\n- name: c2\n  user: {token: tok}\n")
    assert same_kubeconfig(reformatted, text)
    assert not same_kubeconfig(reformatted, build_remote_kubeconfig("c2", "https://10.0.0.1", "Q0E=", "other"))
    assert not same_kubeconfig("not: [valid", text)
    assert not same_kubeconfig(None, text)
    exec_cfg = ("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: s}}]\n"
                "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
                "users: [{name: u, user: {exec: {command: aws}}}]\n")
    assert parse_kubeconfig_essentials(exec_cfg)[3] == "exec"


# --- optional restart of stale sidecars --------------------------------------------------------

def _pod(name, env_network, rs="sleep-5d8c7f9b6", pth="5d8c7f9b6", phase="Running"):
    env = [{"name": "ISTIO_META_CLUSTER_ID", "value": "c2"}]
    if env_network:
        env.append({"name": "ISTIO_META_NETWORK", "value": env_network})
    return {"metadata": {"name": name, "namespace": "sample", "labels": {"pod-template-hash": pth},
                         "ownerReferences": [{"kind": "ReplicaSet", "name": rs}] if rs else []},
            "spec": {"containers": [{"name": "app"}, {"name": "istio-proxy", "env": env}]},
            "status": {"phase": phase}}


def test_stale_network_pods_map_to_their_deployments():
    pods = [_pod("sleep-5d8c7f9b6-aaaaa", None), _pod("sleep-5d8c7f9b6-bbbbb", "network2"),
            _pod("hello-7c9-ccccc", "network1", rs="hello-7c9", pth="7c9"), _pod("bare", None, rs=None),
            _pod("done-x", None, phase="Succeeded")]
    stale, unowned = stale_network_pods(pods, "network2")
    assert stale == [{"pod": "sample/sleep-5d8c7f9b6-aaaaa", "network_env": None, "deployment": "sample/sleep"},
                     {"pod": "sample/hello-7c9-ccccc", "network_env": "network1", "deployment": "sample/hello"},
                     {"pod": "sample/bare", "network_env": None, "deployment": None}]
    assert unowned == ["sample/bare"]


def test_restart_only_when_asked_and_when_injection_now_gives_the_network():
    mesh = build_mesh("multinetwork")
    for pod in mesh["cluster2"]["sidecar_pods"]:
        pod["network_env"] = None
    plan, found = plan_for(mesh)
    assert "network.pod_network_unset@cluster2" in found
    assert [a for a in plan["actions"] if a["module"] == "deployment_restart"] == []   # off by default: manual
    plan, _found = plan_for(mesh, restart_workloads=True)
    (action,) = [a for a in plan["actions"] if a["module"] == "deployment_restart"]
    assert action["params"]["network"] == "network2"
    plan, _found = plan_for(mesh, categories=["remote_secrets"], restart_workloads=True)
    assert [a for a in plan["actions"] if a["module"] == "deployment_restart"] == []
    broken_install = copy.deepcopy(mesh)
    broken_install["cluster2"]["injector_values"]["global"]["network"] = None
    broken_install["cluster2"]["declared"]["network"] = "network2"
    plan, _found = plan_for(broken_install, restart_workloads=True)
    assert [a for a in plan["actions"] if a["module"] == "deployment_restart"] == []
    assert any("values.global.network of cluster2 is unset" in s["reason"] for s in plan["skipped"])


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def test_wanted_remote_secret_create_keep_rekey():
    cfg = build_remote_kubeconfig("c2", "https://10.0.0.2:6443", "Q0E=", "tok")
    new, removed = wanted_remote_secret(None, "istio-remote-secret-c2", "istio-system", "c2", cfg)
    assert new["metadata"]["labels"] == {"istio/multiCluster": "true"}
    assert new["metadata"]["annotations"] == {"networking.istio.io/cluster": "c2"}
    assert list(new["data"]) == ["c2"] and removed == []
    live = dict(new, metadata=dict(new["metadata"], resourceVersion="5",
                                   labels={"istio/multiCluster": "true", "team": "x"}))
    assert wanted_remote_secret(live, "n", "istio-system", "c2", cfg) == (None, [])
    # unknown token (check mode, token not issued yet): always a change
    assert wanted_remote_secret(live, "n", "istio-system", "c2", cfg, token_known=False)[0] is not None
    # a wrong key of this peer (its server) is re-keyed: a merge patch adds the key and nulls the wrong one;
    # labels are not part of it (a merge patch keeps the others)
    wrong = dict(live, data={"Kubernetes": _b64(cfg)})
    patch, removed = wanted_remote_secret(wrong, "n", "istio-system", "c2", cfg, peer_server="https://10.0.0.2:6443")
    assert removed == ["Kubernetes"] and patch == {"data": {"c2": _b64(cfg), "Kubernetes": None}}
    kept, removed = wanted_remote_secret(wrong, "n", "istio-system", "c2", cfg, rekey=False,
                                         peer_server="https://10.0.0.2:6443")
    assert removed == [] and kept == {"data": {"c2": _b64(cfg)}}
    # a different token replaces the value; the input object is not modified
    other = build_remote_kubeconfig("c2", "https://10.0.0.2:6443", "Q0E=", "newtok")
    changed, _removed = wanted_remote_secret(live, "n", "istio-system", "c2", other)
    assert changed == {"data": {"c2": _b64(other)}} and live["data"]["c2"] == _b64(cfg)


def test_remote_secret_write_never_drops_another_peers_key():
    """Issue 15: the fix rewrote the Secret whole and dropped a valid key of another peer."""
    mine = build_remote_kubeconfig("c2", "https://10.0.0.2:6443", "Q0E=", "tok")
    theirs = build_remote_kubeconfig("c3", "https://10.0.0.3:6443", "Q0E=", "tok3")
    stale = build_remote_kubeconfig("c2", "https://10.0.0.2:6443", "Q0E=", "old")
    live = {"metadata": {"name": "n", "resourceVersion": "9", "labels": {"istio/multiCluster": "true"},
                         "annotations": {"networking.istio.io/cluster": "c2"}},
            "data": {"c2": _b64(stale), "c3": _b64(theirs), "added-meanwhile": _b64("x")}}
    patch, removed = wanted_remote_secret(live, "n", "istio-system", "c2", mine, peer_server="https://10.0.0.2:6443")
    assert patch == {"data": {"c2": _b64(mine)}} and removed == []
    # with the diagnosis' list, only the listed wrong keys go
    live["data"]["wrong"] = _b64(mine)
    patch, removed = wanted_remote_secret(live, "n", "istio-system", "c2", mine, remove_keys=["wrong"])
    assert patch == {"data": {"c2": _b64(mine), "wrong": None}} and removed == ["wrong"]


def test_several_bad_secrets_for_one_peer_are_all_written_in_one_run():
    """Issue 15: 12 invalid secrets for one peer took 12 runs (one fixed per run)."""
    mesh = build_mesh("multinetwork")
    base = _secret(mesh, "cluster1", "cluster2")
    mesh["cluster1"]["remote_secrets"].remove(base)
    for i in range(3):
        sec = copy.deepcopy(base)
        sec["name"] = "istio-remote-secret-cluster2-%d" % i
        sec["entries"][0].update(error="kubeconfig cannot be loaded: yaml: bad", error_stage="load", server=None)
        mesh["cluster1"]["remote_secrets"].append(sec)
    plan, found = plan_for(mesh)
    assert "remote_secret.invalid_kubeconfig@cluster1->cluster2" in found
    acts = [(a["params"]["name"], a["params"].get("write_key", True), a["params"]["remove_keys"])
            for a in plan["actions"] if a["category"] == "remote_secrets"]
    # one is written from the peer's token; istiod would ignore a second copy, so the others lose the bad key
    assert acts == [("istio-remote-secret-cluster2-0", True, []),
                    ("istio-remote-secret-cluster2-1", False, ["cluster2"]),
                    ("istio-remote-secret-cluster2-2", False, ["cluster2"])]
    # with a usable secret for the peer already there, nothing is written: the bad copies lose their key
    mesh["cluster1"]["remote_secrets"].append(base)
    plan, _found = plan_for(mesh)
    acts = [(a["params"]["name"], a["params"].get("write_key", True))
            for a in plan["actions"] if a["category"] == "remote_secrets"]
    assert acts == [("istio-remote-secret-cluster2-0", False), ("istio-remote-secret-cluster2-1", False),
                    ("istio-remote-secret-cluster2-2", False)]


def test_rekey_action_lists_only_the_wrong_keys_seen():
    mesh = build_mesh("multinetwork")
    sec = _secret(mesh, "cluster1", "cluster2")
    sec["entries"][0]["key"] = "wrong"
    plan, _found = plan_for(mesh)
    (action,) = [a for a in plan["actions"] if a["category"] == "remote_secrets"]
    assert action["params"]["remove_keys"] == ["wrong"]


def test_secret_summary_never_carries_last_applied_configuration():
    """Issue 15 item 2: kubectl apply stores the whole Secret in an annotation; the module's diff/result must not."""
    cfg = build_remote_kubeconfig("c2", "https://10.0.0.2:6443", "Q0E=", "reader-token-value")
    live = {"metadata": {"name": "n", "namespace": "istio-system", "annotations": {
        "networking.istio.io/cluster": "c2",
        "kubectl.kubernetes.io/last-applied-configuration": '{"data": {"c2": "%s"}}' % _b64(cfg)}},
        "data": {"c2": _b64(cfg)}}
    summary = summarize_secret(live)
    assert summary["annotations"] == {"networking.istio.io/cluster": "c2"}
    assert "reader-token-value" not in repr(summary) and _b64(cfg) not in repr(summary)
