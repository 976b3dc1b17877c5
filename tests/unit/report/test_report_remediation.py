"""The "Before / after remediation" section of the reports (issue 6): JSON, Markdown, HTML.

The inputs are what the remediate role hands the diagnose role: the first diagnosis'
findings, and the plan (remediation.build_plan, the real planner) with one outcome per
applied action (remediation_outcomes.outcome_from_result over registered loop results).
"""
import html
import json
import re
import xml.etree.ElementTree as ET

import markupsafe
import pytest
import report_fixtures as fixtures

from ansible_collections.meshmend.multicluster.plugins.module_utils import remediation as rm
from ansible_collections.meshmend.multicluster.plugins.module_utils import remediation_outcomes as outcomes
from ansible_collections.meshmend.multicluster.plugins.module_utils import report as r
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import Finding

GATEWAY = "eastwest_gateway.external_ip_pending@cluster2"
SECRET = "remote_secret.missing@cluster2->cluster1"
SYMPTOM = "endpoints.remote_missing@cluster2"
EVIL_MSG = 'Forbidden: <img src=x onerror="alert(1)"> & |pipe|'


def _plan():
    return rm.build_plan(fixtures.findings(), fixtures.model(),
                         categories=["gateway_addresses", "remote_secrets"],
                         gateway_addresses={"cluster2": "172.18.2.100"})


def _remediation(check_mode=False, fail_secret=False):
    plan = _plan()
    results = []
    for action in plan["actions"]:
        failed = fail_secret and action["category"] == "remote_secrets"
        results.append({"item": action, "changed": not failed, "failed": failed,
                        "msg": EVIL_MSG if failed else "ok"})
    # not_asked comes from a category left out; skipped from a fix that could not be planned safely.
    not_asked = [rm._skip({"id": "network.namespace_label_missing", "cluster": "cluster2", "severity": "error"},
                          "network_labels", "category network_labels was not asked for")]
    skipped = [rm._skip({"id": "eastwest_gateway.external_ip_pending", "cluster": "cluster4", "severity": "error"},
                        "gateway_addresses", "set host var meshmend_eastwest_gateway_ip <for cluster4>")]
    return {
        "check_mode": check_mode,
        "categories": plan["categories"],
        "outcomes": [outcomes.outcome_from_result(x) for x in results],
        "skipped": skipped,
        "not_asked": not_asked,
        "manual": plan["manual"],
    }


def _after(fixed=(GATEWAY, SECRET, SYMPTOM)):
    """The second diagnosis: the fixed keys gone, one new warning."""
    after = [f for f in fixtures.findings() if f["key"] not in fixed]
    new = Finding("network.pod_network_unset", "cluster2", "sidecars of sample/helloworld carry no network " +
                  fixtures.EVIL, remedy="restart the workloads")
    return after + [new.to_dict()]


def _report(after, remediation, previous=None):
    return r.build_report(fixtures.facts_by_cluster(), after, out_of_play=["cluster4"],
                          generated_at="2026-01-01T00:00:00Z",
                          previous_findings=fixtures.findings() if previous is None else previous,
                          remediation=remediation)


@pytest.fixture
def applied():
    return _report(_after(), _remediation())


def test_no_previous_findings_no_section():
    rep = r.build_report(fixtures.facts_by_cluster(), fixtures.findings(), generated_at="2026-01-01T00:00:00Z")
    assert "remediation" not in rep
    assert "Before / after" not in r.render_markdown(rep)
    assert "Before / after" not in r.render_html(rep)


def test_json_section(applied):
    rem = json.loads(r.render_json(applied))["remediation"]
    assert rem["check_mode"] is False
    assert rem["categories"] == ["gateway_addresses", "remote_secrets"]
    assert rem["before"] == {"error": 5, "warning": 1, "info": 1, "total": 7}
    assert rem["after"] == {"error": 3, "warning": 1, "info": 1, "total": 5}
    assert rem["fixed"] == sorted([GATEWAY, SECRET, SYMPTOM])
    assert rem["new"] == ["network.pod_network_unset@cluster2"]
    assert rem["would_fix"] == []  # only in check mode
    assert "cluster.unreachable@cluster3" in rem["remaining"]
    # Every listed key is described, for the links.
    for key in rem["fixed"] + rem["remaining"] + rem["new"]:
        assert rem["findings"][key]["key"] == key
        assert rem["findings"][key]["id"] == key.split("@")[0]
    assert rem["findings"][SECRET]["peer"] == "cluster1"
    assert [(o["cluster"], o["category"], o["changed"], o["failed"]) for o in rem["outcomes"]] == [
        ("cluster2", "gateway_addresses", True, False), ("cluster2", "remote_secrets", True, False)]
    assert rem["outcomes"][0]["fixes"] == [GATEWAY]
    assert rem["changed"] == 2 and rem["failed"] == 0
    assert [s["reason"] for s in rem["skipped"]] == ["set host var meshmend_eastwest_gateway_ip <for cluster4>"]
    assert [s["category"] for s in rem["not_asked"]] == ["network_labels"]
    manual = dict((m["key"], m) for m in rem["manual"])
    # The symptom cleared with its cause; the unreachable cluster and the missing CA stay.
    assert manual[SYMPTOM]["open"] is False and manual[SYMPTOM]["resolved_by_plan"] is True
    assert manual["cluster.unreachable@cluster3"]["open"] is True
    assert manual["trust.cacerts_missing@cluster1"]["steps"] == ["plug in certs"]   # the finding's remedy
    assert any(line.startswith("fixed     %s" % GATEWAY) for line in rem["lines"])


