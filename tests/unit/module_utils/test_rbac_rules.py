"""plugins/module_utils/rbac.py: a failed request -> the shipped manifest and the rule it needs (issue 16).

The errors are built the way gather and the modules build them (client.map_http_error on a 403, then
to_read_error / to_dict), from the API paths the code really requests.
"""
import json
import os

import pytest
import yaml

from ansible_collections.meshmend.multicluster.plugins.module_utils import rbac
from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import api_path, map_http_error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DIAGNOSE = "docs/rbac/meshmend-diagnose/"
REMEDIATE = "docs/rbac/meshmend-remediate/"
CONNECTIVITY = "docs/rbac/meshmend-connectivity/"


def forbidden(verb, path, message="forbidden"):
    body = json.dumps({"kind": "Status", "status": "Failure", "reason": "Forbidden", "code": 403,
                       "message": message}).encode()
    return map_http_error("cluster1", verb, path, 403, body).to_read_error()


def manifest_rules(path):
    """[(use, kind, role, namespace, group, resources, verbs, names)] of one manifest directory, in apply order."""
    use = os.path.basename(path.rstrip("/"))[len("meshmend-"):]
    out = []
    d = os.path.join(ROOT, path)
    for fname in sorted(os.listdir(d)):     # kubectl apply -f DIR: files by name, one object each
        with open(os.path.join(d, fname)) as fh:
            doc = yaml.safe_load(fh)      # ansible-test's yamllint: one document per file
        if doc.get("kind") not in ("Role", "ClusterRole"):
            continue
        ns = doc["metadata"].get("namespace")
        for r in doc["rules"]:
            assert len(r["apiGroups"]) == 1, "one API group per rule keeps the rule texts exact"
            out.append((use, doc["kind"], doc["metadata"]["name"], ns, r["apiGroups"][0], tuple(r["resources"]),
                        tuple(r["verbs"]), tuple(r.get("resourceNames") or ())))
    return out


def table(use):
    return [(r["use"], r["kind"], r["role"], r["namespace"], r["group"], r["resources"], r["verbs"], r["names"])
            for r in rbac.RULES if r["use"] == use]


@pytest.mark.parametrize("use, path", [("diagnose", DIAGNOSE), ("remediate", REMEDIATE),
                                       ("connectivity", CONNECTIVITY)])
def test_the_table_is_the_manifests(use, path):
    assert rbac.MANIFESTS[use] == path
    assert table(use) == manifest_rules(path)
    texts = [rbac.rule_text(r) for r in rbac.RULES if r["use"] == use]
    assert len(set(texts)) == len(texts), "two rules of %s read the same" % path


# The 14 reads of gather (plugins/module_utils/gather.py), as gather requests them.
GATHER = [
    ("get", api_path("namespaces", name="istio-system"), "get namespaces (istio-system)"),
    ("list", api_path("deployments", "istio-system", group="apps"), "list deployments.apps (istio-system)"),
    ("list", api_path("services"), "list services (cluster-wide)"),
    ("list", api_path("configmaps", "istio-system"), "list configmaps (istio-system)"),
    ("list", api_path("secrets"), "list secrets (cluster-wide)"),
    ("get", api_path("secrets", "istio-system", "cacerts"), "get secrets [cacerts] (istio-system)"),
    ("list", api_path("pods", "istio-system"), "list pods (cluster-wide)"),
    ("list", api_path("pods"), "list pods (cluster-wide)"),
    ("list", api_path("nodes"), "list nodes (cluster-wide)"),
    ("list", api_path("gateways", group="networking.istio.io", version="v1beta1"),
     "list gateways.networking.istio.io,destinationrules.networking.istio.io (cluster-wide)"),
    ("list", api_path("destinationrules", group="networking.istio.io", version="v1beta1"),
     "list gateways.networking.istio.io,destinationrules.networking.istio.io (cluster-wide)"),
    ("get", api_path("pods", "istio-system", "istiod-1", subresource="log"), "get pods/log (istio-system)"),
    ("create", api_path("pods", "istio-system", "istiod-1", subresource="exec"),
     "get,create pods/exec (istio-system)"),
    ("create", api_path("pods", "sample", "sleep-1", subresource="exec"), "get,create pods/exec (sample)"),
]


