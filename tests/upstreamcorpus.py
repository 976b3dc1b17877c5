"""The upstream corpus (tests/fixtures/upstream): loaders and the judges that compare meshmend with upstream.

Each judge takes one sample and the meshmend module under test and returns a list of differences
(empty: meshmend handles the sample as the upstream code does). The expectations come from reading
the upstream code at the sample's tag; each test module names the file and function it follows.
``python tests/upstreamcorpus.py [COLLECTIONS_DIR]`` prints the score per source, e.g. against an
older checkout of the collection.
"""
import collections
import glob
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


# --------------------------------------------------------------------------- kubeconfigs

KUBECONFIG_FOLDERS = ("client-go/kubeconfig", "istio/kubeconfig")
# The releases each kubeconfig is judged at: the newest patch of every minor, plus the patches where the rules
# change (sanitizeKubeConfig arrives in 1.11.6 and 1.12.1; client-go 0.23 in 1.13.0-1.13.8 and 1.14.0-1.14.4).
KUBECONFIG_RELEASES = ("1.9.0", "1.9.9", "1.10.6", "1.11.0", "1.11.5", "1.11.6", "1.11.8", "1.12.0", "1.12.1",
                       "1.12.9", "1.13.0", "1.13.9", "1.14.0", "1.14.6", "1.15.7", "1.16.7", "1.17.8", "1.18.7",
                       "1.19.10", "1.20.8", "1.21.6", "1.22.8", "1.23.6", "1.24.6", "1.25.5", "1.26.8", "1.27.9",
                       "1.28.10", "1.29.6", "1.30.3")


def _v(text):
    return tuple(int(x) for x in text.split("."))


def in_releases(release, spec):
    """'all' | comma-separated clauses: 'a-b' (inclusive), '>=a', '<a', or one release."""
    r = _v(release)
    for clause in str(spec).split(","):
        clause = clause.strip()
        if clause == "all":
            return True
        if clause.startswith(">="):
            if r >= _v(clause[2:]):
                return True
        elif clause.startswith("<"):
            if r < _v(clause[1:]):
                return True
        elif "-" in clause:
            lo, hi = clause.split("-")
            if _v(lo) <= r <= _v(hi):
                return True
        elif r == _v(clause):
            return True
    return False


def kubeconfig_samples():
    out = []
    for folder in KUBECONFIG_FOLDERS:
        for s in manifest(folder)["samples"]:
            s = dict(s, folder=folder, path_in_corpus=os.path.join(folder, s["file"]))
            s["raw"] = read(os.path.join(UPSTREAM, folder, s["file"]), "rb")
            out.append(s)
    return out


def verdict_of(kubeconfig, raw, release):
    """(stage, error, parts) from the module under test (older modules: summarize, which knows no release)."""
    if hasattr(kubeconfig, "judge"):
        v, _doc = kubeconfig.judge(raw, istio_version=release)
        return v["stage"], v["error"], v.get("errors") or []
    entry, _cfg = kubeconfig.summarize("k", raw)
    return entry.get("error_stage"), entry.get("error"), []


def judge_kubeconfig(sample, kubeconfig):
    diffs = []
    for release in KUBECONFIG_RELEASES:
        want = [e for e in sample["istiod"] if in_releases(release, e["releases"])]
        if not want:
            continue
        want = want[0]
        stage, error, parts = verdict_of(kubeconfig, sample["raw"], release)
        ok = stage == want.get("stage")
        if ok and "error" in want:
            ok = error == want["error"]
        if ok and "prefix" in want:
            ok = (error or "").startswith(want["prefix"])
        if ok and "parts" in want:
            ok = sorted(parts) == sorted(want["parts"])
        if not ok:
            diffs.append("%s: got %s %r, istiod %s %r" % (release, stage, error, want.get("stage"),
                                                          want.get("error") or want.get("prefix") or want.get("parts")))
    return diffs


# --------------------------------------------------------------------------- Envoy admin output

ENVOY_FOLDERS = ("envoy", "istio/envoy")


def envoy_samples():
    out = []
    for folder in ENVOY_FOLDERS:
        for s in manifest(folder)["samples"]:
            s = dict(s, folder=folder, path_in_corpus=os.path.join(folder, s["file"]))
            s["text"] = read(os.path.join(UPSTREAM, folder, s["file"]))
            if s.get("golden"):
                s["golden_text"] = read(os.path.join(UPSTREAM, folder, s["golden"]))
            out.append(s)
    return out


def _locality_string(loc):
    """istio pilot/pkg/networking/util LocalityToString."""
    if not loc:
        return ""
    out = loc.get("region") or ""
    if loc.get("zone"):
        out += "/" + loc["zone"]
        if loc.get("subzone"):
            out += "/" + loc["subzone"]
    return out


def _golden_rows(sample):
    lines = [l for l in sample["golden_text"].splitlines() if l.strip()]
    cols = sample["golden_columns"]
    rows = []
    for line in lines[1:]:
        parts = line.split()
        if cols[2] == "locality" and len(parts) == 3:
            parts = [parts[0], parts[1], "", parts[2]]
        rows.append(tuple(parts))
    return sorted(rows)


def _istioctl_name(address, port, kind):
    """istioctl 1.30 configdump/endpoint.go retrieveEndpointAddresses: host:port (no IPv6 brackets), a
    pipe's path, envoy://listener/id."""
    if kind == "socket":
        return "%s:%s" % (address, port)
    if kind == "pipe":
        return address[len("unix://"):] if address.startswith("unix://") else address
    if kind == "internal":
        return address
    return "unknown"


