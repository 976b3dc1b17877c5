"""Root causes first (issue 17): a 10-cluster mesh with one cluster down names it once, as the root
cause of its 9 peers' findings, grouped under it in the JSON report, the lines the play prints, the
Markdown and the HTML (whose mesh picture bundles the 9 broken links into one badge).

The facts are what gather returns when cluster7's API server is down: cluster7 unreachable, every
peer's probe of its remote secret for cluster7 refused, istiod's clusterz saying it never synced.
"""
import copy
import json
import re
import xml.etree.ElementTree as ET

import pytest
import report_fixtures as fixtures
from checks_facts import NOW, build_mesh

from ansible_collections.meshmend.multicluster.plugins.module_utils import checks
from ansible_collections.meshmend.multicluster.plugins.module_utils import report as r

DOWN = "cluster7"
PEERS = ["cluster%d" % i for i in range(1, 11) if i != 7]
SVG_NS = "{http://www.w3.org/2000/svg}"


def one_cluster_down():
    return fixtures.cluster_down(build_mesh("multinetwork", 10), DOWN)


@pytest.fixture(scope="module")
def rep():
    facts = one_cluster_down()
    findings, timing, model = r.analyze(copy.deepcopy(facts), checks.diagnose, {"now": NOW})
    return r.build_report(facts, findings, model=model, timing=timing, generated_at="2026-01-01T00:00:00Z")


def test_json_names_the_down_cluster_once_with_its_dependents(rep):
    doc = json.loads(r.render_json(rep))
    assert [rc["key"] for rc in doc["root_causes"]] == ["cluster.unreachable@cluster7"]
    (root,) = doc["root_causes"]
    assert root["dependents"] == PEERS
    # every other finding is one of its symptoms: one group per id, each on the 9 peers, towards cluster7
    others = [f["key"] for f in doc["findings"] if f["key"] != root["key"]]
    assert root["explains"] == len(others) == 18
    assert sorted(k for s in root["symptoms"] for k in s["keys"]) == sorted(others)
    assert [(s["id"], s["count"], s["clusters"], s["peers"]) for s in root["symptoms"]] == [
        ("remote_secret.api_unreachable", 9, PEERS, [DOWN]), ("remote_secret.not_synced", 9, PEERS, [DOWN])]
    assert root["remedy"] and root["message"].startswith("The controller cannot reach the API server of cluster7")


def test_lines_print_the_root_cause_once_and_group_its_symptoms(rep):
    lines = r.summary_lines(rep)
    assert len(lines) == 3, lines
    assert lines[0].startswith("error cluster.unreachable cluster7: ")
    assert lines[0].endswith("[root cause of 18 finding(s) on 9 cluster(s)]")
    assert lines[1] == ("  explains 9 x error remote_secret.api_unreachable on cluster1, cluster2, cluster3, cluster4, "
                        "cluster5, cluster6, cluster8, cluster9, cluster10 -> cluster7")
    assert lines[2].startswith("  explains 9 x warning remote_secret.not_synced on cluster1, ")


def test_markdown_groups_the_symptoms_under_the_root_cause(rep):
    md = r.render_markdown(rep)
    roots = md.split("## Root causes", 1)[1].split("\n## ", 1)[0]
    assert md.count("[`cluster.unreachable`]") == 1 and "[`cluster.unreachable`]" in roots
    assert "**explains 18 finding(s) on 9 cluster(s)**: %s" % ", ".join(PEERS) in roots
    assert md.count("[`remote_secret.api_unreachable`]") == 1
    assert "[`remote_secret.api_unreachable`](docs/findings.md#remote_secret.api_unreachable) (error) \u00d7 9 on " \
           "%s \u2192 cluster7" % ", ".join(PEERS) in roots
    # nothing is repeated per peer below
    assert "None: every finding is listed under its root cause above." in md
    assert md.index("## Root causes") < md.index("## Clusters")


def test_html_leads_with_the_root_cause(rep):
    page = r.render_html(rep)
    main = page.split("<main>", 1)[1]
    sections = re.findall(r'<section[^>]* id="([^"]+)"', main)
    assert sections[0] == "root-causes", sections
    assert page.count("<code>cluster.unreachable</code>") == 1
    sec = main[main.index('<section class="root-causes'):]
    sec = sec[:sec.index("</section>") + len("</section>")]
    root = ET.fromstring(sec.replace(" open ", ' open="" ').replace(" open>", ' open="">'))
    (cause,) = [d for d in root.iter("details") if "root-cause" in (d.get("class") or "")]
    assert cause.get("data-key") == "cluster.unreachable@cluster7"
    assert (cause.get("data-explains"), cause.get("data-dependents")) == ("18", "9")
    names = [s for s in cause.iter("span") if "dependents" in (s.get("class") or "")][0].text
    assert names.split(", ") == PEERS
    groups = dict((d.get("data-id"), d) for d in cause.iter("details") if d.get("data-id"))
    assert set(groups) == {"remote_secret.api_unreachable", "remote_secret.not_synced"}
    # each symptom is kept (folded under its group), once
    items = ["".join(li.itertext()) for li in groups["remote_secret.api_unreachable"].iter("li")]
    assert len(items) == 9 and items[0].startswith("cluster1 \u2192 cluster7")
    assert page.count("remote_secret.api_unreachable@") == 0 and page.count("cluster1 \u2192 cluster7") == 2


def test_picture_bundles_the_broken_links_into_the_down_cluster(rep):
    page = r.render_html(rep)
    svg = ET.fromstring(page[page.index("<svg"):page.index("</svg>") + len("</svg>")])
    bundles = [g for g in svg.iter(SVG_NS + "g") if "link-bundle" in (g.get("class") or "")]
    assert [(g.get("data-cluster"), g.get("data-count")) for g in bundles] == [(DOWN, "9")]
    assert "9 cluster(s) cannot read cluster7" in bundles[0].find(SVG_NS + "title").text
    # no red line converges on cluster7; the 72 healthy links (cluster7's were not read) are counted, not drawn
    assert not [g for g in svg.iter(SVG_NS + "g") if "link" in (g.get("class") or "").split()]
    counts = [t for t in svg.iter(SVG_NS + "text") if t.get("class") == "link-counts"][0].text
    assert counts == "links: 72 ok \u00b7 0 warning \u00b7 9 error \u00b7 72 healthy links not drawn (10 clusters)"
    boxes = dict((g.get("data-cluster"), g) for g in svg.iter(SVG_NS + "g") if "cluster" in g.get("class").split())
    assert "cluster-error" in boxes[DOWN].get("class")
    # the peers are not red for what cluster7 explains: marked affected, naming it
    for name in PEERS:
        assert boxes[name].get("class") == "cluster cluster-affected"
        assert "1 error \u00b7 1 warning from cluster7" in [t.text for t in boxes[name].iter(SVG_NS + "text")]
