"""python -m meshlab up|list|generate|ctl (DESIGN.md section 4)."""
import argparse
import asyncio
import base64
import http.client
import json
import os
import signal
import socket
import sys
import time

import yaml


def log(msg):
    print("meshlab: %s" % msg, file=sys.stderr, flush=True)


# ---- state files ---------------------------------------------------------------------------------

def kubeconfig_doc(lab):
    clusters, users, contexts = [], [], []
    for c in lab.clusters.values():
        clusters.append({"name": c.name, "cluster": {
            "certificate-authority-data": base64.b64encode(c.ca_pem).decode(), "server": c.url}})
        users.append({"name": "%s-admin" % c.name, "user": {"token": c.admin_token}})
        contexts.append({"name": c.name, "context": {"cluster": c.name, "user": "%s-admin" % c.name}})
        for alias in c.spec.get("contextAliases") or []:
            # another name for the same API server, as kubeconfigs merged from several tools have
            # (say prod-east and the EKS ARN of that cluster)
            contexts.append({"name": alias, "context": {"cluster": c.name, "user": "%s-admin" % c.name}})
    return {"apiVersion": "v1", "kind": "Config", "clusters": clusters, "contexts": contexts,
            "current-context": next(iter(lab.clusters)), "preferences": {}, "users": users}


