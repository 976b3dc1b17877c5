"""cluster_info's facts_format: the same facts as one JSON text, and every reader of a registered result
(mesh_report, end_unreachable) takes either form."""
import json

from ansible_collections.meshmend.multicluster.plugins.action.end_unreachable import verdict
from ansible_collections.meshmend.multicluster.plugins.module_utils.cluster_info import facts_in_format
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.document import facts_from_result

FACTS = {"schema": 1, "cluster": "cluster1", "reachable": True, "error": None,
         "remote_secrets": [{"name": "istio-remote-secret-cluster2", "entries": [{"key": "cluster2", "error": None}]}]}


def test_json_is_the_same_facts_as_one_text():
    result = {"changed": False, "facts": FACTS, "reachable": True, "cluster": "cluster1"}
    as_json = facts_in_format(result, {"facts_format": "json"})
    assert "facts" not in as_json and json.loads(as_json["facts_json"]) == FACTS
    assert as_json["reachable"] is True and as_json["cluster"] == "cluster1"
    assert result["facts"] is FACTS   # the result given is left as it was
    assert facts_in_format(result, {"facts_format": "dict"}) == result
    # a failed task has no facts to turn into text
    assert facts_in_format({"failed": True, "msg": "x"}, {"facts_format": "json"}) == {"failed": True, "msg": "x"}


def test_mesh_report_reads_either_form():
    as_dict = {"facts": FACTS, "reachable": True}
    as_json = facts_in_format(as_dict, {"facts_format": "json"})
    assert facts_from_result("cluster1", as_dict) == facts_from_result("cluster1", as_json) == FACTS
    # findings name clusters by inventory hostname, whatever the facts say
    assert facts_from_result("c1", as_json)["cluster"] == "c1"
    broken = facts_from_result("cluster1", {"facts_json": "{not json", "reachable": True})
    assert broken["reachable"] is False and "facts_json is not JSON" in broken["error"]


def test_end_unreachable_reads_either_form():
    down = dict(FACTS, reachable=False, error="cluster3: connection refused", cluster="cluster3")
    as_dict = {"facts": down, "reachable": False, "cluster": "cluster3"}
    as_json = facts_in_format(as_dict, {"facts_format": "json"})
    assert verdict(as_dict) == verdict(as_json)
    assert verdict(as_json)["msg"] == "cluster3 could not be read: cluster3: connection refused"
