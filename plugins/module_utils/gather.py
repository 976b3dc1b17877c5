# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gather: one read-only pass over one cluster -> the facts of docs/facts.md.

The shape is the speed: 14 API requests on a healthy primary, all LISTs with label selectors,
no per-object GET loops:

  1 GET namespace istio-system          8 LIST pods security.istio.io/tlsMode=istio (all ns)
  2 LIST deployments in istio-system     9 LIST nodes
  3 LIST services (all namespaces)      10 LIST gateways.networking.istio.io (404: CRD absent)
  4 LIST configmaps in istio-system     11 LIST destinationrules.networking.istio.io
  5 LIST secrets istio/multiCluster=true 12 istiod log tail
  6 GET secret cacerts                  13 exec istiod: pilot-discovery request GET /debug/clusterz
  7 LIST pods app=istiod                14 exec client proxy: pilot-agent request GET clusters?format=json

A remote cluster (a selector-less istiod Service) adds one: LIST endpoints in istio-system, where that
Service leads. The remote-secret probe (option) adds one request per probed kubeconfig, against
*that* kubeconfig's server. This file is the I/O (:func:`gather_cluster`); ``facts.build_facts``
(facts.py) turns the raw API answers into facts without any. Gather does not judge: what the facts
mean is derived once, by the mesh model (checks/model.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import ClusterError, api_path
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import client_from_kubeconfig_data
from ansible_collections.meshmend.multicluster.plugins.module_utils.facts import (
    ALL_SECTIONS, DECLARED_KEYS, DEFAULT_OPTIONS, GATEWAY_APP_LABELS, SCHEMA, build_facts,
    has_selectorless_control_plane, load_json, parse_probe_client, peer_map, proxy_endpoint_facts, remote_secret_facts,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import (
    ISTIOD_SELECTOR, MULTICLUSTER_SELECTOR, SIDECAR_SELECTOR,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import selector_matches
from ansible_collections.meshmend.multicluster.plugins.module_utils.urls import normalize_server
from ansible_collections.meshmend.multicluster.plugins.module_utils import (
    envoy as _envoy, istiod_log as _istiod_log, kubeconfig as _kubeconfig,
)


# --------------------------------------------------------------------------- the probe

def _memfd(name, data):
    """An in-memory file (Linux memfd) for a client certificate: nothing touches disk."""
    if not hasattr(os, "memfd_create"):
        return None, None
    fd = os.memfd_create(name, getattr(os, "MFD_CLOEXEC", 0))
    os.write(fd, data)
    return fd, "/proc/self/fd/%d" % fd


def probe_kubeconfig(config, label, timeout=5.0, allowlist=(), istio_version=None):
    """Try a remote secret's kubeconfig from here: list pods at cluster scope, limit=1.

    That is what istiod's informers need first. Returns (ok, error_words, requests).
    """
    r = _kubeconfig.resolve(config, allowlist, istio_version)
    if r.get("error"):
        return False, r["error"], 0
    if r.get("unprobeable"):
        # istiod accepts it (the allowlist lets it through) but only istiod can use it: not a failure
        return None, "not probed: %s" % r["unprobeable"], 0
    fds = []
    cert_files = None
    try:
        if r.get("client_cert_data") and r.get("client_key_data"):
            fd1, p1 = _memfd("cert", r["client_cert_data"])
            fd2, p2 = _memfd("key", r["client_key_data"])
            fds = [x for x in (fd1, fd2) if x is not None]
            if not p1 or not p2:
                return None, "not probed: client certificate auth needs memfd (Linux) to stay off disk", 0
            cert_files = (p1, p2)
        try:
            kc = client_from_kubeconfig_data(config, label, request_timeout=timeout, retries=0,
                                             client_cert_files=cert_files, resolved=r)
        except ClusterError as exc:
            return False, exc.detail or exc.message, 0
        try:
            kc.get("/api/v1/pods", query=[("limit", 1)])   # one page of one pod: can these credentials list?
            return True, None, kc.requests
        except ClusterError as exc:
            if exc.status:
                words = "%s %s" % (exc.status, exc.reason or "")
                if exc.detail and exc.detail != exc.reason:
                    words += ": %s" % exc.detail
                return False, words.strip(), kc.requests
            return False, exc.detail or exc.message, kc.requests
        finally:
            try:
                kc.api_client.close()
            except Exception:
                pass
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


def istiod_vouches(clusterz, log_facts):
    """(cluster id, secret namespace/name) -> whether istiod vouches for that remote-secret entry: its clusterz
    says synced and its log has no sync timeout for the cluster. None when clusterz was not read. The first
    clusterz line for a pair decides. One index, so that judging the N-1 entries is linear, not N x N."""
    if clusterz is None:
        return None
    timeouts = set((log_facts or {}).get("sync_timeouts") or [])
    vouched = {}
    for c in clusterz:
        vouched.setdefault((c.get("id"), c.get("secretName")),
                           c.get("syncStatus") == "synced" and c.get("id") not in timeouts)
    return vouched


def _should_probe(mode, entry, secret_ref, vouched, has_istiod=True):
    if entry.get("error") or not entry.get("server"):
        return False
    if entry.get("loopback"):
        # From the controller 127.0.0.1 is some other API server (a kind cluster, the lab...):
        # a probe would not say what istiod sees. remote_secret.loopback_server covers it.
        return False
    if mode is True or mode == "true" or mode == "always":
        return True
    if mode in (False, None, "false", "never"):
        return False
    # auto: probe what istiod does not vouch for (istiod_vouches). Without istiod nothing reads the secret.
    if not has_istiod:
        return False
    return vouched is None or not vouched.get((entry["key"], secret_ref), False)


# --------------------------------------------------------------------------- I/O

class _Reader(object):
    """Runs reads in order; records failures; stops after a fatal one."""

    def __init__(self, client):
        self.client = client
        self.read_errors = []
        self.fatal = None
        self.first = True
        self.last_server_error = False

    def __call__(self, fn, not_found=None, soft=False):
        if self.fatal is not None:
            return None
        try:
            result = fn()
            self.first = False
            self.last_server_error = False
            return result
        except ClusterError as exc:
            first, self.first = self.first, False
            if exc.kind == "not_found":
                return not_found
            # 5xx/429 left after the client's retries on the first read, or twice in a row: the
            # API server is not usable now; stop rather than retry every remaining read.
            failing = exc.kind == "server" and (first or self.last_server_error)
            self.last_server_error = exc.kind == "server"
            past_deadline = exc.reason == "Deadline"   # the cluster's gather deadline: nothing more is read
            if past_deadline or (exc.fatal or failing) and not (soft and exc.kind == "timeout" and not first):
                self.fatal = exc
                if not first:
                    self.read_errors.append(exc.to_read_error())
                return None
            self.read_errors.append(exc.to_read_error())
            return None


def _unreachable_facts(base, exc):
    base.update({"reachable": False, "error": exc.message, "error_kind": exc.kind})
    return base


def gather_cluster(client, options=None):
    """Gather one cluster. Never raises for cluster trouble: ``reachable: false`` + ``error``.

    The whole gather ends within ``gather_timeout`` seconds: the client refuses to start (or go on with)
    a request past it, and what was read by then is kept.
    """
    opts = dict(DEFAULT_OPTIONS)
    opts.update(dict((k, v) for k, v in (options or {}).items() if v is not None))
    saved = getattr(client, "deadline", None), getattr(client, "deadline_name", None)
    limit = float(opts.get("gather_timeout") or 0)
    if limit > 0:
        client.deadline = time.monotonic() + limit
        client.deadline_name = "the gather deadline of %ss (gather_timeout)" % ("%g" % limit)
    try:
        return _gather_cluster(client, opts)
    finally:
        client.deadline, client.deadline_name = saved


def _time_left(client):
    """Seconds left before the client's deadline (None: no deadline)."""
    deadline = getattr(client, "deadline", None)
    return None if deadline is None else deadline - time.monotonic()


def _gather_cluster(client, opts):
    started = time.time()
    ns = opts["istio_namespace"]
    peers = peer_map(opts.get("peers"))
    no_log_values = opts.get("no_log_values")
    base_requests = client.requests
    facts = {
        "schema": SCHEMA, "cluster": client.cluster, "context": client.context, "server": client.server,
        "reachable": True, "error": None, "error_kind": None, "read_errors": [], "requests": 0,
        "probe_requests": 0, "duration_s": 0.0, "kubernetes_version": None,
        "declared": dict((k, (opts.get("declared") or {}).get(k)) for k in DECLARED_KEYS),
        "istio_namespace": ns, "server_peer": peers.get(normalize_server(client.server)),
    }
    read = _Reader(client)
    raw = {}
    raw["namespace"] = read(lambda: client.get(api_path("namespaces", name=ns)))
    if read.fatal is not None:
        facts = _unreachable_facts(facts, read.fatal)
        facts["requests"] = client.requests - base_requests
        facts["duration_s"] = round(time.time() - started, 3)
        return facts
    sections = set(opts.get("sections") or ALL_SECTIONS)

    def want(section, fn, not_found=None):
        return read(fn, not_found=not_found) if section in sections else None

    raw["deployments"] = want("istiod", lambda: client.list(api_path("deployments", ns, group="apps")), [])
    raw["services"] = want("services", lambda: client.list(api_path("services")), [])
    raw["configmaps"] = want("configmaps", lambda: client.list(api_path("configmaps", ns)), [])
    raw["secrets"] = want("remote_secrets", lambda: client.list(api_path("secrets"),
                                                                label_selector=MULTICLUSTER_SELECTOR), [])
    # a remote cluster: where its selector-less istiod Service leads (one more LIST, remotes only)
    if raw["services"] and has_selectorless_control_plane(raw["services"], ns):
        raw["control_plane_endpoints"] = want("services", lambda: client.list(api_path("endpoints", ns)), [])
    cacerts_errors = len(read.read_errors)
    raw["cacerts"] = want("cacerts", lambda: client.get(api_path("secrets", ns, "cacerts")))
    raw["cacerts_read"] = "cacerts" in sections and len(read.read_errors) == cacerts_errors and read.fatal is None
    raw["istiod_pods"] = want("istiod", lambda: client.list(api_path("pods", ns), label_selector=ISTIOD_SELECTOR), [])
    raw["sidecar_pods"] = want("sidecar_pods", lambda: client.list(api_path("pods"), label_selector=SIDECAR_SELECTOR),
                               [])
    raw["nodes"] = want("nodes", lambda: client.list(api_path("nodes")), [])
    raw["istio_gateways"] = want("istio_crds", lambda: client.list(api_path(
        "gateways", group="networking.istio.io", version="v1beta1")))
    raw["destination_rules"] = want("istio_crds", lambda: client.list(api_path(
        "destinationrules", group="networking.istio.io", version="v1beta1")))
    facts.update(build_facts(raw, opts))
    nodes = raw.get("nodes") or []
    if nodes:
        facts["kubernetes_version"] = ((nodes[0].get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion")

    # remote secrets (configs stay in this frame: they hold credentials)
    # judged as this istiod judges them: its release, and its PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS
    # unless the option says otherwise (None: the release's default)
    istiod_now = facts.get("istiod") or {}
    env_allow = (istiod_now.get("env") or {}).get("PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS")
    allow = opts.get("insecure_kubeconfig_options") or (
        tuple(env_allow.split(",")) if isinstance(env_allow, str) else None)
    if raw.get("secrets") is not None:
        facts["remote_secrets"], configs = remote_secret_facts(raw["secrets"], allow, no_log_values,
                                                               istio_version=istiod_now.get("version"))
    else:
        facts["remote_secrets"], configs = None, {}
    for rs in facts["remote_secrets"] or []:
        for e in rs["entries"]:
            e["server_cluster"] = peers.get(normalize_server(e["server"])) if e.get("server") else None

    # istiod: log tail and /debug/clusterz
    istiod = facts.get("istiod")
    pod = (istiod or {}).get("pods", [None])[0] if istiod and istiod.get("pods") else None
    facts["istiod_log"] = None
    facts["clusterz"] = None
    facts["clusterz_error"] = None
    facts["networkz"] = None
    if pod and "log" in sections and opts.get("read_log") and opts.get("log_lines"):
        text = read(lambda: client.log(ns, pod, container="discovery", tail_lines=int(opts["log_lines"])), soft=True)
        if text is not None:
            parsed = _istiod_log.parse_log(text, servers=peers)
            parsed["pod"] = pod
            facts["istiod_log"] = parsed
    if pod and "clusterz" in sections and opts.get("read_clusterz"):
        res = read(lambda: client.exec(ns, pod, "discovery", ["pilot-discovery", "request", "GET", "/debug/clusterz"],
                                       timeout=opts.get("exec_timeout")), soft=True)
        if res is not None:
            out, err, rc = res
            data = load_json(out) if rc == 0 else None
            if isinstance(data, list):
                facts["clusterz"] = [{"id": c.get("id"), "secretName": c.get("secretName", ""),
                                      "syncStatus": c.get("syncStatus")} for c in data if isinstance(c, dict)]
            else:
                facts["clusterz_error"] = "%s: exec pilot-discovery request GET /debug/clusterz in %s/%s: %s" % (
                    client.cluster, ns, pod, (err or out or "exit code %s" % rc).strip()[:300])
        elif read.read_errors:
            facts["clusterz_error"] = read.read_errors[-1].get("message")

    if pod and "networkz" in sections:
        res = read(lambda: client.exec(ns, pod, "discovery", ["pilot-discovery", "request", "GET", "/debug/networkz"],
                                       timeout=opts.get("exec_timeout")), soft=True)
        data = load_json(res[0]) if res is not None and res[2] == 0 else None
        if isinstance(data, list):
            facts["networkz"] = [dict((k, g.get(k)) for k in ("Network", "Cluster", "Addr", "Port", "HBONEPort"))
                                 for g in data if isinstance(g, dict)]

    # the client proxy's endpoints for the probe service
    facts["proxy"] = None
    facts["proxy_note"] = None
    if "proxy" in sections and opts.get("read_proxy") and facts.get("sidecar_pods") is not None:
        pns, sel = parse_probe_client(opts.get("probe_client"))
        cands = [p for p in facts["sidecar_pods"] if p["namespace"] == pns and
                 (selector_matches(p["labels"], sel) if "=" in sel else p["name"] == sel)]
        cands.sort(key=lambda p: (not p["ready"], p["name"]))
        client_from = "probe_client"
        if not cands:
            # A mesh without Istio's samples: ask the proxy of one of its own workloads (not a gateway).
            cands = sorted([p for p in facts["sidecar_pods"] if p["namespace"] != ns and p["ready"]
                            and p["labels"].get("istio") not in GATEWAY_APP_LABELS],
                           key=lambda p: (p["namespace"], p["name"]))
            client_from = "auto"
            facts["proxy_note"] = "no Running injected pod matches %s%s" % (
                opts.get("probe_client"), (": asked %s/%s instead" % (cands[0]["namespace"], cands[0]["name"]))
                if cands else " and no other Ready injected pod runs outside %s" % ns)
        if cands:
            cp = cands[0]
            ref = "%s/%s" % (cp["namespace"], cp["name"])
            before = len(read.read_errors)
            res = read(lambda: client.exec(cp["namespace"], cp["name"], "istio-proxy",
                                           ["pilot-agent", "request", "GET", "clusters?format=json"],
                                           timeout=opts.get("exec_timeout")), soft=True)
            if res is not None:
                out, err, rc = res
                if rc == 0:
                    facts["proxy"] = proxy_endpoint_facts(out, ref, opts.get("probe_service"),
                                                          opts.get("probe_port"), cp["network_env"], ns)
                    facts["proxy"]["client_from"] = client_from
                else:
                    facts["proxy"] = {"pod": ref, "service": _envoy.service_host(opts.get("probe_service")),
                                      "port": opts.get("probe_port"), "network": cp["network_env"],
                                      "error": "%s: exec pilot-agent request GET clusters?format=json in %s: %s" % (
                                          client.cluster, ref, (err or out or "exit code %s" % rc).strip()[:300]),
                                      "endpoints": [], "clusters_seen": 0}
            else:
                msg = read.read_errors[-1]["message"] if len(read.read_errors) > before else \
                    (read.fatal.message if read.fatal else "exec failed")
                facts["proxy"] = {"pod": ref, "service": _envoy.service_host(opts.get("probe_service")),
                                  "port": opts.get("probe_port"), "network": cp["network_env"],
                                  "error": msg, "endpoints": [], "clusters_seen": 0}

    # the probe: each remote secret's server, with its own credentials, from the controller
    mode = opts.get("probe_remote_secrets")
    vouched = istiod_vouches(facts.get("clusterz"), facts.get("istiod_log"))
    for rs in facts["remote_secrets"] or []:
        ref = "%s/%s" % (rs["namespace"], rs["name"])
        for e in rs["entries"]:
            raw = configs.get((rs["namespace"], rs["name"], e["key"]))
            if raw is None or not _should_probe(mode, e, ref, vouched, has_istiod=bool(facts.get("istiod"))):
                continue
            timeout = float(opts.get("probe_timeout") or 5)
            left = _time_left(client)
            if left is not None and left <= 0.1:
                continue   # past the gather deadline: not probed (the entry's probe stays null)
            config, _error = _kubeconfig.load(raw)
            ok, err, n = probe_kubeconfig(config, "%s (remote secret %s key %s)" % (e["server"], ref, e["key"]),
                                          timeout=timeout if left is None else min(timeout, left), allowlist=allow,
                                          istio_version=istiod_now.get("version"))
            facts["probe_requests"] += n
            e["probe"] = {"ok": ok, "tried_from": "controller", "error": err,
                          "cluster": e.get("server_cluster"), "server": e["server"]}
    configs.clear()

    if read.fatal is not None:
        facts["error"] = read.fatal.message
        facts["error_kind"] = read.fatal.kind
    facts["read_errors"] = read.read_errors + (facts.get("read_errors") or [])
    facts["sections"] = sorted(sections)
    facts["requests"] = client.requests - base_requests
    facts["duration_s"] = round(time.time() - started, 3)
    return facts
