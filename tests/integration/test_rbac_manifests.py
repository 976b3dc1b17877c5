"""The shipped RBAC (docs/rbac) is complete and minimal, proven against the lab (issue 16).

The lab enforces RBAC as kube-apiserver does (meshlab/auth.py, tests/lab/test_rbac_semantics.py). The
manifests are applied with the real kubectl, the kubeconfigs come from docs/rbac/meshmend-rbac.py (kubectl
create token: a bound ServiceAccount token), and the inventories differ from the lab's only in `kubeconfig`.

Complete: diagnose and connectivity (ansible-playbook) with only their ServiceAccount find exactly what
cluster-admin finds; remediate (check mode, then for real, all three categories, the peer's reader token
Secret absent so that it is created too) fixes exactly what cluster-admin fixes, each in a lab of its own.

Minimal: every grant of every rule (one verb on one resource, and one resourceName) is taken out in turn
(the Role or ClusterRole re-applied with kubectl apply), the use runs in-process (gather; the remediate
modules in check mode; the connectivity modules) and the only 403s are the ones of that grant, which
module_utils/rbac.py maps back to the very rule it came from. Diagnose's also end in `cluster.forbidden`.

One lab serves the completeness of diagnose and connectivity and all minimality cases (each case restores
the manifest and the test namespace); remediate's completeness uses two more (admin and ServiceAccount).
"""
import json
import os
import subprocess
import sys

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from labutil import KUBECTL, ROOT, start_lab  # noqa: E402  (tests/labutil.py)
from remediate_helpers import playbook, report, writes

from ansible_collections.meshmend.multicluster.plugins.module_utils import client as kclient
from ansible_collections.meshmend.multicluster.plugins.module_utils import gather, rbac
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import run_checks
from ansible_collections.meshmend.multicluster.plugins.modules import (
    connectivity_probe, connectivity_workload, eastwest_gateway_address, network_label_fix, remote_secret,
)

RBAC_DIR = os.path.join(ROOT, "docs", "rbac")
SCRIPT = os.path.join(RBAC_DIR, "meshmend-rbac.py")
ROLE_FILES = os.path.join(ROOT, "roles", "connectivity", "files")
CLUSTERS = ("cluster1", "cluster2")
USES = ("diagnose", "remediate", "connectivity")
TEST_NS = "uninjected-sample"


# --------------------------------------------------------------------------- helpers

