"""Objects missing the fields a check reads, or holding the wrong type there, never crash gather's
fact building, the check catalogue or the report renderers (DESIGN.md section 7).

The raw API answers are the bundled healthy scenario's own manifests (plus pods as the lab would run
them); each case damages one field of one object (deleted, null, wrong type) and runs the whole
controller-side pipeline: build_facts -> run_checks over two clusters -> build_report -> JSON,
Markdown and HTML. Pure functions: no cluster, no mock.
"""
import copy
import json
import os
import random

import pytest
import yaml

from ansible_collections.meshmend.multicluster.plugins.module_utils import report
from ansible_collections.meshmend.multicluster.plugins.module_utils.facts import build_facts, remote_secret_facts
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import diagnose

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCEN = os.path.join(ROOT, "meshlab", "scenarios", "healthy-multinetwork")
# What an API server can really hand back: built-in objects are schema-checked, so a field is at
# worst absent or null; custom resources (Istio CRDs with lax schemas) and the YAML/JSON held in
# ConfigMap values and annotations can hold anything.
MISSING = ("<deleted>", None)
ANY = ("<deleted>", None, "x", 7, [], {})
FREE_FORM = ("istio_gateways", "destination_rules")


def _manifests(cluster):
    out = []
    folder = os.path.join(SCEN, cluster)
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as fh:
            out.extend(d for d in yaml.safe_load_all(fh) if isinstance(d, dict))
    return out


def _pod(dep, suffix, ip):
    tmpl = copy.deepcopy(dep["spec"]["template"])
    meta = tmpl.setdefault("metadata", {})
    meta.update(name="%s-%s" % (dep["metadata"]["name"], suffix), namespace=dep["metadata"]["namespace"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": tmpl["spec"],
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}}


_RAW = {}


def raw_for(cluster):
    if cluster not in _RAW:
        _RAW[cluster] = _raw_for(cluster)
    return copy.deepcopy(_RAW[cluster])


def _raw_for(cluster):
    objs = _manifests(cluster)
    by = {}
    for o in objs:
        by.setdefault(o.get("kind"), []).append(o)
    ns = "istio-system"
    deps = [d for d in by.get("Deployment", []) if d["metadata"].get("namespace") == ns]
    pods = [_pod(d, "abc", "10.0.0.%d" % i) for i, d in enumerate(by.get("Deployment", []), 2)]
    for p in pods:
        if p["metadata"]["namespace"] == "sample":
            p["metadata"].setdefault("labels", {})["security.istio.io/tlsMode"] = "istio"
            p["spec"]["containers"].append({"name": "istio-proxy", "image": "istio/proxyv2:1.30.3",
                                            "env": [{"name": "ISTIO_META_NETWORK", "value": "network1"}]})
    secrets = by.get("Secret", [])
    nsobj = [o for o in by.get("Namespace", []) if o["metadata"]["name"] == ns]
    return {
        "namespace": nsobj[0] if nsobj else {"metadata": {"name": ns}},
        "deployments": deps,
        "services": by.get("Service", []),
        "configmaps": [c for c in by.get("ConfigMap", []) if c["metadata"].get("namespace") == ns],
        "secrets": [s for s in secrets if (s["metadata"].get("labels") or {}).get("istio/multiCluster") == "true"],
        "cacerts": next((s for s in secrets if s["metadata"]["name"] == "cacerts"), None),
        "istiod_pods": [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == "istiod"],
        "sidecar_pods": [p for p in pods if p["metadata"]["namespace"] == "sample"],
        "nodes": [{"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/region": "r"}},
                   "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}],
        "istio_gateways": by.get("Gateway", []),
        "destination_rules": by.get("DestinationRule", []),
    }


def _paths(obj, prefix=(), depth=5):
    """Every field path (dict keys and list indexes) down to ``depth``."""
    if depth == 0:
        return
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        yield prefix + (k,)
        yield from _paths(v, prefix + (k,), depth - 1)


def _damage(obj, path, value):
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    if value == "<deleted>":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


