# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-pair results of the probes -> test cases and the ``connectivity.*`` findings, the exact curl output as
evidence, linked to the diagnosis' findings that explain them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity.outcomes import (
    CONNECTED, EXEC_ERROR, HTTP_ANSWER, KIND_CUSTOM, KIND_GATEWAY, KIND_MESH, KIND_POD_TO_POD, OK, TLS_ERROR,
    count_by, test_case,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import Finding, finding_key


def _evidence(target, attempts, failing):
    first = failing[0] if failing else (attempts[0] if attempts else {})
    return {
        "from": "%s/%s" % (target["source"]["namespace"], target["source"]["pod"]),
        "url": target["url"],
        "command": " ".join(target.get("command") or []),
        "attempts": len(attempts),
        "failed": len(failing),
        "outcomes": count_by(attempts, "outcome"),
        "exit_code": first.get("rc"),
        "output": first.get("output"),
    }


def _summary(attempts):
    counts = count_by(attempts, "outcome")
    return ", ".join("%s x%d" % (k, v) for k, v in sorted(counts.items())) or "no attempt"


def judge_pod_to_pod(cluster, target, attempts, duration=None):
    peer = target["peer"]
    expect = target.get("expect") or {}
    good = [a for a in attempts if a["outcome"] == OK and (not expect.get("pod") or a.get("instance") == expect["pod"])]
    wrong = [a for a in attempts if a["outcome"] == OK and a not in good]
    failing = [a for a in attempts if a not in good]
    findings = []
    if good and not failing:
        case = test_case(KIND_POD_TO_POD, cluster, peer, "passed",
                         "%d/%d answers from %s (%s)" % (len(good), len(attempts), expect.get("pod"), expect.get("version")),
                         output=good[0]["output"], duration=duration)
        return case, findings
    if not attempts:
        return test_case(KIND_POD_TO_POD, cluster, peer, "skipped", "no attempt was made", duration=duration), findings
    if wrong and not good:
        what = "answered by %s instead of %s: the pod IP %s also exists on this side (overlapping pod CIDRs?)" % (
            wrong[0].get("instance"), expect.get("pod"), target["url"])
    else:
        first = failing[0]
        what = "curl %s (exit %s) in %d of %d attempts" % (
            first.get("reason") or first["outcome"], first.get("rc"), len(failing), len(attempts))
    if expect.get("multi_network"):
        # Different networks: pod IPs are not expected to route; a fact, not a fault.
        case = test_case(KIND_POD_TO_POD, cluster, peer, "skipped",
                         "pod IP of another network not reachable (expected in a multi-network mesh): " + what,
                         output=failing[0]["output"], duration=duration)
        return case, findings
    message = ("An uninjected pod in %s cannot reach helloworld pod %s in %s directly: %s. Without sidecars this "
               "is the network itself: on a single network pod IPs must route between the clusters."
               % (cluster, target["url"], peer, what))
    finding = Finding("connectivity.pod_to_pod_blocked", cluster, message, peer=peer,
                      resource=expect.get("resource"), evidence=_evidence(target, attempts, failing),
                      remedy=("Allow traffic from %s's pods to %s's pod CIDR (port 5000 here): firewall rules, "
                              "security groups, network policies or routes between the pod networks. If the "
                              "clusters are not on one network, label istio-system with distinct "
                              "topology.istio.io/network values and install east-west gateways." % (cluster, peer)))
    findings.append(finding)
    case = test_case(KIND_POD_TO_POD, cluster, peer, "failed", message, output=failing[0]["output"],
                     duration=duration, finding=finding.key)
    return case, findings


