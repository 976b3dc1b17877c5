"""The simulated data plane: `curl` run inside a pod, through its sidecar's EDS or straight over the pod network.

Nothing opens a socket: addresses are data. Reachability follows lab.yaml (flatNetworks, firewall,
load balancer mode) and the Istio objects (gateway pods, AUTO_PASSTHROUGH Gateway, roots of trust).
"""

import re
import shlex

from .world import labels_of, name_of, ns_of, matches
from .eds import ProxyView, pod_ready, locality_lb_active, priority, DOMAIN
from .istiod import proxy_root, same_root, mesh_config
from .networks import address_owner

ENVOY_CONNECT_TIMEOUT = 10.0
UPSTREAM = "upstream connect error or disconnect/reset before headers. reset reason: "
REFUSED = UPSTREAM + "connection failure, transport failure reason: delayed connect error: 111"
TIMEOUT = UPSTREAM + "connection timeout"
TLS_VERIFY = UPSTREAM + "connection failure, transport failure reason: TLS error: " \
                        "268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"
TLS_HTTP = UPSTREAM + "local reset, transport failure reason: TLS error: " \
                      "268435612:SSL routines:OPENSSL_internal:HTTP_REQUEST"

FLASK_404 = ('<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n'
             '<p>The requested URL was not found on the server. If you entered the URL manually please check '
             'your spelling and try again.</p>\n')


class CurlUsage(Exception):
    pass


def parse_curl(argv):
    """Subset of curl's options the guide and probes use. Raises CurlUsage with curl's message."""
    o = {"url": None, "silent": False, "show_error": False, "max_time": None, "connect_timeout": None,
         "output": None, "write_out": None, "fail": False, "include": False, "head": False, "verbose": False,
         "method": "GET", "headers": []}
    args = list(argv[1:])
    i = 0
    with_arg = {"-m": "max_time", "--max-time": "max_time", "--connect-timeout": "connect_timeout",
                "-o": "output", "--output": "output", "-w": "write_out", "--write-out": "write_out",
                "-X": "method", "--request": "method", "-H": "headers", "--header": "headers",
                "--retry": None, "-A": None, "--user-agent": None, "--resolve": None, "-d": None, "--data": None}
    flags = {"-s": "silent", "--silent": "silent", "-S": "show_error", "--show-error": "show_error",
             "-f": "fail", "--fail": "fail", "-i": "include", "--include": "include", "-I": "head",
             "--head": "head", "-v": "verbose", "--verbose": "verbose", "-k": None, "--insecure": None,
             "-L": None, "--location": None, "-q": None, "--http1.1": None, "--no-progress-meter": "silent"}
    while i < len(args):
        a = args[i]
        if a in with_arg:
            if i + 1 >= len(args):
                raise CurlUsage("curl: option %s: requires parameter" % a)
            key = with_arg[a]
            val = args[i + 1]
            if key == "headers":
                o["headers"].append(val)
            elif key in ("max_time", "connect_timeout"):
                try:
                    o[key] = float(val)
                except ValueError:
                    raise CurlUsage("curl: option %s: expected a proper numerical parameter" % a)
            elif key:
                o[key] = val
            i += 2
            continue
        if a in flags:
            if flags[a]:
                o[flags[a]] = True
            i += 1
            continue
        if a.startswith("-") and not a.startswith("--") and len(a) > 2:
            # combined short flags, e.g. -sS, -sSm 5, -so /dev/null
            rest = a[1:]
            for j, ch in enumerate(rest):
                opt = "-" + ch
                if opt in flags:
                    if flags[opt]:
                        o[flags[opt]] = True
                elif opt in with_arg:
                    val = rest[j + 1:] or (args[i + 1] if i + 1 < len(args) else None)
                    if val is None:
                        raise CurlUsage("curl: option %s: requires parameter" % opt)
                    if not rest[j + 1:]:
                        i += 1
                    key = with_arg[opt]
                    if key in ("max_time", "connect_timeout"):
                        try:
                            o[key] = float(val)
                        except ValueError:
                            raise CurlUsage("curl: option %s: expected a proper numerical parameter" % opt)
                    elif key == "headers":
                        o["headers"].append(val)
                    elif key:
                        o[key] = val
                    break
                else:
                    raise CurlUsage("curl: option %s: is unknown\ncurl: try 'curl --help' for more information" % a)
            i += 1
            continue
        if a.startswith("-"):
            raise CurlUsage("curl: option %s: is unknown\ncurl: try 'curl --help' for more information" % a)
        o["url"] = a
        i += 1
    if not o["url"]:
        raise CurlUsage("curl: no URL specified\ncurl: try 'curl --help' or 'curl --manual' for more information")
    return o


