"""Renderers of plugins/module_utils/report.py over fixture facts and findings."""
import json
import os
import re
import xml.etree.ElementTree as ET

import report_fixtures as fixtures
import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import report as r
from ansible_collections.meshmend.multicluster.plugins.module_utils.report import html
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import Finding

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def rep():
    return r.build_report(fixtures.facts_by_cluster(), fixtures.findings(), out_of_play=["cluster4"],
                          timing={"analysis_s": 0.01, "areas": {"trust": 0.001, "remote_secret": 0.002}},
                          generated_at="2026-01-01T00:00:00Z")


def _svg(html_text):
    start, end = html_text.index("<svg"), html_text.index("</svg>") + len("</svg>")
    return ET.fromstring(html_text[start:end])


def test_json_round_trip(rep):
    doc = json.loads(r.render_json(rep))
    assert doc["schema"] == r.REPORT_SCHEMA
    assert doc["clusters"] == {"in_play": ["cluster1", "cluster2", "cluster3"], "out_of_play": ["cluster4"]}
    assert doc["summary"]["counts"] == {"error": 5, "warning": 1, "info": 1, "total": 7}
    assert doc["summary"]["unreachable"] == ["cluster3"]
    assert doc["failed"] is True
    # Sorted: errors first, then by cluster.
    sev = [f["severity"] for f in doc["findings"]]
    assert sev == sorted(sev, key=["error", "warning", "info"].index)
    assert doc["findings"][0]["key"] == "endpoints.remote_pod_ips@cluster1->cluster2"
    c1 = doc["facts"]["cluster1"]
    assert c1["gateways"][0]["addresses"] == ["172.18.1.10"]
    assert c1["remote_secrets"][0]["keys"][0]["target"] == "cluster2"
    assert c1["roots"]["ca_root_cert"] == "sha256:aaaaaaaaaaaaaaaa"
    assert c1["proxy"]["endpoints"][0] == {"address": "10.1.0.7", "port": 5000, "status": "HEALTHY", "locality": "r1/z"}
    assert doc["requests"] == {"per_cluster": {"cluster1": 12, "cluster2": 12, "cluster3": 1}, "total": 25, "max": 12}
    assert doc["timing"]["areas"]["trust"] == 0.001
    assert doc["timing"]["gather_s"]["cluster1"] == 0.2


def test_summary_copies_only_whitelisted_fields():
    facts = fixtures.facts_by_cluster()
    # Anything outside the whitelist (env values, raw entries, labels) must not reach a report.
    facts["cluster1"]["istiod"]["env"]["SOME_TOKEN"] = "tok-SECRET-123"
    facts["cluster1"]["remote_secrets"][0]["entries"][0]["raw"] = "kubeconfig-SECRET-456"
    facts["cluster1"]["namespace"]["labels"]["x"] = "label-SECRET-789"
    rep = r.build_report(facts, [], fail_on="error")
    for text in r.render_all(rep).values():
        assert "SECRET" not in text


def test_summary_counts_a_gather_that_stopped_as_unreachable():
    facts = fixtures.facts_by_cluster()
    facts["cluster2"]["error"] = "cluster2: cannot list pods: 503 Service Unavailable"
    rep = r.build_report(facts, [], fail_on="error")
    assert "cluster2" in rep["summary"]["unreachable"] and "cluster1" not in rep["summary"]["unreachable"]


def test_cause_tree_follows_caused_by(rep):
    tree = r.cause_tree(rep["findings"])
    roots = [n["finding"]["key"] for n in tree]
    # Causes do not show as roots; symptoms carry them.
    assert "remote_secret.missing@cluster2->cluster1" not in roots
    sym = [n for n in tree if n["finding"]["id"] == "endpoints.remote_missing"][0]
    assert [c["finding"]["key"] for c in sym["causes"]] == ["remote_secret.missing@cluster2->cluster1"]
    podips = [n for n in tree if n["finding"]["id"] == "endpoints.remote_pod_ips"][0]
    assert podips["missing"] == ["network.pod_network_unset@cluster9"]
    # Guide order: cluster access before root of trust before endpoints.
    areas = [r.area_of(k.split("@")[0]) for k in roots]
    assert areas.index("cluster") < areas.index("trust") < areas.index("endpoints")