@pytest.mark.parametrize("verb, path, rule", GATHER)
def test_every_read_of_diagnose_names_its_rule(verb, path, rule):
    assert rbac.needed_rule(forbidden(verb, path)) == (DIAGNOSE, rule)


def test_exec_names_both_verbs_whichever_check_failed():
    # the WebSocket GET is authorized get, then create: the client cannot tell which one was refused
    get_refused = forbidden("create", api_path("pods", "istio-system", "istiod-1", subresource="exec"),
                            'pods "istiod-1" is forbidden: User "u" cannot get resource "pods/exec" ...')
    create_refused = forbidden("create", api_path("pods", "istio-system", "istiod-1", subresource="exec"),
                               'pods "istiod-1" is forbidden: ')
    assert rbac.needed_rule(get_refused) == rbac.needed_rule(create_refused) == (
        DIAGNOSE, "get,create pods/exec (istio-system)")


def test_reads_outside_the_shipped_scope_name_no_rule():
    assert rbac.needed_rule(forbidden("create", api_path("pods", "default", "x", subresource="exec"))) is None
    assert rbac.needed_rule(forbidden("get", api_path("secrets", "istio-system", "istio-ca-secret"))) is None
    assert rbac.needed_rule(forbidden("list", api_path("configmaps"))) is None      # cluster-wide: not shipped
    assert rbac.needed_rule(forbidden("get", api_path("namespaces", name="default"))) is None
    assert rbac.needed_rule({"verb": "get"}) is None and rbac.needed_rule(None) is None


def test_renamed_namespaces_follow_the_role_options():
    names = {"istio-system": "istio-control", "sample": "apps"}
    e = forbidden("create", api_path("pods", "apps", "sleep-1", subresource="exec"))
    assert rbac.needed_rule(e, names=names) == (DIAGNOSE, "get,create pods/exec (apps)")
    e = forbidden("get", api_path("namespaces", name="istio-control"))
    assert rbac.needed_rule(e, names=names) == (DIAGNOSE, "get namespaces (istio-control)")
    assert rbac.needed_rule(forbidden("get", api_path("namespaces", name="istio-system")), names=names) is None


# What the remediate modules request (network_label_fix, eastwest_gateway_address, remote_secret).
REMEDIATE_REQUESTS = [
    ("patch", api_path("namespaces", name="istio-system"), REMEDIATE, "patch namespaces (istio-system)"),
    ("get", api_path("namespaces", name="istio-system"), DIAGNOSE, "get namespaces (istio-system)"),
    ("get", api_path("services", "istio-system", "istio-eastwestgateway"), REMEDIATE,
     "get,patch services [istio-eastwestgateway] (istio-system)"),
    ("patch", api_path("services", "istio-system", "istio-eastwestgateway"), REMEDIATE,
     "get,patch services [istio-eastwestgateway] (istio-system)"),
    ("create", api_path("secrets", "istio-system"), REMEDIATE, "create secrets (istio-system)"),
    ("get", api_path("secrets", "istio-system", "istio-remote-secret-cluster2"), REMEDIATE,
     "get,patch secrets (istio-system)"),
    ("patch", api_path("secrets", "istio-system", "istio-remote-secret-cluster2"), REMEDIATE,
     "get,patch secrets (istio-system)"),
    ("get", api_path("secrets", "istio-system", "istio-reader-service-account-istio-remote-secret-token"),
     REMEDIATE, "get,patch secrets (istio-system)"),
    ("get", api_path("serviceaccounts", "istio-system", "istio-reader-service-account"), REMEDIATE,
     "get serviceaccounts [istio-reader-service-account] (istio-system)"),
    # the reads of remediate's own diagnoses are the diagnose manifest's
    ("get", api_path("secrets", "istio-system", "cacerts"), DIAGNOSE, "get secrets [cacerts] (istio-system)"),
]


@pytest.mark.parametrize("verb, path, manifest, rule", REMEDIATE_REQUESTS)
def test_remediate_requests_name_their_rule(verb, path, manifest, rule):
    assert rbac.needed_rule(forbidden(verb, path), use="remediate") == (manifest, rule)


