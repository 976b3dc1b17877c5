"""The pure parts of the safe-write helper: label decisions."""
import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils.writes import (
    RefusedChange, WriteConflict, label_patch,
)

NS = {"metadata": {"name": "istio-system", "resourceVersion": "7", "labels": {"a": "b"}}}


def test_label_added_when_missing():
    assert label_patch(NS, "topology.istio.io/network", "network1", False, "Namespace istio-system") == {
        "metadata": {"labels": {"topology.istio.io/network": "network1"}}}


def test_label_already_right_is_no_change():
    obj = {"metadata": {"labels": {"topology.istio.io/network": "network1"}}}
    assert label_patch(obj, "topology.istio.io/network", "network1", False, "x") is None


def test_different_value_needs_force_and_names_the_object():
    obj = {"metadata": {"labels": {"topology.istio.io/network": "other"}}}
    with pytest.raises(RefusedChange, match="Namespace istio-system in cluster1 already has label "
                                            "topology.istio.io/network=other, not network1"):
        label_patch(obj, "topology.istio.io/network", "network1", False, "Namespace istio-system in cluster1")
    assert label_patch(obj, "topology.istio.io/network", "network1", True, "x") == {
        "metadata": {"labels": {"topology.istio.io/network": "network1"}}}


def test_conflict_message_is_clear():
    msg = str(WriteConflict("cluster2", "Service istio-system/istio-eastwestgateway", 4))
    assert "cluster2" in msg and "istio-eastwestgateway" in msg and "nothing was overwritten" in msg
