# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guide's active traffic tests, as pure functions (issue 7).

Section "cross-cluster traffic should still succeed ... without Istio" of the troubleshooting
guide: uninjected sleep -> a peer's helloworld pod IP, every ordered pair; a reachability probe of
each peer's east-west gateway on 15443; then mesh traffic from the injected sleep to
``helloworld.sample:5000/hello``, counting which versions answer.

Everything here is I/O free: the modules exec curl and hand the outputs in. This file turns
curl outputs into *outcomes*, outcomes into per-pair results, JUnit-style test cases and the
``connectivity.*`` findings, with the exact curl output as evidence. Putting them into the report
files is ``report/connectivity.py``'s.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import Finding, finding_key
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import NETWORK_LABEL  # noqa: F401 (re-exported)
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import (  # noqa: F401 (pod_ready re-exported)
    pod_problem, pod_ready, selector_matches,
)

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "meshmend-connectivity"
GATEWAY_PORT_LABEL = "networking.istio.io/gatewayPort"
DEFAULT_GATEWAY_PORT = 15443

KIND_POD_TO_POD = "pod_to_pod"
KIND_GATEWAY = "gateway"
KIND_MESH = "mesh"
KIND_CUSTOM = "custom"
KINDS = (KIND_POD_TO_POD, KIND_GATEWAY, KIND_MESH, KIND_CUSTOM)

# Outcomes of one curl attempt.
OK = "ok"                      # an answer from helloworld ("Hello version: ...")
HTTP_ANSWER = "http_answer"    # an HTTP answer that is not helloworld's (still: the path works)
TLS_ERROR = "tls_error"        # Envoy's 503 body (or curl's own error) names a TLS failure
UPSTREAM_ERROR = "upstream_error"  # Envoy's 503 body without TLS: connection failure/timeout, no healthy upstream
TIMEOUT = "timeout"            # curl exit 28
REFUSED = "refused"            # curl exit 7 (connection refused / no route)
DNS_ERROR = "dns_error"        # curl exit 6
CLOSED = "closed"              # connected, then the server closed or reset (curl 52/56): TCP reachable
HANDSHAKE = "handshake"        # connected, TLS handshake failed (curl 35): TCP reachable
EXEC_ERROR = "exec_error"      # curl could not run in the pod (exit 126/127, exec refused)
ERROR = "error"                # any other curl failure

# Outcomes that prove a TCP connection to the target was made (the gateway probe's question).
CONNECTED = (OK, HTTP_ANSWER, TLS_ERROR, UPSTREAM_ERROR, CLOSED, HANDSHAKE)

CURL_EXIT = {
    6: "could not resolve host",
    7: "failed to connect",
    28: "operation timed out",
    35: "TLS/SSL connect error",
    52: "empty reply from server",
    56: "failure receiving network data",
}

_HELLO_RE = re.compile(r"Hello version:\s*(?P<version>[^,\s]+),\s*instance:\s*(?P<instance>\S+)")
_CURL_ERR_RE = re.compile(r"curl:\s*\((?P<code>\d+)\)\s*(?P<text>.*)")
_UPSTREAM_RE = re.compile(r"upstream connect error or disconnect/reset before headers\.?(?P<rest>.*)", re.S)
_RESET_REASON_RE = re.compile(r"reset reason:\s*(?P<reason>[^,\n]+)")
_TRANSPORT_RE = re.compile(r"transport failure reason:\s*(?P<reason>[^\n]+)")
_TLS_WORDS = ("TLS error", "CERTIFICATE_VERIFY_FAILED", "SSL routines", "TLSV1_ALERT", "SSL_ERROR", "WRONG_VERSION_NUMBER")


class ConnectivityError(ValueError):
    """Bad input to the connectivity logic (names what is wrong)."""


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def curl_command(url, timeout, connect_timeout=None, extra=None):
    """The curl argv run in the client pod: the guide's ``curl -sS URL`` with bounded timeouts.

    ``--max-time`` bounds the whole attempt so a blackholed path ends as exit 28, as on a real
    cluster behind a dropping firewall.
    """
    if not url:
        raise ConnectivityError("curl needs a URL")
    timeout = int(timeout)
    if timeout < 1:
        raise ConnectivityError("curl timeout must be at least 1 second, not %r" % (timeout,))
    cmd = ["curl", "-sS", "--max-time", str(timeout)]
    if connect_timeout:
        cmd += ["--connect-timeout", str(min(int(connect_timeout), timeout))]
    cmd += list(extra or [])
    cmd.append(url)
    return cmd


