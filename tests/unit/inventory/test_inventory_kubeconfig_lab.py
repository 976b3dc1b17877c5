"""group_by_network against a live meshlab: real HTTPS, the real kubernetes client, real ansible-inventory.

Scenario network-namespace-label-missing: cluster1's istio-system carries topology.istio.io/network=network1,
cluster2's carries no label. Then cluster2's API server is taken down.
"""
import json
import os
import subprocess
import sys

import pytest
import yaml

TESTS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROOT = os.path.dirname(TESTS)
BIN = os.path.dirname(os.path.abspath(sys.executable))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from labutil import start_lab  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = start_lab("network-namespace-label-missing", str(tmp_path_factory.mktemp("invlab")))
    try:
        yield lab
    finally:
        lab.stop()


def graph(lab, tmp_path, **options):
    source = tmp_path / "lab.meshmend.yml"
    options.setdefault("plugin", "meshmend.multicluster.kubeconfig")
    options.setdefault("kubeconfig", lab.kubeconfig)
    source.write_text(yaml.safe_dump(options))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    env.pop("ANSIBLE_CONFIG", None)
    proc = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(source), "--list", "--export"],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    groups = dict((name, sorted(body.get("hosts", []))) for name, body in data.items() if name != "_meta")
    return groups, data["_meta"]["hostvars"], proc.stderr


def test_hosts_grouped_by_the_network_label_with_one_get_per_cluster(lab, tmp_path):
    lab.ctl("reset-stats")
    groups, hostvars, err = graph(lab, tmp_path, group_by_network=True)
    assert groups["network_network1"] == ["cluster1"]
    assert groups["network_unlabeled"] == ["cluster2"]
    assert "unreachable" not in groups
    assert "WARNING" not in err
    network = hostvars["cluster1"]["meshmend_discovered_network"]
    assert network in ("network1", {"__ansible_unsafe": "network1"})
    assert hostvars["cluster2"]["meshmend_discovered_network"] is None
    stats = lab.stats()
    for cluster in ("cluster1", "cluster2"):
        assert stats[cluster]["requests"] == 1, stats[cluster]
        assert stats[cluster]["writes"] == 0


def test_without_group_by_network_no_cluster_is_contacted(lab, tmp_path):
    lab.ctl("reset-stats")
    groups, hostvars, _err = graph(lab, tmp_path)
    assert sorted(hostvars) == ["cluster1", "cluster2"]
    assert not [g for g in groups if g.startswith("network_")]
    stats = lab.stats()
    assert [stats[c]["requests"] for c in ("cluster1", "cluster2")] == [0, 0]


def test_a_cluster_that_is_down_goes_to_unreachable_and_the_rest_is_grouped(lab, tmp_path):
    lab.ctl("cluster", "down", "cluster2")
    try:
        groups, hostvars, err = graph(lab, tmp_path, group_by_network=True, request_timeout=3)
    finally:
        lab.ctl("cluster", "up", "cluster2")
    assert groups["unreachable"] == ["cluster2"]
    assert groups["network_network1"] == ["cluster1"]
    assert "network_unlabeled" not in groups
    assert sorted(hostvars) == ["cluster1", "cluster2"]  # still a host: diagnose reports it as cluster.unreachable
    # Ansible before 2.19 wraps warnings at 80 columns: compare without whitespace
    assert "cluster2:cannotgetnamespaces/istio-system" in "".join(err.split())
    assert "Traceback" not in err
