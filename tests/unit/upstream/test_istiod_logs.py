"""istiod's multicluster log lines of every release, parsed as istiod means them.

The corpus (tests/fixtures/upstream/istio/istiod-logs) is built by build.py from istio/istio's
format strings at each tag; each sample's ``src`` names the file and function. What a line means
follows the code that prints it:

- pkg/kube/multicluster/secretcontroller.go Controller.addSecret / addRemoteConfig (1.16+): the
  create-failed line carries labels ``cluster`` (the data key) and ``secret`` (``config`` from 1.30),
  and the error of NewUntrustedRestConfig / BuildClientsFromConfig after ``failed: ``.
- pkg/kube/controllers/queue.go Queue.processNextItem: ``error handling KEY, ...: ERR`` where ERR
  wraps go-multierror's list: the causes are the ``* `` lines, one per failed data key.
- pkg/kube/secretcontroller/secretcontroller.go addMemberCluster (<= 1.11) and the 1.12-1.15
  addSecret: cluster and secret inside the message (``cluster_id=``/``secret=``), including the
  ``%s cluster_id from secret=%v: %s %v`` line whose arguments are shifted against its words and
  1.13-1.15's ``cluster %d from secret ...`` (Go prints ``%!d(string=C)``).
- pilot/pkg/util/informermetric ErrorHandlerForCluster (1.10+): ``watch error in cluster C: ERR``
  names the cluster whose API server failed; client-go's reflector lines (scope klog) name only
  the server URL, so the cluster comes from the caller's URL map.
"""
import os

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import istiod_log
import upstreamcorpus as corpus

SAMPLES = corpus.log_samples()
RELEASES = sorted(set(s["release"] for s in SAMPLES))


def test_corpus_is_up_to_date_with_its_builder():
    import importlib.util
    spec = importlib.util.spec_from_file_location("build", os.path.join(corpus.LOGS, "build.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for name, text in build.build().items():
        assert corpus.read(os.path.join(corpus.LOGS, name)) == text, name


def test_every_release_of_the_window_is_in_the_corpus():
    minors = set(tuple(int(x) for x in r.split("-")[0].split(".")[:2]) for r in RELEASES)
    assert set((1, m) for m in range(9, 32)) <= minors


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["id"] for s in SAMPLES])
def test_sample_parsed_as_istiod_means_it(sample):
    assert corpus.judge_log(sample, istiod_log) == []


@pytest.mark.parametrize("release", RELEASES)
def test_whole_release_log(release):
    """The samples of one release read together give the same failures (multi-line records do not bleed)."""
    text = corpus.read(os.path.join(corpus.LOGS, "%s.log" % release))
    out = istiod_log.parse_log(text, servers=corpus.SERVERS)
    want = set()
    for s in SAMPLES:
        if s["release"] == release:
            want |= corpus._error_set(s["expected"].get("errors"))
    assert corpus._error_set(out["errors"]) == want
    assert out["records"] == sum(1 for line in text.splitlines() if line and line[0] not in "\t")


def test_multi_line_cause_is_the_bullet_not_the_count():
    [s] = [s for s in SAMPLES if s["id"] == "1.30.3/add-failed"]
    out = istiod_log.parse_log(s["text"])
    retry = [e for e in out["errors"] if e["kind"] == "retry_exhausted"][0]
    assert retry["error"] == "kubeconfig is not allowed: exec is not allowed"
    assert "1 error occurred" not in retry["error"] and retry["wording"] == "1.30+" and retry["scope"] == "controllers"