def combined_output(stdout, stderr):
    """stdout then stderr, as a terminal shows them: the exact text kept as evidence."""
    out, err = _text(stdout), _text(stderr)
    if out and err and not out.endswith("\n"):
        out += "\n"
    return out + err


def parse_curl(stdout, stderr, rc):
    """One curl attempt -> outcome dict.

    ``{"outcome", "rc", "version", "instance", "reason", "output"}``; ``output`` is the exact
    stdout+stderr. Envoy answers failures with a 503 and a text body on stdout (curl exits 0
    without ``-f``), so the body is read before the exit code.
    """
    out, err = _text(stdout), _text(stderr)
    output = combined_output(out, err)
    try:
        rc = int(rc) if rc is not None else None
    except (TypeError, ValueError):
        rc = None
    result = {"outcome": ERROR, "rc": rc, "version": None, "instance": None, "reason": None, "output": output}

    hello = _HELLO_RE.search(out)
    if hello and rc in (0, None):
        result.update(outcome=OK, version=hello.group("version"), instance=hello.group("instance"))
        return result

    upstream = _UPSTREAM_RE.search(output)
    if upstream:
        rest = upstream.group("rest")
        reset = _RESET_REASON_RE.search(rest)
        transport = _TRANSPORT_RE.search(rest)
        reason_parts = []
        if reset:
            reason_parts.append(reset.group("reason").strip())
        if transport:
            reason_parts.append(transport.group("reason").strip())
        result["reason"] = ", ".join(reason_parts) or rest.strip() or None
        result["outcome"] = TLS_ERROR if any(w in rest for w in _TLS_WORDS) else UPSTREAM_ERROR
        return result

    if rc is not None and rc in (126, 127):
        result.update(outcome=EXEC_ERROR, reason=(err or out).strip() or "exit %d" % rc)
        return result

    curl_err = _CURL_ERR_RE.search(err) or _CURL_ERR_RE.search(out)
    code = int(curl_err.group("code")) if curl_err else rc
    text = curl_err.group("text").strip() if curl_err else None
    if code == 0 or (rc == 0 and not curl_err):
        # curl succeeded; the body is not helloworld's (e.g. "no healthy upstream", a 404 page).
        body = out.strip()
        if body == "no healthy upstream":
            result.update(outcome=UPSTREAM_ERROR, reason=body)
        else:
            result.update(outcome=HTTP_ANSWER, reason=body[:200] or "empty body")
        return result
    outcome = {6: DNS_ERROR, 7: REFUSED, 28: TIMEOUT, 35: HANDSHAKE, 52: CLOSED, 56: CLOSED}.get(code, ERROR)
    if outcome == HANDSHAKE and text and any(w in text for w in ("certificate", "CERTIFICATE")):
        outcome = TLS_ERROR
    result["outcome"] = outcome
    result["reason"] = text or CURL_EXIT.get(code) or ("exit code %s" % code if code is not None else "no exit code")
    return result


def count_by(attempts, field):
    counts = {}
    for attempt in attempts:
        value = attempt.get(field)
        if value is None:
            continue
        counts[value] = counts.get(value, 0) + 1
    return counts


# --- what the workload module reads into a "site" ---------------------------------------------

def deployment_readiness(deployments, pods):
    """For each Deployment: its Ready pods and, when short, why (pure view of a LIST of pods).

    Returns ``(all_ready, [{"name", "replicas", "ready", "pods": [...], "problems": [...]}])``.
    """
    report = []
    all_ready = True
    for dep in deployments:
        meta = dep.get("metadata") or {}
        spec = dep.get("spec") or {}
        replicas = spec.get("replicas", 1)
        if replicas is None:
            replicas = 1
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        mine = [p for p in pods if selector_matches((p.get("metadata") or {}).get("labels"), selector)
                and not (p.get("metadata") or {}).get("deletionTimestamp")]
        ready = [p for p in mine if pod_ready(p)]
        problems = ["%s: %s" % (p["metadata"]["name"], pod_problem(p)) for p in mine if not pod_ready(p)]
        if len(ready) < replicas:
            all_ready = False
            if not mine:
                problems.append("no pods created yet")
        report.append({"name": meta.get("name"), "replicas": replicas, "ready": len(ready),
                       "pods": [p["metadata"]["name"] for p in ready], "problems": problems})
    return all_ready, report


