"""A meshlab scenario on real components: `python -m meshlab up SCENARIO --real --state-dir DIR`.

The same contract as meshlab (DESIGN.md section 4): DIR/kubeconfig (one context per cluster), DIR/inventory.yml,
then DIR/ready; serves until SIGINT/SIGTERM and then kills every process it started. Per cluster of lab.yaml:
real etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (reallab/cluster.py) on 127.0.N.1,
Nodes with lab.yaml's kubelet versions and localities; per primary (a cluster whose scenario holds the istiod
Deployment) a real istiod (pilot-discovery) whose webhooks the API server calls, so injection is Istio's own.

What the scenario holds is applied as it is, except what only a real install can make:
- the injection template: the `config` of ConfigMap istio-sidecar-injector comes from the real istioctl's
  rendering (cached per istio build); its `values` are the rendering's, overridden by the scenario's;
- remote secrets (`meshlab.io/remote-secret-for`): the real `istioctl create-remote-secret --name PEER` against
  the peer, then the scenario's faults (data key, loopback server, token, CA) edited into it;
- istiod's CustomResourceDefinitions and Deployment come from the scenario (the Deployment's pod is run by kwok;
  its `discovery` container's log is the real istiod's output and exec in it reaches that istiod);
- LoadBalancer addresses: a stand-in controller writes Service status from lab.yaml's `loadBalancer.pool`.

Scenarios the real stack cannot express raise Unsupported with the reason (see UNSUPPORTED_REASONS).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import sys
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from meshlab import scenario as _scenario
from meshlab.controllers import KUBELET_VERSION, lb_ingress
from meshlab.lab import cluster_host

from . import build
from . import cluster as rc

MAX_CLUSTERS = 3


class Unsupported(Exception):
    """The scenario needs something the real lab cannot do here (the reason says what)."""


def log(msg: str) -> None:
    print(f"reallab: {msg}", file=sys.stderr, flush=True)


def unsupported_reason(spec: dict, directory: str) -> str | None:
    """Why this scenario cannot run on real components, or None."""
    clusters = spec.get("clusters") or []
    if len(clusters) > MAX_CLUSTERS:
        return f"{len(clusters)} clusters: the real lab runs at most {MAX_CLUSTERS} (≈0.9 GiB and 2 cores each start)"
    if spec.get("firewall"):
        return "data-plane firewall rules: no traffic flows between real pods (kwok pods run nothing)"
    text = ""
    for dp, _, fns in os.walk(directory):
        for fn in fns:
            if fn.endswith((".yaml", ".yml")):
                text += Path(dp, fn).read_text(errors="replace")
    if "meshlab.io/pilot-address-of" in text:
        return ("primary-remote: a remote cluster's proxies reach the primary's istiod through the east-west "
                "gateway, which needs a real data plane")
    for c in clusters:
        if _istiod_deployment(directory, c["name"]):
            continue
        if any(d.get("kind") in ("Service", "ConfigMap") and (d.get("metadata") or {}).get("name") in (
                "istiod", "istiod-remote", "istio-sidecar-injector")
               for _, d in _scenario.manifests(directory, c["name"])):
            return (f"{c['name']} is a remote cluster (Istio config, no istiod): its injection and proxies need "
                    "the primary's istiod reachable through the east-west gateway, a real data plane")
    for c in clusters:
        dep = _istiod_deployment(directory, c["name"])
        if dep:
            image = (dep["spec"]["template"]["spec"]["containers"][0].get("image") or "")
            tag = image.rsplit(":", 1)[-1]
            m = re.match(r"(\d+)\.(\d+)", tag)
            if m and (int(m.group(1)), int(m.group(2))) < (1, 30):
                return (f"istiod {tag} in {c['name']}: the Go module proxy serves no Istio release, only "
                        "1.31 development snapshots (reallab/SPIKE.md, Blockers)")
    return None


def _istiod_deployment(directory: str, name: str) -> dict | None:
    for _, d in _scenario.manifests(directory, name):
        if d.get("kind") == "Deployment" and d["metadata"].get("name") == "istiod" \
                and d["metadata"].get("namespace") == "istio-system":
            return d
    return None


# ---------------------------------------------------------------- istioctl rendering, cached

def rendered_install(bins: dict[str, str]) -> dict:
    """What a real install of this istio build creates that the scenario (written for 1.30) cannot supply, as
    the real istioctl renders it (≈6 s, cached beside the binary):
    - `config` and `values` of ConfigMap istio-sidecar-injector (the injection template of this istiod);
    - `reader_rules`: ClusterRole istio-reader-clusterrole-istio-system's rules. 1.31's istiod also watches the
      remote cluster's ConfigMap `istio` (a mesh watcher per remote cluster): with 1.30's role a remote
      cluster never syncs ("configmaps is forbidden" watch errors)."""
    istioctl = Path(bins["istio-new/istioctl"])
    cache = istioctl.parent / "rendered-install.json"
    if not cache.exists():
        out = rc.run([str(istioctl), "manifest", "generate", "--set", "values.global.meshID=mesh1",
                      "--set", "values.global.multiCluster.clusterName=cluster1",
                      "--set", "values.global.network=network1"], timeout=120).stdout
        got = {}
        for doc in yaml.safe_load_all(out):
            if not doc:
                continue
            name = doc["metadata"]["name"]
            if doc["kind"] == "ConfigMap" and name == "istio-sidecar-injector":
                got["config"], got["values"] = doc["data"]["config"], json.loads(doc["data"]["values"])
            if doc["kind"] == "ClusterRole" and name == "istio-reader-clusterrole-istio-system":
                got["reader_rules"] = doc["rules"]
        if set(got) != {"config", "values", "reader_rules"}:
            raise rc.ComponentError(f"istioctl manifest generate: missing {sorted({'config', 'values', 'reader_rules'} - set(got))}")
        tmp = cache.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(got))
        tmp.rename(cache)
    return json.loads(cache.read_text())


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# ---------------------------------------------------------------- the lab

def node_objects(spec: dict) -> list[dict]:
    """lab.yaml's Nodes as meshlab names and labels them, annotated for kwok (which makes them Ready)."""
    from meshlab.lab import Cluster
    name = spec["name"]
    out = []
    for i in range(int(spec.get("nodes", 1) or 0)):
        node = f"{name}-node-{i + 1}"
        labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  "kubernetes.io/hostname": node, "kubernetes.io/os": "linux", "type": "kwok"}
        if i == 0:
            labels["node-role.kubernetes.io/control-plane"] = ""
        for k, v in (("region", spec.get("region")), ("zone", spec.get("zone"))):
            if v:
                labels[f"topology.kubernetes.io/{k}"] = v
        version = Cluster.kubelet_version(types.SimpleNamespace(spec=spec), i) or KUBELET_VERSION
        out.append({"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": node, "labels": labels,
                                 "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}},
                    "spec": {},
                    "status": {"allocatable": {"cpu": "8", "memory": "32768Mi", "pods": "110"},
                               "capacity": {"cpu": "8", "memory": "32768Mi", "pods": "110"},
                               "nodeInfo": {"kubeletVersion": version, "kubeProxyVersion": "", "architecture": "amd64",
                                            "operatingSystem": "linux", "containerRuntimeVersion": "containerd://2.1.1",
                                            "osImage": "Debian GNU/Linux 12 (bookworm)", "kernelVersion": "6.8.0",
                                            "machineID": node, "systemUUID": node, "bootID": node}}})
    return out


