"""The HTML report opens in a headless browser and the mesh picture is drawn.

Needs Debian's `chromium` package; skipped with that reason otherwise, except under CI, where it fails
(tests/browser.py; .ci/run installs the package).
"""
import copy
import os
import re
import struct
import subprocess
import time
import zlib

import browser
import report_fixtures as fixtures

from ansible_collections.meshmend.multicluster.plugins.module_utils import report as r
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import Finding

RED = (0xd9, 0x2d, 0x20)


def _screenshot(path, out, size="1400,900"):
    profile = os.path.join(os.path.dirname(out), "profile-%s" % os.path.basename(out))  # a fresh one each time
    cmd = [browser.chromium()] + browser.flags(profile, size) + ["--screenshot=%s" % out, "file://%s" % path]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and os.path.exists(out), proc.stderr[-2000:]
    return _decode_png(out)


def _decode_png(path):
    """8-bit RGB/RGBA non-interlaced PNG -> (width, height, rows of (r, g, b))."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xff
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xff
            elif ftype == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xff
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) & 0xff
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows


def _count(rows, color, tolerance=12):
    return sum(1 for row in rows for px in row if all(abs(px[i] - color[i]) <= tolerance for i in range(3)))


def _healthy():
    return {"cluster1": fixtures.cluster_facts("cluster1", 1, "network1", secrets_for=[("cluster2", 2)]),
            "cluster2": fixtures.cluster_facts("cluster2", 2, "network2", secrets_for=[("cluster1", 1)])}


def test_html_report_renders(tmp_path):
    rep = r.build_report(fixtures.facts_by_cluster(), fixtures.findings(), out_of_play=["cluster4"])
    page = tmp_path / "meshmend-report.html"
    page.write_text(r.render_html(rep))
    width, height, rows = _screenshot(str(page), str(tmp_path / "page.png"))
    assert (width, height) == (1400, 900)
    colors = set(px for row in rows[::7] for px in row[::7])
    assert len(colors) > 50          # a drawn page, not a blank or an error screen
    assert _count(rows[::2], RED) > 100


def test_mesh_picture_marks_broken_parts_red(tmp_path):
    healthy = tmp_path / "healthy.svg"
    healthy.write_text(r.render_svg(r.build_report(_healthy(), [])))
    broken_facts = _healthy()
    broken_facts["cluster2"]["remote_secrets"] = []
    missing = fixtures.findings()[1]  # remote_secret.missing cluster2 -> cluster1
    broken = tmp_path / "broken.svg"
    broken.write_text(r.render_svg(r.build_report(broken_facts, [missing])))
    ok_rows = _screenshot(str(healthy), str(tmp_path / "healthy.png"), size="900,300")[2]
    bad_rows = _screenshot(str(broken), str(tmp_path / "broken.png"), size="900,300")[2]
    # The legend (bottom 40 px of the picture) shows a red sample on purpose: leave it out.
    legend_top = int(re.search(r'height="(\d+)"', healthy.read_text()).group(1)) - 40
    ok_rows, bad_rows = ok_rows[:legend_top], bad_rows[:legend_top]
    assert _count(ok_rows, RED) == 0
    assert _count(ok_rows, (0x12, 0xb7, 0x6a)) > 50       # green links and healthy boxes
    assert _count(bad_rows, RED) > 200                    # red box and dashed red link
    # The cluster names are drawn: dark text pixels inside both pictures.
    assert _count(ok_rows, (0x1d, 0x24, 0x33), tolerance=30) > 50


def _ten(down):
    from checks_facts import NOW, build_mesh
    from ansible_collections.meshmend.multicluster.plugins.module_utils import checks
    facts = build_mesh("multinetwork", 10)
    if down:
        fixtures.cluster_down(facts, down)
    findings, timing, model = r.analyze(copy.deepcopy(facts), checks.diagnose, {"now": NOW})
    return r.build_report(facts, findings, model=model, timing=timing)


def test_the_page_leads_with_the_root_cause(tmp_path):
    """Below the header and the cards (y > 170), the first thing on screen is the root cause in red."""
    shots = {}
    for name, down in (("healthy", None), ("down", "cluster7")):
        page = tmp_path / ("%s.html" % name)
        page.write_text(r.render_html(_ten(down)))
        shots[name] = _screenshot(str(page), str(tmp_path / ("%s.png" % name)))[2]
    top = slice(170, 500)
    assert _count(shots["healthy"][top], RED) == 0          # a healthy mesh: the picture comes first
    assert _count(shots["down"][top], RED) > 500             # the root-cause section, its border and badge


def test_a_large_mesh_renders_quickly(tmp_path):
    """120 clusters, one secret missing: the page renders; the time is printed (make bench keeps timings)."""
    facts = {}
    for i in range(1, 121):
        name = "cluster%d" % i
        peers = [("cluster%d" % j, j) for j in range(1, 121) if j != i and (i, j) != (3, 4)]
        facts[name] = fixtures.cluster_facts(name, i, "network%d" % i, secrets_for=peers)
    missing = Finding("remote_secret.missing", "cluster3", "no secret for cluster4", peer="cluster4").to_dict()
    page = tmp_path / "large.html"
    page.write_text(r.render_html(r.build_report(facts, [missing])))
    start = time.monotonic()
    rows = _screenshot(str(page), str(tmp_path / "large.png"))[2]
    spent = time.monotonic() - start
    print("\nheadless Chromium: %d KB page of 120 clusters in %.2f s" % (page.stat().st_size // 1024, spent))
    assert _count(rows[::2], RED) > 100