def expand_lists(documents):
    """YAML documents with ``kind: List`` (``v1`` List, ``*List``) replaced by their items, as kubectl does."""
    out = []
    for doc in documents or []:
        if isinstance(doc, dict) and str(doc.get("kind") or "").endswith("List") and isinstance(doc.get("items"), list):
            out.extend(expand_lists(doc["items"]))
        elif doc is not None:
            out.append(doc)
    return out


def select_manifests(documents, version, namespace, helloworld_versions=None):
    """Pick the guide's objects from Istio's sample documents and place them in ``namespace``.

    The guide runs ``kubectl apply -f helloworld.yaml -l service=helloworld`` (the Service) and
    ``-l version=vN`` (one Deployment), then ``sleep.yaml``. Objects keep the sample's names.
    """
    picked = []
    versions_found = []
    for doc in expand_lists(documents):
        if not isinstance(doc, dict) or not doc.get("kind"):
            continue
        labels = (doc.get("metadata") or {}).get("labels") or {}
        if doc["kind"] == "Deployment" and labels.get("app") == "helloworld":
            versions_found.append(labels.get("version"))
            if labels.get("version") != version:
                continue
        elif doc["kind"] == "Service" and labels.get("app") == "helloworld":
            if labels.get("service") != "helloworld":
                continue
        obj = dict(doc)
        obj["metadata"] = dict(doc.get("metadata") or {})
        obj["metadata"]["namespace"] = namespace
        picked.append(obj)
    if version not in versions_found:
        raise ConnectivityError("no helloworld Deployment with label version=%s in the manifests (found: %s)"
                                % (version, ", ".join(v for v in versions_found if v) or "none"))
    return picked


def version_for(index, versions):
    """The helloworld version a cluster runs: v1 for the first, v2 for the second, then alternating
    over ``versions`` (the sample ships v1 and v2 images; answers name the pod, so clusters that share
    a version stay apart)."""
    versions = list(versions or ["v1", "v2"])
    if not versions:
        raise ConnectivityError("connectivity needs at least one helloworld version")
    return versions[int(index) % len(versions)]


def gateway_addresses(service):
    """Addresses istiod would use for an east-west gateway Service (istio-facts section 3):
    LoadBalancer ingress ip (else hostname), then spec.externalIPs. NodePort addresses need
    Node ExternalIPs and an annotation: left out (diagnose covers them)."""
    spec = service.get("spec") or {}
    status = service.get("status") or {}
    out = []
    if spec.get("type") == "LoadBalancer":
        for ing in ((status.get("loadBalancer") or {}).get("ingress") or []):
            if ing.get("ip"):
                out.append({"address": ing["ip"], "kind": "ip", "source": "load_balancer"})
            elif ing.get("hostname"):
                out.append({"address": ing["hostname"], "kind": "hostname", "source": "load_balancer"})
    for ip in spec.get("externalIPs") or []:
        out.append({"address": ip, "kind": "ip", "source": "external_ips"})
    seen, unique = set(), []
    for item in out:
        if item["address"] not in seen:
            seen.add(item["address"])
            unique.append(item)
    return unique


def gateway_port(service):
    labels = (service.get("metadata") or {}).get("labels") or {}
    try:
        return int(labels.get(GATEWAY_PORT_LABEL) or DEFAULT_GATEWAY_PORT)
    except (TypeError, ValueError):
        return DEFAULT_GATEWAY_PORT


def controller_pid(chain):
    """The ansible-playbook (or ansible) process that drives this module: the topmost of the
    ancestors whose command is Ansible's (workers are forks of it with the same command line).

    ``chain``: ``[(pid, argv), ...]`` from the parent upwards. None when no ancestor is Ansible.
    """
    found = None
    seen_ansible = False
    for pid, argv in chain:
        words = " ".join(os_basename(a) for a in (argv or [])[:3])
        if "ansible-playbook" in words or "ansible " in words + " " or words.startswith("ansible"):
            found, seen_ansible = pid, True
        elif seen_ansible:
            break
    return found