def inventory_doc(lab, kubeconfig):
    hosts = {}
    for c in lab.clusters.values():
        hosts[c.name] = {"ansible_connection": "local",
                         "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                         "kube_context": c.name, "kubeconfig": kubeconfig}
        if c.spec.get("eastwestGatewayIP"):
            # What an operator would put in the inventory for a cluster without LoadBalancer support.
            hosts[c.name]["meshmend_eastwest_gateway_ip"] = str(c.spec["eastwestGatewayIP"])
        for alias in c.spec.get("contextAliases") or []:
            hosts[alias] = dict(hosts[c.name], kube_context=alias)
    return {"all": {"hosts": hosts}}


def _write(path, text, mode=0o644):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# ---- up --------------------------------------------------------------------------------------------

def install_istio(lab):
    """meshlab/istio gives the lab Istio's behaviour through its install(lab), when present."""
    try:
        from . import istio
    except ImportError as e:
        log("istio model not available (%s); plain Kubernetes only" % e)
        return
    install = getattr(istio, "install", None)
    if install is not None:
        install(lab)


async def serve(scenario_dir, state_dir, istio=True):
    from .lab import Lab
    from .scenario import load_spec, apply
    from .server import ApiServer
    from .control import ControlServer

    t0 = time.monotonic()
    spec = load_spec(scenario_dir)
    lab = Lab(spec, log=log)
    lab.state_dir = state_dir
    lab.scenario_dir = scenario_dir
    if istio:
        install_istio(lab)
    lab.servers = {}
    for c in lab.clusters.values():
        srv = ApiServer(c)
        lab.servers[c.name] = srv
        await srv.start()
    n = apply(lab, scenario_dir)
    for hook in lab.hooks.on_ready:
        try:
            hook(lab)
        except Exception as e:  # the lab still serves; the error names the hook
            import traceback
            log("error: on_ready hook %s failed: %r" % (getattr(hook, "__qualname__", hook), e))
            traceback.print_exc()
    os.makedirs(state_dir, exist_ok=True)
    for f in ("ready",):
        try:
            os.unlink(os.path.join(state_dir, f))
        except FileNotFoundError:
            pass
    kc = os.path.abspath(os.path.join(state_dir, "kubeconfig"))
    _write(kc, yaml.safe_dump(kubeconfig_doc(lab), sort_keys=False), 0o600)
    _write(os.path.join(state_dir, "inventory.yml"),
           yaml.safe_dump(inventory_doc(lab, kc), sort_keys=False, width=1000))
    ctl = ControlServer(lab, os.path.join(state_dir, "control.sock"))
    await ctl.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    elapsed = time.monotonic() - t0
    _write(os.path.join(state_dir, "ready"), json.dumps({
        "pid": os.getpid(), "scenario": scenario_dir, "startup_seconds": round(elapsed, 3),
        "clusters": {c.name: c.url for c in lab.clusters.values()}}) + "\n")
    log("%d clusters up in %.2fs (%d objects from %s); state in %s"
        % (len(lab.clusters), elapsed, n, scenario_dir, state_dir))
    for c in lab.clusters.values():
        log("  %s %s" % (c.name, c.url))
    await stop.wait()
    log("stopping")
    try:
        os.unlink(os.path.join(state_dir, "ready"))
    except FileNotFoundError:
        pass
    await ctl.stop()
    for srv in lab.servers.values():
        await srv.stop()


def cmd_up(args):
    from .scenario import resolve, ScenarioError
    try:
        d = resolve(args.scenario)
    except ScenarioError as e:
        log("error: %s" % e)
        return 2
    if args.real:
        # real etcd/kube-apiserver/kwok/istiod built from reallab/'s pinned Go modules (reallab/lab.py)
        if args.no_istio:
            log("error: --real runs the real istiod; --no-istio is meshlab's")
            return 2
        from reallab.lab import serve as serve_real
        return serve_real(d, args.state_dir)
    try:
        asyncio.run(serve(d, args.state_dir, istio=not args.no_istio))
    except ScenarioError as e:
        log("error: %s" % e)
        return 2
    except OSError as e:
        log("error: cannot serve: %s" % e)
        return 1
    return 0


def cmd_list(args):
    from .scenario import bundled
    items = bundled()
    w = max([len(n) for n, _ in items] + [4])
    for name, line in items:
        print("%-*s  %s" % (w, name, line))
    return 0


def cmd_generate(args):
    if args.plain:
        from .scenario import generate_plain
        generate_plain(args.clusters, args.out)
    else:
        try:
            from .scenarios import generator
        except ImportError as e:
            log("error: the scenario generator is not available: %s" % e)
            return 1
        generator.generate(args.clusters, args.out)
    print(args.out)
    return 0


# ---- ctl -------------------------------------------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def ctl_request(state_dir, method, path, body=None):
    sock = os.path.join(state_dir, "control.sock")
    conn = UnixHTTPConnection(sock)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read().decode()
    except (FileNotFoundError, ConnectionRefusedError):
        raise SystemExit("meshlab: no lab is running with state dir %s (%s missing or refused)" % (state_dir, sock))
    finally:
        conn.close()
    try:
        doc = json.loads(data) if data else {}
    except ValueError:
        doc = {"message": data}
    return r.status, doc


def cmd_ctl(args):
    a = args.action
    if a == "stats":
        st, doc = ctl_request(args.state_dir, "GET", "/stats")
    elif a == "reset-stats":
        st, doc = ctl_request(args.state_dir, "POST", "/reset-stats")
    elif a == "firewall":
        if len(args.rest) != 3 or args.rest[0] not in ("deny", "allow"):
            log("usage: ctl firewall deny|allow FROM TO [--port P]")
            return 2
        st, doc = ctl_request(args.state_dir, "POST", "/firewall", {
            "action": args.rest[0], "from": args.rest[1], "to": args.rest[2], "port": args.port})
    elif a == "cluster":
        if len(args.rest) != 2 or args.rest[0] not in ("down", "up"):
            log("usage: ctl cluster down|up NAME")
            return 2
        st, doc = ctl_request(args.state_dir, "POST", "/cluster", {"action": args.rest[0], "name": args.rest[1]})
    elif a == "fault":
        if len(args.rest) < 2:
            log("usage: ctl fault CLUSTER clear|latency SECONDS|errors RATE [CODE]|drop RATE|bad-cert|"
                "revoke-token|rbac read-only|none|full|compact")
            return 2
        st, doc = ctl_request(args.state_dir, "POST", "/fault", {"cluster": args.rest[0], "args": args.rest[1:]})
    elif a == "status":
        st, doc = ctl_request(args.state_dir, "GET", "/status")
    else:
        log("unknown ctl action %s" % a)
        return 2
    if st >= 400:
        log("error: %s" % doc.get("message", doc))
        return 1
    print(json.dumps(doc, indent=2, sort_keys=True))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m meshlab", description="meshlab: Kubernetes API servers on loopback "
                                "plus a model of Istio")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="serve a scenario until SIGINT/SIGTERM")
    up.add_argument("scenario", help="bundled scenario name or directory with lab.yaml")
    up.add_argument("--state-dir", required=True)
    up.add_argument("--no-istio", action="store_true", help="plain Kubernetes: do not load meshlab.istio")
    up.add_argument("--real", action="store_true", help="the scenario on real kube-apiservers and istiods built "
                    "from reallab/'s pinned Go modules (needs Go; builds on first use)")
    up.set_defaults(func=cmd_up)
    ls = sub.add_parser("list", help="bundled scenarios")
    ls.set_defaults(func=cmd_list)
    g = sub.add_parser("generate", help="write an N-cluster scenario")
    g.add_argument("--clusters", type=int, required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--plain", action="store_true", help="plain Kubernetes apps, no Istio")
    g.set_defaults(func=cmd_generate)
    c = sub.add_parser("ctl", help="talk to a running lab")
    c.add_argument("--state-dir", required=True)
    c.add_argument("action", choices=["stats", "reset-stats", "firewall", "cluster", "fault", "status"])
    c.add_argument("rest", nargs="*")
    c.add_argument("--port", type=int)
    c.set_defaults(func=cmd_ctl)
    args = p.parse_args(argv)
    return args.func(args)
