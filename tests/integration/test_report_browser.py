"""The HTML report of a real diagnosis, opened in a real browser (headless Chromium through chromedriver):
the mesh picture is drawn with the clusters' names, and the root cause and its remedy are visible on the
page, not merely present in the DOM. A screenshot is kept at reports/browser/ (a CI artifact).

Asserts on what the page means (cluster names, finding ids, remedy text from the JSON report), not on
its markup, which changes."""
import json
import os
import shutil
import subprocess
import sys

import pytest

import browser

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
SHOTS = os.path.join(ROOT, "reports", "browser")

pytestmark = pytest.mark.slow

# The deepest elements whose rendered text holds the wanted text (whitespace normalised), in page order.
FIND_TEXT = """
const want = arguments[0].replace(/\\s+/g, ' ').trim();
const norm = (el) => (el.textContent || '').replace(/\\s+/g, ' ');
return [...document.body.querySelectorAll('*')].filter(
  (el) => norm(el).includes(want) && ![...el.children].some((c) => norm(c).includes(want)));
"""
# Is the element really on screen once scrolled to: a box of its own, and the topmost thing at its
# centre is the element itself (or inside it, or its container), not something covering it.
ON_SCREEN = """
const el = arguments[0];
el.scrollIntoView({block: 'center'});
const r = el.getBoundingClientRect();
if (r.width < 1 || r.height < 1) return 'no box: ' + r.width + 'x' + r.height;
const top = document.elementFromPoint(r.left + Math.min(r.width / 2, 20), r.top + r.height / 2);
if (!top) return 'nothing at its place';
if (top === el || el.contains(top) || top.contains(el)) return 'ok';
return 'covered by ' + top.tagName;
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory, shared_lab):
    """diagnose on the bundled demo lab (a root cause with a symptom): the report dir and its JSON."""
    tmp = tmp_path_factory.mktemp("browser")
    lab = shared_lab("demo")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "diagnose.yml"),
                           "-i", lab.inventory, "-e", "meshmend_report_dir=%s" % (tmp / "reports")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-2000:]  # errors found: exit status 2
    with open(str(tmp / "reports" / "meshmend-report.json")) as handle:
        doc = json.load(handle)
    return tmp, tmp / "reports" / "meshmend-report.html", doc


@pytest.fixture(scope="module")
def page(report):
    tmp, html, _doc = report
    driver = browser.webdriver(str(tmp), size="1400,1000")
    try:
        driver.get("file://%s" % html)
        yield driver
    finally:
        driver.quit()


def root_causes(doc):
    """Findings that explain another finding and have no cause themselves."""
    by_key = dict((f["key"], f) for f in doc["findings"])
    causes = set(k for f in doc["findings"] for k in f.get("caused_by") or [])
    return [by_key[k] for k in sorted(causes) if k in by_key and not by_key[k].get("caused_by")]


def assert_visible(driver, text):
    """One element showing TEXT is displayed and on screen (an SVG <title> or a collapsed block does not count)."""
    found = driver.execute_script(FIND_TEXT, text)
    assert found, "%r is not on the page" % text
    seen = []
    for el in found:
        where = driver.execute_script(ON_SCREEN, el) if el.is_displayed() else "not displayed"
        if where == "ok":
            return el
        seen.append("<%s>: %s" % (el.tag_name, where))
    raise AssertionError("%r is in the page but not visible: %s" % (text, "; ".join(seen)))


def test_the_mesh_picture_is_drawn_with_every_cluster(page, report):
    _tmp, _html, doc = report
    svgs = [s for s in page.find_elements("css selector", "svg") if s.is_displayed()]
    assert svgs, "no visible SVG picture"
    picture = max(svgs, key=lambda s: s.size["width"] * s.size["height"])
    assert picture.size["width"] > 300 and picture.size["height"] > 100, picture.size
    clusters = sorted(doc["clusters"]["in_play"])
    assert clusters == ["cluster1", "cluster2"]
    for name in clusters:
        drawn = [t for t in picture.find_elements("xpath", ".//*[local-name()='text']")
                 if name in t.get_attribute("textContent") and t.is_displayed()]
        assert drawn, "%s is not drawn in the picture" % name


def test_the_root_cause_and_its_remedy_are_visible(page, report):
    _tmp, _html, doc = report
    causes = root_causes(doc)
    assert [(f["id"], f["cluster"], f["peer"]) for f in causes] == [("remote_secret.missing", "cluster1", "cluster2")]
    cause = causes[0]
    assert_visible(page, cause["id"])
    assert_visible(page, cause["remedy"][:60])
    # and the symptom it explains
    symptoms = [f for f in doc["findings"] if cause["key"] in (f.get("caused_by") or [])]
    assert [f["id"] for f in symptoms] == ["endpoints.remote_missing"]
    assert_visible(page, symptoms[0]["id"])


def test_every_cause_remedy_is_visible_and_a_screenshot_is_kept(page, report):
    """A finding without a cause tells what to do (a symptom points to its causes' remedies instead)."""
    _tmp, _html, doc = report
    errors = [f for f in doc["findings"] if f["severity"] == "error" and not f.get("caused_by")]
    assert len(errors) >= 3 and all(f.get("remedy") for f in errors)
    for finding in errors:
        assert_visible(page, finding["remedy"][:60])
    height = page.execute_script("return Math.min(document.documentElement.scrollHeight, 6000)")
    page.set_window_size(1400, max(900, height))
    page.execute_script("window.scrollTo(0, 0)")
    if os.path.isdir(SHOTS):
        shutil.rmtree(SHOTS)
    os.makedirs(SHOTS)
    shot = os.path.join(SHOTS, "meshmend-report.png")
    assert page.save_screenshot(shot)
    shutil.copy(str(report[1]), os.path.join(SHOTS, "meshmend-report.html"))
    with open(shot, "rb") as handle:
        data = handle.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000, len(data)
