"""Start a meshlab in a subprocess for tests: `with start_lab(scenario, state_dir) as lab: ...`.

    lab.kubeconfig, lab.inventory, lab.contexts, lab.urls, lab.state_dir
    lab.kubectl("get", "pods", context="cluster1")  -> CompletedProcess (real kubectl, fresh discovery cache)
    lab.ctl("firewall", "deny", "cluster1", "cluster2", "--port", "15443") -> parsed JSON
    lab.stats() -> {cluster: {requests, writes, verbs}}
    lab.stop()
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
KUBECTL = os.path.join(VENV_BIN, "kubectl")
# A unix socket's path is limited to 107 bytes; DIR/control.sock under pytest's temporary directories can
# be longer (xdist's popen-gwN level, long test names). Such a lab is served from a short symlink to DIR.
SOCKET_PATH_MAX = 100


class LabError(Exception):
    pass


class LabProcess:
    def __init__(self, scenario, state_dir, istio=True, timeout=90, python=None, extra_env=None, real=False):
        self.scenario = scenario
        self.real = real  # `meshlab up --real`: the scenario on real kube-apiservers and istiods (reallab/)
        self.state_dir = os.path.abspath(state_dir)
        self.istio = istio
        self.timeout = timeout
        self.python = python or sys.executable
        self.extra_env = extra_env or {}
        self.proc = None
        self.info = {}
        self.home = None
        self._log = None
        self._link = None

    # ---- paths ------------------------------------------------------------------------------------

    @property
    def kubeconfig(self):
        return os.path.join(self.state_dir, "kubeconfig")

    @property
    def inventory(self):
        return os.path.join(self.state_dir, "inventory.yml")

    @property
    def log_path(self):
        return os.path.join(self.state_dir, "lab.log")

    @property
    def contexts(self):
        return list(self.info.get("clusters", {}))

    @property
    def urls(self):
        return dict(self.info.get("clusters", {}))

    @property
    def startup_seconds(self):
        return self.info.get("startup_seconds")

    # ---- lifecycle --------------------------------------------------------------------------------

    def start(self):
        os.makedirs(self.state_dir, exist_ok=True)
        if self._link is None and len(os.path.join(self.state_dir, "control.sock").encode()) > SOCKET_PATH_MAX:
            link = tempfile.mkdtemp(prefix="lab-")
            os.rmdir(link)
            os.symlink(self.state_dir, link)
            self._link, self.state_dir = link, link
        ready = os.path.join(self.state_dir, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        cmd = [self.python, "-m", "meshlab", "up", self.scenario, "--state-dir", self.state_dir]
        if not self.istio:
            cmd.append("--no-istio")
        if self.real:
            cmd.append("--real")
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.extra_env)
        env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LabError("meshlab%s exited with %s before ready:\n%s" % (
                    " --real" if self.real else "", self.proc.returncode, self.log_tail()))
            if os.path.exists(ready):
                try:
                    with open(ready, encoding="utf-8") as f:
                        info = json.load(f)
                except ValueError:
                    info = {}
                if info.get("pid") == self.proc.pid:
                    self.info = info
                    self.home = tempfile.mkdtemp(prefix="meshlab-kubectl-home-")
                    return self
            time.sleep(0.05)
        self.stop()
        raise LabError("meshlab not ready after %ss:\n%s" % (self.timeout, self.log_tail()))

    def log_tail(self, n=40):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.home:
            subprocess.run(["rm", "-rf", self.home], check=False)
            self.home = None
        if self._link and os.path.islink(self._link):
            os.unlink(self._link)  # the symlink only: the lab's files stay where the test put them

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- clients ----------------------------------------------------------------------------------

    def env(self, fresh_home=False):
        home = tempfile.mkdtemp(prefix="meshlab-kubectl-home-") if fresh_home else self.home
        return dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=home or tempfile.gettempdir())

    def kubectl(self, *args, context=None, check=False, input=None, timeout=60):
        cmd = [KUBECTL] + (["--context", context] if context else []) + list(args)
        return subprocess.run(cmd, env=self.env(), capture_output=True, text=True, input=input, timeout=timeout,
                              check=check)

    def ctl(self, *args):
        """`meshlab ctl ARGS` answered in-process over DIR/control.sock (same requests as the CLI)."""
        sys.path.insert(0, ROOT) if ROOT not in sys.path else None
        from meshlab import cli
        a = list(args)
        port = None
        if "--port" in a:
            i = a.index("--port")
            port = int(a[i + 1])
            del a[i:i + 2]
        action, rest = a[0], a[1:]
        routes = {"stats": ("GET", "/stats", None), "reset-stats": ("POST", "/reset-stats", None),
                  "status": ("GET", "/status", None)}
        if action in routes:
            method, path, body = routes[action]
        elif action == "firewall":
            method, path, body = "POST", "/firewall", {"action": rest[0], "from": rest[1], "to": rest[2],
                                                       "port": port}
        elif action == "cluster":
            method, path, body = "POST", "/cluster", {"action": rest[0], "name": rest[1]}
        elif action == "fault":
            method, path, body = "POST", "/fault", {"cluster": rest[0], "args": rest[1:]}
        else:
            return self.ctl_cli(*args)
        status, doc = cli.ctl_request(self.state_dir, method, path, body)
        if status >= 400:
            raise LabError("meshlab ctl %s failed (%s): %s" % (" ".join(args), status, doc.get("message", doc)))
        return doc

    def ctl_cli(self, *args):
        """The same through the real CLI in a subprocess."""
        r = subprocess.run([self.python, "-m", "meshlab", "ctl", "--state-dir", self.state_dir] + list(args),
                           cwd=ROOT, capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PYTHONPATH=ROOT))
        if r.returncode != 0:
            raise LabError("meshlab ctl %s failed (%s): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
        return json.loads(r.stdout) if r.stdout.strip() else {}

    def stats(self):
        return self.ctl("stats")

    def api_client(self, context):
        """A kubernetes.client.ApiClient for one cluster (real HTTPS, CA-verified)."""
        from kubernetes import config
        return config.new_client_from_config(config_file=self.kubeconfig, context=context)


def start_lab(scenario, state_dir, **kw):
    """Start a lab and wait until it serves; use as a context manager or call .stop()."""
    return LabProcess(scenario, state_dir, **kw).start()


def start_generated_lab(base, clusters, **kw):
    """Generate a healthy ``clusters``-cluster mesh under ``base`` (``meshlab generate``) and start it."""
    scenario = os.path.join(str(base), "scenario")
    subprocess.run([sys.executable, "-m", "meshlab", "generate", "--clusters", str(clusters), "--out", scenario],
                   cwd=ROOT, check=True, capture_output=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    return start_lab(scenario, os.path.join(str(base), "state"), **kw)
