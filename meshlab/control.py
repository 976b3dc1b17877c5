"""DIR/control.sock: HTTP over a Unix socket for `python -m meshlab ctl` (stats, firewall, cluster down/up, faults)."""
import json
import os

from aiohttp import web


def _j(obj, status=200):
    return web.Response(text=json.dumps(obj), status=status, content_type="application/json")


def _err(msg, status=400):
    return _j({"message": msg}, status)


class ControlServer:
    def __init__(self, lab, path):
        self.lab = lab
        self.path = path
        self.app = web.Application()
        r = self.app.router
        r.add_get("/stats", self.stats)
        r.add_post("/reset-stats", self.reset)
        r.add_post("/firewall", self.firewall)
        r.add_get("/firewall", lambda req: _j(self.lab.firewall.rules))
        r.add_post("/cluster", self.cluster)
        r.add_post("/fault", self.fault)
        r.add_get("/status", self.status)
        self.runner = None

    async def start(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.UnixSite(self.runner, self.path)
        await site.start()
        os.chmod(self.path, 0o600)

    async def stop(self):
        if self.runner:
            await self.runner.cleanup()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    async def stats(self, request):
        return _j({c.name: c.stats.as_dict() for c in self.lab.clusters.values()})

    async def reset(self, request):
        for c in self.lab.clusters.values():
            c.stats.reset()
        return _j({"reset": True})

    async def status(self, request):
        return _j({"clusters": {c.name: {"url": c.url, "up": c.up, "faults": {k: v for k, v in c.faults.items()
                                                                              if k != "bad_cert"} |
                                         ({"bad_cert": True} if c.faults.get("bad_cert") else {})}
                                for c in self.lab.clusters.values()},
                   "firewall": self.lab.firewall.rules})

    def _known(self, name):
        return name == "*" or name in self.lab.clusters

    async def firewall(self, request):
        b = await request.json()
        for key in ("from", "to"):
            if not self._known(b.get(key)):
                return _err("unknown cluster %r (clusters: %s)" % (b.get(key), ", ".join(self.lab.clusters)), 404)
        if b.get("action") not in ("deny", "allow"):
            return _err("action must be deny or allow")
        port = b.get("port")
        if port is not None and not (isinstance(port, int) and 0 < port < 65536):
            return _err("port must be 1-65535")
        rule = self.lab.firewall.set(b["action"], b["from"], b["to"], port)
        return _j({"rule": rule, "firewall": self.lab.firewall.rules})

    async def cluster(self, request):
        b = await request.json()
        name = b.get("name")
        c = self.lab.clusters.get(name)
        if c is None:
            return _err("unknown cluster %r (clusters: %s)" % (name, ", ".join(self.lab.clusters)), 404)
        srv = self.lab.servers[name]
        if b.get("action") == "down":
            if c.up:
                await srv.stop()
        elif b.get("action") == "up":
            if not c.up:
                await srv.start()
        else:
            return _err("action must be down or up")
        return _j({"cluster": name, "up": c.up, "url": c.url})

    async def fault(self, request):
        """CLUSTER clear | latency S | errors RATE [500|503|429] | drop RATE | bad-cert | revoke-token |
        rbac read-only|none|full | compact"""
        b = await request.json()
        name = b.get("cluster")
        c = self.lab.clusters.get(name)
        if c is None:
            return _err("unknown cluster %r (clusters: %s)" % (name, ", ".join(self.lab.clusters)), 404)
        args = [str(a) for a in b.get("args") or []]
        if not args:
            return _err("fault needs an argument")
        what, rest = args[0], args[1:]
        restart = False
        try:
            if what == "clear":
                restart = bool(c.faults.get("bad_cert"))
                c.faults.clear()
            elif what == "latency":
                c.faults["latency"] = float(rest[0])
                if c.faults["latency"] <= 0:
                    c.faults.pop("latency")
            elif what == "errors":
                c.faults["error_rate"] = float(rest[0])
                code = int(rest[1]) if len(rest) > 1 else 503
                if code not in (500, 503, 429):
                    return _err("error code must be 500, 503 or 429")
                c.faults["error_code"] = code
            elif what == "drop":
                c.faults["drop_rate"] = float(rest[0])
            elif what == "bad-cert":
                from .pki import CA
                other = CA("not-the-lab-ca")
                c.faults["bad_cert"] = other.issue_server("kube-apiserver", [c.host])
                restart = True
            elif what == "compact":
                # etcd compaction now (a real apiserver compacts every 5 minutes): continue tokens and watch
                # resourceVersions from before it get 410 Expired; not a lasting fault, so not listed
                c.store.compact()
            elif what == "revoke-token":
                c.faults["revoke_admin"] = True
            elif what == "rbac":
                mode = rest[0]
                if mode not in ("read-only", "none", "full"):
                    return _err("rbac mode must be read-only, none or full")
                if mode == "full":
                    c.faults.pop("rbac", None)
                else:
                    c.faults["rbac"] = mode
            else:
                return _err("unknown fault %r" % what)
        except (IndexError, ValueError):
            return _err("bad arguments for fault %s" % what)
        if restart and c.up:
            srv = self.lab.servers[name]
            await srv.stop()
            await srv.start()
        return _j({"cluster": name, "faults": {k: (True if k == "bad_cert" else v) for k, v in c.faults.items()}})