def judge_gateway(cluster, target, attempts, duration=None):
    peer = target["peer"]
    expect = target.get("expect") or {}
    connected = [a for a in attempts if a["outcome"] in CONNECTED]
    failing = [a for a in attempts if a["outcome"] not in CONNECTED]
    name_peer = peer
    if connected:
        case = test_case(KIND_GATEWAY, cluster, name_peer, "passed",
                         "%s:%s answered (%s)" % (expect.get("address"), expect.get("port"), _summary(attempts)),
                         output=connected[0]["output"], duration=duration)
        return case, []
    if not attempts:
        return test_case(KIND_GATEWAY, cluster, name_peer, "skipped", "no attempt was made", duration=duration), []
    first = failing[0]
    if first["outcome"] == EXEC_ERROR:
        case = test_case(KIND_GATEWAY, cluster, name_peer, "error", "curl could not run: %s" % first.get("reason"),
                         output=first["output"], duration=duration)
        return case, []
    message = ("From an uninjected pod in %s, %s's east-west gateway %s:%s cannot be reached: curl %s (exit %s) "
               "in %d of %d attempts. Cross-network mesh traffic to %s goes through that address."
               % (cluster, peer, expect.get("address"), expect.get("port"), first.get("reason") or first["outcome"],
                  first.get("rc"), len(failing), len(attempts), peer))
    finding = Finding("connectivity.gateway_blocked", cluster, message, peer=peer, resource=expect.get("resource"),
                      evidence=dict(_evidence(target, attempts, failing), gateway="%s:%s" % (
                          expect.get("address"), expect.get("port"))),
                      remedy=("Open TCP %s from %s to %s (firewalls, security groups, the load balancer's "
                              "source ranges); check that the address is the one the load balancer really "
                              "serves." % (expect.get("port"), cluster, expect.get("address"))))
    case = test_case(KIND_GATEWAY, cluster, name_peer, "failed", message, output=first["output"],
                     duration=duration, finding=finding.key)
    return case, [finding]


def attribute_answer(attempt, local, peers):
    """Which cluster answered: by instance (pod name), else by a version only one cluster runs."""
    instance, version = attempt.get("instance"), attempt.get("version")
    owners = {}
    for cluster, instances in [(None, local)] + sorted((peers or {}).items()):
        for inst in instances or []:
            owners.setdefault(inst.get("pod"), cluster if cluster is not None else "__local__")
    if instance in owners:
        return owners[instance]
    by_version = set()
    for cluster, instances in [("__local__", local)] + sorted((peers or {}).items()):
        if any(i.get("version") == version for i in instances or []):
            by_version.add(cluster)
    if len(by_version) == 1:
        return by_version.pop()
    return None


