"""istiod: remote secret rules (istio-facts section 2), logs per version, clusterz."""
import base64

import yaml
import pytest

from meshlab.istio.istiod import Istiod, validate_kubeconfig, parse_version, process_remote_secrets
from meshlab.istio.logs import render_event, IstiodLog
from meshlab.istio.world import DictWorld

import worldbuild as wb

from ansible_collections.meshmend.multicluster.plugins.module_utils.istiod_log import parse_log


def _kc(user=None, server="https://127.0.2.1:6443", ctx="c2"):
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": ctx,
                           "clusters": [{"name": "c2", "cluster": {"server": server,
                                                                   "certificate-authority-data": base64.b64encode(b"CA-c2").decode()}}],
                           "contexts": [{"name": "c2", "context": {"cluster": "c2", "user": "c2"}}],
                           "users": [{"name": "c2", "user": user if user is not None else {"token": "tok"}}]})


@pytest.mark.parametrize("user,err", [
    ({"exec": {"command": "aws"}}, "kubeconfig is not allowed: exec is not allowed"),
    ({"tokenFile": "/t"}, "kubeconfig is not allowed: tokenFile is not allowed"),
    ({"client-key": "/k"}, "kubeconfig is not allowed: clientKey is not allowed"),
    ({"client-certificate": "/c"}, "kubeconfig is not allowed: clientCertificate is not allowed"),
    ({"auth-provider": {"name": "gcp"}}, "kubeconfig is not allowed: auth provider gcp is not allowed"),
    ({"auth-provider": {"name": "oidc"}}, None),
    ({"token": "x"}, None),
])
def test_kubeconfig_auth_rules(user, err):
    assert validate_kubeconfig(_kc(user))[1] == err


def test_kubeconfig_shape_errors():
    assert validate_kubeconfig("")[1] == "kubeconfig is empty"
    assert validate_kubeconfig("a: [")[1].startswith("kubeconfig cannot be loaded: ")
    assert validate_kubeconfig(_kc(ctx="nope"))[1].startswith("kubeconfig is not valid: ")
    # the insecure-options allowlist lifts a refusal
    assert validate_kubeconfig(_kc({"exec": {"command": "aws"}}), allow=["exec"])[1] is None


def test_versions():
    assert parse_version("docker.io/istio/pilot:1.9.9") == (1, 9)
    assert parse_version("docker.io/istio/pilot:1.30.3-distroless") == (1, 30)
    assert parse_version("docker.io/istio/pilot:latest") == (1, 30)
    assert parse_version("gcr.io/x/pilot") == (1, 30)


# istio's format strings at the tag (tests/fixtures/upstream/istio/istiod-logs holds them with their sources)
@pytest.mark.parametrize("version,text", [
    ((1, 9, 0), "Failed to add remote cluster from secret=istio-system/s for cluster_id=c2: boom"),
    ((1, 12, 9), "Adding cluster_id=c2 from secret=istio-system/s: boom"),
    ((1, 20, 8), "error adding secret istio-system/s: 1 error occurred:\n\t* boom\n\n\tcontroller=multicluster secret"),
    ((1, 30, 3), "error adding remote config istio-system/s: 1 error occurred:\n\t* boom\n\n"),
])
def test_failure_wording_per_version_parses_with_the_collection(version, text):
    from meshlab.istio.logs import format_line
    lines = render_event(("error", "add_failed", {"cluster": "c2", "secret": "istio-system/s", "error": "boom"}), version)
    joined = "\n".join(format_line(*l) for l in lines)
    assert text in joined
    parsed = parse_log(joined)
    assert parsed["errors"] and parsed["errors"][0]["error"] == "boom"
    assert parsed["errors"][0]["cluster"] in ("c2", None) or parsed["errors"][0]["secret"] == "istio-system/s"


def test_healthy_registry_and_clusterz():
    w = wb.scenario("healthy-multinetwork").world
    ist = Istiod(w, "cluster1")
    assert ist.cluster_id == "cluster1"
    assert ist.clusterz() == [{"id": "cluster1", "secretName": "", "syncStatus": "synced"},
                              {"id": "cluster2", "secretName": "istio-system/istio-remote-secret-cluster2",
                               "syncStatus": "synced"}]


def test_secret_rules_local_key_duplicate_wrong_namespace():
    b = wb.scenario("healthy-multinetwork")
    w = b.world
    objs = w.objects["cluster1"]
    good = next(o for o in objs if o["kind"] == "Secret" and o["metadata"]["name"] == "istio-remote-secret-cluster2")
    dup = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "zz-dup", "namespace": "istio-system",
                                                              "labels": {"istio/multiCluster": "true"},
                                                              "creationTimestamp": "2099-01-01T00:00:00Z"},
           "data": dict(good["data"], cluster1=good["data"]["cluster2"])}
    moved = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "elsewhere", "namespace": "default",
                                                                "labels": {"istio/multiCluster": "true"}},
             "data": {"cluster3": good["data"]["cluster2"]}}
    objs += [dup, moved]
    regs, events = process_remote_secrets(w, "cluster1", "cluster1", {}, (1, 30))
    assert [r["id"] for r in regs] == ["cluster1", "cluster2"]
    kinds = [e[1] for e in events]
    assert "ignore_local" in kinds and "duplicate" in kinds
    log = IstiodLog()
    log.observe(Istiod(w, "cluster1"))
    parsed = parse_log(log.text())
    assert parsed["ignored_local"] == ["cluster1"]
    assert any(e["kind"] == "already_registered" for e in parsed["errors"])


