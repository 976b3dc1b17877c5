"""No test, script, benchmark, CI file, Makefile target or molecule scenario refers to a path outside the
repository: a clone anywhere (with nothing beside it) runs everything. The data the tests need is in
tests/fixtures/ (see its README.md), each folder with its provenance and licence."""
import hashlib
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
SCANNED = ("tests", "scripts", "bench", ".ci", "extensions", "Makefile", "pytest.ini", ".ansible-lint", "ansible.cfg")
SKIP_DIRS = {"__pycache__", ".pytest_cache", "output", ".cache"}
# Upstream data, byte for byte as its authors ship it: it names no path of this machine (checked by provenance).
SKIP_TREES = (os.path.join("tests", "fixtures"),)

# Each pattern with the kind of escape it catches (this file is exempt from the scan: it names them all).
ESCAPES = [
    (re.compile(r"\.\.[/\\]+shared\b"), "a sibling folder (../shared)"),
    (re.compile(r"""["']\.\.["']\s*,\s*["']shared["']"""), "a sibling folder through os.path.join(.., 'shared')"),
    (re.compile(r"\bshared[/\\]+reference\b|\bistio-upstream\b"), "the shared reference folder"),
    (re.compile(r"\bSHARED\b\s*[,)=]"), "a path variable naming the shared folder"),
    (re.compile(r"MESHMEND_SHARED|\w+_SHARED_(?:DIR|ROOT|PATH)\b"), "an environment variable naming outside data"),
    (re.compile(r"(?<![\w.~-])/work/"), "an absolute path of one machine (/work/...)"),
    (re.compile(r"dirname\(\s*(?:os\.path\.abspath\()?\s*(?:REPO_?)?ROOT\s*\)", re.I), "the repository's parent (dirname(ROOT))"),
    (re.compile(r"\b(?:REPO_?)?ROOT\s*\)?\s*\.parent\b", re.I), "the repository's parent (ROOT.parent)"),
    (re.compile(r"""join\(\s*(?:REPO_?)?ROOT\s*,\s*["']\.\.["'/]""", re.I), "the repository's parent (join(ROOT, '..'))"),
    (re.compile(r"""(?:REPO_?)?ROOT\s*\+\s*["'][/\\]\.\.""", re.I), "the repository's parent (ROOT + '/..')"),
    (re.compile(r"""["']\.\.["'](?:\s*,\s*["']\.\.["']){3,}"""), "four or more '..' steps (deeper than any file here)"),
    (re.compile(r"(?:\.\.[/\\]){4,}"), "four or more '../' steps (deeper than any file here)"),
]


def scanned_files():
    for top in SCANNED:
        path = os.path.join(ROOT, top)
        if os.path.isfile(path):
            yield top
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            rel_dir = os.path.relpath(dirpath, ROOT)
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS
                                 and not os.path.join(rel_dir, d).startswith(SKIP_TREES))
            for name in sorted(filenames):
                if not name.endswith((".pyc", ".png", ".tar.gz")):
                    yield os.path.join(rel_dir, name)


def escapes(text):
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern, what in ESCAPES:
            if pattern.search(line):
                found.append((number, what, line.strip()[:160]))
    return found


@pytest.mark.parametrize("sample", [
    'SHARED = os.path.join(os.path.dirname(ROOT), "shared")',
    'os.environ.get("MESHMEND_SHARED")',
    'REFERENCE = os.path.join(SHARED, "reference/istio-upstream/certs")',
    'kubectl apply -f ../shared/reference/istio-upstream/samples/helloworld.yaml',
    'up = os.path.join(root, "..", "..", "..", "..", "shared", "reference", "istio-upstream")',
    'parent = pathlib.Path(ROOT).parent',
    'os.path.join(ROOT, "..", "data")',
    'cat /work/shared/DESIGN.md',
    'cp ../../../../elsewhere/file .',
])
def test_the_patterns_catch_every_known_escape(sample):
    assert escapes(sample), sample


@pytest.mark.parametrize("sample", [
    'ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))',
    'root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "connectivity", "files")',
    '@ln -sfn ../../.. $@',
    'the shared root of trust',
    'FIXTURES = os.path.join(TESTS, "fixtures")',
])
def test_the_patterns_leave_paths_inside_the_repository_alone(sample):
    assert escapes(sample) == [], sample


def test_no_file_refers_to_a_path_outside_the_repository():
    me = os.path.relpath(os.path.abspath(__file__), ROOT)
    offenders = []
    files = list(scanned_files())
    assert "Makefile" in files and os.path.join(".ci", "run") in files and me in files
    for rel in files:
        if rel == me:  # its patterns and samples name every escape on purpose
            continue
        with open(os.path.join(ROOT, rel), encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        offenders += ["%s:%d: %s: %s" % (rel, number, what, line) for number, what, line in escapes(text)]
    assert offenders == []


# ---- the fixtures: every file accounted for, byte for byte -------------------------------------------

def provenance_rows(folder):
    """{file: sha256} from the table of FOLDER/PROVENANCE.md (first column the file, last the sha256)."""
    with open(os.path.join(FIXTURES, folder, "PROVENANCE.md"), encoding="utf-8") as handle:
        text = handle.read()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and re.fullmatch(r"[0-9a-f]{64}", cells[-1]):
            rows[cells[0]] = cells[-1]
    return text, rows


# upstream/ (the corpus of upstream samples) keeps its own provenance, a samples.yaml per folder with its own test.
FOLDERS = sorted(d for d in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, d)) and d != "upstream")


def test_fixture_folders_are_the_documented_ones():
    assert FOLDERS == ["design", "envoy", "istio"]
    assert os.path.exists(os.path.join(FIXTURES, "upstream", "README.md"))
    with open(os.path.join(FIXTURES, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    for folder in FOLDERS:
        assert "`%s/`" % folder in readme


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_fixture_file_has_its_provenance_and_checksum(folder):
    text, rows = provenance_rows(folder)
    base = os.path.join(FIXTURES, folder)
    present = sorted(os.path.relpath(os.path.join(d, f), base) for d, _dirs, files in os.walk(base) for f in files
                     if f not in ("PROVENANCE.md", "LICENSE"))
    assert present and sorted(rows) == present
    for rel, digest in rows.items():
        with open(os.path.join(base, rel), "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == digest, "%s/%s changed: upstream data is kept as is" % (
                folder, rel)
    if folder != "design":  # upstream data: where from, at which commit, under which licence (its text beside it)
        assert "https://github.com/istio/istio" in text and re.search(r"\b[0-9a-f]{40}\b", text)
        assert "Apache-2.0" in text
        with open(os.path.join(base, "LICENSE"), encoding="utf-8") as handle:
            licence = handle.read()
        assert "Apache License" in licence and "Version 2.0, January 2004" in licence
        assert "END OF TERMS AND CONDITIONS" in licence