def _strip_lab_annotations(obj: dict) -> dict:
    md = obj.get("metadata") or {}
    ann = {k: v for k, v in (md.get("annotations") or {}).items() if not k.startswith("meshlab.io/")}
    if md.get("annotations") is not None:
        md["annotations"] = ann or None
        if not ann:
            md.pop("annotations")
    return obj


class RealLab:
    def __init__(self, scenario_dir: str, state_dir: str):
        self.dir = scenario_dir
        self.state = Path(state_dir).resolve()
        self.spec = _scenario.load_spec(scenario_dir)
        self.clusters: dict[str, rc.RealCluster] = {}
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.timings: dict[str, float] = {}
        self.errors: list[str] = []

    # -- start
    def up(self, timeout: float = 300) -> None:
        reason = unsupported_reason(self.spec, self.dir)
        if reason:
            raise Unsupported(reason)
        t_all = time.monotonic()
        t0 = time.monotonic()
        bins = build.build(build.DEFAULT_GROUPS, build.cache_root(), quiet=True)
        self.timings["build_check_s"] = round(time.monotonic() - t0, 2)
        kubectl = os.environ.get("MESHMEND_KUBECTL") or _which("kubectl")
        kwok_dir = rc.kwok_module_dir()
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / "ready").unlink(missing_ok=True)
        for i, spec in enumerate(self.spec["clusters"]):
            self.clusters[spec["name"]] = rc.RealCluster(
                i + 1, dict(spec, address=spec.get("address") or cluster_host(i + 1)),
                self.state / spec["name"], bins, kubectl)
        pool = ThreadPoolExecutor(max_workers=len(self.clusters))
        t0 = time.monotonic()
        list(pool.map(lambda c: (c.start_control_plane(kwok_dir, timeout=timeout / 2),
                                 c.add_nodes(node_objects(c.spec))), self.clusters.values()))
        self.timings["control_planes_s"] = round(time.monotonic() - t0, 2)
        rendered = rendered_install(bins)
        t0 = time.monotonic()
        list(pool.map(lambda c: self._install(c, rendered, timeout), self.clusters.values()))
        self.timings["scenario_apply_s"] = round(time.monotonic() - t0, 2)
        t0 = time.monotonic()
        self._remote_secrets()
        self.timings["remote_secrets_s"] = round(time.monotonic() - t0, 2)
        for target in (self._lb_controller, self._exec_controller):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self.threads.append(t)
        t0 = time.monotonic()
        list(pool.map(lambda c: self._settle(c, timeout / 2), self.clusters.values()))
        self.timings["settle_s"] = round(time.monotonic() - t0, 2)
        pool.shutdown()
        self.timings["total_s"] = round(time.monotonic() - t_all, 2)
        self._write_state()

    def _objects(self, c: rc.RealCluster) -> list[dict]:
        docs = _scenario.manifests(self.dir, c.name)
        docs = sorted(enumerate(docs), key=lambda t: (_scenario.RANK.get(t[1][1]["kind"], len(_scenario.ORDER)), t[0]))
        return [d for _, (_, d) in docs]

    def _install(self, c: rc.RealCluster, rendered: dict, timeout: float) -> None:
        objs = self._objects(c)
        self.remote_secret_specs = getattr(self, "remote_secret_specs", {})
        first, rest, remote = [], [], []
        deployment = None
        cacerts = None
        for o in objs:
            md = o.get("metadata") or {}
            ann = md.get("annotations") or {}
            if o["kind"] == "Secret" and "meshlab.io/remote-secret-for" in ann:
                remote.append(o)
                continue
            if o["kind"] == "ConfigMap" and md.get("name") == "istio-sidecar-injector":
                scen_values = json.loads((o.get("data") or {}).get("values") or "{}")
                o = copy.deepcopy(o)
                o["data"] = {"config": rendered["config"],
                             "values": json.dumps(deep_merge(rendered["values"], scen_values), indent=2)}
            if o["kind"] == "ClusterRole" and md.get("name") == "istio-reader-clusterrole-istio-system":
                o = dict(copy.deepcopy(o), rules=rendered["reader_rules"])
            if o["kind"] == "Deployment" and md.get("name") == "istiod" and md.get("namespace") == "istio-system":
                deployment = o
            if o["kind"] == "Secret" and md.get("name") == "cacerts" and md.get("namespace") == "istio-system":
                cacerts = {k: base64.b64decode(v) for k, v in (o.get("data") or {}).items()}
            _strip_lab_annotations(o)
            # cluster-scoped objects and istio-system first: istiod and its webhooks must serve before any
            # workload is admitted, or its pods would not be injected
            (first if not md.get("namespace") or md.get("namespace") == "istio-system" else rest).append(o)
        self.remote_secret_specs[c.name] = remote
        self._apply(c, first)
        if deployment is not None:
            env = {}
            for ct in deployment["spec"]["template"]["spec"].get("containers") or []:
                for e in ct.get("env") or []:
                    if "value" in e:
                        env[e["name"]] = str(e["value"])
            network = self._network(c, objs)
            c.start_istiod(env, cacerts, timeout=timeout / 2)
            c.register_webhooks(env.get("CLUSTER_ID") or c.name, network)
            c.has_istiod = True
        else:
            c.has_istiod = False
        self._apply(c, rest)

    @staticmethod
    def _network(c: rc.RealCluster, objs: list[dict]) -> str:
        for o in objs:
            if o["kind"] == "ConfigMap" and o["metadata"].get("name") == "istio-sidecar-injector":
                v = json.loads((o.get("data") or {}).get("values") or "{}")
                return ((v.get("global") or {}).get("network")) or ""
        return ""

    def _apply(self, c: rc.RealCluster, objs: list[dict]) -> None:
        if not objs:
            return
        # CRDs must be established before their custom resources are applied: two requests
        crds = [o for o in objs if o["kind"] == "CustomResourceDefinition"]
        others = [o for o in objs if o["kind"] != "CustomResourceDefinition"]
        for group in (crds, others):
            if not group:
                continue
            c.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=meshlab-scenario", "-f", "-",
                      input=json.dumps({"apiVersion": "v1", "kind": "List", "items": group}), timeout=120)
            if group is crds:
                c.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                          *[f"crd/{o['metadata']['name']}" for o in crds], timeout=90)

    def _remote_secrets(self) -> None:
        for name, secrets_ in self.remote_secret_specs.items():
            c = self.clusters[name]
            out = []
            for s in secrets_:
                ann = s["metadata"].get("annotations") or {}
                peer = ann["meshlab.io/remote-secret-for"]
                if peer not in self.clusters:
                    raise Unsupported(f"remote secret for {peer}, which is not a cluster of the scenario")
                out.append(self._remote_secret(c, self.clusters[peer], s))
            if out:
                self._apply(c, out)

    def _remote_secret(self, c: rc.RealCluster, peer: rc.RealCluster, s: dict) -> dict:
        """The real istioctl's remote secret for peer, shaped as the scenario asks (name, namespace, faults)."""
        ann = s["metadata"].get("annotations") or {}
        pname = ann["meshlab.io/remote-secret-for"]
        istioctl = peer.bins["istio-new/istioctl"]
        docs = yaml.safe_load_all(rc.run([istioctl, "create-remote-secret", "--kubeconfig", str(peer.kubeconfig),
                                          "--context", peer.name, "--name", pname], timeout=60).stdout)
        gen = next((d for d in docs if d and d.get("kind") == "Secret"), None)
        if gen is None:
            raise rc.ComponentError(f"cluster {peer.name}: istioctl create-remote-secret printed no Secret")
        kc_text = gen["stringData"][pname]
        kc = yaml.safe_load(kc_text)
        if ann.get("meshlab.io/remote-secret-server") == "loopback":
            kc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{rc.APISERVER}"
        if ann.get("meshlab.io/remote-secret-token") == "invalid":
            kc["users"][0]["user"]["token"] = "invalid-" + hashlib.sha256(pname.encode()).hexdigest()
        if ann.get("meshlab.io/remote-secret-ca") == "other":
            other = self.state / "other-ca"
            other.mkdir(exist_ok=True)
            # another subject too: with the same one Go adds "possibly because of ECDSA verification failure"
            rc.make_ca(other, cn="unrelated-ca")
            kc["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(
                (other / "ca.crt").read_bytes()).decode()
        key = ann.get("meshlab.io/remote-secret-key") or pname
        out = copy.deepcopy(s)
        _strip_lab_annotations(out)
        out["metadata"].setdefault("annotations", {})
        out["metadata"]["annotations"].update(gen["metadata"].get("annotations") or {})
        out["metadata"].setdefault("labels", {}).update(gen["metadata"].get("labels") or {})
        out.pop("stringData", None)
        out["data"] = {**(s.get("data") or {}), key: base64.b64encode(yaml.safe_dump(kc).encode()).decode()}
        return out

    def _settle(self, c: rc.RealCluster, timeout: float) -> None:
        """Wait until every Deployment's pods exist and run (kwok) and every pod in an injected namespace has
        its proxy's Exec object: the state a `kubectl rollout status` would wait for."""
        def settled():
            deps = c.api.get("/apis/apps/v1/deployments")["items"]
            if any((d.get("status") or {}).get("readyReplicas", 0) < (d["spec"].get("replicas") or 0)
                   for d in deps):
                return False
            pods = c.api.get("/api/v1/pods")["items"]
            if any((p.get("status") or {}).get("phase") != "Running" for p in pods
                   if not p["metadata"].get("deletionTimestamp")):
                return False
            want = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods if _proxy_container(p)}
            have = {(e["metadata"]["namespace"], e["metadata"]["name"])
                    for e in c.api.get("/apis/kwok.x-k8s.io/v1alpha1/execs")["items"]}
            return want <= have
        c.procs.wait("kube-controller-manager", "Deployments ready and pods Running", settled, timeout)

    # -- controllers (threads)
    def _lb_controller(self) -> None:
        """Stand-in for a cloud load-balancer controller: Services of type LoadBalancer without a class get the
        next free address of lab.yaml's `loadBalancer.pool` in status (none when the cluster has no pool: the
        address stays pending, as on a cluster without a load-balancer implementation)."""
        import ipaddress
        while not self.stop_event.wait(0.3):
            for c in self.clusters.values():
                lb = c.spec.get("loadBalancer") or {}
                if not lb.get("pool"):
                    continue
                try:
                    svcs = c.api.get("/api/v1/services")["items"]
                except Exception as e:  # noqa: BLE001 - keep serving; a cluster may be stopping
                    self._note(f"{c.name}: lb controller: {e}")
                    continue
                used = {i.get("ip") for s in svcs for i in ((s.get("status") or {}).get("loadBalancer") or {}).get(
                    "ingress") or []}
                used |= {s["metadata"].get("annotations", {}).get("reallab.meshmend/lb-ip") for s in svcs}
                for s in svcs:
                    sp = s.get("spec") or {}
                    if sp.get("type") != "LoadBalancer" or sp.get("loadBalancerClass"):
                        continue
                    if ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
                        continue
                    ip = next((str(a) for a in ipaddress.ip_network(lb["pool"], strict=False).hosts()
                               if str(a) not in used), None)
                    if ip is None:
                        continue
                    used.add(ip)
                    ing = lb_ingress(c.name, c.spec, s["metadata"]["namespace"], s["metadata"]["name"], ip)
                    ing.pop("_ip", None)
                    path = f"/api/v1/namespaces/{s['metadata']['namespace']}/services/{s['metadata']['name']}/status"
                    st, doc = c.api.request("PATCH", path, {"status": {"loadBalancer": {"ingress": [ing]}}},
                                            content_type="application/merge-patch+json")
                    if st != 200:
                        self._note(f"{c.name}: lb controller: PATCH {path}: {st} {doc.get('message')}")

    def _exec_controller(self) -> None:
        """kwok's exec carries no pod identity, so each pod with an istio-proxy gets an Exec object whose
        environment names it: `pilot-agent request GET clusters?format=json` then asks the real istiod (xDS) as
        that pod (reallab/shims/pilot-agent)."""
        while not self.stop_event.wait(0.3):
            for c in self.clusters.values():
                try:
                    pods = c.api.get("/api/v1/pods")["items"]
                    have = {(e["metadata"]["namespace"], e["metadata"]["name"])
                            for e in c.api.get("/apis/kwok.x-k8s.io/v1alpha1/execs")["items"]}
                except Exception as e:  # noqa: BLE001
                    self._note(f"{c.name}: exec controller: {e}")
                    continue
                for p in pods:
                    ns, name = p["metadata"]["namespace"], p["metadata"]["name"]
                    if (ns, name) in have or not _proxy_container(p):
                        continue
                    env = c.shim_env(REALLAB_POD=f"{ns}/{name}")
                    wd = str(c.state / "exec")
                    obj = {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Exec",
                           "metadata": {"name": name, "namespace": ns},
                           "spec": {"execs": [{"containers": ["istio-proxy"], "local": {"workDir": wd, "envs": env}},
                                              {"local": {"workDir": wd, "envs": c.shim_env()}}]}}
                    st, doc = c.api.request("POST", f"/apis/kwok.x-k8s.io/v1alpha1/namespaces/{ns}/execs", obj)
                    if st not in (201, 409):
                        self._note(f"{c.name}: exec controller: {st} {doc.get('message')}")

    def _note(self, msg: str) -> None:
        if msg not in self.errors[-20:]:
            self.errors.append(msg)
            log(msg)

    # -- state files, teardown
    def _write_state(self) -> None:
        from meshlab.cli import _write, inventory_doc
        entries = [(c.name, c.server, c.ca_pem(), c.token) for c in self.clusters.values()]
        doc = rc.kubeconfig_doc(entries, next(iter(self.clusters)))
        for c in self.clusters.values():
            for alias in c.spec.get("contextAliases") or []:
                doc["contexts"].append({"name": alias, "context": {"cluster": c.name, "user": f"{c.name}-admin"}})
        kc = str(self.state / "kubeconfig")
        _write(kc, yaml.safe_dump(doc, sort_keys=False), 0o600)
        lablike = types.SimpleNamespace(clusters={n: types.SimpleNamespace(name=n, spec=c.spec)
                                                  for n, c in self.clusters.items()})
        _write(str(self.state / "inventory.yml"), yaml.safe_dump(inventory_doc(lablike, kc), sort_keys=False,
                                                                  width=1000))
        rss = {n: c.procs.rss_mib() for n, c in self.clusters.items()}
        _write(str(self.state / "ready"), json.dumps({
            "pid": os.getpid(), "scenario": self.dir, "real": True, "startup_seconds": self.timings["total_s"],
            "timings": self.timings, "cluster_timings": {n: c.timings for n, c in self.clusters.items()},
            "rss_mib": rss, "clusters": {n: c.server for n, c in self.clusters.items()}}) + "\n")

    def rss_mib(self) -> dict[str, dict[str, float]]:
        return {n: c.procs.rss_mib() for n, c in self.clusters.items()}

    def check_alive(self) -> None:
        for c in self.clusters.values():
            for name in c.procs.procs:
                c.procs.alive(name)

    def down(self) -> None:
        self.stop_event.set()
        (self.state / "ready").unlink(missing_ok=True)
        for c in self.clusters.values():
            c.stop()


def _proxy_container(pod: dict) -> bool:
    sp = pod.get("spec") or {}
    return any(ct.get("name") == "istio-proxy" for ct in (sp.get("containers") or []) + (sp.get("initContainers") or []))


def _which(name: str) -> str:
    for d in [os.path.dirname(sys.executable), *os.environ.get("PATH", "").split(os.pathsep)]:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    raise rc.ComponentError(f"{name} not found on PATH")


def serve(scenario_dir: str, state_dir: str) -> int:
    """Foreground: start, write DIR/ready, serve until SIGINT/SIGTERM, then kill everything started."""
    import signal
    lab = RealLab(scenario_dir, state_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    try:
        lab.up()
        log(f"{len(lab.clusters)} real clusters up in {lab.timings['total_s']:.1f}s; state in {state_dir}")
        for c in lab.clusters.values():
            log(f"  {c.name} {c.server}")
        while not stop.wait(1):
            lab.check_alive()
        return 0
    except Unsupported as e:
        log(f"cannot run this scenario on real components: {e}")
        return 3
    except (rc.ComponentError, _scenario.ScenarioError) as e:
        log(f"error: {e}")
        return 1
    finally:
        lab.down()