def _project(row, cols):
    out = []
    for c in cols:
        if c == "addresses":
            names = [_istioctl_name(row.get("address"), row.get("port"), row.get("address_kind"))]
            names += [_istioctl_name(a.get("address"), a.get("port"), a.get("address_kind"))
                      for a in row.get("additional_addresses") or []]
            out.append(",".join(names))
        elif c == "locality":
            out.append(_locality_string(row.get("locality")))
        else:
            out.append(row.get(c))
    return tuple(out)


def judge_envoy(sample, envoy):
    rows = envoy.parse_endpoints(sample["text"])
    diffs = []
    if sample.get("golden"):
        got = sorted(_project(r, sample["golden_columns"]) for r in rows)
        want = _golden_rows(sample)
        if got != want:
            diffs.append("rows: got %s, istioctl %s" % (got, want))
        if sample.get("exact_table") and envoy.format_table(rows) != sample["golden_text"].rstrip("\n"):
            diffs.append("table differs from istioctl's:\n%s" % envoy.format_table(rows))
        return diffs
    want = sample["rows"]
    keys = sorted(set(k for r in want for k in r))
    got = sorted((tuple(repr(r.get(k)) for k in keys) for r in rows))
    exp = sorted((tuple(repr(w.get(k)) for k in keys) for w in want))
    if got != exp:
        diffs.append("rows (%s): got %s, upstream %s" % (keys, got, exp))
    return diffs


# --------------------------------------------------------------------------- meshNetworks

MESH_NETWORKS_RELEASES = ("1.9.9", "1.12.9", "1.13.0", "1.20.8", "1.30.3")


def mesh_network_samples():
    out = []
    for s in manifest("istio/meshnetworks")["samples"]:
        doc = _yaml(os.path.join(UPSTREAM, "istio", "meshnetworks", s["file"]))
        if isinstance(doc, dict) and "registries" in doc:
            text, registries = doc["meshNetworks"], doc["registries"]
        else:
            text, registries = read(os.path.join(UPSTREAM, "istio", "meshnetworks", s["file"])), s.get("registries") or {}
        out.append(dict(s, path_in_corpus="istio/meshnetworks/" + s["file"], mesh_networks=text,
                        registries=registries))
    return out


def judge_mesh_networks(sample, mesh_networks):
    diffs = []
    services = dict((c, (r or {}).get("services") or []) for c, r in sample["registries"].items())
    nodes = dict((c, (r or {}).get("nodes") or []) for c, r in sample["registries"].items())
    for release in MESH_NETWORKS_RELEASES:
        want = [e for e in sample["expected"] if in_releases(release, e["releases"])]
        if not want:
            continue
        want = want[0]
        got = mesh_networks.gateways_from_mesh_networks(sample["mesh_networks"], services, nodes, istio_version=release)
        if got["valid"] != want["valid"]:
            diffs.append("%s: valid %r, istiod %r (%s)" % (release, got["valid"], want["valid"], got["errors"]))
            continue
        if "error" in want and [e["error"] for e in got["errors"]] != [want["error"]]:
            diffs.append("%s: errors %r, istiod %r" % (release, got["errors"], want["error"]))
        if "gateways" in want:
            g = sorted((x["network"], x["cluster"], x["address"], x["port"]) for x in got["gateways"])
            w = sorted(tuple(x) for x in want["gateways"])
            if g != w:
                diffs.append("%s: gateways %s, istiod %s" % (release, g, w))
        if "declared" in want:
            g = sorted((x["network"], x["cluster"], x["service"], x["port"]) for x in got["declared"])
            w = sorted(tuple(x) for x in want["declared"])
            if g != w:
                diffs.append("%s: declared %s, istiod %s" % (release, g, w))
    return diffs


# --------------------------------------------------------------------------- registry of sources

def manifest(folder):
    """tests/fixtures/upstream/<folder>/samples.yaml: the samples of one folder and their provenance."""
    return _yaml(os.path.join(UPSTREAM, folder, "samples.yaml"))


def provenance():
    """Every sample file with its provenance: {path under tests/fixtures/upstream: entry}."""
    out = {}
    for path in sorted(glob.glob(os.path.join(UPSTREAM, "**", "samples.yaml"), recursive=True)):
        folder = os.path.relpath(os.path.dirname(path), UPSTREAM)
        for s in _yaml(path)["samples"]:
            out[os.path.join(folder, s["file"])] = s
    return out


JUDGES = [
    ("istio: istiod log lines", log_samples, lambda s, m: judge_log(s, m["istiod_log"])),
    ("istio + client-go: kubeconfigs", kubeconfig_samples, lambda s, m: judge_kubeconfig(s, m["kubeconfig"])),
    ("envoy + istio: Envoy admin output", envoy_samples, lambda s, m: judge_envoy(s, m["envoy"])),
    ("istio: meshNetworks gateways", mesh_network_samples, lambda s, m: judge_mesh_networks(s, m["mesh_networks"])),
]


def score(modules):
    """{source: (matching, total)} over the whole corpus for the given meshmend modules."""
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


def main(argv):
    base = argv[1] if len(argv) > 1 else os.path.join(ROOT, "collections")
    sys.path.insert(0, base)
    import importlib
    mods = {}
    for name in ("istiod_log", "kubeconfig", "envoy", "mesh_networks"):
        try:
            mods[name] = importlib.import_module("ansible_collections.meshmend.multicluster.plugins.module_utils." + name)
        except ImportError:
            mods[name] = None
    total_ok = total = 0
    for source, (ok, n) in score(mods).items():
        print("%-45s %4d / %4d" % (source, ok, n))
        total_ok += ok
        total += n
    print("%-45s %4d / %4d" % ("all", total_ok, total))


if __name__ == "__main__":
    main(sys.argv)