def judge_mesh(cluster, target, attempts, duration=None, gateway_findings=None):
    """One case per peer: passed when that peer's helloworld answered at least once."""
    expect = target.get("expect") or {}
    local = expect.get("local") or []
    peers = expect.get("peers") or {}
    answered = {}
    for a in attempts:
        if a["outcome"] == OK:
            owner = attribute_answer(a, local, peers)
            a["cluster"] = cluster if owner == "__local__" else owner
            answered.setdefault(a["cluster"], []).append(a)
    tls = [a for a in attempts if a["outcome"] == TLS_ERROR]
    other_fail = [a for a in attempts if a["outcome"] not in (OK, TLS_ERROR)]
    versions = count_by([a for a in attempts if a["outcome"] == OK], "version")
    gw_keys = dict((f.peer, f.key) for f in gateway_findings or [] if f.id == "connectivity.gateway_blocked")
    cases, findings = [], []
    seen_text = ", ".join("%s x%d" % (k, v) for k, v in sorted(versions.items())) or "no answer"
    for peer in sorted(peers):
        instances = peers[peer]
        peer_versions = sorted(set(i.get("version") for i in instances if i.get("version")))
        if not instances:
            cases.append(test_case(KIND_MESH, cluster, peer, "skipped",
                                   "%s runs no Ready %s instance" % (peer, target.get("expect", {}).get("resource")),
                                   duration=duration))
            continue
        details = {"versions": versions, "answered_by": dict((c, len(v)) for c, v in sorted(answered.items())),
                   "outcomes": count_by(attempts, "outcome"), "attempts": len(attempts)}
        if answered.get(peer):
            cases.append(test_case(KIND_MESH, cluster, peer, "passed",
                                   "%d/%d answers from %s (%s); seen: %s" % (
                                       len(answered[peer]), len(attempts), peer, ", ".join(peer_versions), seen_text),
                                   output=answered[peer][0]["output"], duration=duration, details=details))
            continue
        evidence = {
            "from": "%s/%s" % (target["source"]["namespace"], target["source"]["pod"]),
            "url": target["url"],
            "command": " ".join(target.get("command") or []),
            "attempts": len(attempts),
            "versions": versions,
            "answered_by": dict((c, len(v)) for c, v in sorted(answered.items())),
            "outcomes": count_by(attempts, "outcome"),
            "expected_from_peer": {"versions": peer_versions, "pods": [i["pod"] for i in instances]},
        }
        if tls:
            evidence.update(exit_code=tls[0].get("rc"), output=tls[0]["output"])
            hint = ""
            if "HTTP_REQUEST" in tls[0]["output"]:
                hint = (" HTTP_REQUEST means TLS met an HTTP listener: an L7 load balancer in front of the "
                        "gateway's 15443 breaks AUTO_PASSTHROUGH.")
            message = ("Mesh traffic from %s to %s fails with a TLS error in %d of %d attempts: %s. %s's "
                       "helloworld (%s) never answered.%s"
                       % (cluster, target["url"], len(tls), len(attempts), tls[0].get("reason"), peer,
                          ", ".join(peer_versions), hint))
            finding = Finding("connectivity.tls_error", cluster, message, peer=peer, resource=expect.get("resource"),
                              evidence=evidence,
                              remedy=("Cross-cluster mTLS needs one root of trust: plug in a cacerts Secret signed "
                                      "by the same root in %s and %s (compare root-cert.pem; run diagnose for "
                                      "trust.*), then restart istiod and the workloads. An L7 load balancer "
                                      "in front of 15443 must become L4 (TCP passthrough)." % (cluster, peer)))
        else:
            if other_fail:
                evidence.update(exit_code=other_fail[0].get("rc"), output=other_fail[0]["output"])
            elif answered:
                first = next(iter(answered.values()))[0]
                evidence.update(exit_code=first.get("rc"), output=first["output"])
            only_local = set(answered) <= {cluster}
            if only_local:
                what = "reached only local versions (%s: %s)" % (cluster, seen_text if answered else "no answer")
            else:
                what = "never reached %s (answers: %s)" % (peer, seen_text)
            fail_text = ""
            if other_fail:
                fail_text = "; %d attempts failed (%s)" % (len(other_fail), other_fail[0].get("reason") or
                                                           other_fail[0]["outcome"])
            message = ("Mesh traffic from %s to %s %s in %d attempts%s: %s's helloworld (%s) never answered. "
                       "Expected both local and remote versions."
                       % (cluster, target["url"], what, len(attempts), fail_text, peer, ", ".join(peer_versions)))
            caused = [gw_keys[peer]] if peer in gw_keys else []
            finding = Finding("connectivity.local_only", cluster, message, peer=peer, resource=expect.get("resource"),
                              evidence=evidence, caused_by=caused,
                              remedy=("Follow the guide's endpoint steps for %s's sleep: the endpoints it holds for "
                                      "helloworld, the remote secret for %s in %s, the east-west gateways and "
                                      "network labels, and locality load balancing (run playbooks/diagnose.yml)."
                                      % (cluster, peer, cluster)))
        findings.append(finding)
        cases.append(test_case(KIND_MESH, cluster, peer, "failed", finding.message, output=evidence.get("output"),
                               duration=duration, finding=finding.key, details=details))
    if local and not answered.get(cluster) and not tls and attempts and not any(answered.values()):
        # Nothing answered at all: say so in the local case too (the test itself may be broken).
        cases.append(test_case(KIND_MESH, cluster, cluster, "error",
                               "no answer at all from %s (%s)" % (target["url"], _summary(attempts)),
                               output=attempts[0]["output"], duration=duration))
    return cases, findings


def judge(cluster, results):
    """All of one cluster's probe results -> ``(test cases, findings as dicts)``.

    ``results``: ``[{"target": target, "attempts": [outcome...], "duration": s}]``. Gateway results
    are judged first so that a mesh failure can name the blocked gateway as its cause.
    """
    cases, findings = [], []
    order = {KIND_POD_TO_POD: 0, KIND_GATEWAY: 1, KIND_MESH: 2, KIND_CUSTOM: 3}
    gateway_findings = []
    for res in sorted(results, key=lambda r: order.get(r["target"].get("kind"), 9)):
        target, attempts, duration = res["target"], res["attempts"], res.get("duration")
        kind = target.get("kind") or KIND_CUSTOM
        if kind == KIND_POD_TO_POD:
            case, fs = judge_pod_to_pod(cluster, target, attempts, duration)
            cases.append(case)
        elif kind == KIND_GATEWAY:
            case, fs = judge_gateway(cluster, target, attempts, duration)
            cases.append(case)
            gateway_findings.extend(fs)
        elif kind == KIND_MESH:
            cs, fs = judge_mesh(cluster, target, attempts, duration, gateway_findings)
            cases.extend(cs)
        else:
            fs = []
        findings.extend(fs)
    return cases, [f.to_dict() for f in _dedupe(findings)]


