"""The remediate modules on their own against the lab: refusals and their messages."""
import json
import os
import subprocess

import pytest
import yaml

from labutil import start_lab
from leakcheck import assert_no_secrets, lab_secrets
from remediate_helpers import BIN, ROOT, env, kubectl


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = start_lab("demo", str(tmp_path_factory.mktemp("lab")))
    try:
        lab_secrets(lab)   # the credentials to look for
        yield lab
    finally:
        lab.stop()


def module(lab, host, name, args, check=False):
    """Run one module ad hoc (real ansible, real client); returns (rc, result dict or None, text)."""
    cmd = [os.path.join(BIN, "ansible"), "-o", "-i", lab.inventory, host,
           "-m", "meshmend.multicluster.%s" % name, "-a", json.dumps(args)]
    if check:
        cmd += ["--check", "--diff"]
    e = env()
    e["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"
    proc = subprocess.run(cmd, cwd=ROOT, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120,
                          check=False)
    text = proc.stdout.decode("utf-8", "replace")
    assert_no_secrets(lab, text)   # stderr is merged into it
    result = None
    for line in text.splitlines():
        if line.startswith(host + " | ") and "=> {" in line:
            result = json.loads(line.split("=> ", 1)[1])
    return proc.returncode, result, text


def test_loopback_peer_server_is_refused(lab, tmp_path):
    with open(lab.kubeconfig) as fh:
        config = yaml.safe_load(fh)
    for cluster in config["clusters"]:
        if cluster["name"] == "cluster2":
            port = cluster["cluster"]["server"].rsplit(":", 1)[1]
            cluster["cluster"]["server"] = "https://127.0.0.1:%s" % port  # what kind writes
    kind_like = str(tmp_path / "kind-kubeconfig")
    with open(kind_like, "w") as fh:
        yaml.safe_dump(config, fh)
    rc, result, text = module(lab, "cluster1", "remote_secret", {
        "kubeconfig": lab.kubeconfig, "context": "cluster1", "peer_name": "cluster2",
        "peer_kubeconfig": kind_like, "peer_context": "cluster2"})
    assert rc != 0, text
    assert "loopback" in result["msg"] and "server=" in result["msg"] and "cluster2" in result["msg"]
    assert "Traceback" not in text


def test_gateway_address_rules(lab):
    base = {"kubeconfig": lab.kubeconfig, "context": "cluster2", "cluster_name": "cluster2"}
    rc, result, text = module(lab, "cluster2", "eastwest_gateway_address", dict(base, address="127.0.0.9"))
    assert rc != 0 and "loopback" in result["msg"], text
    rc, result, text = module(lab, "cluster2", "eastwest_gateway_address", dict(base, address="172.18.2.100"))
    assert rc == 0 and result["changed"] and result["external_ips"] == ["172.18.2.100"], text
    rc, result, text = module(lab, "cluster2", "eastwest_gateway_address", dict(base, address="172.18.2.101"))
    assert rc != 0, text
    assert result["msg"] == ("Service istio-system/istio-eastwestgateway in cluster2 already has address "
                             "172.18.2.100: meshmend does not override it unless force=true")
    rc, result, text = module(lab, "cluster2", "eastwest_gateway_address",
                              dict(base, address="172.18.2.101", force=True), check=True)
    assert rc == 0 and result["changed"] and result["external_ips"] == ["172.18.2.101"], text
    assert result["previous_addresses"] == ["172.18.2.100"]
    ips = kubectl(lab, "--context", "cluster2", "-n", "istio-system", "get", "service", "istio-eastwestgateway",
                  "-o", "jsonpath={.spec.externalIPs}")
    assert "172.18.2.101" not in ips  # check mode persisted nothing


def test_missing_gateway_service_is_named(lab):
    rc, result, text = module(lab, "cluster1", "network_label_fix", {
        "kubeconfig": lab.kubeconfig, "context": "cluster1", "cluster_name": "cluster1", "network": "network1",
        "gateway_services": ["istio-system/no-such-gateway"]})
    assert rc != 0, text
    assert result["msg"] == "cluster1: Service istio-system/no-such-gateway not found"
    assert "Traceback" not in text