def test_a_failed_write_as_the_modules_report_it():
    # the modules fail_json(error=exc.to_dict()): the same keys plus cluster and the full message
    err = map_http_error("cluster2", "patch", api_path("namespaces", name="istio-system"), 403, b"{}").to_dict()
    assert rbac.needed_rule(err, use="remediate") == (REMEDIATE, "patch namespaces (istio-system)")
    # deployment_restart (remediate_restart_workloads) is not in the shipped manifests
    err = map_http_error("cluster2", "patch", api_path("deployments", "sample", "sleep", group="apps"), 403,
                         b"{}").to_dict()
    assert rbac.needed_rule(err, use="remediate") is None


CONNECTIVITY_REQUESTS = [
    ("get", api_path("namespaces", name="uninjected-sample"), "get,delete namespaces [uninjected-sample] (cluster-wide)"),
    ("delete", api_path("namespaces", name="uninjected-sample"),
     "get,delete namespaces [uninjected-sample] (cluster-wide)"),
    ("create", api_path("namespaces"), "create namespaces (cluster-wide)"),
    ("create", api_path("serviceaccounts", "uninjected-sample"), "create serviceaccounts,services (cluster-wide)"),
    ("create", api_path("services", "uninjected-sample"), "create serviceaccounts,services (cluster-wide)"),
    ("create", api_path("deployments", "uninjected-sample", group="apps"), "create deployments.apps (cluster-wide)"),
    ("list", api_path("pods", "uninjected-sample"), "list pods (cluster-wide)"),
    ("list", api_path("pods", "sample"), "list pods (cluster-wide)"),
    ("create", api_path("pods", "sample", "sleep-1", subresource="exec"), "get,create pods/exec (cluster-wide)"),
    ("get", api_path("namespaces", name="istio-system"), "get namespaces (istio-system)"),
    ("list", api_path("services", "istio-system"), "list services (istio-system)"),
    ("get", api_path("configmaps", "istio-system", "istio-sidecar-injector"),
     "get configmaps [istio-sidecar-injector] (istio-system)"),
]


@pytest.mark.parametrize("verb, path, rule", CONNECTIVITY_REQUESTS)
def test_connectivity_requests_name_their_rule(verb, path, rule):
    assert rbac.needed_rule(forbidden(verb, path), use="connectivity") == (CONNECTIVITY, rule)


def test_needed_rules_dedupes_orders_and_keeps_the_unknown():
    errors = [forbidden("create", api_path("pods", "sample", "s", subresource="exec")),
              forbidden("list", api_path("secrets")),
              forbidden("list", api_path("pods", "istio-system")),
              forbidden("list", api_path("pods")),
              forbidden("list", api_path("configmaps")),
              {"verb": "get", "resource": "pods/log", "code": 500}]
    found, unknown = rbac.needed_rules(errors)
    assert found == [(DIAGNOSE, "list secrets (cluster-wide)"), (DIAGNOSE, "list pods (cluster-wide)"),
                     (DIAGNOSE, "get,create pods/exec (sample)")]
    assert [(u["verb"], u["resource"]) for u in unknown] == [("list", "configmaps")]


def test_remedy_text():
    errors = [forbidden("create", api_path("pods", "istio-system", "i", subresource="exec")),
              forbidden("list", api_path("secrets"))]
    assert rbac.remedy(errors, "prod-east") == (
        "Apply docs/rbac/meshmend-diagnose/ to context prod-east (kubectl --context prod-east apply -f "
        "docs/rbac/meshmend-diagnose/) and run with a token of ServiceAccount meshmend/meshmend-diagnose "
        "(docs/rbac/README.md); it grants what these credentials miss: list secrets (cluster-wide); "
        "get,create pods/exec (istio-system).")
    text = rbac.remedy([forbidden("patch", api_path("namespaces", name="istio-system"))], "c2", use="remediate")
    assert text == (
        "Apply docs/rbac/meshmend-diagnose/ and docs/rbac/meshmend-remediate/ to context c2 (kubectl "
        "--context c2 apply -f docs/rbac/meshmend-diagnose/ -f docs/rbac/meshmend-remediate/) and run "
        "with a token of ServiceAccount meshmend/meshmend-remediate (docs/rbac/README.md); they grant what these "
        "credentials miss: patch namespaces (istio-system).")
    assert rbac.remedy([forbidden("list", api_path("configmaps"))], "c1") is None
    assert rbac.remedy([], "c1") is None
