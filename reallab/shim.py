"""What `kubectl exec` runs in the real lab's kwok pods (reallab/shims/*, environment from reallab/cluster.py):

    pilot-discovery request GET /debug/clusterz   -> the real istiod's debug endpoint (monitoring port)
    pilot-agent request GET clusters?format=json  -> the CDS/EDS the real istiod sends to this pod's identity
                                                     (xdsprobe, Istio's pkg/adsc), rendered as Envoy's admin
                                                     output by meshlab's renderer

kwok's exec carries no pod identity: the lab's Exec object for each pod sets REALLAB_POD=namespace/name, and the
identity istiod sees (CLUSTER_ID, NETWORK, IP, service account) is read from the injected pod, as Envoy's
bootstrap would take it from the pod's istio-proxy environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

from meshlab.istio import envoy


def die(msg: str, code: int = 1) -> int:
    print(msg, file=sys.stderr)
    return code


def pilot_discovery(args: list[str]) -> int:
    if len(args) < 3 or args[0] != "request":
        return die("Error: reallab shim answers only `pilot-discovery request METHOD PATH`")
    method, path = args[1].upper(), args[2]
    url = f"http://{os.environ['REALLAB_ISTIOD']}/{path.lstrip('/')}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as r:
            sys.stdout.write(r.read().decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as e:
        return die(f"Error: received unsuccessful status code {e.code}: {e.read().decode(errors='replace')}")
    except OSError as e:
        return die(f"Error: {e}")


def _pod() -> dict:
    kc = json.load(open(os.environ["REALLAB_KUBECONFIG"]))
    import base64
    import ssl
    import tempfile
    cl = kc["clusters"][0]["cluster"]
    with tempfile.NamedTemporaryFile("w", suffix=".crt", delete=False) as f:
        f.write(base64.b64decode(cl["certificate-authority-data"]).decode())
    try:
        ctx = ssl.create_default_context(cafile=f.name)
    finally:
        os.unlink(f.name)
    ns, name = os.environ["REALLAB_POD"].split("/", 1)
    req = urllib.request.Request(f"{cl['server']}/api/v1/namespaces/{ns}/pods/{name}")
    req.add_header("Authorization", "Bearer " + kc["users"][0]["user"]["token"])
    with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
        return json.load(r)


class _View:
    """The part of meshlab's ProxyView that envoy.render_* read: {name: {"endpoints": [...]}}."""

    def __init__(self, probe: dict):
        self._c = {}
        for name in probe.get("clusters") or []:
            self._c[name] = {"endpoints": []}
        for name, eps in (probe.get("endpoints") or {}).items():
            out = []
            for e in eps:
                r, z, s = ((e.get("locality") or "") + "//").split("/")[:3]
                out.append({"address": e["address"], "port": e["port"], "weight": e.get("weight") or 1,
                            "locality": {"region": r, "zone": z, "sub_zone": s}})
            self._c[name] = {"endpoints": out}

    def clusters(self):
        return {n: c for n, c in self._c.items() if n not in envoy.STATIC}


def pilot_agent(args: list[str]) -> int:
    if len(args) < 3 or args[0] != "request":
        return die("Error: reallab shim answers only `pilot-agent request GET clusters|config_dump`")
    path = args[2].lstrip("/")
    if "REALLAB_POD" not in os.environ:
        return die("Error: no Envoy in this container (reallab: no Exec object names this pod yet)")
    pod = _pod()
    spec = pod.get("spec") or {}
    proxy = next((c for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
                  if c.get("name") == "istio-proxy"), None)
    if proxy is None:
        return die('error: unable to upgrade connection: container not found ("istio-proxy")')
    env = {e["name"]: e.get("value", "") for e in proxy.get("env") or [] if "value" in e}
    cmd = [os.environ["REALLAB_XDSPROBE"], "-addr", os.environ["REALLAB_XDS"],
           "-ip", (pod.get("status") or {}).get("podIP") or "", "-namespace", pod["metadata"]["namespace"],
           "-pod", pod["metadata"]["name"], "-cluster-id", env.get("ISTIO_META_CLUSTER_ID", ""),
           "-network", env.get("ISTIO_META_NETWORK", ""),
           "-service-account", spec.get("serviceAccountName") or "default", "-timeout", "8s"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    if p.returncode != 0:
        # what pilot-agent prints when Envoy has no xDS connection differs; say what failed
        return die("Error: reallab xdsprobe: " + (p.stderr.strip().splitlines() or ["failed"])[-1])
    view = _View(json.loads(p.stdout))
    if path.startswith("clusters"):
        if "format=json" in path:
            print(json.dumps(envoy.render_clusters(view), indent=1))
        else:
            print(envoy.render_clusters_text(view))
        return 0
    if path.startswith("config_dump"):
        print(json.dumps(envoy.render_config_dump(view, include_eds="include_eds" in path), indent=1))
        return 0
    return die(f"Error: reallab shim does not serve {path}")


def main(argv: list[str]) -> int:
    name, args = argv[0], argv[1:]
    if name == "pilot-discovery":
        return pilot_discovery(args)
    if name == "pilot-agent":
        return pilot_agent(args)
    return die(f"unknown shim {name}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
