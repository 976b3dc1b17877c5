#!/usr/bin/env python3
"""Spike: start one real cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok, istiod) on
127.0.N.1 from the binaries reallab/build.py made, measure each piece's time to ready, and serve until
SIGINT/SIGTERM (then stop every process it started). Python 3.11 stdlib plus the openssl CLI.

    python3 reallab/spike_cluster.py --state-dir /tmp/rl/c1 --index 1 [--istio new|old|none]
        [--node cluster1-node-0=v1.36.0 --node cluster1-node-1=v1.32.0]

Writes STATE/kubeconfig (context clusterN, admin bearer token), STATE/timings.json, STATE/ready (written
last), STATE/logs/<process>.log; private keys stay under STATE/pki (never commit a state directory).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sh(*cmd: str, cwd: Path | None = None, input: str | None = None, check: bool = True) -> str:
    p = subprocess.run(cmd, cwd=cwd, input=input, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr.strip()}")
    return p.stdout


# ---------------------------------------------------------------- PKI (openssl CLI, EC P-256 leaf keys)

def make_ca(pki: Path) -> None:
    if (pki / "ca.crt").exists():
        return
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"), "-days", "3650", "-subj", "/CN=reallab-ca",
       "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def make_cert(pki: Path, name: str, cn: str, sans: list[str], client: bool = False) -> None:
    if (pki / f"{name}.crt").exists():
        return
    ext = pki / f"{name}.ext"
    usage = "clientAuth" if client else "serverAuth"
    ext.write_text(f"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                   f"extendedKeyUsage={usage}\n" + (f"subjectAltName={','.join(sans)}\n" if sans else ""))
    sh("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", str(pki / f"{name}.key"), "-out", str(pki / f"{name}.csr"), "-subj", f"/CN={cn}")
    sh("openssl", "x509", "-req", "-in", str(pki / f"{name}.csr"), "-CA", str(pki / "ca.crt"),
       "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-out", str(pki / f"{name}.crt"), "-days", "3650",
       "-extfile", str(ext))


def make_sa_keys(pki: Path) -> None:
    if not (pki / "sa.key").exists():
        sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(pki / "sa.key"))
        sh("openssl", "pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))


# ---------------------------------------------------------------- processes

class Procs:
    def __init__(self, logs: Path):
        self.logs = logs
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None):
        log = open(self.logs / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                            start_new_session=True)
        return self.procs[name]

    def check(self, name: str) -> None:
        p = self.procs[name]
        if p.poll() is not None:
            tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"{name} exited with {p.returncode}:\n{tail}")

    def stop_all(self) -> None:
        for name, p in reversed(list(self.procs.items())):
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 10
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()

    def rss_mib(self) -> dict[str, float]:
        out = {}
        for name, p in self.procs.items():
            try:
                for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out[name] = round(int(line.split()[1]) / 1024, 1)
            except OSError:
                pass
        return out


def wait_until(what: str, probe, procs: Procs, name: str, timeout: float = 120) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        procs.check(name)
        try:
            if probe():
                print(f"{what}: ready in {time.monotonic() - t0:.2f}s", file=sys.stderr, flush=True)
                return time.monotonic() - t0
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} not ready after {timeout}s")


def http_ok(url: str, ctx: ssl.SSLContext | None = None, token: str | None = None, expect: bytes = b"") -> bool:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=2, context=ctx) as r:
        return r.status == 200 and expect in r.read()


def kubeconfig(path: Path, cluster: str, server: str, ca: Path, token: str) -> None:
    import base64
    ca_b64 = base64.b64encode(ca.read_bytes()).decode()
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": cluster,
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": ca_b64}}],
        "users": [{"name": f"{cluster}-admin", "user": {"token": token}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"{cluster}-admin"}}],
    }, indent=1))
    path.chmod(0o600)


def bins(flat: Path | None = None) -> dict[str, str]:
    if flat:  # a folder with the binaries side by side (istio ones as pilot-discovery-<new|old>)
        names = {"kube/etcd": "etcd", "kube/kube-apiserver": "kube-apiserver", "kube/kubectl": "kubectl",
                 "kube/kube-controller-manager": "kube-controller-manager", "kube/kube-scheduler": "kube-scheduler",
                 "kwok/kwok": "kwok"}
        for w in ("new", "old"):
            for n in ("pilot-discovery", "istioctl", "xdsprobe"):
                names[f"istio-{w}/{n}"] = f"{n}-{w}"
        return {k: str(flat / v) for k, v in names.items()}
    out = subprocess.run([sys.executable, str(HERE / "build.py"), "--paths"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def kwok_module_dir() -> Path:
    env = dict(os.environ, GOMODCACHE=str(cache_root() / "gomod"), GOFLAGS="-mod=mod")
    out = subprocess.run(["go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"], cwd=HERE / "kwok", env=env,
                         check=True, capture_output=True, text=True).stdout.strip()
    return Path(out)


def cache_root() -> Path:
    sys.path.insert(0, str(HERE))
    import build  # noqa: PLC0415 - sibling module
    return build.cache_root()


def node_manifest(name: str, version: str, ip: str, cluster: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                                "type": "kwok", "topology.kubernetes.io/region": f"{cluster}-region",
                                "topology.kubernetes.io/zone": f"{cluster}-zone-a"}},
        "spec": {},
        "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                   "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                   "nodeInfo": {"kubeletVersion": version, "kubeProxyVersion": version, "architecture": "amd64",
                                "operatingSystem": "linux", "containerRuntimeVersion": "containerd://2.1.0",
                                "osImage": "kwok", "kernelVersion": "6.1.0",
                                "machineID": name, "systemUUID": name, "bootID": name}},  # addresses: kwok's node-initialize stage writes InternalIP (--node-ip) and Hostname
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--state-dir", required=True, type=Path)
    ap.add_argument("--index", type=int, default=1, help="N of 127.0.N.1 and clusterN")
    ap.add_argument("--istio", choices=["new", "old", "none"], default="new")
    ap.add_argument("--node", action="append", default=[], help="NAME=KUBELET_VERSION (repeatable)")
    ap.add_argument("--exit-when-ready", action="store_true")
    ap.add_argument("--bins", type=Path, help="use binaries from this folder instead of build.py's cache")
    args = ap.parse_args()

    n = args.index
    ip = f"127.0.{n}.1"
    cluster = f"cluster{n}"
    state: Path = args.state_dir.resolve()
    pki, logs = state / "pki", state / "logs"
    for d in (pki, logs):
        d.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    (state / "ready").unlink(missing_ok=True)
    b = bins(args.bins)
    timings: dict[str, float] = {}
    t_start = time.monotonic()

    t0 = time.monotonic()
    make_ca(pki)
    make_cert(pki, "apiserver", "kube-apiserver",
              [f"IP:{ip}", "IP:10.96.0.1", "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
               "DNS:kubernetes.default.svc.cluster.local"])
    make_cert(pki, "istiod", "istiod",
              [f"IP:{ip}", "DNS:istiod.istio-system.svc", "DNS:istiod.istio-system.svc.cluster.local", "DNS:istiod"])
    make_cert(pki, "kwok", "kwok", [f"IP:{ip}"])
    make_sa_keys(pki)
    tokf = pki / "tokens.csv"
    if not tokf.exists():
        tokf.write_text(f'{secrets.token_hex(16)},kubernetes-admin,kubernetes-admin,"system:masters"\n')
    token = tokf.read_text().split(",")[0]
    timings["pki_s"] = round(time.monotonic() - t0, 2)

    server = f"https://{ip}:6443"
    kcfg = state / "kubeconfig"
    kubeconfig(kcfg, cluster, server, pki / "ca.crt", token)
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    procs = Procs(logs)

    def shutdown(*_a):
        procs.stop_all()
        (state / "ready").unlink(missing_ok=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    try:
        # etcd: one member, no fsync (test data only)
        procs.start("etcd", [b["kube/etcd"], "--name", cluster, "--data-dir", str(state / "etcd"),
                             "--listen-client-urls", f"http://{ip}:2379", "--advertise-client-urls", f"http://{ip}:2379",
                             "--listen-peer-urls", f"http://{ip}:2380", "--initial-advertise-peer-urls", f"http://{ip}:2380",
                             "--initial-cluster", f"{cluster}=http://{ip}:2380", "--log-level", "warn",
                             "--unsafe-no-fsync", "--quota-backend-bytes", str(1 << 30)])
        timings["etcd_s"] = round(wait_until("etcd", lambda: http_ok(f"http://{ip}:2379/health", expect=b'"true"'),
                                             procs, "etcd"), 2)

        t0 = time.monotonic()
        procs.start("kube-apiserver", [
            b["kube/kube-apiserver"], f"--etcd-servers=http://{ip}:2379", f"--bind-address={ip}",
            f"--advertise-address={ip}", "--secure-port=6443",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}", f"--token-auth-file={tokf}",
            f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/16", "--allow-privileged=true",
            f"--cert-dir={state / 'apiserver-certs'}", "--profiling=false", "--enable-priority-and-fairness=false",
            "--endpoint-reconciler-type=none", "--v=1",
        ])
        timings["kube_apiserver_s"] = round(wait_until(
            "kube-apiserver", lambda: http_ok(f"{server}/readyz", ctx, token), procs, "kube-apiserver"), 2)

        kc = [b["kube/kubectl"], "--kubeconfig", str(kcfg)]
        t0 = time.monotonic()
        procs.start("kube-controller-manager", [
            b["kube/kube-controller-manager"], f"--kubeconfig={kcfg}", f"--bind-address={ip}", "--secure-port=10257",
            f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
            "--leader-elect=false", "--use-service-account-credentials=false", "--controllers=*,-nodeipam",
            "--cluster-name=" + cluster, "--v=1",
        ])
        procs.start("kube-scheduler", [
            b["kube/kube-scheduler"], f"--kubeconfig={kcfg}", f"--bind-address={ip}", "--secure-port=10259",
            "--leader-elect=false", "--v=1"])
        # kwok needs Stage objects (its own defaults live in the module, kustomize/stage/...): nodes become
        # Ready and renew leases, pods become Running with an IP from --cidr, deleted pods go away.
        kwok_dir = kwok_module_dir()
        stages = [kwok_dir / "kustomize/stage" / f for f in (
            "node/fast/node-initialize.yaml", "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
            "pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml")]
        # exec and logs through the real apiserver -> kwok's kubelet API: every container's exec runs a local
        # command (cwd STATE/exec), every container's log is STATE/pod-logs/default.log
        (state / "exec").mkdir(exist_ok=True)
        (state / "pod-logs").mkdir(exist_ok=True)
        (state / "pod-logs/default.log").touch()
        local = [json.dumps({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterExec",
                             "metadata": {"name": "local-exec"},
                             "spec": {"execs": [{"local": {"workDir": str(state / "exec")}}]}}),
                 json.dumps({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterLogs",
                             "metadata": {"name": "local-logs"},
                             "spec": {"logs": [{"logsFile": str(state / "pod-logs/default.log")}]}})]
        (state / "kwok-stages.yaml").write_text("\n---\n".join([*(f.read_text() for f in stages), *local]))
        # kwok: manages Nodes annotated kwok.x-k8s.io/node=fake; serves the kubelet API on 127.0.N.1:10250
        procs.start("kwok", [
            b["kwok/kwok"], f"--kubeconfig={kcfg}", f"--config={state / 'kwok-stages.yaml'}",
            "--node-lease-duration-seconds=40", "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--cidr=10.{10 + n}.0.1/16", f"--node-ip={ip}", "--node-port=10250",
            f"--server-address={ip}:10250", f"--tls-cert-file={pki / 'kwok.crt'}",
            f"--tls-private-key-file={pki / 'kwok.key'}"])
        # controller-manager is ready once the default ServiceAccount exists (token controller + SA controller)
        timings["sa_default_s"] = round(wait_until("default ServiceAccount", lambda: subprocess.run(
            [*kc, "get", "sa", "default", "-n", "default"], capture_output=True).returncode == 0,
            procs, "kube-controller-manager"), 2)

        nodes = args.node or [f"{cluster}-node-0=v1.36.0"]
        t0 = time.monotonic()
        docs = [node_manifest(nm.split("=")[0], nm.split("=")[1], ip, cluster) for nm in nodes]
        sh(*kc, "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
        timings["nodes_ready_s"] = round(wait_until("nodes Ready", lambda: all(
            c["status"] == "True" for item in json.loads(sh(*kc, "get", "nodes", "-o", "json"))["items"]
            for c in item["status"].get("conditions", []) if c["type"] == "Ready") and len(
            json.loads(sh(*kc, "get", "nodes", "-o", "json"))["items"]) == len(nodes), procs, "kwok"), 2)

        if args.istio != "none":
            t0 = time.monotonic()
            start_istiod(args.istio, b, state, ip, cluster, kc, procs, timings)

        timings["total_s"] = round(time.monotonic() - t_start, 2)
        (state / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
        (state / "ready").write_text(json.dumps({"pid": os.getpid(), "cluster": cluster, "server": server,
                                                 "timings": timings}) + "\n")
        print(json.dumps(timings), flush=True)
        if args.exit_when_ready:
            shutdown()
        last = 0.0
        while True:
            for name in procs.procs:
                procs.check(name)
            if time.monotonic() - last > 30:
                (state / "rss.json").write_text(json.dumps(procs.rss_mib(), indent=1) + "\n")
                last = time.monotonic()
            time.sleep(1)
    except BaseException:
        procs.stop_all()
        raise


def start_istiod(which: str, b: dict, state: Path, ip: str, cluster: str, kc: list[str], procs: Procs,
                 timings: dict) -> None:
    """Render Istio's manifests with istioctl, apply what istiod needs, run pilot-discovery locally."""
    group = f"istio-{which}"
    istioctl = b[f"{group}/istioctl"]
    network = f"network{cluster.removeprefix('cluster')}"
    t0 = time.monotonic()
    manifest = sh(istioctl, "manifest", "generate", "--set", "values.global.meshID=mesh1",
                  "--set", f"values.global.multiCluster.clusterName={cluster}",
                  "--set", f"values.global.network={network}")
    (state / f"istio-{which}-manifest.yaml").write_text(manifest)
    timings["istioctl_manifest_generate_s"] = round(time.monotonic() - t0, 2)
    t0 = time.monotonic()
    sh(*kc, "create", "namespace", "istio-system", check=False)
    sh(*kc, "label", "namespace", "istio-system", f"topology.istio.io/network={network}", "--overwrite")
    # Everything but the webhooks (registered below with a url to the local istiod) and istiod's own
    # Deployment/PDB/HPA (the process runs here; keep the Deployment object? it would only make kwok pods)
    # top-level kind only: the injector ConfigMap's templates mention HPA/PDB kinds too
    docs = re.split(r"^---\s*$", manifest, flags=re.M)
    skip = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "HorizontalPodAutoscaler",
            "PodDisruptionBudget")
    keep = [d for d in docs if d.strip() and not any(re.search(rf"^kind: {k}\s*$", d, re.M) for k in skip)]
    sh(*kc, "apply", "--server-side", "--force-conflicts", "-f", "-", input="\n---".join(keep))
    timings["istio_apply_s"] = round(time.monotonic() - t0, 2)

    idir = state / f"istiod-{which}"
    idir.mkdir(exist_ok=True)
    env = dict(os.environ, POD_NAME=f"istiod-local-{which}", POD_NAMESPACE="istio-system", REVISION="default",
               CLUSTER_ID=cluster, JWT_POLICY="third-party-jwt", PILOT_CERT_PROVIDER="istiod",
               ISTIOD_ADDR=f"{ip}:15012", PILOT_ENABLE_ANALYSIS="false", KUBECONFIG=str(state / "kubeconfig"),
               INJECTION_WEBHOOK_CONFIG_NAME="istio-sidecar-injector", VALIDATION_WEBHOOK_CONFIG_NAME="",
               PLATFORM="", ENABLE_CA_SERVER="true", EXTERNAL_ISTIOD="false", PILOT_TRACE_SAMPLING="1",
               ISTIO_MULTIROOT_MESH="false")
    t0 = time.monotonic()
    procs.start(f"istiod-{which}", [
        b[f"{group}/pilot-discovery"], "discovery", f"--kubeconfig={state / 'kubeconfig'}",
        f"--httpAddr={ip}:8080", f"--httpsAddr={ip}:15017", f"--grpcAddr={ip}:15010",
        f"--secureGRPCAddr={ip}:15012", f"--monitoringAddr={ip}:15014", f"--ctrlz_address={ip}",
        "--ctrlz_port=9876", "--domain=cluster.local", f"--clusterID={cluster}",
        f"--tlsCertFile={state / 'pki/istiod.crt'}", f"--tlsKeyFile={state / 'pki/istiod.key'}",
        f"--caCertFile={state / 'pki/ca.crt'}", "--log_output_level=default:info",
    ], env=env, cwd=idir)
    timings["istiod_ready_s"] = round(wait_until(
        "istiod", lambda: http_ok(f"http://{ip}:8080/ready"), procs, f"istiod-{which}", timeout=180), 2)
    import base64
    ca_b64 = base64.b64encode((state / "pki/ca.crt").read_bytes()).decode()
    webhook = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "istio-sidecar-injector", "labels": {"app": "sidecar-injector", "istio.io/rev": "default"}},
        "webhooks": [{
            "name": "namespace.sidecar-injector.istio.io",
            "clientConfig": {"url": f"https://{ip}:15017/inject/cluster/{cluster}/net/network{cluster.removeprefix('cluster')}",
                             "caBundle": ca_b64},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            "namespaceSelector": {"matchExpressions": [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]},
            "objectSelector": {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}]},
            "sideEffects": "None", "admissionReviewVersions": ["v1"], "failurePolicy": "Fail", "reinvocationPolicy": "Never",
        }],
    }
    sh(*kc, "apply", "-f", "-", input=json.dumps(webhook))


if __name__ == "__main__":
    sys.exit(main())