def custom_cases(cluster, results):
    """Explicit targets (no plan): passed when every attempt got an HTTP answer."""
    cases = []
    for r in results:
        attempts = r["attempts"]
        answered = [a for a in attempts if a["outcome"] in (OK, HTTP_ANSWER)]
        status = "passed" if attempts and len(answered) == len(attempts) else "failed"
        first = next((a for a in attempts if a not in answered), attempts[0] if attempts else {})
        cases.append(test_case(KIND_CUSTOM, cluster, r["target"].get("peer") or r["target"]["url"], status,
                               "%s: %s" % (r["target"]["url"], _summary(attempts)), output=first.get("output"),
                               duration=r.get("duration"),
                               details={"versions": count_by(answered, "version"),
                                        "outcomes": count_by(attempts, "outcome")}))
    return cases


def _dedupe(findings):
    """One finding per key (several gateway addresses of one peer give one gateway finding)."""
    seen, out = set(), []
    for f in findings:
        if f.key in seen:
            continue
        seen.add(f.key)
        out.append(f)
    return out


def summarize(results):
    """Per target: counts of outcomes, versions and answering clusters (the module's return)."""
    out = []
    for res in results:
        attempts = res["attempts"]
        out.append({
            "name": res["target"].get("name"),
            "kind": res["target"].get("kind") or KIND_CUSTOM,
            "peer": res["target"].get("peer"),
            "url": res["target"]["url"],
            "source": res["target"].get("source"),
            "command": res["target"].get("command"),
            "attempts": attempts,
            "counts": {
                "outcomes": count_by(attempts, "outcome"),
                "versions": count_by([a for a in attempts if a["outcome"] == OK], "version"),
                "clusters": count_by([a for a in attempts if a["outcome"] == OK], "cluster"),
            },
            "duration": round(res.get("duration") or 0.0, 3),
        })
    return out


# Which diagnose findings explain a connectivity finding on the pair (cluster -> peer):
# (id prefix, whose finding: "src" | "dst" | "pair" (either way round) | "src_to_dst").
_CAUSES = {
    "connectivity.tls_error": (("trust.root_mismatch", "pair"), ("trust.chain_invalid", "either"),
                               ("trust.cacerts_missing", "either"), ("eastwest_gateway.expose_gateway_missing", "dst")),
    "connectivity.gateway_blocked": (("eastwest_gateway.", "dst"),),
    "connectivity.local_only": (("remote_secret.", "src_to_dst"), ("endpoints.", "src"),
                                ("primary_remote.", "either"), ("eastwest_gateway.", "dst"),
                                ("network.", "either"), ("locality.prefers_local", "src"),
                                ("cluster.duplicate_id", "either"), ("mesh.id_mismatch", "either")),
    "connectivity.pod_to_pod_blocked": (),
}


def link_causes(findings, others):
    """Add to each connectivity finding the keys of diagnose findings that explain it, so the
    report reads like the guide ("TLS error cluster1 -> cluster2 <- roots differ")."""
    out = []
    for f in findings:
        f = dict(f)
        src, dst = f.get("cluster"), f.get("peer")
        causes = list(f.get("caused_by") or [])
        for prefix, whose in _CAUSES.get(f.get("id"), ()):
            for o in others:
                oid = str(o.get("id") or "")
                if not (oid == prefix or (prefix.endswith(".") and oid.startswith(prefix))):
                    continue
                oc, op = o.get("cluster"), o.get("peer")
                hit = ((whose == "src" and oc == src) or (whose == "dst" and oc == dst)
                       or (whose == "either" and oc in (src, dst) and op in (None, src, dst))
                       or (whose == "pair" and {oc, op} == {src, dst})
                       or (whose == "src_to_dst" and oc == src and op in (None, dst)))
                key = o.get("key") or finding_key(o)
                if hit and key not in causes:
                    causes.append(key)
        f["caused_by"] = causes
        out.append(f)
    return out
