"""One real cluster on 127.0.N.1: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok from
the binaries reallab/build.py makes, and (for a primary) a real istiod as a local process whose injection and
validation webhooks the real API server calls. The library behind `python -m meshlab up --real`
(reallab/lab.py); the steps and their measured cost are in reallab/SPIKE.md.

Every wait has a deadline; a component that dies or misses its deadline raises ComponentError naming the cluster
and the component with the tail of its log. Processes run in their own process groups and are SIGKILLed at
teardown (all state is disposable; kube-apiserver takes ~10 s to stop gracefully).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import build

HERE = Path(__file__).resolve().parent

# Ports are the well-known ones; each cluster has its own loopback address, so they never collide.
ETCD, ETCD_PEER, APISERVER, KCM, SCHEDULER, KWOK = 2379, 2380, 6443, 10257, 10259, 10250
ISTIOD_HTTP, ISTIOD_WEBHOOK, ISTIOD_GRPC, ISTIOD_GRPC_TLS, ISTIOD_MONITOR = 8080, 15017, 15010, 15012, 15014


class ComponentError(RuntimeError):
    """A real component failed: the message names cluster, component and the tail of its log."""


def log_tail(path: Path, n: int = 2500) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


def deadline_wait(what: str, probe, timeout: float, alive=None) -> float:
    """Poll probe() until true; alive() raises when the component died. Returns the seconds it took."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        if alive:
            alive()
        try:
            if probe():
                return time.monotonic() - t0
        except Exception as e:  # noqa: BLE001 - a probe fails in many ways while a server starts
            last = e
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s (last error: {last})")


def run(cmd: list[str], input: str | None = None, timeout: float = 60, check: bool = True,
        env: dict | None = None) -> subprocess.CompletedProcess:
    try:
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise ComponentError(f"{' '.join(cmd[:4])}... did not finish in {timeout}s") from e
    if check and p.returncode != 0:
        raise ComponentError(f"{' '.join(cmd[:6])}... failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    return p


# ---------------------------------------------------------------- PKI (openssl CLI)

def _ssl(*args: str) -> None:
    run(["openssl", *args], timeout=30)


def make_ca(pki: Path, cn: str = "reallab-ca") -> None:
    if not (pki / "ca.crt").exists():
        _ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"), "-days", "3650", "-subj", f"/CN={cn}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def make_cert(pki: Path, name: str, cn: str, sans: list[str]) -> None:
    if (pki / f"{name}.crt").exists():
        return
    ext = pki / f"{name}.ext"
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                   f"extendedKeyUsage=serverAuth\nsubjectAltName={','.join(sans)}\n")
    _ssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(pki / f"{name}.key"), "-out", str(pki / f"{name}.csr"), "-subj", f"/CN={cn}")
    _ssl("x509", "-req", "-in", str(pki / f"{name}.csr"), "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
         "-CAcreateserial", "-out", str(pki / f"{name}.crt"), "-days", "3650", "-extfile", str(ext))


def make_sa_keys(pki: Path) -> None:
    if not (pki / "sa.key").exists():
        _ssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(pki / "sa.key"))
        _ssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))


# ---------------------------------------------------------------- processes

class Procs:
    """Processes of one cluster, each in its own process group, stdout+stderr to logs/<name>.log."""

    def __init__(self, cluster: str, logs: Path):
        self.cluster = cluster
        self.logs = logs
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, cmd: list[str], env: dict | None = None, cwd: Path | None = None,
              stdout=None) -> subprocess.Popen:
        out = stdout if stdout is not None else open(self.logs / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                            start_new_session=True)
        if stdout is None:
            out.close()  # the child holds its own copy
        return self.procs[name]

    def alive(self, name: str) -> None:
        p = self.procs[name]
        if p.poll() is not None:
            raise ComponentError(f"cluster {self.cluster}: {name} exited with {p.returncode}; "
                                 f"tail of {self.logs / (name + '.log')}:\n{log_tail(self.logs / (name + '.log'))}")

    def wait(self, name: str, what: str, probe, timeout: float) -> float:
        try:
            return deadline_wait(what, probe, timeout, lambda: self.alive(name))
        except TimeoutError as e:
            raise ComponentError(f"cluster {self.cluster}: {name}: {e}; tail of its log:\n"
                                 f"{log_tail(self.logs / (name + '.log'))}") from None

    def kill_all(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass

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


# ---------------------------------------------------------------- API access (stdlib HTTPS, admin token)

class Api:
    def __init__(self, server: str, ca: Path, token: str):
        self.server = server
        self.token = token
        self.ctx = ssl.create_default_context(cafile=str(ca))

    def request(self, method: str, path: str, body=None, content_type: str = "application/json",
                timeout: float = 10):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ctx) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, {"message": raw.decode(errors="replace")}

    def get(self, path: str):
        st, doc = self.request("GET", path)
        if st != 200:
            raise ComponentError(f"GET {self.server}{path}: {st} {doc.get('message')}")
        return doc