def test_cause_tree_survives_cycles():
    a = Finding("remote_secret.istiod_error", "c1", "a", caused_by=["remote_secret.api_unreachable@c1"]).to_dict()
    b = Finding("remote_secret.api_unreachable", "c1", "b", caused_by=["remote_secret.istiod_error@c1"]).to_dict()
    tree = r.cause_tree([a, b])
    keys = set()

    def walk(n):
        keys.add(n["finding"]["key"])
        for c in n["causes"]:
            walk(c)
    for n in tree:
        walk(n)
    assert keys == {a["key"], b["key"]}


def test_markdown(rep):
    md = r.render_markdown(rep)
    assert "[`remote_secret.missing`](docs/findings.md#remote_secret.missing)" in md
    assert "| cluster2 | yes | network2 | cluster2 | mesh1 | primary | 1.30.3 | istio-eastwestgateway: pending |" in md
    assert "`cluster4`" in md and "Out of play" in md
    # Root causes first (issue 17): the cause, its remedy, then the symptom it explains grouped under
    # it, each once; the rest follows by area.
    cause = md.index("[`remote_secret.missing`](docs/findings.md#remote_secret.missing) on **cluster2 \u2192 cluster1**")
    remedy = md.index("**remedy**: create the remote secret")
    sym = md.index("[`endpoints.remote_missing`]")
    assert md.index("## Root causes") < cause < remedy < sym < md.index("## Clusters") < md.index("## Other findings")
    assert md.count("**remedy**: create the remote secret") == 1 and md.count("[`endpoints.remote_missing`]") == 1
    assert "explains 1 finding(s) on 1 cluster(s)**: cluster2" in md
    assert "<script>" not in md
    assert r.render_markdown(rep, docs_url="https://x/f.md").count("https://x/f.md#") == 7


def test_markdown_escapes_table_pipes():
    facts = {"c|1": fixtures.cluster_facts("c|1", 1, "net|1")}
    md = r.render_markdown(r.build_report(facts, []))
    assert "| c\\|1 | yes | net\\|1 |" in md
    assert "No findings" in md


def test_html_is_self_contained_and_escaped(rep):
    page = r.render_html(rep)
    assert fixtures.EVIL not in page
    # Jinja2's autoescape (markupsafe) writes a quote as &#34;
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;" in page
    assert "<script" not in page.lower()
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page
    assert page.count("<details") == page.count("</details>")


def test_html_svg_draws_mesh(rep):
    svg = _svg(r.render_html(rep))
    clusters = dict((g.get("data-cluster"), g) for g in svg.iter(SVG_NS + "g")
                    if "cluster" in (g.get("class") or "").split())
    assert set(clusters) == {"cluster1", "cluster2", "cluster3", "cluster4"}
    for name, g in clusters.items():
        assert name in [t.text for t in g.iter(SVG_NS + "text")]
    assert "cluster-error" in clusters["cluster2"].get("class")      # 3 errors
    assert "cluster-error" in clusters["cluster3"].get("class")      # unreachable
    assert "cluster-out-of-play" in clusters["cluster4"].get("class")
    links = dict(((g.get("data-source"), g.get("data-target")), g.get("class")) for g in svg.iter(SVG_NS + "g")
                 if "link" in (g.get("class") or "").split())
    assert links[("cluster1", "cluster2")] == "link link-ok"
    assert links[("cluster2", "cluster1")] == "link link-error"      # the missing secret
    missing_path = [g for g in svg.iter(SVG_NS + "g") if g.get("data-source") == "cluster2"][0].find(SVG_NS + "path")
    assert missing_path.get("stroke") == "#d92d20" and missing_path.get("stroke-dasharray")
    pending = [g for g in svg.iter(SVG_NS + "g") if g.get("class") == "gateway"]
    assert sorted(g.get("data-pending") for g in pending) == ["false", "true"]
    texts = [t.text for t in svg.iter(SVG_NS + "text")]
    assert any("172.18.1.10:15443" in (t or "") for t in texts)
    networks = [g.get("data-network") for g in svg.iter(SVG_NS + "g") if g.get("class") == "network"]
    assert networks == ["network1", "network2", "unreachable", "out of play"]


