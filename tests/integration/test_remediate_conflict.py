"""A concurrent change between read and write ends in a retry or a clear conflict, never a lost update.

The writes helper is driven against the lab with the real kubernetes client; the concurrent
writer is the real kubectl.
"""
import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import api_path
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import get_client
from ansible_collections.meshmend.multicluster.plugins.module_utils.writes import (
    WriteConflict, ensure_object, label_patch, patch_object,
)
from labutil import start_lab
from remediate_helpers import kubectl

LABEL = "topology.istio.io/network"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = start_lab("demo", str(tmp_path_factory.mktemp("lab")))
    try:
        yield lab
    finally:
        lab.stop()


def _client(lab, cluster):
    return get_client({"kubeconfig": str(lab.kubeconfig), "context": cluster, "validate_certs": True,
                       "request_timeout": 10.0, "retries": 0}, cluster=cluster)


def _labels(lab, cluster, *what):
    import json
    return json.loads(kubectl(lab, "--context", cluster, "get", *what, "-o", "json"))["metadata"].get("labels") or {}


def test_stale_resource_version_is_retried_from_a_fresh_read(lab):
    client = _client(lab, "cluster2")
    path = api_path("namespaces", name="istio-system")
    stale = client.get(path)
    # someone else changes the namespace after our read
    kubectl(lab, "--context", "cluster2", "label", "namespace", "istio-system", "team=mesh-ops", "--overwrite")
    calls = []

    def compute(obj):
        calls.append(obj["metadata"]["resourceVersion"])
        return label_patch(obj, LABEL, "network2", False, "Namespace istio-system")

    result = patch_object(client, path, compute, "Namespace istio-system", current=stale)
    assert result.changed and result.attempts == 2
    assert calls[0] == stale["metadata"]["resourceVersion"] and calls[1] != calls[0]
    labels = _labels(lab, "cluster2", "namespace", "istio-system")
    assert labels[LABEL] == "network2"
    assert labels["team"] == "mesh-ops"  # the concurrent update survived


def test_retries_exhausted_is_a_clear_conflict_and_nothing_is_overwritten(lab):
    client = _client(lab, "cluster2")
    path = api_path("services", "istio-system", "istio-eastwestgateway")
    turns = []

    def compute(obj):
        # a writer that always gets in between our read and our write
        turns.append(len(turns))
        kubectl(lab, "--context", "cluster2", "-n", "istio-system", "annotate", "service", "istio-eastwestgateway",
                "racer=%d" % len(turns), "--overwrite")
        return {"spec": {"externalIPs": ["172.18.2.200"]}}

    with pytest.raises(WriteConflict) as err:
        patch_object(client, path, compute, "Service istio-system/istio-eastwestgateway", retries=2)
    msg = str(err.value)
    assert "cluster2" in msg and "istio-eastwestgateway" in msg and "409" in msg and "nothing was overwritten" in msg
    assert len(turns) == 3
    svc = kubectl(lab, "--context", "cluster2", "-n", "istio-system", "get", "service", "istio-eastwestgateway",
                  "-o", "jsonpath={.spec.externalIPs}{\"|\"}{.metadata.annotations.racer}")
    ips, racer = svc.split("|")
    assert "172.18.2.200" not in ips
    assert racer == "3"


def test_create_racing_a_create_is_reread(lab):
    client = _client(lab, "cluster1")
    collection = api_path("configmaps", "default")
    built = []

    def build(obj):
        built.append(obj)
        if obj is None and len(built) == 1:
            # someone creates it between our read (404) and our create
            kubectl(lab, "--context", "cluster1", "-n", "default", "create", "configmap", "race", "--from-literal=a=theirs")
            return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "race", "namespace": "default"},
                    "data": {"a": "ours"}}
        if obj is not None and obj["data"].get("b") == "ours":
            return None
        obj["data"]["b"] = "ours"
        return obj

    result = ensure_object(client, collection, "race", build, "ConfigMap default/race")
    assert result.changed and not result.created and result.attempts == 2
    data = kubectl(lab, "--context", "cluster1", "-n", "default", "get", "configmap", "race",
                   "-o", "jsonpath={.data.a},{.data.b}")
    assert data == "theirs,ours"


def test_check_mode_writes_nothing(lab):
    client = _client(lab, "cluster2")
    lab.ctl("reset-stats")
    path = api_path("services", "istio-system", "istio-eastwestgateway")
    result = patch_object(client, path, lambda obj: {"metadata": {"labels": {"dry": "run"}}},
                          "Service istio-system/istio-eastwestgateway", check_mode=True)
    assert result.changed and result.after["metadata"]["labels"]["dry"] == "run"
    assert "dry" not in _labels(lab, "cluster2", "-n", "istio-system", "service", "istio-eastwestgateway")
    stats = lab.stats()
    clusters = stats.get("clusters", stats)
    assert all(int(v.get("writes", 0)) == 0 for v in clusters.values() if isinstance(v, dict)), stats
