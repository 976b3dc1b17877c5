"""cluster_info's facts_format: the same facts as one JSON text, and every reader of a registered result
(mesh_report, end_unreachable) takes either form."""
import json

from ansible_collections.meshmend.multicluster.plugins.plugin_utils.unreachable import verdict
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


def _peer_facts(cluster, peers):
    return {"schema": 1, "cluster": cluster, "reachable": True,
            "remote_secrets": [{"namespace": "istio-system", "name": "istio-remote-secret-%s" % p, "type": "Opaque",
                                "labels": {"istio/multiCluster": "true"}, "annotations": {},
                                "entries": [{"key": p, "server": "https://%s.example:6443" % p, "error": None,
                                             "fingerprint": "sha256:%s" % p, "auth_methods": ["token"]}]}
                               for p in peers if p != cluster],
            "proxy": {"pod": "sample/sleep-1", "endpoints": [
                {"address": "10.%d.0.1" % i, "port": 15443, "status": "HEALTHY", "cluster": "outbound|5000||hw.sample.svc.cluster.local",
                 "locality": {"region": "r%d" % i}} for i in range(len(peers))], "services": {}},
            "clusterz": [{"id": p, "secretName": "istio-system/istio-remote-secret-%s" % p, "syncStatus": "synced"} for p in peers]}


def test_parsed_facts_share_the_strings_they_repeat_for_every_peer():
    peers = ["cluster%d" % i for i in range(1, 6)]
    texts = dict((c, {"facts_json": json.dumps(_peer_facts(c, peers)), "reachable": True}) for c in peers)
    strings = {}
    shared = dict((c, facts_from_result(c, texts[c], strings)) for c in peers)
    # the same facts...
    assert all(shared[c] == facts_from_result(c, texts[c]) == _peer_facts(c, peers) for c in peers)
    # ...with one copy of each repeated value across clusters
    a, b = shared["cluster1"], shared["cluster2"]
    secret_a = [s for s in a["remote_secrets"] if s["name"].endswith("cluster3")][0]
    secret_b = [s for s in b["remote_secrets"] if s["name"].endswith("cluster3")][0]
    assert secret_a["name"] is secret_b["name"] and secret_a["labels"]["istio/multiCluster"] is secret_b["labels"]["istio/multiCluster"]
    assert secret_a["entries"][0]["server"] is secret_b["entries"][0]["server"]
    assert a["proxy"]["endpoints"][2]["cluster"] is b["proxy"]["endpoints"][2]["cluster"]
    assert a["proxy"]["endpoints"][2]["locality"]["region"] is b["proxy"]["endpoints"][2]["locality"]["region"]
    assert a["clusterz"][4]["secretName"] is b["clusterz"][4]["secretName"]
    # facts given as a mapping are the caller's: left as they are
    given = _peer_facts("cluster1", peers)
    assert facts_from_result("cluster1", {"facts": given}, strings)["remote_secrets"][0]["name"] is given["remote_secrets"][0]["name"]