def test_html_svg_escapes_names():
    facts = {'<b>"x"</b>': fixtures.cluster_facts('<b>"x"</b>', 1, "<i>net</i>")}
    page = r.render_html(r.build_report(facts, []))
    svg = _svg(page)  # parses: every name was escaped
    assert '<b>"x"</b>' in [t.text for t in svg.iter(SVG_NS + "text")]
    assert "<i>net" not in page


def test_big_mesh_draws_only_broken_links():
    facts = {}
    for i in range(1, 21):
        peers = [("cluster%d" % j, j) for j in range(1, 21) if j != i]
        facts["cluster%d" % i] = fixtures.cluster_facts("cluster%d" % i, i, "network%d" % i, secrets_for=peers)
    broken = Finding("remote_secret.api_unreachable", "cluster1", "401", peer="cluster2").to_dict()
    svg = _svg(r.render_html(r.build_report(facts, [broken])))
    links = [g for g in svg.iter(SVG_NS + "g") if "link" in (g.get("class") or "").split()]
    assert [(g.get("data-source"), g.get("data-target"), g.get("class")) for g in links] == [
        ("cluster1", "cluster2", "link link-error")]
    assert any("379 healthy links not drawn" in (t.text or "") for t in svg.iter(SVG_NS + "text"))


def _cases(xml_text):
    root = ET.fromstring(xml_text)
    return root, dict(((tc.get("classname"), tc.get("name")), tc) for tc in root.iter("testcase"))


def test_junit(rep):
    root, cases = _cases(r.render_junit(rep))
    areas = rep["areas"]
    assert ("cluster1", "trust") not in cases
    assert cases[("cluster1", "trust/trust.cacerts_missing")].find("failure") is None  # warning, fail_on=error
    assert cases[("cluster1", "istio")].find("failure") is None
    fail = cases[("cluster2", "remote_secret/remote_secret.missing")].find("failure")
    assert fail is not None and fail.get("type") == "error" and "cluster1" in fail.text
    assert "<script>" in cases[("cluster2", "endpoints/endpoints.remote_missing")].find("failure").get("message")
    # Out of play: every area skipped. Unreachable: other areas skipped.
    for area in areas:
        assert cases[("cluster4", area)].find("skipped") is not None
    assert cases[("cluster3", "cluster/cluster.unreachable")].find("failure") is not None
    assert cases[("cluster3", "trust")].find("skipped") is not None
    assert int(root.get("failures")) == 5
    assert int(root.get("tests")) == len(cases)
    assert int(root.get("skipped")) == sum(1 for tc in cases.values() if tc.find("skipped") is not None)


def test_junit_warnings_fail_with_fail_on_warning(rep):
    cases = _cases(r.render_junit(rep, fail_on="warning"))[1]
    assert cases[("cluster1", "trust/trust.cacerts_missing")].find("failure").get("type") == "warning"
    assert cases[("cluster1", "locality/locality.prefers_local")].find("failure") is None


def test_fail_on_policy():
    warn = [Finding("trust.cacerts_missing", "c1", "x").to_dict()]
    facts = {"c1": fixtures.cluster_facts("c1", 1, "n1")}
    assert r.build_report(facts, warn, fail_on="error")["failed"] is False
    assert r.build_report(facts, warn, fail_on="warning")["failed"] is True
    assert r.build_report(facts, fixtures.findings(), fail_on="never")["failed"] is False


def test_facts_from_result():
    assert r.facts_from_result("c1", None)["reachable"] is False
    assert "skipped" in r.facts_from_result("c1", {"skipped": True})["error"]
    failed = r.facts_from_result("c1", {"failed": True, "msg": "kubeconfig /x not found"})
    assert failed["reachable"] is False and "c1" in failed["error"] and "/x not found" in failed["error"]
    ok = r.facts_from_result("c1", {"facts": {"cluster": "other", "reachable": True}})
    assert ok["cluster"] == "c1"


