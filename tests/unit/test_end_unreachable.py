"""end_unreachable's verdict on one host's cluster_info result: unreachable only when the cluster could not be
read, with the reason and without anything else the result holds."""
from ansible_collections.meshmend.multicluster.plugins.action.end_unreachable import verdict


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