def split_url(url):
    scheme = "http"
    if "://" in url:
        scheme, url = url.split("://", 1)
    hostport, _, path = url.partition("/")
    path = "/" + path
    host, port = hostport, None
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif ":" in hostport:
        host, port = hostport.rsplit(":", 1)
    port = int(port) if port and port.isdigit() else (443 if scheme == "https" else 80)
    return scheme.lower(), host, port, path


class Response:
    def __init__(self, code, body, headers=None, remote=None):
        self.code, self.body, self.headers, self.remote = code, body, headers or {}, remote


class Failure:
    def __init__(self, exit_code, message):
        self.exit_code, self.message = exit_code, message


def is_injected(pod):
    """istio-proxy in either placement (a regular container, or a native sidecar in initContainers)."""
    from .injection import proxy_container
    return proxy_container(pod)[0] is not None


class DataPlane:
    """Holds the round-robin cursors; everything else is read from the world per request."""

    def __init__(self):
        self.cursors = {}

    def _next(self, key, n):
        i = self.cursors.get(key, 0)
        self.cursors[key] = i + 1
        return i % n if n else 0

    # ------------------------------------------------------------ entry point
    def curl(self, world, cluster, pod, container, argv):
        """(stdout, stderr, exit_code) of `curl ...` run in pod's container."""
        try:
            o = parse_curl(argv)
        except CurlUsage as e:
            return "", str(e) + "\n", 2
        scheme, host, port, path = split_url(o["url"])
        limit = min([t for t in (o["max_time"], o["connect_timeout"]) if t] or [0]) or None
        result = self.request(world, cluster, pod, container, scheme, host, port, path, limit)
        return self.render(o, result, host, port)

    def render(self, o, result, host, port):
        out, err = "", ""
        show_err = (not o["silent"]) or o["show_error"]
        code = "000"
        if isinstance(result, Failure):
            if show_err:
                err = "curl: (%d) %s\n" % (result.exit_code, result.message)
            exit_code = result.exit_code
        else:
            code = "%03d" % result.code
            exit_code = 0
            if o["fail"] and result.code >= 400:
                exit_code = 22
                if show_err:
                    err = "curl: (22) The requested URL returned error: %d\n" % result.code
            else:
                head = "HTTP/1.1 %d %s\r\n" % (result.code, _reason(result.code)) + "".join(
                    "%s: %s\r\n" % kv for kv in result.headers.items()) + "\r\n"
                body = "" if o["head"] else result.body
                text = (head if (o["include"] or o["head"]) else "") + body
                if o["output"] in (None, "-"):
                    out += text
        if o["write_out"]:
            w = o["write_out"].replace("\\n", "\n").replace("\\t", "\t")
            remote = getattr(result, "remote", None) or ""
            for k, v in (("%{http_code}", code), ("%{response_code}", code), ("%{remote_ip}", remote),
                         ("%{remote_port}", str(port) if remote else "0"), ("%{exitcode}", str(exit_code)),
                         ("%{time_total}", "0.004210"), ("%{time_connect}", "0.000812")):
                w = w.replace(k, v)
            out += w
        return out, err, exit_code

    # ------------------------------------------------------------ routing
    def request(self, world, cluster, pod, container, scheme, host, port, path, limit):
        svc = None
        ip = host if _is_ip(host) else None
        if ip is None:
            svc = resolve_service(world, cluster, ns_of(pod), host)
            if svc is None:
                return Failure(6, "Could not resolve host: %s" % host)
        via_proxy = is_injected(pod) and container != "istio-proxy" and scheme == "http"
        if via_proxy and svc is not None:
            view = ProxyView(world, cluster, pod)
            if view.istiod is None:
                return Failure(56, "Recv failure: Connection reset by peer")  # Envoy never got its listeners
            fqdn = "%s.%s.%s" % (name_of(svc), ns_of(svc), DOMAIN)
            name = "outbound|%d||%s" % (port, fqdn)
            ecluster = view.clusters().get(name)
            if ecluster is not None:
                return self.via_envoy(world, cluster, pod, view, name, ecluster, path, limit)
        if svc is not None:
            # kube-proxy: the ClusterIP balances over this cluster's own endpoints
            sp = next((p for p in (svc.get("spec") or {}).get("ports") or [] if p.get("port") == port), None)
            ip = (svc.get("spec") or {}).get("clusterIP") or host
            if sp is None:
                return self.timeout(ip, port, limit)
            sel = (svc.get("spec") or {}).get("selector") or {}
            pods = [p for p in world.list(cluster, "pods", ns_of(svc)) if sel and matches(sel, labels_of(p))
                    and pod_ready(p)]
            if not pods:
                return Failure(7, "Failed to connect to %s port %d after 0 ms: Couldn't connect to server" % (host, port))
            from .eds import target_port
            dst = pods[self._next((cluster, name_of(pod), "kube", ip, port), len(pods))]
            return self.app(world, cluster, pod, cluster, dst, target_port(sp, dst), path, direct=True)
        return self.direct_ip(world, cluster, pod, ip, port, scheme, path, limit)

    def timeout(self, ip, port, limit):
        if limit:
            return Failure(28, "Connection timed out after %d milliseconds" % int(limit * 1000))
        return Failure(28, "Failed to connect to %s port %d after 134000 ms: Connection timed out" % (ip, port))

    def direct_ip(self, world, cluster, pod, ip, port, scheme, path, limit):
        """Straight over the pod network (no sidecar, or a pod IP the sidecar passes through)."""
        dst_cluster, dst = find_pod_by_ip(world, cluster, ip)
        if dst is not None:
            if dst_cluster != cluster and not (world.flat(cluster, dst_cluster)
                                               and world.firewall_allows(cluster, dst_cluster, port)):
                return self.timeout(ip, port, limit)
            return self.app(world, cluster, pod, dst_cluster, dst, port, path, direct=True)
        owner = address_owner(world, ip)
        if owner is None or owner.get("service") is None:
            return self.timeout(ip, port, limit)
        oc, svc = owner["cluster"], owner["service"]
        if oc != cluster and not world.firewall_allows(cluster, oc, port):
            return self.timeout(ip, port, limit)
        if owner["via"] == "clusterip" and oc != cluster:
            return self.timeout(ip, port, limit)
        if port not in [p.get("port") for p in (svc.get("spec") or {}).get("ports") or []]:
            return self.timeout(ip, port, limit) if owner["via"] != "clusterip" else \
                Failure(7, "Failed to connect to %s port %d after 0 ms: Couldn't connect to server" % (ip, port))
        gw_pods = service_pods(world, oc, svc)
        if not gw_pods:
            return Failure(7, "Failed to connect to %s port %d after 1 ms: Couldn't connect to server" % (ip, port))
        if owner["via"] == "loadbalancer" and l7(world, oc):
            return Response(502, "upstream connect error or disconnect/reset before headers. "
                                 "reset reason: connection termination", {"server": "lb"}, ip)
        if passthrough_gateway(world, oc, gw_pods, port):
            if scheme == "https":
                return Failure(35, "OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to %s:%d " % (ip, port))
            return Failure(56, "Recv failure: Connection reset by peer")
        if port == 15021:
            return Response(200, "", {"server": "envoy"}, ip)
        return Failure(7, "Failed to connect to %s port %d after 1 ms: Couldn't connect to server" % (ip, port))

    def via_envoy(self, world, cluster, pod, view, name, ecluster, path, limit):
        eps = ecluster["endpoints"]
        if not eps:
            return Response(503, "no healthy upstream", {"content-type": "text/plain", "server": "envoy"})
        svc = ecluster["service"]
        td = (svc.get("spec") or {}).get("trafficDistribution") or \
            ((svc.get("metadata") or {}).get("annotations") or {}).get("networking.istio.io/traffic-distribution")
        if locality_lb_active(world, cluster, view.istiod.mesh, ecluster["host"], ns_of(pod)) or \
                td in ("PreferClose", "PreferSameZone"):
            here = view.locality()
            best = min(priority(here, e["locality"]) for e in eps)
            eps = [e for e in eps if priority(here, e["locality"]) == best]
        ring = [e for e in eps for _ in range(max(1, int(e.get("weight") or 1)))]
        e = ring[self._next((cluster, name_of(pod), name), len(ring))]
        src_root = proxy_root(world, cluster, pod)
        if e.get("gateway"):
            return self.through_gateway(world, cluster, pod, e, src_root, path, limit)
        dst_cluster, dst = e["lab_cluster"], e["pod"]
        if dst_cluster != cluster and not (world.flat(cluster, dst_cluster)
                                           and world.firewall_allows(cluster, dst_cluster, e["port"])):
            return self.envoy_timeout(limit)
        if e["tls"] and not same_root(src_root, proxy_root(world, dst_cluster, dst)):
            return Response(503, TLS_VERIFY, {"content-type": "text/plain", "server": "envoy"})
        return self.app(world, cluster, pod, dst_cluster, dst, e["port"], path, direct=False)

    def envoy_timeout(self, limit):
        if limit and limit < ENVOY_CONNECT_TIMEOUT:
            return Failure(28, "Operation timed out after %d milliseconds with 0 bytes received" % int(limit * 1000))
        return Response(503, TIMEOUT, {"content-type": "text/plain", "server": "envoy"})

    def through_gateway(self, world, cluster, pod, e, src_root, path, limit):
        g = e["gateway"]
        owner = address_owner(world, g["addr"])
        gwc = (owner or {}).get("cluster") or g.get("lab_cluster")
        if gwc is None or not world.firewall_allows(cluster, gwc, g["port"]):
            return self.envoy_timeout(limit)
        svc = (owner or {}).get("service") or g.get("service")
        gw_pods = service_pods(world, gwc, svc) if svc else []
        if (owner or {}).get("via") == "loadbalancer" and l7(world, gwc):
            return Response(503, TLS_HTTP, {"content-type": "text/plain", "server": "envoy"})
        if not gw_pods or not passthrough_gateway(world, gwc, gw_pods, 15443):
            return Response(503, REFUSED, {"content-type": "text/plain", "server": "envoy"})
        backing = [b for b in e["backing"] or [] if b["lab_cluster"] == gwc] or e["backing"] or []
        if not backing:
            return Response(503, "no healthy upstream", {"content-type": "text/plain", "server": "envoy"})
        b = backing[self._next((gwc, "gateway", g["addr"], e["port"]), len(backing))]
        if not same_root(src_root, proxy_root(world, b["lab_cluster"], b["pod"])):
            return Response(503, TLS_VERIFY, {"content-type": "text/plain", "server": "envoy"})
        return self.app(world, cluster, pod, b["lab_cluster"], b["pod"], b["port"], path, direct=False)

    def app(self, world, src_cluster, src_pod, dst_cluster, dst, port, path, direct):
        """The destination container answers, or nothing listens on that port."""
        ip = (dst.get("status") or {}).get("podIP")
        if direct and is_injected(dst) and strict_mtls(world, dst_cluster, ns_of(dst)):
            return Failure(56, "Recv failure: Connection reset by peer")
        listening = set()
        hello = None
        for c in (dst.get("spec") or {}).get("containers") or []:
            if c.get("name") == "istio-proxy":
                continue
            for p in c.get("ports") or []:
                listening.add(p.get("containerPort"))
            if "helloworld" in (c.get("image") or ""):
                hello = c
                listening.add(5000)
        if port not in listening:
            if direct:
                return Failure(7, "Failed to connect to %s port %d after 0 ms: Couldn't connect to server" % (ip, port))
            return Response(503, REFUSED, {"content-type": "text/plain", "server": "envoy"})
        hdrs = {"content-type": "text/html; charset=utf-8"}
        if not direct:
            hdrs.update({"server": "envoy", "x-envoy-upstream-service-time": "3"})
        else:
            hdrs["server"] = "Werkzeug/3.0.1 Python/3.12.1"
        if hello is not None and path.split("?")[0] == "/hello":
            version = labels_of(dst).get("version") or _image_version(hello.get("image"))
            for e in hello.get("env") or []:
                if e.get("name") == "SERVICE_VERSION" and e.get("value"):
                    version = e["value"]
            return Response(200, "Hello version: %s, instance: %s\n" % (version, name_of(dst)), hdrs, ip)
        return Response(404, FLASK_404, hdrs, ip)