def kubeconfig_doc(entries: list[tuple[str, str, str, str]], current: str) -> dict:
    """entries: (context/cluster name, server, CA PEM, token)."""
    return {"apiVersion": "v1", "kind": "Config", "current-context": current, "preferences": {},
            "clusters": [{"name": n, "cluster": {"server": s, "certificate-authority-data":
                                                 base64.b64encode(ca.encode()).decode()}} for n, s, ca, _ in entries],
            "users": [{"name": f"{n}-admin", "user": {"token": t}} for n, _, _, t in entries],
            "contexts": [{"name": n, "context": {"cluster": n, "user": f"{n}-admin"}} for n, *_ in entries]}


def cri_tee(src, dest_raw: Path, dest_cri: Path) -> threading.Thread:
    """Copy a process's output to its plain log and to a CRI-format log (what kwok serves as the pod's log:
    `<RFC3339Nano> stdout F <line>`; plain text gives `unsupported log format`)."""
    def pump():
        with open(dest_raw, "ab") as raw, open(dest_cri, "ab") as cri:
            for line in iter(src.readline, b""):
                raw.write(line)
                raw.flush()
                ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                cri.write(ts.encode() + b" stdout F " + line.rstrip(b"\n") + b"\n")
                cri.flush()
    t = threading.Thread(target=pump, daemon=True)
    t.start()
    return t


def kwok_module_dir() -> Path:
    """The pinned kwok module in build.py's module cache (its stage definitions are read from there)."""
    d = build.cache_root() / "gomod" / "sigs.k8s.io" / f"kwok@{build.required_version('kwok', 'sigs.k8s.io/kwok')}"
    if not (d / "kustomize/stage").is_dir():
        raise ComponentError(f"kwok module not in the cache ({d}): run reallab/build.py kwok")
    return d


# ---------------------------------------------------------------- one cluster

