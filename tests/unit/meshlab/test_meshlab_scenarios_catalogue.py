"""The bundled scenarios and the generator."""
import os
import subprocess
import sys

import yaml
import pytest

from meshlab.istio import pki
from meshlab.istio.istiod import ca_root, same_root, secret_data
from meshlab.scenarios import generator
from meshlab.scenarios.catalogue import SCENARIOS

from ansible_collections.meshmend.multicluster.plugins.module_utils.catalogue import CATALOGUE, DESIGN_IDS

import worldbuild as wb
import refdata  # noqa: E402

SCEN = wb.SCEN
CERTS = refdata.ISTIO_CERTS
REQUIRED = {"healthy-multinetwork", "healthy-primary-remote", "healthy-single-network", "demo"}
FROM_CTL = {"cluster.unreachable", "cluster.forbidden"}


def test_every_finding_id_has_a_scenario():
    names = set(SCENARIOS)
    assert REQUIRED <= names
    for fid in DESIGN_IDS:
        if fid in FROM_CTL or fid.startswith("connectivity."):
            continue
        assert fid.replace(".", "-").replace("_", "-") in names, fid


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_bundled_directory_is_complete(name):
    d = os.path.join(SCEN, name)
    with open(os.path.join(d, "README.md")) as f:
        first = f.readline().strip()
    assert first and not first.startswith("#")
    with open(os.path.join(d, "expected.yaml")) as f:
        exp = yaml.safe_load(f)
    for fnd in exp["findings"]:
        assert fnd["id"] in CATALOGUE and set(fnd) == {"id", "cluster", "peer", "caused_by"}
        assert all(c in CATALOGUE for c in fnd["caused_by"])
    if name.startswith("healthy"):
        assert exp["findings"] == []
    spec, objects = wb.load(d)
    assert [c["name"] for c in spec["clusters"]] == list(objects)
    for c, objs in objects.items():
        kinds = {o["kind"] for o in objs}
        assert "CustomResourceDefinition" in kinds


def test_bundled_scenarios_are_what_the_catalogue_makes():
    """The committed directories match catalogue.py (regenerate with --bundled after editing it)."""
    for name, build in SCENARIOS.items():
        mesh, summary, _, findings = build()
        with open(os.path.join(SCEN, name, "README.md")) as f:
            assert f.readline().strip() == summary
        with open(os.path.join(SCEN, name, "expected.yaml")) as f:
            assert yaml.safe_load(f)["findings"] == findings


def test_generated_mesh_has_shared_root_and_fixed_names(tmp_path):
    out = generator.generate(3, str(tmp_path / "g"))
    b = wb.build(out)
    w = b.world
    roots = [ca_root(w, c) for c in w.cluster_names()]
    assert all(same_root(roots[0], r) for r in roots)
    for c in ("cluster1", "cluster2", "cluster3"):
        names = {(o["kind"], o["metadata"]["name"]) for o in w.objects[c]}
        assert {("Deployment", "istiod"), ("Service", "istio-eastwestgateway"), ("Gateway", "cross-network-gateway"),
                ("Secret", "cacerts"), ("ConfigMap", "istio"), ("ConfigMap", "istio-sidecar-injector")} <= names
        peers = {n for k, n in names if k == "Secret" and n.startswith("istio-remote-secret-")}
        assert peers == {"istio-remote-secret-%s" % p for p in ("cluster1", "cluster2", "cluster3") if p != c}
    assert {wb.pod(w, "cluster3", "helloworld")["metadata"]["labels"]["version"]} == {"v1"}


def test_generator_cli(tmp_path):
    r = subprocess.run([sys.executable, "-m", "meshlab.scenarios.generator", "--clusters", "2", "--out",
                        str(tmp_path / "x")], cwd=os.path.join(SCEN, "..", ".."), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.path.isfile(tmp_path / "x" / "cluster2" / "10-istio-system.yaml")


def test_cacerts_chain_verifies():
    root = pki.make_root()
    files = pki.make_intermediate(root, "cluster1")
    from cryptography import x509
    ca = x509.load_pem_x509_certificate(files["ca-cert.pem"].encode())
    r = x509.load_pem_x509_certificate(files["root-cert.pem"].encode())
    ca.verify_directly_issued_by(r)
    assert files["cert-chain.pem"].startswith(files["ca-cert.pem"])


def test_istio_sample_certs_work_as_cacerts():
    b = wb.scenario("healthy-multinetwork")
    w = b.world
    alt = pki.cacerts_secret(pki.load_dir(CERTS, "-alt"))
    alt2 = pki.cacerts_secret(pki.load_dir(CERTS, "-alt-2"))
    plain = pki.cacerts_secret(pki.load_dir(CERTS, ""))
    from meshlab.istio.dataplane import DataPlane, TLS_VERIFY

    def setc(cluster, secret):
        objs = w.objects[cluster]
        objs[:] = [o for o in objs if not (o["kind"] == "Secret" and o["metadata"]["name"] == "cacerts")] + [secret]

    def outs():
        dp = DataPlane()
        pod = wb.pod(w, "cluster1", "sleep")
        return {dp.curl(w, "cluster1", pod, "sleep", ["curl", "-s", "helloworld.sample:5000/hello"])[0].split(", instance")[0]
                for _ in range(4)}
    setc("cluster1", alt)
    setc("cluster2", alt2)
    assert outs() == {"Hello version: v1", "Hello version: v2"}
    setc("cluster2", plain)
    assert TLS_VERIFY in outs()
    assert "BEGIN CERTIFICATE" in secret_data(plain)["root-cert.pem"]
