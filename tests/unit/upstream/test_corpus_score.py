"""The whole upstream corpus: every file has its provenance, and every sample matches upstream."""
import os

from ansible_collections.meshmend.multicluster.plugins.module_utils import envoy, istiod_log, kubeconfig, mesh_networks
import upstreamcorpus as corpus

MODULES = {"istiod_log": istiod_log, "kubeconfig": kubeconfig, "envoy": envoy, "mesh_networks": mesh_networks}


def test_every_sample_matches_upstream(capsys):
    score = corpus.score(MODULES)
    with capsys.disabled():
        for source, (ok, n) in score.items():
            print("\nupstream corpus: %-40s %4d / %4d match upstream" % (source, ok, n))
    total = sum(n for _ok, n in score.values())
    assert total >= 60
    assert dict((s, ok) for s, (ok, _n) in score.items()) == dict((s, n) for s, (_ok, n) in score.items())


def test_every_file_has_its_provenance():
    known = set(corpus.provenance())
    for folder in ("istio/envoy",):
        for g in corpus.manifest(folder).get("goldens") or []:
            known.add(os.path.join(folder, g["file"]))
    exempt = {"README.md", "LICENSE-Apache-2.0"}
    logs = os.path.relpath(corpus.LOGS, corpus.UPSTREAM)
    for root, _dirs, files in os.walk(corpus.UPSTREAM):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), corpus.UPSTREAM)
            if rel in exempt or name == "samples.yaml" or rel.startswith(logs + os.sep):
                continue
            assert rel in known, "%s has no provenance entry in its folder's samples.yaml" % rel
    for entry in corpus.provenance().values():
        assert entry.get("repo") and (entry.get("tag") or entry.get("commit")) and entry.get("path"), entry


def test_every_log_sample_names_its_source():
    for s in corpus.log_samples():
        assert s["src"] and all(isinstance(x, str) and x for x in s["src"]), s["id"]