class RealCluster:
    def __init__(self, index: int, spec: dict, state: Path, bins: dict[str, str], kubectl: str):
        self.index = index
        self.spec = spec
        self.name = spec["name"]
        self.ip = spec.get("address") or f"127.0.{index}.1"
        self.server = f"https://{self.ip}:{APISERVER}"
        self.state = state
        self.pki = state / "pki"
        self.logs = state / "logs"
        for d in (self.pki, self.logs, state / "exec"):
            d.mkdir(parents=True, exist_ok=True)
        self.pki.chmod(0o700)
        self.bins = bins
        self.kubectl_bin = kubectl
        self.procs = Procs(self.name, self.logs)
        self.timings: dict[str, float] = {}
        self.kubeconfig = state / "kubeconfig"
        self.api: Api | None = None
        self.token = ""
        self.istiod_log = self.logs / "istiod.cri.log"

    # -- helpers
    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60, check: bool = True):
        return run([self.kubectl_bin, "--kubeconfig", str(self.kubeconfig), *args], input=input, timeout=timeout,
                   check=check)

    def fail(self, component: str, msg: str) -> ComponentError:
        return ComponentError(f"cluster {self.name}: {component}: {msg}")

    def ca_pem(self) -> str:
        return (self.pki / "ca.crt").read_text()

    # -- control plane
    def start_control_plane(self, kwok_dir: Path, timeout: float = 120) -> None:
        ip, pki, b = self.ip, self.pki, self.bins
        t0 = time.monotonic()
        make_ca(pki)
        make_cert(pki, "apiserver", "kube-apiserver",
                  [f"IP:{ip}", "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
                   "DNS:kubernetes.default.svc.cluster.local", "DNS:localhost"])
        make_cert(pki, "istiod", "istiod", [f"IP:{ip}", "DNS:istiod.istio-system.svc",
                                            "DNS:istiod.istio-system.svc.cluster.local", "DNS:istiod"])
        make_cert(pki, "kwok", "kwok", [f"IP:{ip}"])
        make_sa_keys(pki)
        tokf = pki / "tokens.csv"
        if not tokf.exists():
            tokf.write_text(f'{secrets.token_hex(16)},kubernetes-admin,kubernetes-admin,"system:masters"\n')
        self.token = tokf.read_text().split(",")[0]
        self.kubeconfig.write_text(json.dumps(kubeconfig_doc([(self.name, self.server, self.ca_pem(), self.token)],
                                                             self.name)))
        self.kubeconfig.chmod(0o600)
        self.api = Api(self.server, pki / "ca.crt", self.token)
        self.timings["pki_s"] = round(time.monotonic() - t0, 2)

        self.procs.start("etcd", [b["kube/etcd"], "--name", self.name, "--data-dir", str(self.state / "etcd"),
                                  "--listen-client-urls", f"http://{ip}:{ETCD}",
                                  "--advertise-client-urls", f"http://{ip}:{ETCD}",
                                  "--listen-peer-urls", f"http://{ip}:{ETCD_PEER}",
                                  "--initial-advertise-peer-urls", f"http://{ip}:{ETCD_PEER}",
                                  "--initial-cluster", f"{self.name}=http://{ip}:{ETCD_PEER}", "--log-level", "warn",
                                  "--unsafe-no-fsync", "--quota-backend-bytes", str(1 << 30)])
        self.timings["etcd_s"] = round(self.procs.wait("etcd", "etcd /health", lambda: _http_ok(
            f"http://{ip}:{ETCD}/health", expect=b'"true"'), timeout), 2)
        svc_cidr = self.spec.get("serviceCIDR") or f"10.{100 + self.index}.0.0/16"
        self.procs.start("kube-apiserver", [
            b["kube/kube-apiserver"], f"--etcd-servers=http://{ip}:{ETCD}", f"--bind-address={ip}",
            f"--advertise-address={ip}", f"--secure-port={APISERVER}",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}", f"--token-auth-file={tokf}",
            f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--authorization-mode=RBAC", f"--service-cluster-ip-range={svc_cidr}", "--allow-privileged=true",
            f"--cert-dir={self.state / 'apiserver-certs'}", "--profiling=false", "--enable-priority-and-fairness=false",
            "--endpoint-reconciler-type=none", "--shutdown-delay-duration=0s", "--v=1"])
        self.timings["kube_apiserver_s"] = round(self.procs.wait(
            "kube-apiserver", "kube-apiserver /readyz",
            lambda: _http_ok(f"{self.server}/readyz", self.api.ctx, self.token), timeout), 2)

        self.procs.start("kube-controller-manager", [
            b["kube/kube-controller-manager"], f"--kubeconfig={self.kubeconfig}", f"--bind-address={ip}",
            f"--secure-port={KCM}", f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}", "--leader-elect=false", "--use-service-account-credentials=false",
            "--controllers=*,-nodeipam", f"--cluster-name={self.name}", "--concurrent-deployment-syncs=10",
            "--v=1"])
        self.procs.start("kube-scheduler", [b["kube/kube-scheduler"], f"--kubeconfig={self.kubeconfig}",
                                            f"--bind-address={ip}", f"--secure-port={SCHEDULER}",
                                            "--leader-elect=false", "--v=1"])
        self._start_kwok(kwok_dir)
        self.timings["sa_default_s"] = round(self.procs.wait(
            "kube-controller-manager", "ServiceAccount default/default",
            lambda: self.api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
            timeout), 2)
        # kwok's Exec objects are custom resources: their CRD must exist before kwok watches them
        self.kubectl("apply", "--server-side", "-f", str(kwok_dir / "kustomize/crd/bases/kwok.x-k8s.io_execs.yaml"))
        self.procs.alive("kwok")

    def _start_kwok(self, kwok_dir: Path) -> None:
        """kwok manages Nodes annotated kwok.x-k8s.io/node=fake (Ready, leases, pods Running with IPs from the
        cluster's pod CIDR) and serves the kubelet API on 127.0.N.1:10250: logs of istiod's `discovery`
        container are the real istiod's output; exec in it runs shims (reallab/shims) that talk to the real
        istiod; exec in a pod's istio-proxy is configured per pod by Exec objects (reallab/lab.py)."""
        st = self.state
        stages = [kwok_dir / "kustomize/stage" / f for f in (
            "node/fast/node-initialize.yaml", "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
            "pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml")]
        self.istiod_log.touch()
        (self.logs / "empty.cri.log").touch()
        shim_env = self.shim_env()
        extra = [
            {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterExec", "metadata": {"name": "istiod"},
             "spec": {"selector": {"matchNamespaces": ["istio-system"]},
                      "execs": [{"containers": ["discovery"], "local": {"workDir": str(st / "exec"), "envs": shim_env}},
                                {"local": {"workDir": str(st / "exec"), "envs": shim_env}}]}},
            {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterExec", "metadata": {"name": "local"},
             "spec": {"execs": [{"local": {"workDir": str(st / "exec"), "envs": shim_env}}]}},
            {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterLogs", "metadata": {"name": "istiod"},
             "spec": {"selector": {"matchNamespaces": ["istio-system"]},
                      "logs": [{"containers": ["discovery"], "logsFile": str(self.istiod_log)},
                               {"logsFile": str(self.logs / "empty.cri.log")}]}},
            # port-forward to a pod in istio-system reaches the real istiod (istioctl remote-clusters,
            # proxy-status and the like port-forward to the istiod pod)
            {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterPortForward", "metadata": {"name": "istiod"},
             "spec": {"selector": {"matchNamespaces": ["istio-system"]},
                      "forwards": [{"ports": [p], "target": {"port": p, "address": self.ip}} for p in (
                          ISTIOD_HTTP, ISTIOD_GRPC, ISTIOD_GRPC_TLS, ISTIOD_MONITOR, ISTIOD_WEBHOOK)]}},
            {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterLogs", "metadata": {"name": "local"},
             "spec": {"logs": [{"logsFile": str(self.logs / "empty.cri.log")}]}},
        ]
        (st / "kwok.yaml").write_text("\n---\n".join([*(f.read_text() for f in stages),
                                                       *(json.dumps(d) for d in extra)]))
        cidr = self.spec.get("podCIDR") or f"10.{10 + self.index}.0.0/16"
        net, bits = cidr.split("/")
        first = net.rsplit(".", 1)[0] + "." + str(int(net.rsplit(".", 1)[1]) + 1)
        self.procs.start("kwok", [
            self.bins["kwok/kwok"], f"--kubeconfig={self.kubeconfig}", f"--config={st / 'kwok.yaml'}",
            "--node-lease-duration-seconds=40", "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake", "--enable-crds=Exec",
            f"--cidr={first}/{bits}", f"--node-ip={self.ip}", f"--node-port={KWOK}",
            f"--server-address={self.ip}:{KWOK}", f"--tls-cert-file={self.pki / 'kwok.crt'}",
            f"--tls-private-key-file={self.pki / 'kwok.key'}"],
            # kwok resolves an exec's command on its own PATH (the Exec's envs reach only the child)
            env=dict(os.environ, PATH=f"{HERE / 'shims'}:{os.environ.get('PATH', '/usr/bin:/bin')}"))

    def shim_env(self, **extra: str) -> list[dict]:
        env = {"PATH": f"{HERE / 'shims'}:/usr/bin:/bin", "REALLAB_PYTHON": sys.executable,
               "REALLAB_ISTIOD": f"{self.ip}:{ISTIOD_MONITOR}", "REALLAB_XDS": f"{self.ip}:{ISTIOD_GRPC}",
               "REALLAB_XDSPROBE": self.bins.get("istio-new/xdsprobe", ""),
               "REALLAB_KUBECONFIG": str(self.kubeconfig), "PYTHONPATH": str(HERE.parent), **extra}
        return [{"name": k, "value": v} for k, v in env.items()]

    def add_nodes(self, nodes: list[dict], timeout: float = 60) -> None:
        t0 = time.monotonic()
        self.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes}))

        def ready():
            items = self.api.get("/api/v1/nodes")["items"]
            return len(items) == len(nodes) and all(
                any(c["type"] == "Ready" and c["status"] == "True" for c in (i.get("status") or {}).get("conditions") or [])
                for i in items)
        self.procs.wait("kwok", f"{len(nodes)} Node(s) Ready", ready, timeout)
        self.timings["nodes_ready_s"] = round(time.monotonic() - t0, 2)

    # -- istiod
    def start_istiod(self, env_from_deployment: dict[str, str], cacerts: dict[str, bytes] | None,
                     timeout: float = 120) -> None:
        ip, st = self.ip, self.state
        idir = st / "istiod"
        idir.mkdir(exist_ok=True)
        cert, ca = self.pki / "istiod.crt", self.pki / "ca.crt"
        if cacerts:
            # istiod reads a plug-in CA from ROOT_CA_DIR (./etc/cacerts in its working directory), as from
            # the mounted Secret cacerts in a real install
            d = idir / "etc/cacerts"
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o700)
            for k, v in cacerts.items():
                (d / k).write_bytes(v)
            cert, ca = self._mesh_signed_istiod_cert(d) or (cert, ca)
        self.webhook_ca = ca
        env = dict(os.environ)
        env.update({k: v for k, v in env_from_deployment.items() if k not in ("KUBECONFIG",)})
        env.update(POD_NAME="istiod-local", POD_NAMESPACE="istio-system", REVISION="default",
                   CLUSTER_ID=env_from_deployment.get("CLUSTER_ID") or self.name, JWT_POLICY="third-party-jwt",
                   PILOT_CERT_PROVIDER="istiod", ISTIOD_ADDR=f"{ip}:{ISTIOD_GRPC_TLS}",
                   KUBECONFIG=str(self.kubeconfig),
                   # the webhooks are registered by the lab with a url to this process; istiod must not
                   # rewrite their caBundle with its own CA
                   INJECTION_WEBHOOK_CONFIG_NAME="", VALIDATION_WEBHOOK_CONFIG_NAME="",
                   PLATFORM="", EXTERNAL_ISTIOD="false", ISTIO_MULTIROOT_MESH="false")
        t0 = time.monotonic()
        p = self.procs.start("istiod", [
            self.bins["istio-new/pilot-discovery"], "discovery", f"--kubeconfig={self.kubeconfig}",
            f"--httpAddr={ip}:{ISTIOD_HTTP}", f"--httpsAddr={ip}:{ISTIOD_WEBHOOK}", f"--grpcAddr={ip}:{ISTIOD_GRPC}",
            f"--secureGRPCAddr={ip}:{ISTIOD_GRPC_TLS}", f"--monitoringAddr={ip}:{ISTIOD_MONITOR}",
            f"--ctrlz_address={ip}", "--ctrlz_port=9876", "--domain=cluster.local",
            f"--clusterID={env['CLUSTER_ID']}", f"--tlsCertFile={cert}",
            f"--tlsKeyFile={self.pki / 'istiod.key'}", f"--caCertFile={ca}",
            "--log_output_level=default:info", "--keepaliveMaxServerConnectionAge=30m"],
            env=env, cwd=idir, stdout=subprocess.PIPE)
        cri_tee(p.stdout, self.logs / "istiod.log", self.istiod_log)
        self.timings["istiod_ready_s"] = round(self.procs.wait(
            "istiod", "istiod /ready", lambda: _http_ok(f"http://{ip}:{ISTIOD_HTTP}/ready"), timeout), 2)

    def _mesh_signed_istiod_cert(self, cacerts: Path) -> tuple[Path, Path] | None:
        """istiod's serving certificate (with this cluster's IP, which the webhooks' url names) signed by the
        plug-in CA, as istiod signs its own in a real install: istiod distributes the root of the files it is
        given (ConfigMap istio-ca-root-cert), so a lab-signed certificate would show a root the mesh does not
        use. None when the plug-in CA cannot sign (a broken chain is a scenario's fault; then the lab CA)."""
        need = [cacerts / n for n in ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem")]
        if not all(p.exists() for p in need):
            return None
        ok = subprocess.run(["openssl", "verify", "-CAfile", str(cacerts / "root-cert.pem"),
                             "-untrusted", str(cacerts / "cert-chain.pem"), str(cacerts / "ca-cert.pem")],
                            capture_output=True, timeout=30).returncode == 0
        if not ok:
            return None
        leaf = self.pki / "istiod-mesh.crt"
        csr = self.pki / "istiod.csr"
        try:
            _ssl("x509", "-req", "-in", str(csr), "-CA", str(cacerts / "ca-cert.pem"), "-CAkey",
                 str(cacerts / "ca-key.pem"), "-CAcreateserial", "-out", str(leaf), "-days", "30",
                 "-extfile", str(self.pki / "istiod.ext"))
        except ComponentError:
            return None
        chain = self.pki / "istiod-mesh-chain.crt"
        chain.write_bytes(leaf.read_bytes() + (cacerts / "cert-chain.pem").read_bytes())
        return chain, cacerts / "root-cert.pem"

    def register_webhooks(self, cluster_id: str, network: str) -> None:
        ca = base64.b64encode(Path(getattr(self, "webhook_ca", self.pki / "ca.crt")).read_bytes()).decode()
        path = f"/inject/cluster/{cluster_id}/net/{network}" if network else f"/inject/cluster/{cluster_id}"
        inject = {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "istio-sidecar-injector",
                         "labels": {"app": "sidecar-injector", "istio.io/rev": "default"}},
            "webhooks": [{
                "name": name, "clientConfig": {"url": f"https://{self.ip}:{ISTIOD_WEBHOOK}{path}", "caBundle": ca},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
                "namespaceSelector": ns_sel, "objectSelector": obj_sel,
                "sideEffects": "None", "admissionReviewVersions": ["v1beta1", "v1"], "failurePolicy": "Fail",
                "reinvocationPolicy": "Never", "timeoutSeconds": 10}
                for name, ns_sel, obj_sel in INJECTION_SELECTORS]}
        validate = {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "istio-validator-istio-system", "labels": {"app": "istiod", "istio.io/rev": "default"}},
            "webhooks": [{
                "name": "rev.validation.istio.io",
                "clientConfig": {"url": f"https://{self.ip}:{ISTIOD_WEBHOOK}/validate", "caBundle": ca},
                "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [
                    "security.istio.io", "networking.istio.io", "telemetry.istio.io", "extensions.istio.io"],
                    "apiVersions": ["*"], "resources": ["*"]}],
                "failurePolicy": "Ignore", "sideEffects": "None", "admissionReviewVersions": ["v1beta1", "v1"],
                "timeoutSeconds": 10}]}
        self.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                           "items": [inject, validate]}))

    def stop(self) -> None:
        self.procs.kill_all()


# The selectors of istiod's chart (istio-sidecar-injector webhooks for the default revision): namespace
# label istio-injection=enabled, or pod label sidecar.istio.io/inject=true in a namespace without the label.
INJECTION_SELECTORS = [
    ("namespace.sidecar-injector.istio.io",
     {"matchExpressions": [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]},
     {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}]}),
    ("object.sidecar-injector.istio.io",
     {"matchExpressions": [{"key": "istio-injection", "operator": "DoesNotExist"},
                           {"key": "istio.io/rev", "operator": "DoesNotExist"}]},
     {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "In", "values": ["true"]},
                           {"key": "istio.io/rev", "operator": "DoesNotExist"}]}),
]


def _http_ok(url: str, ctx: ssl.SSLContext | None = None, token: str | None = None, expect: bytes = b"") -> bool:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=2, context=ctx) as r:
        return r.status == 200 and expect in r.read()