def test_same_data_as_compare_findings(applied):
    """The section is compare_findings' (the role's console lines) plus the plan's lists."""
    rem = applied["remediation"]
    cmp = outcomes.compare_findings(fixtures.findings(), applied["findings"], rem["outcomes"], check_mode=False)
    for k in ("fixed", "remaining", "new", "changed", "failed", "lines"):
        assert rem[k] == cmp[k]


def test_markdown_section(applied):
    md = r.render_markdown(applied, docs_url="https://docs.example/findings.md")
    sec = md.split("## Before / after remediation", 1)[1].split("\n## Clusters", 1)[0]
    assert md.index("## Before / after remediation") < md.index("## Clusters")
    assert "check mode" not in sec.lower()
    assert "| error | 5 | 3 |" in sec and "| warning | 1 | 1 |" in sec
    fixed = sec.split("### Fixed (3)", 1)[1].split("###", 1)[0]
    assert "[`eastwest_gateway.external_ip_pending`](https://docs.example/findings.md#eastwest_gateway." \
           "external_ip_pending) (error) on **cluster2**" in fixed
    assert "**cluster2 \u2192 cluster1**" in fixed
    new = sec.split("### New (1)", 1)[1].split("###", 1)[0]
    assert "network.pod_network_unset" in new
    assert "<script>" not in sec and "&lt;script&gt;" in new
    remaining = sec.split("### Remaining", 1)[1].split("###", 1)[0]
    assert "cluster.unreachable" in remaining and "1 info finding(s)" in remaining
    assert "| cluster2 | `gateway_addresses` | set spec.externalIPs of Service istio-system/istio-eastwestgateway " \
           "to [172.18.2.100] | fixed |" in sec   # written, and confirmed by the second diagnosis
    assert "### Skipped" in sec and "meshmend_eastwest_gateway_ip &lt;for cluster4&gt;" in sec
    assert "### Not asked" in sec and "category network_labels was not asked for" in sec
    manual = sec.split("### Manual steps", 1)[1]
    assert "[`cluster.unreachable`](https://docs.example/findings.md#cluster.unreachable) (error) on **cluster3** " \
           "(still open)" in manual
    assert "(cleared with its causes)" in manual
    assert "  - caused by [`remote_secret.missing`](https://docs.example/findings.md#remote_secret.missing) " \
           "on cluster2 \u2192 cluster1" in manual
    assert "  - plug in certs" in manual


def test_markdown_failed_action_and_table_escaping():
    rep = _report(_after(fixed=(GATEWAY,)), _remediation(fail_secret=True))
    sec = r.render_markdown(rep).split("## Before / after remediation", 1)[1].split("\n## Clusters", 1)[0]
    row = [line for line in sec.splitlines() if line.startswith("| cluster2 | `remote_secrets`")][0]
    # The failure message stays inside its cell: pipes escaped, HTML neutralised.
    assert "**failed: Forbidden: &lt;img src=x onerror=\"alert(1)\"&gt; & \\|pipe\\|**" in row
    assert row.count(" | ") == 3
    assert "Actions: 2, changed 1, failed 1." in sec


