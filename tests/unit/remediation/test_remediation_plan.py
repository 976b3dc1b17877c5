"""The remediation plan: findings + facts -> actions, skipped, not asked, manual steps."""
import base64

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import Finding
from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig import is_loopback_server
from ansible_collections.meshmend.multicluster.plugins.module_utils.remediation import (
    FIXED_BY, PlanError, build_plan, build_remote_kubeconfig, category_of, host_actions, stale_network_pods,
    wanted_remote_secret,
    normalize_categories, parse_kubeconfig_essentials, parse_resource, same_kubeconfig,
    summarize_secret, validate_gateway_address,
)

GW = "Service/istio-system/istio-eastwestgateway"


def facts(name, network="network1", declared=None, ns_label=None, gw_label=None, role="primary",
          cluster_id=None, reachable=True):
    return {
        "cluster": name, "reachable": reachable, "istio_namespace": "istio-system",
        "declared": {"network": declared},
        "namespace": {"labels": {"topology.istio.io/network": ns_label} if ns_label else {}},
        "injector_values": {"global": {"network": network}} if network else {},
        "cluster_id": cluster_id or name, "role": role,
        "gateways": [{"namespace": "istio-system", "name": "istio-eastwestgateway",
                      "labels": dict({"istio": "eastwestgateway"},
                                     **({"topology.istio.io/network": gw_label} if gw_label else {}))}],
    }


def f(fid, cluster, peer=None, resource=None, caused_by=None, category="default", evidence=None):
    # As the checks make them: the category they judge safe, None otherwise.
    if category == "default":
        category = FIXED_BY.get(fid)
    return Finding(fid, cluster, "msg", peer=peer, resource=resource, caused_by=caused_by,
                   category=category, evidence=evidence).to_dict()


def demo():
    findings = [
        f("network.namespace_label_missing", "cluster1", resource="Namespace/istio-system"),
        f("eastwest_gateway.external_ip_pending", "cluster2", resource=GW),
        f("remote_secret.missing", "cluster1", peer="cluster2"),
        f("endpoints.remote_missing", "cluster1", peer="cluster2",
          caused_by=["remote_secret.missing@cluster1->cluster2"]),
        f("trust.root_mismatch", "cluster2", peer="cluster1"),
        f("locality.prefers_local", "cluster1"),
    ]
    all_facts = {"cluster1": facts("cluster1"), "cluster2": facts("cluster2", network="network2")}
    return findings, all_facts


def test_demo_plan_has_one_action_per_cluster_and_category():
    findings, all_facts = demo()
    plan = build_plan(findings, all_facts, gateway_addresses={"cluster2": "172.18.2.100"})
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
    assert host_actions(plan, "cluster2") == [gw]
    assert host_actions(plan, "cluster1", "remote_secrets") == [secret]
    assert plan["skipped"] == [] and plan["not_asked"] == []


def test_manual_steps_for_unfixable_and_symptoms_linked_to_plan():
    findings, all_facts = demo()
    plan = build_plan(findings, all_facts, gateway_addresses={"cluster2": "172.18.2.100"})
    manual = {m["id"]: m for m in plan["manual"]}
    assert set(manual) == {"trust.root_mismatch", "endpoints.remote_missing"}  # info finding not listed
    assert any("root" in s for s in manual["trust.root_mismatch"]["steps"])
    assert manual["endpoints.remote_missing"]["resolved_by_plan"] is True
    assert manual["trust.root_mismatch"]["resolved_by_plan"] is False


def test_only_asked_categories_are_planned():
    findings, all_facts = demo()
    plan = build_plan(findings, all_facts, categories=["network_labels"],
                      gateway_addresses={"cluster2": "172.18.2.100"})
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
    findings, all_facts = demo()
    plan = build_plan(findings, all_facts)
    assert "gateway_addresses" not in [a["category"] for a in plan["actions"]]
    (skip,) = plan["skipped"]
    assert skip["cluster"] == "cluster2" and "meshmend_eastwest_gateway_ip" in skip["reason"]


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", "169.254.1.1", "not-an-ip", "::1"])
def test_unusable_gateway_addresses_rejected(address):
    assert validate_gateway_address(address)
    findings, all_facts = demo()
    plan = build_plan(findings, all_facts, gateway_addresses={"cluster2": address})
    assert [s["id"] for s in plan["skipped"]] == ["eastwest_gateway.external_ip_pending"]


def test_two_pending_gateways_one_address_is_not_guessed():
    findings = [f("eastwest_gateway.external_ip_pending", "c1", resource=GW),
                f("eastwest_gateway.external_ip_pending", "c1", resource="Service/istio-system/other-gw")]
    plan = build_plan(findings, {"c1": facts("c1")}, gateway_addresses={"c1": "10.0.0.5"})
    assert plan["actions"] == []
    assert len(plan["skipped"]) == 2 and "by hand" in plan["skipped"][0]["reason"]