def test_analyze_runs_once_and_times_areas():
    calls = []

    class Result:
        findings = [Finding("trust.cacerts_missing", "c1", "x")]
        timings = {"trust": 0.5}
        model = {"clusters": {}}

    def diagnose(facts, options):
        calls.append(sorted(options))
        return Result()

    ticks = iter(range(100))
    findings, timing, model = r.analyze({"c1": {}}, diagnose, {"out_of_play": []}, clock=lambda: next(ticks))
    assert calls == [["out_of_play"]]          # one run over all areas
    assert [f["id"] for f in findings] == ["trust.cacerts_missing"]
    assert timing == {"analysis_s": 1, "areas": {"trust": 0.5}} and model == {"clusters": {}}
    assert r.analyze({"c1": {}}, diagnose, time_areas=False)[1]["areas"] == {}


def test_analyze_times_every_area_of_the_catalogue():
    from ansible_collections.meshmend.multicluster.plugins.module_utils import checks
    timings = r.analyze(fixtures.facts_by_cluster(), checks.diagnose, {"out_of_play": ["cluster4"]})[1]["areas"]
    assert set(timings) == {"mesh_model"} | set(checks.AREA_NAMES)
    assert all(isinstance(v, float) and v >= 0 for v in timings.values())


# --- templates of one's own (template_dir) ---------------------------------------------------------

def test_template_dir_replaces_a_template_by_name_and_keeps_the_others(rep, tmp_path):
    (tmp_path / "mesh.svg.j2").write_text('<svg xmlns="http://www.w3.org/2000/svg" class="ours">'
                                          '{% for c in picture.clusters %}<text>{{ c.name }}</text>{% endfor %}</svg>\n')
    (tmp_path / "findings.html.j2").write_text(
        '<section id="findings">{% for f in report.findings if f.id == "endpoints.remote_missing" %}'
        '<p class="ours">{{ f.message }}</p>{% endfor %}</section>\n')
    page = r.render_html(rep, template_dir=str(tmp_path))
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="ours"><text>cluster1</text>' in page
    # a user template is autoescaped too: the fixture's message carries a script tag
    assert '<p class="ours">sleep in cluster2 sees only local endpoints &lt;script&gt;' in page
    assert '<section class="root-causes' in page and "<h2>Clusters</h2>" in page   # built-in ones
    assert r.render_svg(rep, template_dir=str(tmp_path)).startswith('<svg xmlns="http://www.w3.org/2000/svg" class="ours">')


def test_template_errors_name_the_template(rep, tmp_path):
    with pytest.raises(r.TemplateError, match="is not a directory"):
        r.render_html(rep, template_dir=str(tmp_path / "nope"))
    (tmp_path / "clusters.html.j2").write_text("{% for c in clusters %}\n")
    with pytest.raises(r.TemplateError, match=r"template clusters.html.j2 line 1 \(template_dir .*\): TemplateSyntaxError"):
        r.render_html(rep, template_dir=str(tmp_path))
    # the sandbox: a template cannot reach into Python
    bad = tmp_path / "sandbox"
    bad.mkdir()
    (bad / "clusters.html.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(r.TemplateError, match="SecurityError"):
        r.render_html(rep, template_dir=str(bad))


# --- compiled templates kept between runs --------------------------------------------------------

@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """Jinja2's per-user cache folder under tmp_path, and no environment left from an earlier test."""
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(html, "_ENVIRONMENTS", {})
    return tmp_path / ("_jinja2-cache-%d" % os.getuid())


def _compiles(monkeypatch):
    """Counts the templates Jinja2 compiles from source."""
    import jinja2
    seen = []
    compile_ = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, *args, **kwargs):
        if not kwargs.get("raw") and not (args and args[0]):
            seen.append(name)
        return compile_(self, source, name, filename, *args, **kwargs)
    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return seen