def os_basename(path):
    return str(path).rstrip("/").rsplit("/", 1)[-1]


def build_site(cluster, namespace, test_pods, istio_namespace_obj=None, injector_values=None,
               gateway_services=None, mesh_pods=None, mesh_namespace="sample", mesh_service="helloworld",
               mesh_port=5000, declared_network=None, helloworld_port=5000):
    """What a cluster offers the tests: its network, test pods, gateways and mesh instances."""
    network, source = None, None
    if declared_network:
        network, source = declared_network, "inventory (meshmend_network)"
    else:
        ns_labels = ((istio_namespace_obj or {}).get("metadata") or {}).get("labels") or {}
        if ns_labels.get(NETWORK_LABEL):
            network, source = ns_labels[NETWORK_LABEL], "istio-system label %s" % NETWORK_LABEL
        elif ((injector_values or {}).get("global") or {}).get("network"):
            network, source = injector_values["global"]["network"], "values.global.network"

    def _pick(app):
        pods = [p for p in test_pods or [] if ((p.get("metadata") or {}).get("labels") or {}).get("app") == app
                and pod_ready(p)]
        pods.sort(key=lambda p: p["metadata"]["name"])
        return pods[0] if pods else None

    hello = _pick("helloworld")
    sleep = _pick("sleep")
    gateways = []
    for svc in gateway_services or []:
        meta = svc.get("metadata") or {}
        port = gateway_port(svc)
        ports = [p.get("port") for p in (svc.get("spec") or {}).get("ports") or []]
        for addr in gateway_addresses(svc):
            gateways.append({"service": "%s/%s" % (meta.get("namespace"), meta.get("name")),
                             "network": (meta.get("labels") or {}).get(NETWORK_LABEL),
                             "address": addr["address"], "kind": addr["kind"], "source": addr["source"],
                             "port": port, "port_exposed": port in ports})
        if not gateway_addresses(svc):
            gateways.append({"service": "%s/%s" % (meta.get("namespace"), meta.get("name")),
                             "network": (meta.get("labels") or {}).get(NETWORK_LABEL),
                             "address": None, "kind": None, "source": None, "port": port,
                             "port_exposed": port in ports})
    instances, clients = [], []
    for pod in mesh_pods or []:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get("app") == mesh_service:
            instances.append({"pod": meta.get("name"), "version": labels.get("version"), "ready": pod_ready(pod)})
        elif labels.get("app") == "sleep" and pod_ready(pod):
            clients.append(meta.get("name"))
    instances.sort(key=lambda i: i["pod"] or "")
    clients.sort()
    return {
        "cluster": cluster,
        "network": network,
        "network_source": source,
        "namespace": namespace,
        "helloworld": ({"pod": hello["metadata"]["name"], "ip": (hello.get("status") or {}).get("podIP"),
                        "version": (hello["metadata"].get("labels") or {}).get("version"),
                        "port": helloworld_port} if hello else None),
        "sleep": {"pod": sleep["metadata"]["name"]} if sleep else None,
        "gateways": gateways,
        "mesh": {"namespace": mesh_namespace, "service": mesh_service, "port": mesh_port,
                 "clients": clients, "instances": instances},
    }


# --- planning ------------------------------------------------------------------------------------

def _same_network(a, b):
    # Unknown networks on both sides: a flat (single-network) mesh, as istiod treats it.
    return (a.get("network") or None) == (b.get("network") or None) or not a.get("network") or not b.get("network")