def test_declared_network_wins_and_may_replace_a_wrong_label():
    findings = [f("network.namespace_label_mismatch", "c1", resource="Namespace/istio-system"),
                f("eastwest_gateway.network_label_mismatch", "c1", resource=GW)]
    all_facts = {"c1": facts("c1", network="netA", declared="netB", ns_label="netA", gw_label="netA")}
    (action,) = build_plan(findings, all_facts)["actions"]
    assert action["params"]["network"] == "netB"
    assert action["params"]["force"] is True
    assert action["params"]["gateway_services"] == ["istio-system/istio-eastwestgateway"]
    assert action["network_source"] == "declared"


def test_mismatch_without_declared_network_needs_force():
    findings = [f("network.namespace_label_mismatch", "c1", resource="Namespace/istio-system"),
                f("eastwest_gateway.network_label_missing", "c1", resource=GW)]
    all_facts = {"c1": facts("c1", network="netA", ns_label="wrong")}
    plan = build_plan(findings, all_facts)
    (action,) = plan["actions"]
    # the missing gateway label is still fixed; the conflicting namespace label is not touched
    assert action["params"]["label_namespace"] is False
    assert action["params"]["gateway_services"] == ["istio-system/istio-eastwestgateway"]
    (skip,) = plan["skipped"]
    assert skip["id"] == "network.namespace_label_mismatch" and "meshmend_remediate_force" in skip["reason"]
    forced = build_plan(findings, all_facts, force=True)
    assert forced["actions"][0]["params"]["label_namespace"] is True and forced["skipped"] == []


def test_unknown_network_is_skipped():
    findings = [f("network.namespace_label_missing", "c1", resource="Namespace/istio-system")]
    plan = build_plan(findings, {"c1": facts("c1", network=None)})
    assert plan["actions"] == [] and "meshmend_network" in plan["skipped"][0]["reason"]


def test_remote_secret_guards():
    findings = [f("remote_secret.missing", "c1", peer="c2"), f("remote_secret.missing", "c1", peer="c3"),
                f("remote_secret.missing", "c1", peer="c4"), f("remote_secret.missing", "c1", peer="c5")]
    all_facts = {"c1": facts("c1", cluster_id="Kubernetes"), "c2": facts("c2", cluster_id="Kubernetes"),
                 "c3": facts("c3", reachable=False), "c5": facts("c5")}
    plan = build_plan(findings, all_facts)
    assert [a["peer"] for a in plan["actions"]] == ["c5"]
    reasons = {s["peer"]: s["reason"] for s in plan["skipped"]}
    assert "share cluster ID Kubernetes" in reasons["c2"]
    assert "unreachable" in reasons["c3"]
    assert "not in play" in reasons["c4"]


def test_remote_secret_only_in_primaries_and_rekey_names_the_secret():
    findings = [f("remote_secret.key_mismatch", "c1", peer="c2",
                  resource="Secret/istio-system/istio-remote-secret-custom"),
                f("remote_secret.missing", "r1", peer="c1")]
    all_facts = {"c1": facts("c1"), "c2": facts("c2", cluster_id="id-of-c2"), "r1": facts("r1", role="remote")}
    plan = build_plan(findings, all_facts)
    (action,) = plan["actions"]
    assert action["params"]["name"] == "istio-remote-secret-custom"
    assert action["params"]["cluster_id"] == "id-of-c2"
    assert "only primaries" in plan["skipped"][0]["reason"]


def test_wrong_namespace_creates_the_right_one_and_leaves_a_manual_delete():
    findings = [f("remote_secret.wrong_namespace", "c1", peer="c2",
                  resource="Secret/default/istio-remote-secret-c2")]
    plan = build_plan(findings, {"c1": facts("c1"), "c2": facts("c2")})
    (action,) = plan["actions"]
    assert action["params"]["name"] == "istio-remote-secret-c2" and action["params"]["namespace"] == "istio-system"
    (manual,) = plan["manual"]
    assert "delete it by hand" in manual["steps"][0] and "default/istio-remote-secret-c2" in manual["steps"][0]