def test_a_later_run_loads_the_compiled_templates_instead_of_compiling_them(rep, cache_dir, monkeypatch):
    compiled = _compiles(monkeypatch)
    first = r.render_html(rep)
    assert "report.html.j2" in compiled and "mesh.svg.j2" in compiled
    cached = sorted(p.name for p in cache_dir.iterdir())
    assert len(cached) == len(set(compiled)) and all(n.startswith("__meshmend_") for n in cached)
    assert oct(cache_dir.stat().st_mode & 0o777) == "0o700"   # the user's alone (Jinja2 checks it)
    # a later run: a new process starts with no environment
    monkeypatch.setattr(html, "_ENVIRONMENTS", {})
    del compiled[:]
    assert r.render_html(rep) == first
    assert compiled == []


def test_a_changed_template_or_setting_is_compiled_again(rep, cache_dir, monkeypatch, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "mesh.svg.j2").write_text('<svg xmlns="http://www.w3.org/2000/svg" class="one"></svg>\n')
    compiled = _compiles(monkeypatch)
    r.render_svg(rep, template_dir=str(own))
    (own / "mesh.svg.j2").write_text('<svg xmlns="http://www.w3.org/2000/svg" class="two"></svg>\n')
    monkeypatch.setattr(html, "_ENVIRONMENTS", {})
    del compiled[:]
    assert 'class="two"' in r.render_svg(rep, template_dir=str(own))
    assert compiled == ["mesh.svg.j2"]
    # the same source under other settings (another autoescape, another Jinja2) has its own entry
    one = html._bytecode_cache("settings one")
    two = html._bytecode_cache("settings two")
    assert one.get_cache_key("mesh.svg.j2", "/x") != two.get_cache_key("mesh.svg.j2", "/x")


def test_without_a_usable_cache_folder_the_templates_are_compiled_each_run(rep, tmp_path, monkeypatch):
    import tempfile
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))   # no folder can be made under a file
    monkeypatch.setattr(html, "_ENVIRONMENTS", {})
    assert html.environment().bytecode_cache is None
    assert "<svg" in r.render_html(rep)


def test_where_sha1_is_refused_the_templates_are_compiled_each_run(rep, cache_dir, monkeypatch):
    """A FIPS-mode OpenSSL refuses SHA-1, which Jinja2's cache checksums sources with."""
    import hashlib

    def refused(*args, **kwargs):
        raise ValueError("[digital envelope routines] unsupported")
    monkeypatch.setattr(hashlib, "sha1", refused)
    assert html.environment().bytecode_cache is None
    assert "<svg" in r.render_html(rep)
    assert not cache_dir.exists()


def test_a_cache_that_cannot_be_written_does_not_stop_the_report(rep, cache_dir, monkeypatch):
    import jinja2

    def full_disk(self, bucket):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(jinja2.FileSystemBytecodeCache, "dump_bytecode", full_disk)
    assert "<svg" in r.render_html(rep)
    assert not cache_dir.exists() or not list(cache_dir.iterdir())


def test_summary_lists_every_entry_when_few_and_only_the_problems_when_many():
    peers = [("cluster%d" % j, j) for j in range(2, 21)]
    facts = fixtures.cluster_facts("cluster1", 1, "network1", secrets_for=peers)
    entries = [{"cluster": "cluster1", "namespace": "istio-system", "name": "istio-remote-secret-%s" % p, "key": p,
                "target": p, "state": "error" if p == "cluster9" else "ok", "error": None} for p, _n in peers]
    summary = r.summarize_facts(facts, {"role": "primary"}, entries)
    assert summary["remote_secrets_total"] == {"secrets": 19, "entries": 19, "ok": 18, "listed": 1, "complete": False}
    assert [(s["name"], s["keys"][0]["target"], s["keys"][0]["state"]) for s in summary["remote_secrets"]] == [
        ("istio-remote-secret-cluster9", "cluster9", "error")]
    # entries the model does not judge (no model entry) count as not ok: all listed
    summary = r.summarize_facts(facts, {"role": None}, [])
    assert summary["remote_secrets_total"]["listed"] == 19 and summary["remote_secrets_total"]["ok"] == 0
    # few entries: every one listed, as before
    few = fixtures.cluster_facts("cluster1", 1, "network1", secrets_for=peers[:3])
    summary = r.summarize_facts(few, {"role": "primary"}, entries[:3])
    assert summary["remote_secrets_total"] == {"secrets": 3, "entries": 3, "ok": 3, "listed": 3, "complete": True}