def _image_version(image):
    for part in (image or "").replace(":", "-").split("-"):
        if part.startswith("v") and part[1:].isdigit():
            return part
    return "v1"


def _reason(code):
    return {200: "OK", 404: "NOT FOUND", 502: "Bad Gateway", 503: "Service Unavailable"}.get(code, "")


def _is_ip(host):
    import ipaddress
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def resolve_service(world, cluster, client_ns, host):
    """Cluster DNS: name, name.ns, name.ns.svc, name.ns.svc.cluster.local -> Service in this cluster."""
    parts = host.rstrip(".").split(".")
    if len(parts) == 1:
        name, ns = parts[0], client_ns
    elif len(parts) == 2 or (len(parts) >= 3 and parts[2] == "svc"):
        name, ns = parts[0], parts[1]
        if len(parts) > 3 and ".".join(parts[3:]) != "cluster.local":
            return None
    else:
        return None
    return world.get(cluster, "services", ns, name)


def find_pod_by_ip(world, prefer, ip):
    order = [prefer] + [c for c in world.cluster_names() if c != prefer]
    owner = world.cluster_of_ip(ip)
    if owner:
        order = [owner] + [c for c in order if c != owner]
    for c in order:
        for p in world.list(c, "pods"):
            if (p.get("status") or {}).get("podIP") == ip and pod_ready(p) and \
                    not ((p.get("spec") or {}).get("hostNetwork")):
                return c, p
    return None, None