def validate_site(site, what="site"):
    """A site as connectivity_workload returns it; raises ConnectivityError naming what is wrong."""
    if not isinstance(site, dict) or not site.get("cluster"):
        raise ConnectivityError("%s is not a site of connectivity_workload (no cluster name)" % what)
    name = "%s %s" % (what, site["cluster"])
    if site.get("error"):
        return site
    for key, kind in (("helloworld", dict), ("sleep", dict), ("gateways", list), ("mesh", dict)):
        if site.get(key) is not None and not isinstance(site[key], kind):
            raise ConnectivityError("%s: %s must be a %s" % (name, key, kind.__name__))
    if site.get("sleep") and not site.get("namespace"):
        raise ConnectivityError("%s: a sleep pod but no namespace" % name)
    for key, fields in (("helloworld", ("pod",)), ("sleep", ("pod",))):
        for field in fields:
            if site.get(key) and not site[key].get(field):
                raise ConnectivityError("%s: %s has no %s" % (name, key, field))
    for gw in site.get("gateways") or []:
        if not isinstance(gw, dict) or "address" not in gw or "service" not in gw:
            raise ConnectivityError("%s: a gateway entry needs service and address" % name)
    mesh = site.get("mesh") or {}
    if not isinstance(mesh.get("clients") or [], list) or not isinstance(mesh.get("instances") or [], list):
        raise ConnectivityError("%s: mesh clients and instances must be lists" % name)
    for inst in mesh.get("instances") or []:
        if not isinstance(inst, dict) or not inst.get("pod"):
            raise ConnectivityError("%s: a mesh instance needs a pod name" % name)
    return site


def normalize_peers(peers):
    """Sites, or registered connectivity_workload results: a failed result becomes
    ``{"cluster": name, "error": msg}`` so the pair is reported instead of silently missing."""
    out = []
    for peer in peers or []:
        if not isinstance(peer, dict):
            continue
        if isinstance(peer.get("site"), dict):
            out.append(peer["site"])
        elif peer.get("failed") or peer.get("skipped") or peer.get("unreachable"):
            if peer.get("cluster"):
                out.append({"cluster": peer["cluster"],
                            "error": peer.get("msg") or "the test workload could not be set up"})
        elif peer.get("cluster") and ("helloworld" in peer or "mesh" in peer or "error" in peer):
            out.append(peer)
    return out


def multi_network(sites):
    return len(set(s.get("network") for s in sites if s.get("network"))) > 1


