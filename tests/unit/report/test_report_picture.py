"""The layout of the mesh picture (report/picture.py): labels that never overlap, bundles, collapse."""
import report_fixtures as fixtures

from ansible_collections.meshmend.multicluster.plugins.module_utils import report as r
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import Finding
from ansible_collections.meshmend.multicluster.plugins.module_utils.report import picture


def _mesh(n, missing):
    """n clusters on n networks; ``missing``: (cluster, peer) pairs whose remote secret is absent."""
    facts = {}
    for i in range(1, n + 1):
        name = "cluster%d" % i
        peers = [("cluster%d" % j, j) for j in range(1, n + 1) if j != i and (name, "cluster%d" % j) not in missing]
        facts[name] = fixtures.cluster_facts(name, i, "network%d" % i, secrets_for=peers)
    found = [Finding("remote_secret.missing", c, "no secret for %s" % p, peer=p).to_dict() for c, p in missing]
    return r.build_report(facts, found)


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_link_labels_never_overlap_each_other_nor_a_box():
    # 6 clusters (every link drawn), each misses the secrets of its two next peers: 12 labelled links
    missing = set(("cluster%d" % i, "cluster%d" % ((i + k - 1) % 6 + 1)) for i in range(1, 7) for k in (1, 2))
    pic = picture.layout(_mesh(6, missing))
    labelled = [lk for lk in pic["links_over"] if lk["label"]]
    assert len(pic["links_over"]) == 12 and not pic["bundles"]
    rects = [(lk["label"]["x"] - len(lk["label"]["text"]) * 3.3, lk["label"]["y"] - 11,
              lk["label"]["x"] + len(lk["label"]["text"]) * 3.3, lk["label"]["y"] + 3) for lk in labelled]
    boxes = [(c["x"], c["y"], c["x"] + c["w"], c["y"] + c["h"]) for c in pic["clusters"]]
    for i, a in enumerate(rects):
        assert not any(_overlap(a, b) for b in rects[i + 1:]), "labels overlap"
        assert not any(_overlap(a, b) for b in boxes), "a label covers a cluster"
    # a label with no free place is left out (the link keeps its tooltip), never drawn over another
    assert all(lk["tip"].startswith("remote secret: istiod in ") for lk in pic["links_over"])
    assert len(labelled) >= 6


def test_three_broken_links_into_one_cluster_are_one_badge():
    missing = set(("cluster%d" % i, "cluster1") for i in range(2, 6))
    pic = picture.layout(_mesh(5, missing))
    assert [(b["cluster"], b["direction"], b["count"]) for b in pic["bundles"]] == [("cluster1", "in", 4)]
    assert pic["links_over"] == []
    assert "4 cluster(s) cannot read cluster1: cluster2, cluster3, cluster4, cluster5" in pic["bundles"][0]["tip"]


def test_above_100_clusters_only_the_clusters_worth_a_look_are_drawn():
    missing = {("cluster3", "cluster4")}
    rep = _mesh(120, missing)
    pic = picture.layout(rep)
    assert sorted(c["name"] for c in pic["clusters"]) == ["cluster3", "cluster4"]
    collapsed = [p for p in pic["panels"] if p["network"] == "collapsed"]
    assert collapsed[0]["count"] == 118 and [t["text"] for t in collapsed[0]["lines"]] == ["118 healthy"]
    assert [(lk["source"], lk["target"]) for lk in pic["links_over"]] == [("cluster3", "cluster4")]
    # every panel fits the page's width
    assert all(p["x"] + p["w"] <= picture.MAX_WIDTH + 20 for p in pic["panels"]) and pic["width"] <= 1260