def service_pods(world, cluster, svc):
    sel = (svc.get("spec") or {}).get("selector") or {}
    if not sel:
        return []
    return [p for p in world.list(cluster, "pods", ns_of(svc)) if matches(sel, labels_of(p)) and pod_ready(p)]


def passthrough_gateway(world, cluster, gw_pods, port):
    """An AUTO_PASSTHROUGH Gateway on `port` selecting these gateway pods opens the listener."""
    for gw in world.list(cluster, "gateways.networking.istio.io"):
        spec = gw.get("spec") or {}
        sel = spec.get("selector") or {}
        if not sel or not any(matches(sel, labels_of(p)) for p in gw_pods):
            continue
        for srv in spec.get("servers") or []:
            if (srv.get("port") or {}).get("number") == port and \
                    ((srv.get("tls") or {}).get("mode") or "").upper() == "AUTO_PASSTHROUGH":
                return True
    return False


def l7(world, cluster):
    lb = world.cluster_spec(cluster).get("loadBalancer") or {}
    return str(lb.get("mode", "L4")).upper() == "L7"


def strict_mtls(world, cluster, namespace):
    mode = None
    for pa in world.list(cluster, "peerauthentications.security.istio.io"):
        if (pa.get("spec") or {}).get("selector"):
            continue
        m = ((pa.get("spec") or {}).get("mtls") or {}).get("mode")
        if ns_of(pa) == namespace and m:
            return m == "STRICT"
        if ns_of(pa) == "istio-system" and m:
            mode = m
    return mode == "STRICT"