def plan_probes(site, peers, pod_to_pod="auto", gateway="auto", mesh=True, direct_attempts=2,
                gateway_attempts=2, mesh_attempts=20, mesh_url=None):
    """Targets one cluster probes, and the tests it skips (with the reason).

    - pod_to_pod: ``auto`` runs it for peers on the same network only (pod IPs of another network
      are not expected to route), ``always`` for every peer, ``never`` not at all.
    - gateway: ``auto`` probes the gateways of peers on another network, ``always`` every peer's.
    - mesh: one target, ``mesh_attempts`` curls of ``helloworld.sample:5000/hello`` from the
      injected sleep; judged per peer later.
    Returns ``(targets, skipped)``; a skipped entry is a test case dict with status ``skipped``.
    """
    for name, value in (("pod_to_pod", pod_to_pod), ("gateway", gateway)):
        if value not in ("auto", "always", "never"):
            raise ConnectivityError("%s must be auto, always or never, not %r" % (name, value))
    validate_site(site)
    for peer in peers:
        validate_site(peer, "peer")
    me = site["cluster"]
    targets, skipped = [], []
    peers = [p for p in peers if p.get("cluster") != me]
    broken = [p for p in peers if p.get("error")]
    peers = [p for p in peers if not p.get("error")]
    for peer in sorted(broken, key=lambda p: p["cluster"]):
        skipped.append(test_case("setup", me, peer["cluster"], "skipped",
                                 "no test against %s: %s" % (peer["cluster"], peer["error"])))
    for peer in sorted(peers, key=lambda p: p["cluster"]):
        pair = "%s -> %s" % (me, peer["cluster"])
        same = _same_network(site, peer)
        if pod_to_pod == "always" or (pod_to_pod == "auto" and same):
            hello = peer.get("helloworld")
            if not site.get("sleep"):
                skipped.append(test_case(KIND_POD_TO_POD, me, peer["cluster"], "skipped",
                                         "no Ready sleep pod in %s/%s" % (me, site.get("namespace"))))
            elif not hello or not hello.get("ip"):
                skipped.append(test_case(KIND_POD_TO_POD, me, peer["cluster"], "skipped",
                                         "no Ready helloworld pod with an IP in %s/%s"
                                         % (peer["cluster"], peer.get("namespace"))))
            else:
                targets.append({
                    "kind": KIND_POD_TO_POD, "name": pair, "peer": peer["cluster"],
                    "url": "http://%s:%s/hello" % (_host(hello["ip"]), hello.get("port") or 5000),
                    "attempts": direct_attempts,
                    "source": {"namespace": site["namespace"], "pod": site["sleep"]["pod"], "container": "sleep"},
                    "expect": {"pod": hello["pod"], "version": hello.get("version"),
                               "resource": "Pod/%s/%s" % (peer.get("namespace"), hello["pod"]),
                               "multi_network": not same},
                })
        elif pod_to_pod == "auto":
            skipped.append(test_case(
                KIND_POD_TO_POD, me, peer["cluster"], "skipped",
                "%s (%s) and %s (%s) are different networks: pod IPs are not expected to route between "
                "them; cross-network traffic goes through the east-west gateway"
                % (me, site.get("network"), peer["cluster"], peer.get("network"))))
        if gateway == "always" or (gateway == "auto" and not same):
            gws = [g for g in peer.get("gateways") or [] if g.get("network") in (None, peer.get("network"))] \
                or list(peer.get("gateways") or [])
            with_addr = [g for g in gws if g.get("address")]
            if not site.get("sleep"):
                skipped.append(test_case(KIND_GATEWAY, me, peer["cluster"], "skipped",
                                         "no Ready sleep pod in %s/%s" % (me, site.get("namespace"))))
            elif not with_addr:
                why = ("%s has no east-west gateway" % peer["cluster"]) if not gws else \
                    ("%s's east-west gateway %s has no address (EXTERNAL-IP <pending>; see "
                     "eastwest_gateway.external_ip_pending)" % (peer["cluster"], gws[0]["service"]))
                skipped.append(test_case(KIND_GATEWAY, me, peer["cluster"], "skipped", why))
            else:
                for gw in with_addr:
                    targets.append({
                        "kind": KIND_GATEWAY, "name": "%s -> %s %s:%s" % (me, peer["cluster"], gw["address"], gw["port"]),
                        "peer": peer["cluster"],
                        # Plain HTTP to the TLS port: any TCP answer (reset, empty reply, handshake
                        # failure) proves reachability; only a timeout or a refusal means blocked.
                        "url": "http://%s:%s/" % (_host(gw["address"]), gw["port"]),
                        "attempts": gateway_attempts,
                        "source": {"namespace": site["namespace"], "pod": site["sleep"]["pod"], "container": "sleep"},
                        "expect": {"resource": "Service/%s" % gw["service"], "address": gw["address"],
                                   "port": gw["port"]},
                    })
    if mesh:
        m = site.get("mesh") or {}
        peer_instances = dict((p["cluster"], [i for i in (p.get("mesh") or {}).get("instances") or [] if i.get("ready")])
                              for p in peers)
        if not m.get("clients"):
            for peer in sorted(peers, key=lambda p: p["cluster"]):
                skipped.append(test_case(KIND_MESH, me, peer["cluster"], "skipped",
                                         "no Ready sleep pod in %s/%s" % (me, m.get("namespace"))))
        elif peers:
            url = mesh_url or "%s.%s:%s/hello" % (m.get("service"), m.get("namespace"), m.get("port"))
            targets.append({
                "kind": KIND_MESH, "name": "%s mesh %s" % (me, url), "peer": None, "url": url,
                "attempts": mesh_attempts,
                "source": {"namespace": m.get("namespace"), "pod": m["clients"][0], "container": "sleep"},
                "expect": {"resource": "Service/%s/%s" % (m.get("namespace"), m.get("service")),
                           "local": [i for i in m.get("instances") or [] if i.get("ready")],
                           "peers": peer_instances},
            })
    return targets, skipped


def _host(address):
    return "[%s]" % address if ":" in str(address) else str(address)


# --- judging ---------------------------------------------------------------------------------------

def test_case(kind, cluster, peer, status, message=None, output=None, duration=None, finding=None, details=None):
    """One JUnit case: ``classname`` connectivity.<kind>, ``name`` ``cluster -> peer``."""
    return {
        "classname": "connectivity.%s" % kind,
        "name": "%s -> %s" % (cluster, peer) if peer else cluster,
        "cluster": cluster,
        "peer": peer,
        "status": status,
        "message": message,
        "output": output,
        "time": round(duration, 3) if duration is not None else None,
        "finding": finding,
        "details": details or {},
    }


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
