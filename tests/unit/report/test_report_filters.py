"""The findings filters (plugins/filter/findings.py)."""
import report_fixtures as fixtures
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.meshmend.multicluster.plugins.filter.findings import (
    FilterModule, findings_by_severity, findings_query, findings_summary,
)


class TaggedStr(str):
    """Stands in for Ansible's tagged/lazy str subclasses, which jmespath rejects by type name."""


class TaggedDict(dict):
    pass


def test_filters_registered():
    assert set(FilterModule().filters()) == {"findings_query", "findings_by_severity", "findings_summary"}


def test_query_findings():
    findings = fixtures.findings()
    assert findings_query(findings, "[?severity=='error'].id") == [
        "endpoints.remote_missing", "remote_secret.missing", "eastwest_gateway.external_ip_pending",
        "endpoints.remote_pod_ips", "cluster.unreachable"]
    assert findings_query(findings, "[?id=='remote_secret.missing' && cluster=='cluster2'].peer") == ["cluster1"]
    assert findings_query({"findings": findings}, "length(findings[?category!=null])") == 2


def test_query_facts_and_subclasses():
    facts = fixtures.facts_by_cluster()["cluster1"]
    assert findings_query(facts, "gateways[].addresses[].value") == ["172.18.1.10"]
    tagged = TaggedDict(cluster=TaggedStr("cluster1"), ids=[TaggedStr("a"), TaggedStr("b")])
    assert findings_query(tagged, "length(ids)") == 2
    assert findings_query(tagged, "starts_with(cluster, 'clu')") is True


def test_query_errors_are_clear():
    with pytest.raises(AnsibleFilterError, match="bad JMESPath expression"):
        findings_query([], "[?")
    with pytest.raises(AnsibleFilterError, match="non-empty"):
        findings_query([], "")
    with pytest.raises(AnsibleFilterError, match="failed on this data|bad JMESPath"):
        findings_query({"a": "x"}, "length(`1`)")


def test_by_severity():
    findings = fixtures.findings()
    assert [f["id"] for f in findings_by_severity(findings, "warning")] == ["trust.cacerts_missing"]
    assert len(findings_by_severity({"findings": findings}, "warning", at_least=True)) == 6
    assert len(findings_by_severity(findings, ["warning", "info"])) == 2
    with pytest.raises(AnsibleFilterError, match="severity must be one of"):
        findings_by_severity(findings, "fatal")
    with pytest.raises(AnsibleFilterError, match="not a finding"):
        findings_by_severity([{"x": 1}])
    with pytest.raises(AnsibleFilterError, match="expects a list"):
        findings_by_severity("nope")


def test_summary():
    s = findings_summary(fixtures.findings())
    assert (s["error"], s["warning"], s["info"], s["total"]) == (5, 1, 1, 7)
    assert s["ids"][0] == "cluster.unreachable"
