"""The remediate role's report holds the before/after section (issue 6), against the lab.

One `ansible-playbook playbooks/remediate.yml` run on the bundled `demo` scenario (three
faults remediate fixes, plus the symptom they cause): the first diagnosis' reports in
`<dir>/before` have no such section; the second diagnosis' reports in `<dir>` compare the two
in JSON, Markdown and HTML, name the actions applied, and the JUnit report is unchanged in form.
"""
import html
import os
import xml.etree.ElementTree as ET

import pytest

from labutil import start_lab  # noqa: E402  (tests/labutil.py, the lab's test helper)
from leak_runs import scanned_playbook
from leakcheck import lab_secrets
from remediate_helpers import gateway_inventory, report

GATEWAY_IP = "172.18.2.100"
FAULTS = {
    "network.namespace_label_missing@cluster2": "network_labels",
    "eastwest_gateway.external_ip_pending@cluster2": "gateway_addresses",
    "remote_secret.missing@cluster1->cluster2": "remote_secrets",
}
SYMPTOM = "endpoints.remote_missing@cluster1->cluster2"


@pytest.fixture
def demo_lab(tmp_path):
    lab = start_lab("demo", str(tmp_path / "lab"))
    try:
        lab_secrets(lab)   # the credentials to look for, read before a test injects a fault
        yield lab
    finally:
        lab.stop()


def _read(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


@pytest.mark.slow
def test_remediate_report_before_after(demo_lab, tmp_path):
    lab = demo_lab
    inv = [lab.inventory, gateway_inventory(lab, str(tmp_path / "gw.yml"), {"cluster2": GATEWAY_IP})]
    out_dir = tmp_path / "reports"
    # The role's own variable wins over the playbook contract's: both diagnoses report into it.
    elsewhere = tmp_path / "elsewhere"
    rc, out = scanned_playbook(lab, "remediate.yml", inv, elsewhere, out_dir,
                               extra_vars={"remediate_report_dir": str(out_dir)})
    assert rc == 0, out
    assert not elsewhere.exists()

    # The first diagnosis (before/) is a plain report: it found the faults, no section.
    before = report(out_dir / "before")
    assert "remediation" not in before
    before_keys = set(f["key"] for f in before["findings"])
    assert set(FAULTS) <= before_keys, sorted(before_keys)
    assert "Before / after remediation" not in _read(out_dir / "before" / "meshmend-report.md")

    doc = report(out_dir)
    rem = doc["remediation"]
    assert rem["check_mode"] is False
    assert rem["categories"] == ["network_labels", "gateway_addresses", "remote_secrets"]
    assert rem["before"]["error"] == before["summary"]["counts"]["error"] > 0
    assert rem["after"]["error"] == doc["summary"]["counts"]["error"] == 0
    assert set(FAULTS) <= set(rem["fixed"]), rem["fixed"]
    assert rem["new"] == [], rem["new"]
    assert rem["fixed"] == sorted(before_keys - set(f["key"] for f in doc["findings"]))
    for key in FAULTS:
        assert rem["findings"][key]["severity"] == "error"
    # One action per fixed fault, each changed, none failed; every fault is fixed by its category's action.
    assert rem["failed"] == 0 and rem["changed"] == len(rem["outcomes"]) >= 3
    fixed_by = dict((k, o["category"]) for o in rem["outcomes"] for k in o["fixes"])
    for key, category in FAULTS.items():
        assert fixed_by.get(key) == category, rem["outcomes"]
    assert all(o["changed"] and not o["failed"] for o in rem["outcomes"])
    # The endpoints symptom needs no action of its own: a manual item that cleared with its cause.
    manual = dict((m["key"], m) for m in rem["manual"])
    assert SYMPTOM in before_keys and SYMPTOM in rem["fixed"]
    assert manual[SYMPTOM]["open"] is False and manual[SYMPTOM]["resolved_by_plan"] is True

    md = _read(out_dir / "meshmend-report.md")
    sec = md.split("## Before / after remediation", 1)[1].split("\n## Clusters", 1)[0]
    assert "check mode" not in sec.lower()
    fixed_md = sec.split("### Fixed (%d)" % len(rem["fixed"]), 1)[1].split("###", 1)[0]
    for key in FAULTS:
        fid = key.split("@")[0]
        assert "[`%s`](" % fid in fixed_md and "#%s)" % fid in fixed_md
    assert "### New (0)" in sec
    assert "| cluster2 | `gateway_addresses` |" in sec and GATEWAY_IP in sec and "| fixed |" in sec   # written and confirmed by the second diagnosis
    assert "| cluster1 | `remote_secrets` |" in sec
    # Actions in the plan's order: by cluster, then network labels, gateway addresses, remote secrets.
    assert [(o["cluster"], o["category"]) for o in rem["outcomes"]] == [
        ("cluster1", "remote_secrets"), ("cluster2", "network_labels"), ("cluster2", "gateway_addresses")]
    manual_md = sec.split("### Manual steps", 1)[1]
    assert "(cleared with its causes)" in manual_md and "caused by [`remote_secret.missing`](" in manual_md

    page = _read(out_dir / "meshmend-report.html")
    start = page.index('<section class="remediation"')
    hsec = page[start:page.index("</section>", start)]
    for key in FAULTS:
        assert "#%s\"><code>%s</code></a>" % (key.split("@")[0], html.escape(key.split("@")[0])) in hsec
    assert hsec.count('class="outcome-changed"') == len(rem["outcomes"])
    assert "nothing was written" not in hsec
    assert "<script" not in page.lower() and 'src="http' not in page

    # JUnit keeps its form: suites per cluster, no remediation content, all passing now.
    junit = ET.fromstring(_read(out_dir / "meshmend-junit.xml"))
    assert int(junit.get("failures", "0")) == 0
    assert "remediation" not in _read(out_dir / "meshmend-junit.xml")
    assert os.path.exists(out_dir / "before" / "meshmend-junit.xml")
