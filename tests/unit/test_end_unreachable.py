"""end_unreachable's verdict on one host's cluster_info result: unreachable only when the cluster could not be
read, with the reason and without anything else the result holds."""
import pytest

from ansible_collections.meshmend.multicluster.plugins.plugin_utils.unreachable import verdict


def test_a_read_cluster_is_left_alone():
    assert verdict({"reachable": True, "cluster": "c1", "facts": {"reachable": True}}) == {
        "changed": False, "reachable": True}


def test_a_cluster_that_could_not_be_read_is_unreachable_with_the_reason():
    got = verdict({"reachable": False, "cluster": "c3",
                   "facts": {"cluster": "c3", "reachable": False,
                             "error": "c3: GET https://10.0.0.3:6443/version:\n connection refused"}})
    assert got == {"changed": False, "reachable": False, "unreachable": True,
                   "msg": "c3 could not be read: c3: GET https://10.0.0.3:6443/version: connection refused"}


def test_a_failed_gather_is_not_called_unreachable():
    """A gather that failed on bad input (no reachable key): the failure stays a failure."""
    assert verdict({"failed": True, "msg": "cluster_info: peers must be a list"})["reachable"] is True


def test_a_result_without_facts_still_names_the_cluster():
    got = verdict({"reachable": False, "cluster": "c9", "msg": "timed out"})
    assert got["unreachable"] is True and got["msg"] == "c9 could not be read: cluster c9: no facts gathered: timed out"


DOWN = {"changed": False, "reachable": False, "cluster": "c3",
        "facts_json": '{"cluster": "c3", "reachable": false, "error": "c3: connection refused"}'}


@pytest.mark.parametrize("args, result, unreachable", [
    # cluster_info's own option: the down cluster's result becomes an unreachable host's, facts kept for the report
    ({"end_unreachable": True}, DOWN, True),
    ({"end_unreachable": "yes"}, DOWN, True),
    ({"end_unreachable": False}, DOWN, False),
    ({}, DOWN, False),
    # a read cluster, and a gather that failed on bad input, stay what they are
    ({"end_unreachable": True}, {"reachable": True, "cluster": "c1", "facts_json": "{}"}, False),
    ({"end_unreachable": True}, {"failed": True, "msg": "cluster_info: peers must be a list"}, False),
])
def test_cluster_info_ends_a_down_cluster_itself_when_asked(args, result, unreachable):
    from ansible_collections.meshmend.multicluster.plugins.action.cluster_info import ended_if_unreachable
    got = ended_if_unreachable(dict(result), args)
    assert bool(got.get("unreachable")) is unreachable
    if unreachable:
        assert got["msg"] == "c3 could not be read: c3: connection refused"
        assert got["facts_json"] == result["facts_json"] and got["reachable"] is False
    else:
        assert got == result