def _pipeline(raw1, raw2):
    facts = {}
    for name, raw in (("cluster1", raw1), ("cluster2", raw2)):
        f = {"schema": 1, "cluster": name, "context": name, "server": "https://127.0.%s.1:6443" % name[-1],
             "reachable": True, "error": None, "error_kind": None, "read_errors": [], "requests": 14,
             "istio_namespace": "istio-system", "declared": {}}
        f.update(build_facts(raw))
        f["remote_secrets"], _configs = remote_secret_facts(raw.get("secrets"))
        f["proxy"] = None
        json.dumps(f)   # facts must stay plain data (they cross the module boundary)
        facts[name] = f
    findings, timing, model = report.analyze(facts, diagnose, time_areas=False)
    doc = report.build_report(facts, findings, timing=timing, model=model)
    report.render_all(doc)
    return facts, findings


def _cases(seed=8, per_kind=30):
    base = raw_for("cluster1")
    rnd = random.Random(seed)
    cases = []
    for key, value in sorted(base.items()):
        objs = value if isinstance(value, list) else [value]
        paths = []
        for i, o in enumerate(objs[:4]):
            if o is None:
                continue
            paths.extend(((i,) if isinstance(value, list) else ()) + p for p in _paths(o))
        rnd.shuffle(paths)
        for p in paths[:per_kind]:
            cases.append((key, p, rnd.choice(ANY if key in FREE_FORM else MISSING)))
    return cases


def test_undamaged_baseline_is_read_whole():
    facts, findings = _pipeline(raw_for("cluster1"), raw_for("cluster2"))
    assert facts["cluster1"]["cluster_id"] == "cluster1" and facts["cluster2"]["cluster_id"] == "cluster2"
    assert facts["cluster1"]["istiod"]["name"] == "istiod" and facts["cluster1"]["sidecar_pods"]
    assert not [f for f in findings if f["id"].startswith("cluster.")], findings


@pytest.mark.parametrize("key,path,value", _cases(), ids=lambda x: None)
def test_damaged_field_never_crashes(key, path, value):
    raw1 = raw_for("cluster1")
    target = raw1[key]
    _damage(target if isinstance(target, list) else target, path, value)
    _pipeline(raw1, raw_for("cluster2"))


@pytest.mark.parametrize("key", ["deployments", "services", "configmaps", "secrets", "istiod_pods", "sidecar_pods",
                                 "nodes", "istio_gateways", "destination_rules"])
@pytest.mark.parametrize("value", [None, [], [{}], [{"metadata": {}}]])
def test_whole_answers_absent_or_hollow(key, value):
    raw1 = raw_for("cluster1")
    raw1[key] = copy.deepcopy(value)
    _pipeline(raw1, raw_for("cluster2"))


MESH_DOCS = ["", "5", "[1, 2]", "defaultConfig: 5", "defaultConfig: {discoveryAddress: [1]}", "meshId: {a: b}",
             "defaultConfig:\n  proxyMetadata: 7", ": : :", "a: &a [1]\nb: [*a, *a]"]
VALUES_DOCS = ["", "5", "[]", '{"global": 5}', '{"global": {"network": [1], "meshID": {}, "multiCluster": 3}}',
               '{"global": {"multiCluster": {"clusterName": ["x"]}}}', "not json", '{"global": {"remotePilotAddress": 1}}']


@pytest.mark.parametrize("doc", MESH_DOCS)
def test_mesh_config_of_any_shape(doc):
    raw1 = raw_for("cluster1")
    for cm in raw1["configmaps"]:
        if cm["metadata"]["name"] == "istio":
            cm["data"]["mesh"] = doc
            cm["data"]["meshNetworks"] = doc
    _pipeline(raw1, raw_for("cluster2"))


@pytest.mark.parametrize("doc", VALUES_DOCS)
def test_injector_values_of_any_shape(doc):
    raw1 = raw_for("cluster1")
    for cm in raw1["configmaps"]:
        if cm["metadata"]["name"] == "istio-sidecar-injector":
            cm["data"]["values"] = doc
    _pipeline(raw1, raw_for("cluster2"))


@pytest.mark.parametrize("doc", ["5", "[]", "discoveryAddress: [1]", "{{{"])
def test_proxy_config_annotation_of_any_shape(doc):
    raw1 = raw_for("cluster1")
    for p in raw1["sidecar_pods"]:
        p["metadata"].setdefault("annotations", {})["proxy.istio.io/config"] = doc
    _pipeline(raw1, raw_for("cluster2"))
