"""The reports at 50 and 500 clusters (issue 17 item 5): JSON under 10 MB and HTML under 2 MB at 500,
linear in the number of clusters, every problem kept, the one cluster down named once.

The facts are built in memory (tests/checks_facts.py builders): a healthy multi-network mesh, each
cluster a primary with a remote secret for every peer (N x (N-1) entries), with one cluster down and one
remote secret missing. The time of the analysis and of each rendering is printed (``pytest -s``), never
asserted: timings belong to ``make bench``. At 500 clusters the analysis (the checks) takes most of the
time; the test is marked slow.
"""
import copy
import gc
import json
import time
import xml.etree.ElementTree as ET

import pytest
import report_fixtures as fixtures
from checks_facts import NOW, build_mesh

from ansible_collections.meshmend.multicluster.plugins.module_utils import checks
from ansible_collections.meshmend.multicluster.plugins.module_utils import report as r

MB = 1000 * 1000
# (clusters, JSON limit, HTML limit): the targets at 500; 50 clusters must stay within a tenth.
SIZES = [(50, MB, 200 * 1000), pytest.param(500, 10 * MB, 2 * MB, marks=pytest.mark.slow)]


def healthy_ish(n):
    gc.disable()   # building millions of small dicts: the collector would cost more than the building
    try:
        mesh = build_mesh("multinetwork", n)
        fixtures.cluster_down(mesh, "cluster17")
        mesh["cluster3"]["remote_secrets"] = [s for s in mesh["cluster3"]["remote_secrets"]
                                              if s["name"] != "istio-remote-secret-cluster4"]
        return mesh
    finally:
        gc.enable()


_RUNS = {}


def run(n):
    """(report, renderings, sizes, findings) of the n-cluster mesh, made once per test session."""
    if n not in _RUNS:
        _RUNS[n] = _run(n)
    return _RUNS[n]


def _run(n):
    facts = healthy_ish(n)
    gc.freeze()   # as the mesh_report action does once it holds the facts
    times = {}
    start = time.perf_counter()
    findings, timing, model = r.analyze(copy.deepcopy(facts), checks.diagnose, {"now": NOW})
    times["analysis"] = time.perf_counter() - start
    start = time.perf_counter()
    rep = r.build_report(facts, findings, model=model, timing=timing)
    times["document"] = time.perf_counter() - start
    out = {}
    for fmt in r.REPORT_FILES:
        start = time.perf_counter()
        out[fmt] = r.render_all(rep, formats=[fmt])[fmt]
        times[fmt] = time.perf_counter() - start
    sizes = dict((fmt, len(text.encode("utf-8"))) for fmt, text in out.items())
    spent = ", ".join("%s %.2f s" % kv for kv in times.items())
    weight = ", ".join("%s %.2f MB" % (k, v / float(MB)) for k, v in sizes.items())
    print("\n%d clusters: %s; sizes %s" % (n, spent, weight))
    return rep, out, sizes, findings


@pytest.mark.parametrize("n,json_limit,html_limit", SIZES)
def test_sizes_stay_linear_and_every_problem_is_kept(n, json_limit, html_limit):
    rep, out, sizes, findings = run(n)
    assert sizes["json"] < json_limit and sizes["html"] < html_limit, sizes
    doc = json.loads(out["json"])
    # every problem is in the JSON report, whole
    assert len(doc["findings"]) == len(findings) and doc["findings"] == json.loads(json.dumps(rep["findings"]))
    keys = set(f["key"] for f in doc["findings"])
    assert "remote_secret.missing@cluster3->cluster4" in keys
    assert len([k for k in keys if k.startswith("remote_secret.api_unreachable@")]) == n - 1
    # the summaries are bounded: healthy entries counted, the problem ones listed
    c3 = doc["facts"]["cluster3"]
    assert c3["remote_secrets_total"] == {"secrets": n - 2, "entries": n - 2, "ok": n - 3, "listed": 1,
                                          "complete": False}
    assert [k["target"] for s in c3["remote_secrets"] for k in s["keys"]] == ["cluster17"]
    assert c3["proxy"]["endpoints_total"] == n - 1 and len(c3["proxy"]["endpoints"]) == 20
    # the links: the broken ones listed, the healthy ones counted by state and network
    summary = doc["model"]["link_summary"]
    broken = [(lk["source"], lk["target"]) for lk in doc["model"]["links"]]
    # n - 1 readers of cluster17, one missing secret; n - 1 reachable primaries read n - 1 peers each
    assert len(broken) == summary["counts"]["error"] + summary["counts"]["warning"] == n
    assert ("cluster3", "cluster4") in broken
    assert summary["counts"]["ok"] == (n - 1) * (n - 1) - n and summary["complete"] is False


@pytest.mark.parametrize("n,json_limit,html_limit", SIZES)
def test_the_cluster_down_is_named_once_at_scale(n, json_limit, html_limit):
    rep, out, _sizes, _findings = run(n)
    (root,) = [rc for rc in rep["root_causes"] if rc["key"] == "cluster.unreachable@cluster17"]
    assert len(root["dependents"]) == n - 1
    page = out["html"]
    assert page.count("<code>cluster.unreachable</code>") == 1
    svg = ET.fromstring(page[page.index("<svg"):page.index("</svg>") + len("</svg>")])
    ns = "{http://www.w3.org/2000/svg}"
    bundles = [(g.get("data-cluster"), g.get("data-count")) for g in svg.iter(ns + "g")
               if "link-bundle" in (g.get("class") or "")]
    assert bundles == [("cluster17", str(n - 1))]
    drawn = [(g.get("data-source"), g.get("data-target")) for g in svg.iter(ns + "g")
             if "link" in (g.get("class") or "").split()]
    assert drawn == [("cluster3", "cluster4")]
    boxes = dict((g.get("data-cluster"), g.get("class")) for g in svg.iter(ns + "g")
                 if "cluster" in (g.get("class") or "").split())
    panels = dict((g.get("data-network"), int(g.get("data-clusters"))) for g in svg.iter(ns + "g")
                  if g.get("class") == "network")
    if n <= 100:   # every cluster drawn, the peers marked affected by cluster17, not red
        assert len(boxes) == n and sum(panels.values()) == n
        assert boxes["cluster5"] == "cluster cluster-affected"
    else:          # only the clusters worth a look; the others counted in one panel
        assert sorted(boxes) == ["cluster17", "cluster3", "cluster4"]
        assert panels["collapsed"] == n - 3
        texts = [t.text for t in svg.iter(ns + "text")]
        assert "%d affected by cluster17" % (n - 3) in texts
    lines = r.summary_lines(rep)
    assert len([ln for ln in lines if "cluster17" in ln and not ln.startswith("  ")]) == 1
    assert len(lines) < 10, lines
