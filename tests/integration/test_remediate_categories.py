"""remediate against the lab, one category at a time (issue 6 "Done when").

For each category: the fault is in the bundled `demo` scenario; diagnose finds it;
`remediate --check --diff` shows the change and the lab counts zero writes; `remediate`
fixes it (and nothing of the other categories); diagnose is clean of it; a second
`remediate` reports changed=0. The whole run never deletes and never prints a token.
"""
import base64

import pytest

from labutil import start_lab  # noqa: E402  (tests/labutil.py, the lab's test helper)
from leak_runs import scanned_playbook
from leakcheck import lab_secrets
from remediate_helpers import (
    ALL, finding_ids, gateway_inventory, kubectl, recap, report, writes,
)

GATEWAY_IP = "172.18.2.100"

CASES = {
    "network_labels": {
        "finding": ("network.namespace_label_missing", "cluster2", None),
        "diff": ["topology.istio.io/network", "network2"],
    },
    "gateway_addresses": {
        "finding": ("eastwest_gateway.external_ip_pending", "cluster2", None),
        "diff": ["externalIPs", GATEWAY_IP],
    },
    "remote_secrets": {
        "finding": ("remote_secret.missing", "cluster1", "cluster2"),
        "diff": ["istio-remote-secret-cluster2", "token_fingerprint", "sha256:"],
    },
}


def _stats_total(lab, verb):
    total = 0
    stats = lab.stats()
    clusters = stats.get("clusters", stats)
    for v in clusters.values():
        if isinstance(v, dict):
            total += int((v.get("verbs") or v.get("by_verb") or v).get(verb, 0) or 0)
    return total


@pytest.fixture
def demo_lab(tmp_path):
    lab = start_lab("demo", str(tmp_path / "lab"))
    try:
        lab_secrets(lab)   # the credentials to look for, read before a test injects a fault
        yield lab
    finally:
        lab.stop()


def _inventories(lab, tmp_path):
    return [lab.inventory, gateway_inventory(lab, str(tmp_path / "gw.yml"), {"cluster2": GATEWAY_IP})]


def _reader_token(lab):
    raw = kubectl(lab, "--context", "cluster2", "-n", "istio-system", "get", "secret",
                  "istio-reader-service-account-istio-remote-secret-token", "-o", "jsonpath={.data.token}")
    return base64.b64decode(raw).decode() if raw else None


@pytest.mark.parametrize("category", ALL)
def test_category_check_then_apply_then_idempotent(category, demo_lab, tmp_path):
    lab = demo_lab
    inv = _inventories(lab, tmp_path)
    case = CASES[category]
    others = [CASES[c]["finding"] for c in ALL if c != category]
    outputs = []

    if category == "remote_secrets":
        # a peer where nobody ran create-remote-secret yet: the module creates the reader token Secret
        kubectl(lab, "--context", "cluster2", "-n", "istio-system", "delete", "secret",
                "istio-reader-service-account-istio-remote-secret-token")
    lab.ctl("reset-stats")
    rc, out = scanned_playbook(lab, "remediate.yml", inv, tmp_path / "check", categories=[category], check=True)
    outputs.append(out)
    assert rc == 0, out
    for text in case["diff"]:
        assert text in out, "--diff output lacks %r" % text
    assert sum(writes(lab.stats()).values()) == 0, lab.stats()
    # the role's first diagnosis (reports in before/) found the fault; check mode left it in place
    assert case["finding"] in finding_ids(report(tmp_path / "check" / "before"))
    assert case["finding"] in finding_ids(report(tmp_path / "check"))

    rc, out = scanned_playbook(lab, "remediate.yml", inv, tmp_path / "apply", categories=[category], fail_on="never")
    outputs.append(out)
    assert rc == 0, out
    assert sum(h.get("changed", 0) for h in recap(out).values()) > 0, out
    assert sum(writes(lab.stats()).values()) > 0

    after = finding_ids(report(tmp_path / "apply"))  # the role's diagnosis after the fix
    assert case["finding"] not in after
    for other in others:  # only the asked category was touched
        assert other in after

    lab.ctl("reset-stats")
    rc, out = scanned_playbook(lab, "remediate.yml", inv, tmp_path / "again", categories=[category], fail_on="never")
    outputs.append(out)
    assert rc == 0, out
    counts = recap(out)
    assert counts and all(h.get("changed", 0) == 0 for h in counts.values()), counts
    assert sum(writes(lab.stats()).values()) == 0, lab.stats()
    assert _stats_total(lab, "delete") == 0

    if category == "remote_secrets":
        token = _reader_token(lab)
        assert token, "the peer's reader token Secret was not filled"
        for text in outputs:
            assert token not in text


def test_all_categories_leave_no_error(demo_lab, tmp_path):
    lab = demo_lab
    inv = _inventories(lab, tmp_path)
    rc, out = scanned_playbook(lab, "diagnose.yml", inv, tmp_path / "diagnose-before")
    assert rc != 0, out
    before = finding_ids(report(tmp_path / "diagnose-before"))
    for case in CASES.values():
        assert case["finding"] in before
    rc, out = scanned_playbook(lab, "remediate.yml", inv, tmp_path / "reports")
    assert rc == 0, out
    assert "fixed     remote_secret.missing@cluster1->cluster2" in out
    assert report(tmp_path / "reports")["summary"]["counts"]["error"] == 0
    rc, out = scanned_playbook(lab, "diagnose.yml", inv, tmp_path / "diagnose-after")
    assert rc == 0, out
    assert report(tmp_path / "diagnose-after")["summary"]["counts"]["error"] == 0
    assert _stats_total(lab, "delete") == 0