def test_check_mode_says_nothing_written():
    plan_after = fixtures.findings()  # nothing was written: the second diagnosis sees the same
    rep = _report(plan_after, _remediation(check_mode=True))
    rem = rep["remediation"]
    assert rem["check_mode"] is True and rem["fixed"] == [] and rem["new"] == []
    assert rem["lines"][0].startswith("check mode: nothing was written")
    # The findings the simulated actions would fix, still present since nothing was written.
    assert rem["would_fix"] == sorted([GATEWAY, SECRET])
    assert set(rem["would_fix"]) <= set(rem["remaining"])
    md = r.render_markdown(rep)
    assert "## Before / after remediation (check mode: preview, nothing written)" in md
    assert "Check mode: nothing was written" in md and "preview" in md
    assert "| would change |" in md
    would = md.split("### Would be fixed by the actions (2)", 1)[1].split("###", 1)[0]
    assert "`eastwest_gateway.external_ip_pending`" in would and "`remote_secret.missing`" in would
    page = r.render_html(rep)
    sec = page.split('<section class="remediation"', 1)[1].split("</section>", 1)[0]
    assert "check mode: preview" in sec and "<b>Check mode: nothing was written</b>" in sec
    assert "(still open, expected to clear with the planned fixes)" in sec
    assert "would change" in sec and ">changed<" not in sec
    assert '<ul class="would">' in sec


def test_check_mode_string_from_templating():
    rem = _report(fixtures.findings(), dict(_remediation(), check_mode="True"))["remediation"]
    assert rem["check_mode"] is True


def test_html_section_escaped_and_linked():
    rep = _report(_after(fixed=(GATEWAY,)), _remediation(fail_secret=True))
    page = r.render_html(rep, docs_url="https://docs.example/findings.md?a=1&b=2")
    assert page.index('id="remediation"') < page.index("<h2>The mesh</h2>")
    sec = page[page.index('<section class="remediation"'):]
    sec = sec[:sec.index("</section>") + len("</section>")]
    # Well-formed and self-contained: parses as XML, no script, no external asset.
    root = ET.fromstring(sec.replace(" open>", ' open="">'))  # HTML's bare boolean attribute
    assert root.find("h2").text.startswith("Before / after remediation")
    assert "<script" not in sec and "<img" not in sec and "src=" not in sec.replace("src=x", "")
    # Jinja2's autoescape (markupsafe) writes a quote as &#34; where html.escape writes &quot;
    assert str(markupsafe.escape(EVIL_MSG)) in sec and html.escape(EVIL_MSG).replace("&quot;", "&#34;") in sec
    assert str(markupsafe.escape(fixtures.EVIL)) in sec
    links = [a.get("href") for a in root.iter("a")]
    assert "https://docs.example/findings.md?a=1&b=2#eastwest_gateway.external_ip_pending" in links
    assert "https://docs.example/findings.md?a=1&b=2#cluster.unreachable" in links
    assert '&amp;b=2#' in sec
    fixed = root.find(".//ul[@class='fixed']")
    assert [li.find("a/code").text for li in fixed] == ["eastwest_gateway.external_ip_pending"]
    rows = dict((tr.findall("td")[1].find("code").text, tr) for tr in root.iter("tr")
                if tr.get("class", "").startswith("outcome-"))
    assert rows["gateway_addresses"].get("class") == "outcome-changed"
    assert rows["remote_secrets"].get("class") == "outcome-failed"
    assert "".join(rows["remote_secrets"].itertext()).endswith("failed: " + EVIL_MSG)
    cards = ["".join(c.itertext()) for c in root.iter("div") if "card" in (c.get("class") or "")]
    # one error fixed, one new: 5 -> 5
    assert "5 \u2192 5error before \u2192 after" in cards and "1fixed" in cards and "1new" in cards
    steps = [li.text for ol in root.iter("ol") for li in ol]
    assert "check the kubeconfig" in steps   # the unreachable cluster's remedy


def test_junit_unchanged_by_section():
    after = _after()
    with_section = _report(after, _remediation())
    without = r.build_report(fixtures.facts_by_cluster(), after, out_of_play=["cluster4"],
                             generated_at="2026-01-01T00:00:00Z")
    assert r.render_junit(with_section) == r.render_junit(without)


def test_bad_remediation_input_no_traceback():
    """Odd shapes from a hand-written play are dropped or shown as-is, never a traceback."""
    rep = _report(_after(), {"outcomes": ["junk", {"cluster": "c1"}], "manual": "nope", "skipped": None,
                             "categories": None}, previous=fixtures.findings() + ["junk", {"no": "id"}])
    rem = rep["remediation"]
    assert len(rem["outcomes"]) == 1 and rem["outcomes"][0]["changed"] is False
    assert rem["manual"] == [] and rem["skipped"] == [] and rem["categories"] == []
    assert "Before / after remediation" in r.render_markdown(rep)
    assert re.search(r"<td>c1</td>", r.render_html(rep))
