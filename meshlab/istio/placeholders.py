"""Scenario placeholders: values only known once the lab serves (meshlab/README.md, "Scenario placeholders").

- Secret annotated `meshlab.io/remote-secret-for: PEER`: filled with the kubeconfig
  `istioctl create-remote-secret --name PEER` would write (PEER's API URL, its CA, the token of
  PEER's istio-reader-service-account). Optional fault annotations:
  `meshlab.io/remote-secret-key: KEY` (data key other than PEER), `meshlab.io/remote-secret-server: loopback`
  (server https://127.0.0.1:PORT, as a kind kubeconfig), `meshlab.io/remote-secret-token: invalid`,
  `meshlab.io/remote-secret-ca: other` (certificate-authority-data of an unrelated CA).
- Endpoints or ConfigMap istio-sidecar-injector annotated `meshlab.io/pilot-address-of: PRIMARY`:
  the address of PRIMARY's east-west gateway replaces the Endpoints IPs / values.global.remotePilotAddress.
The meshlab.io annotations are removed once resolved, leaving what a real install leaves.
"""

import base64
import json

import yaml

from meshlab.patch import clone

P_REMOTE = "meshlab.io/remote-secret-for"
P_KEY = "meshlab.io/remote-secret-key"
P_SERVER = "meshlab.io/remote-secret-server"
P_TOKEN = "meshlab.io/remote-secret-token"
P_CA = "meshlab.io/remote-secret-ca"
P_PILOT = "meshlab.io/pilot-address-of"
ALL = (P_REMOTE, P_KEY, P_SERVER, P_TOKEN, P_CA, P_PILOT)

_OTHER_CA = None


def other_ca_pem():
    """A CA that signs no lab server (for the wrong-CA fault)."""
    global _OTHER_CA
    if _OTHER_CA is None:
        from .pki import make_root
        _OTHER_CA = make_root("unrelated-ca")["cert_pem"]
    return _OTHER_CA


_KUBECONFIG = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: {server}
  name: {name}
contexts:
- context:
    cluster: {name}
    user: {name}
  name: {name}
current-context: {name}
kind: Config
preferences: {{}}
users:
- name: {name}
  user:
    token: {token}
"""


def kubeconfig(name, server, ca_pem, token):
    """The kubeconfig istioctl create-remote-secret writes (same layout; a template: thousands per big lab)."""
    ca = ca_pem.encode() if isinstance(ca_pem, str) else ca_pem
    return _KUBECONFIG.format(ca=base64.b64encode(ca).decode(), server=server, name=name, token=token)


def pending_remote_secret(secret):
    return P_REMOTE in ((secret.get("metadata") or {}).get("annotations") or {})


def fill_remote_secret(secret, server, ca_pem, token):
    """The materialised Secret (a copy); `server`/`ca_pem`/`token` are the peer's real values."""
    s = clone(secret)
    ann = s["metadata"].setdefault("annotations", {})
    peer = ann[P_REMOTE]
    key = ann.get(P_KEY) or peer
    if ann.get(P_SERVER) == "loopback":
        server = "https://127.0.0.1:" + server.rsplit(":", 1)[-1]
    elif ann.get(P_SERVER):
        server = ann[P_SERVER]
    if ann.get(P_TOKEN) == "invalid":
        token = "eyJhbGciOiJSUzI1NiJ9.invalid.invalid"
    if ann.get(P_CA) == "other":
        ca_pem = other_ca_pem()
    for k in ALL:
        ann.pop(k, None)
    s["data"] = {key: base64.b64encode(kubeconfig(peer, server, ca_pem, token).encode()).decode()}
    s.pop("stringData", None)
    return s


def pending_pilot(obj):
    return P_PILOT in ((obj.get("metadata") or {}).get("annotations") or {})


def fill_pilot_address(obj, address):
    o = clone(obj)
    o["metadata"]["annotations"].pop(P_PILOT, None)
    if not o["metadata"]["annotations"]:
        del o["metadata"]["annotations"]
    if o.get("kind") == "Endpoints":
        for sub in o.get("subsets") or []:
            sub["addresses"] = [{"ip": address}]
    elif o.get("kind") == "ConfigMap":
        vals = json.loads((o.get("data") or {}).get("values") or "{}")
        vals.setdefault("global", {})["remotePilotAddress"] = address
        o["data"]["values"] = json.dumps(vals, indent=2, sort_keys=True)
    return o


def gateway_address(svc):
    """First address of an east-west gateway Service (LB ip, else externalIPs)."""
    for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        if ing.get("ip"):
            return ing["ip"]
    for ip in (svc.get("spec") or {}).get("externalIPs") or []:
        return ip
    return None
