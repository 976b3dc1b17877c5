"""The upstream corpus (tests/fixtures/upstream): loaders and the judges that compare meshmend with upstream.

Each judge takes one sample and the meshmend module under test and returns a list of differences
(empty: meshmend handles the sample as the upstream code does). The expectations come from reading
the upstream code at the sample's tag; each test module names the file and function it follows.
``python tests/upstreamcorpus.py [COLLECTIONS_DIR]`` prints the score per source, e.g. against an
older checkout of the collection.
"""
import collections
import glob
import json
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UPSTREAM = os.path.join(ROOT, "tests", "fixtures", "upstream")
LOGS = os.path.join(UPSTREAM, "istio", "istiod-logs")
SERVERS = {"https://10.2.0.1:6443": "cluster2"}


def _yaml(path):
    with open(path) as fh:
        return yaml.safe_load(fh)


def read(path, mode="r"):
    with open(path, mode) as fh:
        return fh.read()


# --------------------------------------------------------------------------- istiod logs

def log_samples():
    return _yaml(os.path.join(LOGS, "expected.yaml"))["samples"]


def _error_set(errors):
    return set((e.get("kind"), e.get("cluster"), e.get("secret"), e.get("error")) for e in errors or [])


def judge_log(sample, istiod_log):
    """Differences between parse_log(sample) and what istiod means by those lines."""
    out = istiod_log.parse_log(sample["text"], servers=SERVERS)
    want = sample["expected"]
    diffs = []
    if _error_set(out.get("errors")) != _error_set(want.get("errors")):
        diffs.append("errors: got %s, upstream %s" % (sorted(_error_set(out.get("errors")), key=str),
                                                       sorted(_error_set(want.get("errors")), key=str)))
    for key in ("ignored_local", "sync_timeouts", "processed_secrets", "deleted_clusters"):
        if key in want and list(out.get(key) or []) != want[key]:
            diffs.append("%s: got %r, upstream %r" % (key, out.get(key), want[key]))
    for key in ("remote_clusters", "sync_timeout_unnamed"):
        if key in want and out.get(key) != want[key]:
            diffs.append("%s: got %r, upstream %r" % (key, out.get(key), want[key]))
    return diffs


# --------------------------------------------------------------------------- registry of sources

def manifest(folder):
    """tests/fixtures/upstream/<folder>/samples.yaml: the samples of one folder and their provenance."""
    return _yaml(os.path.join(UPSTREAM, folder, "samples.yaml"))


def provenance_lines():
    """Every sample file with its provenance: {relative path: provenance dict}."""
    out = {}
    for path in glob.glob(os.path.join(UPSTREAM, "**", "samples.yaml"), recursive=True):
        folder = os.path.relpath(os.path.dirname(path), UPSTREAM)
        for s in _yaml(path)["samples"]:
            out[os.path.join(folder, s["file"])] = s
    return out


def score(modules):
    """{source: (matching, total)} over the whole corpus for the given meshmend modules."""
    from upstreamjudges import JUDGES  # noqa: E402 (kept apart so older checkouts can be scored)
    result = collections.OrderedDict()
    for source, samples, judge in JUDGES:
        ok = 0
        items = samples()
        for s in items:
            try:
                if not judge(s, modules):
                    ok += 1
            except Exception:  # an older module that crashes on a sample does not match it
                pass
        result[source] = (ok, len(items))
    return result


if __name__ == "__main__":
    base = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "collections")
    sys.path.insert(0, base)
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import importlib
    mods = {}
    for name in ("istiod_log", "kubeconfig", "envoy", "mesh_networks"):
        try:
            mods[name] = importlib.import_module("ansible_collections.meshmend.multicluster.plugins.module_utils." + name)
        except ImportError:
            mods[name] = None
    total_ok = total = 0
    for source, (ok, n) in score(mods).items():
        print("%-40s %4d / %4d" % (source, ok, n))
        total_ok += ok
        total += n
    print("%-40s %4d / %4d" % ("all", total_ok, total))
    json.dumps({})