@pytest.mark.parametrize("name,status,needle", [
    ("remote-secret-not-synced", "timeout", 'cannot list resource "pods"'),
    ("remote-secret-loopback-server", "timeout", "connect: connection refused"),
    ("remote-secret-api-unreachable", "timeout", "x509: certificate signed by unknown authority"),
])
def test_unreachable_remote_api(name, status, needle):
    w = wb.scenario(name).world
    ist = Istiod(w, "cluster1")
    assert ist.clusterz()[1]["syncStatus"] == status
    log = IstiodLog()
    log.observe(ist)
    assert needle in log.text()
    assert parse_log(log.text())["sync_timeouts"] == ["cluster2"]


def test_down_cluster_times_out():
    b = wb.scenario("healthy-multinetwork")
    for e in b.world.api.values():
        if e["cluster"] == "cluster2":
            e["up"] = False
    assert Istiod(b.world, "cluster1").clusterz()[1]["syncStatus"] == "timeout"


def test_invalid_kubeconfig_never_registers_and_logs_old_wording():
    w = wb.scenario("remote-secret-istiod-error").world
    ist = Istiod(w, "cluster1")
    assert ist.version == (1, 9)
    assert [c["id"] for c in ist.clusterz()] == ["cluster1"]
    log = IstiodLog()
    log.observe(ist)
    # pilot 1.9.9: pkg/kube/secretcontroller/secretcontroller.go logs "%s cluster_id=%v from secret=%v: %v" (1.9.4+)
    assert "Adding cluster_id=cluster2 from secret=istio-system/istio-remote-secret-cluster2: kubeconfig" in log.text()


def test_duplicate_default_ids_ignored():
    w = wb.scenario("cluster-duplicate-id").world
    ist = Istiod(w, "cluster1")
    assert ist.cluster_id == "Kubernetes"
    assert [c["id"] for c in ist.clusterz()] == ["Kubernetes"]
    log = IstiodLog()
    log.observe(ist)
    assert parse_log(log.text())["ignored_local"] == ["Kubernetes"]


def _shaped(**over):
    doc = yaml.safe_load(_kc())
    for path, value in over.items():
        top, key = path.split("__")
        doc[top][0][key] = value
    return yaml.safe_dump(doc)


@pytest.mark.parametrize("over,needle", [
    ({"contexts__context": "c2"}, "cannot unmarshal string into Go struct field NamedContext.contexts.context"),
    ({"users__user": "tok"}, "cannot unmarshal string into Go struct field NamedAuthInfo.users.user"),
    ({"clusters__cluster": ["https://127.0.2.1:6443"]},
     "cannot unmarshal array into Go struct field NamedCluster.clusters.cluster"),
    ({"clusters__cluster": {"server": 6443}}, "cannot unmarshal number into Go struct field Cluster.clusters.cluster.server"),
    ({"contexts__context": {"cluster": ["c2"], "user": "c2"}},
     "cannot unmarshal array into Go struct field Context.contexts.context.cluster"),
    ({"users__user": {"token": 42}}, "cannot unmarshal number into Go struct field AuthInfo.users.user.token"),
])
def test_kubeconfig_fields_of_the_wrong_type_fail_to_load(over, needle):
    cfg, err = validate_kubeconfig(_shaped(**over))
    assert cfg is None
    assert err.startswith("kubeconfig cannot be loaded: json: ") and needle in err


def test_wrong_typed_secret_is_logged_and_the_proxy_still_answers():
    b = wb.scenario("healthy-multinetwork")
    w = b.world
    good = next(o for o in w.objects["cluster1"]
                if o["kind"] == "Secret" and o["metadata"]["name"] == "istio-remote-secret-cluster2")
    bad = {"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "istio-remote-secret-cluster3", "namespace": "istio-system",
                        "labels": {"istio/multiCluster": "true"}, "creationTimestamp": "2099-01-01T00:00:00Z"},
           "stringData": {"cluster3": _shaped(contexts__context="c2", users__user="tok")}}
    w.objects["cluster1"].append(bad)
    ist = Istiod(w, "cluster1")
    # the broken secret is skipped, the good one still registers
    assert [c["id"] for c in ist.clusterz()] == ["cluster1", "cluster2"]
    assert good["data"]["cluster2"]
    log = IstiodLog()
    log.observe(ist)
    errors = parse_log(log.text())["errors"]
    assert any(e["secret"] == "istio-system/istio-remote-secret-cluster3"
               and e["error"].startswith("kubeconfig cannot be loaded: json: cannot unmarshal string") for e in errors)
    # the proxy admin endpoint (clusters?format=json) in that cluster still answers
    from meshlab.istio.eds import ProxyView
    from meshlab.istio import envoy
    view = ProxyView(w, "cluster1", wb.pod(w, "cluster1", "sleep"))
    doc = envoy.render_clusters(view)
    assert doc["cluster_statuses"]


def test_each_istiod_has_worked_out_its_view_when_the_lab_is_ready():
    """As a real istiod has its registry, gateways and endpoints by the time it serves, the lab works each
    istiod's view out before it says ready: the first reader no longer pays for every istiod's remote secrets."""
    import os
    from meshlab import istio
    from meshlab.lab import Lab
    from meshlab.scenario import apply, load_spec
    scenario = os.path.join(os.path.dirname(istio.__file__), "..", "scenarios", "healthy-multinetwork")
    lab = Lab(load_spec(scenario))
    istio.install(lab)
    apply(lab, scenario)
    for hook in lab.hooks.on_ready:
        hook(lab)
    [world] = set(hook.__self__.world for hook in lab.hooks.on_ready if hasattr(hook.__self__, "world"))
    views = world._istiods
    assert world._version == world.state_version() and sorted(views) == sorted(lab.clusters)
    assert all(view._registry is not None and view._gateways is not None and view._endpoints is not None
               for view in views.values())
    # the view is the one a reader gets, until the lab changes
    assert all(world.istiod(name) is views[name] for name in lab.clusters)