def render(use, peers=None):
    cmd = [sys.executable, SCRIPT, "render", use] + (["--peers", ",".join(peers)] if peers else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def apply(lab, text, contexts=CLUSTERS):
    for ctx in contexts:
        r = lab.kubectl("apply", "-f", "-", context=ctx, input=text)
        assert r.returncode == 0, "kubectl apply in %s: %s" % (ctx, r.stderr)


def apply_dir(lab, use, contexts=CLUSTERS):
    """What a user runs: kubectl apply -f docs/rbac/meshmend-<use>/ (kubectl's own schema validation on)."""
    for ctx in contexts:
        r = lab.kubectl("apply", "-f", os.path.join(RBAC_DIR, "meshmend-%s" % use), context=ctx)
        assert r.returncode == 0, "kubectl apply in %s: %s" % (ctx, r.stderr)
    return r.stdout


def sa_kubeconfig(lab, use, out):
    """The documented way: meshmend-rbac.py kubeconfig (kubectl create token), one context per cluster."""
    cmd = [sys.executable, SCRIPT, "kubeconfig", use, "--kubeconfig", lab.kubeconfig, "--kubectl", KUBECTL,
           "--out", str(out)] + [a for c in CLUSTERS for a in ("--context", c)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60, env=lab.env())
    assert proc.returncode == 0, proc.stderr
    assert oct(os.stat(str(out)).st_mode & 0o777) == "0o600"
    for tok in tokens(out):
        assert tok not in proc.stdout + proc.stderr
    return str(out)


def tokens(kubeconfig):
    with open(str(kubeconfig)) as fh:
        return [u["user"]["token"] for u in json.load(fh)["users"]]


def sa_inventory(lab, kubeconfig, path):
    with open(lab.inventory) as fh:
        inv = yaml.safe_load(fh)
    for host in inv["all"]["hosts"].values():
        host["kubeconfig"] = str(kubeconfig)
    with open(str(path), "w") as fh:
        yaml.safe_dump(inv, fh)
    return str(path)


def no_token_in(text, kubeconfig, report_dirs=()):
    """Neither the output nor any report file holds the ServiceAccount's token (or its JWT claims)."""
    for d in report_dirs:
        for base, _dirs, files in os.walk(str(d)):
            for name in files:
                with open(os.path.join(base, name), errors="replace") as fh:
                    text += fh.read()
    for tok in tokens(kubeconfig):
        assert tok not in text, "a ServiceAccount token was printed or written"
        assert tok.split(".")[1] not in text


def run_module(module, args, capsys, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    capsys.readouterr()
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def forbidden_of(result):
    """The 403 of a failed module run as a read_errors-like dict, else None."""
    err = result.get("error") or {}
    return err if result.get("failed") and err.get("code") == 403 else None


# --------------------------------------------------------------------------- the lab

@pytest.fixture(scope="module")
def rlab(tmp_path_factory):
    """demo (a label, a gateway address, a remote secret to fix) with the three shipped manifests applied."""
    base = tmp_path_factory.mktemp("rbac")
    lab = start_lab("demo", str(base / "lab"))
    try:
        for use in USES:
            apply_dir(lab, use)
        lab.base = base
        lab.kc = dict((use, sa_kubeconfig(lab, use, base / ("%s.kubeconfig" % use))) for use in USES)
        lab.inv = dict((use, sa_inventory(lab, lab.kc[use], base / ("%s-inventory.yml" % use))) for use in USES)
        yield lab
    finally:
        lab.stop()


def test_manifests_apply_and_reapply_unchanged(rlab):
    for use in USES:
        for ctx in CLUSTERS:
            r = rlab.kubectl("apply", "-f", os.path.join(RBAC_DIR, "meshmend-%s" % use), context=ctx)
            assert r.returncode == 0, r.stderr
            assert r.stdout.strip() and all(line.endswith(" unchanged") for line in r.stdout.strip().splitlines())
    r = rlab.kubectl("apply", "--dry-run=server", "-f", "-", context="cluster1",
                     input=render("remediate", ["cluster1", "cluster2"]))
    assert r.returncode == 0 and "role.rbac.authorization.k8s.io/meshmend-remediate configured" in r.stdout


# --------------------------------------------------------------------------- complete

def _comparable_facts(doc):
    out = {}
    for name, facts in doc["facts"].items():
        out[name] = dict((k, v) for k, v in facts.items() if k not in ("duration_s",))
    return out


def _findings(doc):
    return [(f["id"], f["cluster"], f.get("peer"), f["severity"], f["message"]) for f in doc["findings"]]


def test_diagnose_with_only_meshmend_diagnose_finds_what_admin_finds(rlab):
    rc_admin, out_admin = playbook("diagnose.yml", [rlab.inventory], rlab.base / "diag-admin")
    rc_sa, out_sa = playbook("diagnose.yml", [rlab.inv["diagnose"]], rlab.base / "diag-sa")
    admin, sa = report(rlab.base / "diag-admin"), report(rlab.base / "diag-sa")
    assert rc_admin == rc_sa == 2, out_sa   # demo has errors: both runs fail on them, the same way
    assert "cluster.forbidden" not in out_sa and "forbidden" not in out_sa.lower(), out_sa
    assert _findings(sa) == _findings(admin)
    assert all(not f["read_errors"] for f in sa["facts"].values())
    assert _comparable_facts(sa) == _comparable_facts(admin)
    no_token_in(out_sa, rlab.kc["diagnose"], [rlab.base / "diag-sa"])


def _connectivity(doc):
    tests = sorted((t["classname"], t["cluster"], t.get("peer"), t["status"]) for t in doc["connectivity"]["tests"])
    return tests, sorted((f["id"], f["cluster"], f.get("peer")) for f in doc["findings"])


def test_connectivity_with_only_meshmend_connectivity_sees_what_admin_sees(rlab):
    rc_admin, out_admin = playbook("connectivity.yml", [rlab.inventory], rlab.base / "conn-admin")
    rc_sa, out_sa = playbook("connectivity.yml", [rlab.inv["connectivity"]], rlab.base / "conn-sa")
    assert rc_admin == 0, out_admin
    assert rc_sa == 0, out_sa
    admin, sa = _connectivity(report(rlab.base / "conn-admin")), _connectivity(report(rlab.base / "conn-sa"))
    assert sa == admin
    assert [t for t in sa[0] if t[3] == "passed"], "no connectivity test ran"
    for ctx in CLUSTERS:  # the ServiceAccount removed its test namespace
        assert rlab.kubectl("get", "namespace", TEST_NS, context=ctx).returncode != 0
    no_token_in(out_sa, rlab.kc["connectivity"], [rlab.base / "conn-sa"])


def test_remediate_with_only_meshmend_remediate_fixes_what_admin_fixes(tmp_path):
    outcome = {}
    for who in ("admin", "sa"):
        lab = start_lab("demo", str(tmp_path / who / "lab"))
        try:
            # a peer where nobody ran create-remote-secret: remediate creates the reader token Secret there
            r = lab.kubectl("-n", "istio-system", "delete", "secret",
                            "istio-reader-service-account-istio-remote-secret-token", context="cluster2")
            assert r.returncode == 0, r.stderr
            inv = lab.inventory
            if who == "sa":
                apply_dir(lab, "diagnose")
                apply(lab, render("remediate", peers=list(CLUSTERS)))   # the narrowest: names the secrets
                kc = sa_kubeconfig(lab, "remediate", tmp_path / "sa" / "remediate.kubeconfig")
                inv = sa_inventory(lab, kc, tmp_path / "sa" / "inventory.yml")
                lab.ctl("reset-stats")
                rc, out = playbook("remediate.yml", [inv], tmp_path / who / "check", check=True)
                assert rc == 0, out
                assert "forbidden" not in out.lower(), out
                assert report(tmp_path / who / "check")["remediation"]["failed"] == 0
                assert sum(writes(lab.stats()).values()) == 0
                no_token_in(out, kc, [tmp_path / who / "check"])
            rc, out = playbook("remediate.yml", [inv], tmp_path / who / "apply", fail_on="never")
            assert rc == 0, out
            doc = report(tmp_path / who / "apply")
            rem = doc["remediation"]
            outcome[who] = {"findings": _findings(doc), "before": rem["before"], "after": rem["after"],
                            "changed": rem["changed"], "failed": rem["failed"], "fixed": sorted(rem["findings"])}
            if who == "sa":
                assert "forbidden" not in out.lower(), out
                no_token_in(out, kc, [tmp_path / who / "apply"])
        finally:
            lab.stop()
    assert outcome["sa"] == outcome["admin"]
    assert outcome["sa"]["failed"] == 0 and outcome["sa"]["changed"] == 3
    assert outcome["sa"]["after"]["error"] == 0 < outcome["sa"]["before"]["error"]


# --------------------------------------------------------------------------- minimal

def atoms(use):
    """(RULES index, resource, verb, name or None): the grants of a manifest, one by one."""
    out = []
    for i, r in enumerate(rbac.RULES):
        if r["use"] != use:
            continue
        for res in r["resources"]:
            for verb in r["verbs"]:
                for name in (r["names"] or (None,)):
                    out.append((i, res, verb, name))
    return out


def atom_id(atom):
    i, res, verb, name = atom
    r = rbac.RULES[i]
    return "%s:%s/%s:%s-%s%s" % (r["use"], r["kind"], r["namespace"] or "cluster", verb, res,
                                 "-" + name if name else "")


def without(use, atom):
    """The manifest of ``use`` with one grant taken out (its role's rules re-grouped one per grant)."""
    i, res, verb, name = atom
    target = rbac.RULES[i]
    docs = [d for d in yaml.safe_load_all(render(use)) if d]
    role_rules = [k for k, r in enumerate(rbac.RULES) if r["use"] == use and r["kind"] == target["kind"]
                  and r["role"] == target["role"] and r["namespace"] == target["namespace"]]
    for doc in docs:
        if doc["kind"] == target["kind"] and doc["metadata"]["name"] == target["role"] and \
                doc["metadata"].get("namespace") == target["namespace"]:
            assert len(doc["rules"]) == len(role_rules)
            rules = []
            for k in role_rules:
                r = rbac.RULES[k]
                for a in atoms(use):
                    if a[0] == k and a != atom:
                        rule = {"apiGroups": [r["group"]], "resources": [a[1]], "verbs": [a[2]]}
                        if a[3]:
                            rule["resourceNames"] = [a[3]]
                        rules.append(rule)
            doc["rules"] = rules
            return yaml.safe_dump_all(docs)
    raise AssertionError("no %s %s in %s" % (target["kind"], target["role"], use))


def diagnose_403s(lab, use="diagnose"):
    """Gather both clusters in-process with the ServiceAccount: (403 read errors, cluster.forbidden findings)."""
    facts = {}
    for ctx in CLUSTERS:
        c = kclient.get_client({"kubeconfig": lab.kc[use], "context": ctx}, cluster=ctx)
        facts[ctx] = gather.gather_cluster(c, {"probe_remote_secrets": "never"})
    errors = [e for f in facts.values() for e in f["read_errors"]]
    assert all(e["code"] == 403 for e in errors), errors
    findings = [f.to_dict() for f in run_checks(facts) if f.id == "cluster.forbidden"] if errors else []
    return errors, findings


def remediate_403s(lab, capsys):
    """The three categories' modules in check mode (dry-run writes: authorized as writes, nothing changes)."""
    conn = {"kubeconfig": lab.kc["remediate"]}
    runs = [
        (network_label_fix, dict(conn, context="cluster2", cluster_name="cluster2", network="network2",
                                 gateway_services=["istio-system/istio-eastwestgateway"])),
        (eastwest_gateway_address, dict(conn, context="cluster2", cluster_name="cluster2", address="172.18.2.100")),
        # cluster1 lacks the secret for cluster2: read it (404), create it; read the peer's reader account+token
        (remote_secret, dict(conn, context="cluster1", cluster_name="cluster1", peer_name="cluster2",
                             peer_context="cluster2", peer_kubeconfig=lab.kc["remediate"])),
        # cluster2 holds one for cluster1: another server makes it a rekey (read, then update)
        (remote_secret, dict(conn, context="cluster2", cluster_name="cluster2", peer_name="cluster1",
                             peer_context="cluster1", peer_kubeconfig=lab.kc["remediate"],
                             server="https://cluster1.example:6443")),
    ]
    errors = []
    for module, args in runs:
        out = run_module(module, args, capsys, check_mode=True)
        if out.get("failed"):
            err = forbidden_of(out)
            assert err, out
            errors.append(err)
        else:
            assert out["changed"], out   # every run has something to do: none may pass vacuously
    return errors


def _definitions(version):
    docs = []
    for name in ("helloworld.yaml", "sleep.yaml"):
        with open(os.path.join(ROLE_FILES, name)) as fh:
            docs += [d for d in yaml.safe_load_all(fh) if d]
    return docs


def connectivity_403s(lab, capsys):
    """The role's two modules on cluster2 in-process, then its clean-up; restore the test namespace after."""
    conn = {"kubeconfig": lab.kc["connectivity"], "context": "cluster2", "cluster_name": "cluster2"}
    errors = []
    try:
        out = run_module(connectivity_workload, dict(conn, namespace=TEST_NS, version="v2", guard=False,
                                                     definitions=_definitions("v2"), wait_timeout=10), capsys)
        if out.get("failed"):
            errors.append(forbidden_of(out))
        else:
            for ns, container in ((TEST_NS, "sleep"), ("sample", "sleep")):
                out = run_module(connectivity_probe, dict(conn, namespace=ns, container=container,
                                                          targets=[{"url": "http://helloworld.sample:5000/hello"}]),
                                 capsys)
                if out.get("failed"):
                    errors.append(forbidden_of(out))
                    continue
                for res in out["results"]:
                    for a in res["attempts"]:
                        if a["outcome"] == "exec_error":
                            assert "403 Forbidden" in a["reason"], a
                            errors.append({"verb": "create", "resource": "pods/exec", "group": "", "code": 403,
                                           "namespace": res["source"]["namespace"], "name": res["source"]["pod"]})
        out = run_module(connectivity_workload, dict(conn, namespace=TEST_NS, state="absent", wait_timeout=10),
                         capsys)
        if out.get("failed"):
            errors.append(forbidden_of(out))
    finally:
        lab.kubectl("delete", "namespace", TEST_NS, "--ignore-not-found", "--wait=true", context="cluster2")
    assert all(errors), errors   # every failure was a 403
    return errors


ALL_ATOMS = [a for use in USES for a in atoms(use)]


@pytest.mark.parametrize("atom", ALL_ATOMS, ids=[atom_id(a) for a in ALL_ATOMS])
def test_every_grant_is_needed_and_named(rlab, capsys, atom):
    rule = rbac.RULES[atom[0]]
    use = rule["use"]
    want = (rbac.MANIFESTS[use], rbac.rule_text(rule))
    apply(rlab, without(use, atom))
    try:
        if use == "diagnose":
            errors, findings = diagnose_403s(rlab)
            assert findings, "no cluster.forbidden without %s" % (want,)
            named = [(e["verb"], e["resource"], e.get("namespace")) for e in errors]
            listed = [(m["verb"], m["resource"], m.get("namespace"))
                      for f in findings for m in f["evidence"]["missing_permissions"]]
            assert set(listed) == set(named)
        elif use == "remediate":
            errors = remediate_403s(rlab, capsys)
        else:
            errors = connectivity_403s(rlab, capsys)
        found, unknown = rbac.needed_rules(errors, use=use)
        assert errors, "nothing failed without %s %s" % (want, atom)
        assert not unknown, unknown
        assert found == [want], errors
        if atom[3]:   # a resourceName: the request that failed is the one for that name
            assert {e.get("name") for e in errors} == {atom[3]}, errors
    finally:
        apply_dir(rlab, use)


def test_the_full_manifests_leave_nothing_forbidden(rlab, capsys):
    """The baseline of the minimality cases: with every grant, the same in-process runs see no 403."""
    assert diagnose_403s(rlab) == ([], [])
    assert remediate_403s(rlab, capsys) == []
    assert connectivity_403s(rlab, capsys) == []


def test_remediate_narrowed_to_the_peers_names_them(rlab, capsys):
    """render --peers: only the named remote secrets; cluster1's fix for cluster2 needs cluster2's name."""
    try:
        apply(rlab, render("remediate", peers=["cluster1"]))
        errors = remediate_403s(rlab, capsys)
        assert [(e["verb"], e["resource"], e["namespace"], e["name"]) for e in errors] == [
            ("get", "secrets", "istio-system", "istio-remote-secret-cluster2")]
        assert rbac.needed_rules(errors, use="remediate")[0] == [
            (rbac.MANIFESTS["remediate"], "get,patch secrets (istio-system)")]
        apply(rlab, render("remediate", peers=["cluster1", "cluster2"]))
        assert remediate_403s(rlab, capsys) == []
    finally:
        apply_dir(rlab, "remediate")
