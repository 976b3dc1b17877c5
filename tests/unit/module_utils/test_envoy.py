import json
import os

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import envoy
import refdata  # noqa: E402

FIXTURES = refdata.ENVOY
CLUSTERS = os.path.join(FIXTURES, "envoy_clusters_format_json.istio-1.5.0.json")
CONFIG_DUMP = os.path.join(FIXTURES, "envoy_config_dump_include_eds.json")


def _read(path):
    with open(path) as f:
        return f.read()


def _snake(obj):
    """Re-spell istioctl's camelCase as Envoy's snake_case."""
    import re
    if isinstance(obj, dict):
        return dict((re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k), _snake(v)) for k, v in obj.items())
    if isinstance(obj, list):
        return [_snake(x) for x in obj]
    return obj


def test_clusters_camel_case_fixture():
    rows = envoy.parse_endpoints(_read(CLUSTERS))
    by_ep = dict((r["endpoint"], r) for r in rows)
    assert by_ep["172.17.0.14:15014"]["status"] == "UNHEALTHY"
    assert by_ep["172.17.0.27:9080"]["outlier_check"] == "FAILED"
    assert by_ep["172.17.0.26:9080"]["outlier_check"] == "OK"
    assert by_ep["unix:///sock/mixer.socket"]["address_kind"] == "pipe"
    assert by_ep["unix:///sock/mixer.socket"]["cluster"] == "inbound_9092"
    # istioctl's order: address, then port, then cluster
    keys = [(r["address"], r["port"] if r["port"] is not None else -1, r["cluster"]) for r in rows]
    assert keys == sorted(keys)
    assert len(rows) == 9


def test_clusters_snake_case_same_rows():
    camel = json.loads(_read(CLUSTERS))
    snake = _snake(camel)
    assert "host_statuses" in snake["cluster_statuses"][0]
    assert envoy.parse_endpoints(json.dumps(snake)) == envoy.parse_endpoints(json.dumps(camel))


def test_missing_eds_health_status_is_unknown():
    doc = {"cluster_statuses": [{"name": "outbound|80||a.b.svc.cluster.local", "host_statuses": [
        {"address": {"socket_address": {"address": "10.0.0.1", "port_value": 80}}, "health_status": {}}]}]}
    [row] = envoy.parse_endpoints(json.dumps(doc))
    assert row["status"] == "UNKNOWN" and row["outlier_check"] == "OK"


def test_internal_address():
    doc = {"cluster_statuses": [{"name": "x", "host_statuses": [
        {"address": {"envoy_internal_address": {"server_listener_name": "connect_originate", "endpoint_id": "10.0.0.2:80"}}}]}]}
    [row] = envoy.parse_endpoints(doc)
    assert row["endpoint"] == "envoy://connect_originate/10.0.0.2:80" and row["address_kind"] == "internal"


def test_config_dump_fixture():
    rows = envoy.parse_endpoints(_read(CONFIG_DUMP))
    reviews = envoy.filter_rows(rows, service="reviews.default", port=9080)
    assert [r["address"] for r in reviews] == ["10.244.0.192", "10.244.0.193", "10.244.0.195"]
    assert all(r["status"] == "HEALTHY" for r in reviews)
    assert reviews[0]["workload"]["name"] == "reviews-v3"
    assert reviews[0]["workload"]["cluster_id"] == "Kubernetes"


def test_filter_by_service_and_fqdn():
    rows = envoy.parse_endpoints(_read(CLUSTERS))
    short = envoy.filter_rows(rows, service="reviews.default")
    fqdn = envoy.filter_rows(rows, service="reviews.default.svc.cluster.local", port=9080)
    assert short == fqdn and len(short) == 3
    assert envoy.filter_rows(rows, service="reviews.default", port=1) == []


def test_table_header_and_garbage():
    rows = envoy.parse_endpoints(_read(CLUSTERS))
    table = envoy.format_table(rows).splitlines()
    assert table[0].split() == ["ENDPOINT", "STATUS", "OUTLIER", "CHECK", "CLUSTER"]
    assert len(table) == len(rows) + 1
    with pytest.raises(envoy.EnvoyParseError):
        envoy.parse_endpoints("no healthy upstream")
    with pytest.raises(envoy.EnvoyParseError):
        envoy.parse_endpoints("")


def _documents():
    clusters = json.loads(_read(CLUSTERS))
    return {"clusters?format=json": clusters, "istioctl ClusterStatus list": clusters["cluster_statuses"],
            "config_dump": json.loads(_read(CONFIG_DUMP))}


@pytest.mark.parametrize("name", sorted(_documents()))
def test_endpoint_counts_are_the_rows_per_cluster(name):
    doc = _documents()[name]
    expected = {}
    for row in envoy.parse_endpoints(doc):
        expected[row["cluster"]] = expected.get(row["cluster"], 0) + 1
    assert expected and envoy.endpoint_counts(doc) == expected


@pytest.mark.parametrize("name", sorted(_documents()))
def test_rows_of_chosen_clusters_are_those_of_all_rows(name):
    doc = _documents()[name]
    every = envoy.parse_endpoints(doc)
    chosen = set(sorted(set(r["cluster"] for r in every))[::2])
    assert chosen and envoy.parse_endpoints(doc, clusters=chosen) == [r for r in every if r["cluster"] in chosen]
    assert envoy.parse_endpoints(doc, clusters=set()) == []


@pytest.mark.parametrize("doc", ["", "not json", "[1, 2]x", {"no": "statuses"}, "42"])
def test_endpoint_counts_reject_what_parse_endpoints_rejects(doc):
    with pytest.raises(envoy.EnvoyParseError):
        envoy.parse_endpoints(doc)
    with pytest.raises(envoy.EnvoyParseError):
        envoy.endpoint_counts(doc)


def test_failure_flags_in_either_spelling_and_none_on_a_healthy_host():
    doc = {"clusterStatuses": [{"name": "outbound|9080||r.ns.svc.cluster.local", "hostStatuses": [
        {"address": {"socketAddress": {"address": "10.0.0.1", "portValue": 9080}},
         "healthStatus": {"edsHealthStatus": "HEALTHY", "failedActiveHealthCheck": True, "failedOutlierCheck": True}},
        {"address": {"socket_address": {"address": "10.0.0.2", "port_value": 9080}},
         "health_status": {"eds_health_status": "HEALTHY", "pending_dynamic_removal": True}},
        {"address": {"socket_address": {"address": "10.0.0.3", "port_value": 9080}},
         "health_status": {"eds_health_status": "HEALTHY"}},
        {"address": {"socket_address": {"address": "10.0.0.4", "port_value": 9080}},
         "health_status": {"failed_outlier_check": False}},
    ]}]}
    rows = dict((r["address"], r) for r in envoy.parse_endpoints(json.dumps(doc)))
    assert rows["10.0.0.1"]["health_flags"] == ["failed_active_health_check", "failed_outlier_check"]
    assert rows["10.0.0.1"]["outlier_check"] == "FAILED"
    assert rows["10.0.0.2"]["health_flags"] == ["pending_dynamic_removal"] and rows["10.0.0.2"]["outlier_check"] == "OK"
    assert rows["10.0.0.3"]["health_flags"] == [] and rows["10.0.0.3"]["outlier_check"] == "OK"
    assert rows["10.0.0.4"]["health_flags"] == [] and rows["10.0.0.4"]["outlier_check"] == "OK"