def test_unsafe_findings_are_never_actions():
    unsafe = ["trust.root_mismatch", "trust.chain_invalid", "cluster.duplicate_id", "mesh.id_mismatch",
              "primary_remote.istiod_remote_missing", "eastwest_gateway.missing",
              "eastwest_gateway.expose_gateway_missing", "istio.not_installed"]
    findings = [f(i, "c1", peer="c2") for i in unsafe]
    plan = build_plan(findings, {"c1": facts("c1"), "c2": facts("c2")}, gateway_addresses={"c1": "10.1.1.1"})
    assert plan["actions"] == []
    assert sorted(m["id"] for m in plan["manual"]) == sorted(unsafe)
    assert all(m["steps"] for m in plan["manual"])


def test_category_from_finding_or_fallback_map():
    assert category_of({"id": "remote_secret.missing"}) == "remote_secrets"
    # the check said "not safe" (e.g. duplicate cluster IDs): the finding's None wins over the map
    assert category_of({"id": "remote_secret.missing", "category": None}) is None
    assert category_of({"id": "trust.root_mismatch"}) is None
    assert category_of({"id": "custom.thing", "category": "network_labels"}) == "network_labels"
    assert parse_resource("Service/ns/name") == ("Service", "ns", "name")
    assert parse_resource("Namespace/istio-system") == ("Namespace", None, "istio-system")
    assert parse_resource(None) == (None, None, None)


def test_unreachable_target_is_skipped():
    findings = [f("network.namespace_label_missing", "c1")]
    plan = build_plan(findings, {"c1": facts("c1", reachable=False)})
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


def test_check_marked_unsafe_is_manual():
    findings = [f("network.namespace_label_mismatch", "c1", category=None, resource="Namespace/istio-system")]
    plan = build_plan(findings, {"c1": facts("c1", declared="netB")})
    assert plan["actions"] == [] and [m["id"] for m in plan["manual"]] == ["network.namespace_label_mismatch"]


def test_gateway_findings_cover_every_service_in_evidence():
    labels = f("eastwest_gateway.network_label_missing", "c1", resource=GW,
               evidence={"services": ["istio-system/istio-eastwestgateway", "istio-system/gw2"]})
    (action,) = build_plan([labels], {"c1": facts("c1")})["actions"]
    assert action["params"]["gateway_services"] == ["istio-system/istio-eastwestgateway", "istio-system/gw2"]
    pending = f("eastwest_gateway.external_ip_pending", "c1", resource=GW,
                evidence={"gateways": [{"service": "istio-system/istio-eastwestgateway"},
                                       {"service": "istio-system/gw2"}]})
    plan = build_plan([pending], {"c1": facts("c1")}, gateway_addresses={"c1": "10.0.0.5"})
    assert plan["actions"] == [] and "2 gateway Services" in plan["skipped"][0]["reason"]


def test_expected_key_from_the_check_wins():
    findings = [f("remote_secret.key_mismatch", "c1", peer="c2", resource="Secret/istio-system/istio-remote-secret-c2",
                  evidence={"expected_key": "declared-c2"})]
    (action,) = build_plan(findings, {"c1": facts("c1"), "c2": facts("c2")})["actions"]
    assert action["params"]["cluster_id"] == "declared-c2"


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
    findings = [f("network.pod_network_unset", "c2", category=None)]
    fixed_install = {"c2": facts("c2", network="network2")}
    assert build_plan(findings, fixed_install)["actions"] == []  # off by default: manual
    (action,) = build_plan(findings, fixed_install, restart_workloads=True)["actions"]
    assert action["module"] == "deployment_restart" and action["params"]["network"] == "network2"
    assert build_plan(findings, fixed_install, categories=["remote_secrets"], restart_workloads=True)["actions"] == []
    broken_install = {"c2": facts("c2", network=None, declared="network2")}
    plan = build_plan(findings, broken_install, restart_workloads=True)
    assert plan["actions"] == [] and "values.global.network of c2 is unset" in plan["skipped"][0]["reason"]


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
    # a wrong key is re-keyed; the other labels survive
    wrong = dict(live, data={"Kubernetes": _b64(cfg)})
    fixed, removed = wanted_remote_secret(wrong, "n", "istio-system", "c2", cfg)
    assert removed == ["Kubernetes"] and list(fixed["data"]) == ["c2"]
    assert fixed["metadata"]["labels"]["team"] == "x" and fixed["metadata"]["resourceVersion"] == "5"
    kept, removed = wanted_remote_secret(wrong, "n", "istio-system", "c2", cfg, rekey=False)
    assert removed == [] and sorted(kept["data"]) == ["Kubernetes", "c2"]
    # a different token replaces the value; the input object is not modified
    other = build_remote_kubeconfig("c2", "https://10.0.0.2:6443", "Q0E=", "newtok")
    changed, _removed = wanted_remote_secret(live, "n", "istio-system", "c2", other)
    assert changed["data"]["c2"] == _b64(other) and live["data"]["c2"] == _b64(cfg)