_LOOP = re.compile(r"^\s*for\s+\w+\s+in\s+\$\(seq\s+(\d+)\)\s*;\s*do\s+(.+?);?\s*done\s*$", re.S)


def run_exec(dataplane, world, cluster, pod, container, command):
    """`curl ...`, or `sh -c` with curl / `echo` commands joined by `;` or `&&`, optionally inside
    `for i in $(seq N); do ...; done` (the docs' loop); None when the command is something else."""
    cmd = list(command)
    if len(cmd) >= 3 and cmd[0] in ("sh", "/bin/sh", "bash", "/bin/bash") and cmd[1] == "-c":
        script = cmd[2]
        times = 1
        m = _LOOP.match(script)
        if m:
            times, script = min(int(m.group(1)), 1000), m.group(2)
        steps = [s.strip() for s in re.split(r";|&&", script) if s.strip()]
        try:
            steps = [shlex.split(s) for s in steps]
        except ValueError:
            return None
        if not steps or any(s[0].rsplit("/", 1)[-1] not in ("curl", "echo") for s in steps):
            return None
        out, err, code = "", "", 0
        for _ in range(times):
            for s in steps:
                if s[0] == "echo":
                    o, e, code = " ".join(s[1:]) + "\n", "", 0
                else:
                    o, e, code = dataplane.curl(world, cluster, pod, container, s)
                out, err = out + o, err + e
        return out, err, code
    if not cmd or cmd[0].rsplit("/", 1)[-1] != "curl":
        return None
    return dataplane.curl(world, cluster, pod, container, cmd)
