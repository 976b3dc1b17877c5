"""Observations the differential suite takes from a lab (meshlab or `meshlab up --real`), normalised so the two
can be compared: what differs only because addresses, ports, names with random suffixes or timestamps differ
between two labs is taken out; everything else must be equal."""

import base64
import json
import os
import re
import subprocess
import tempfile

import yaml

from reallab import cluster

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ---------------------------------------------------------------- raw API access from the lab's kubeconfig

class Api(cluster.Api):
    """reallab's raw API client (admin token, the lab's CA), made from a lab's kubeconfig and context."""

    def __init__(self, kubeconfig, context):
        with open(kubeconfig) as f:
            kc = yaml.safe_load(f)
        ctx = next(c["context"] for c in kc["contexts"] if c["name"] == context)
        cl = next(c["cluster"] for c in kc["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in kc["users"] if u["name"] == ctx["user"])
        with tempfile.NamedTemporaryFile("w", suffix=".crt", delete=False) as f:
            f.write(base64.b64decode(cl["certificate-authority-data"]).decode())
        try:
            super().__init__(cl["server"], f.name, user["token"])   # the SSL context reads the CA now
        finally:
            os.unlink(f.name)

    def request(self, method, path, body=None, content_type="application/json", timeout=20):
        return super().request(method, path, body, content_type=content_type, timeout=timeout)


# ---------------------------------------------------------------- diagnose

def diagnose(inventory, report_dir):
    bin_dir = os.path.join(ROOT, ".venv", "bin")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run([os.path.join(bin_dir, "ansible-playbook"), os.path.join(ROOT, "playbooks", "diagnose.yml"),
                           "-i", str(inventory), "-e", "meshmend_report_dir=%s" % report_dir,
                           "-e", "meshmend_fail_on=never"],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    out = proc.stdout.decode("utf-8", "replace")
    path = os.path.join(str(report_dir), "meshmend-report.json")
    assert proc.returncode == 0 and os.path.exists(path), out[-4000:]
    with open(path) as f:
        doc = json.load(f)
    return doc


def finding_keys(doc):
    return sorted({(f["id"], f["cluster"], f.get("peer") or "") for f in doc["findings"]})


# ---------------------------------------------------------------- injected pods

def _proxy(pod):
    sp = pod["spec"]
    for where in ("initContainers", "containers"):
        for c in sp.get(where) or []:
            if c["name"] == "istio-proxy":
                return where, c
    return None, None


def injected_pod(api, namespace="sample", app="sleep"):
    """Where istio-proxy lands and what identity the injector gave it."""
    pods = [p for p in api.get("/api/v1/namespaces/%s/pods?labelSelector=app%%3D%s" % (namespace, app))["items"]
            if not p["metadata"].get("deletionTimestamp")]
    assert pods, "no %s pod in %s" % (app, namespace)
    p = pods[0]
    where, c = _proxy(p)
    if c is None:
        return {"placement": "none"}
    env = {e["name"]: e.get("value") for e in c.get("env") or []}
    labels = p["metadata"].get("labels") or {}
    return {
        "placement": "native" if where == "initContainers" and c.get("restartPolicy") == "Always" else where,
        "init_order": [x["name"] for x in p["spec"].get("initContainers") or []],
        "containers": [x["name"] for x in p["spec"].get("containers") or []],
        "identity": {k: env.get(k) for k in ("ISTIO_META_CLUSTER_ID", "ISTIO_META_NETWORK", "ISTIO_META_MESH_ID",
                                             "ISTIO_META_WORKLOAD_NAME", "ISTIO_META_OWNER")},
        "meta_env": sorted(k for k in env if k.startswith("ISTIO_META_")),
        "labels": {k: v for k, v in labels.items() if k not in ("pod-template-hash",)},
        "annotations": sorted(k for k in (p["metadata"].get("annotations") or {})
                              if k.startswith(("sidecar.istio.io/", "istio.io/", "kubectl.kubernetes.io/"))),
    }


# ---------------------------------------------------------------- bad writes

LONG = "v" * 64


def _cm(name, labels=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
            "data": {"k": "v"}}


BAD_WRITES = [
    ("label value over 63 bytes", "/api/v1/namespaces/default/configmaps", _cm("lv", {"app": LONG})),
    ("label value with spaces", "/api/v1/namespaces/default/configmaps", _cm("ls", {"app": "has spaces"})),
    ("label key with two slashes", "/api/v1/namespaces/default/configmaps", _cm("lk", {"a/b/c": "x"})),
    ("Secret data key with '/'", "/api/v1/namespaces/default/secrets",
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sk"}, "data": {"a/b": "eA=="}}),
    ("ConfigMap name with '_' and capitals", "/api/v1/namespaces/default/configmaps", _cm("Bad_Name")),
    ("Namespace name with a dot", "/api/v1/namespaces",
     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bad.name"}}),
    ("Service name starting with a digit", "/api/v1/namespaces/default/services",
     {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1svc"},
      "spec": {"ports": [{"port": 80}], "selector": {"app": "x"}}}),
    ("Istio Gateway port number as a string", "/apis/networking.istio.io/v1/namespaces/default/gateways",
     {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "gw-str"},
      "spec": {"selector": {"istio": "eastwestgateway"},
               "servers": [{"port": {"number": "15443", "name": "tls", "protocol": "TLS"}, "hosts": ["*.local"],
                            "tls": {"mode": "AUTO_PASSTHROUGH"}}]}}),
    ("Istio DestinationRule without host", "/apis/networking.istio.io/v1/namespaces/default/destinationrules",
     {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "dr-nohost"},
      "spec": {"trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}}),
    ("Istio Gateway TLS server without tls settings (istiod's webhook)",
     "/apis/networking.istio.io/v1/namespaces/default/gateways",
     {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "gw-notls"},
      "spec": {"selector": {"istio": "eastwestgateway"},
               "servers": [{"port": {"number": 15443, "name": "tls", "protocol": "TLS"}, "hosts": ["*.local"]}]}}),
    ("Istio DestinationRule with an invalid subset name (istiod's webhook)",
     "/apis/networking.istio.io/v1/namespaces/default/destinationrules",
     {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "dr-subset"},
      "spec": {"host": "helloworld.sample.svc.cluster.local", "subsets": [{"name": "Bad_Subset"}]}}),
]


def bad_write(api, path, body):
    """The Status of a write the API should refuse (server-side dry run: nothing is stored)."""
    st, doc = api.request("POST", path + "?dryRun=All&fieldValidation=Strict", body)
    causes = sorted(c.get("field") or "" for c in ((doc.get("details") or {}).get("causes") or []))
    message = doc.get("message", "") if st >= 400 else ""
    # `istioctl install` leaves two validating webhooks on the same rules, istiod-default-validator
    # (validation.istio.io) and istio-validator-istio-system (rev.validation.istio.io); the API server calls both
    # at once and reports whichever denial comes first, so the name is not part of what is compared
    message = message.replace('admission webhook "rev.validation.istio.io"', 'admission webhook "validation.istio.io"')
    return {"code": st, "reason": doc.get("reason", "") if st >= 400 else "", "fields": causes, "message": message}


# ---------------------------------------------------------------- istiod

MC_PATTERNS = ("remote config event", "secret event", "Add cluster", "Update cluster", "Adding cluster",
               "Deleting cluster", "create remote cluster failed", "failed to sync", "Number of remote clusters",
               "watch error in cluster", "retry budget exceeded", "would overwrite the config cluster",
               "has already been registered")


def istiod_lines(kubectl_logs_text):
    """istiod's multicluster lines as (level, scope-and-message) with time stamps and addresses taken out."""
    out = set()
    for line in kubectl_logs_text.splitlines():
        if not any(p in line for p in MC_PATTERNS):
            continue
        parts = line.split("\t")
        if len(parts) >= 3 and re.match(r"\d{4}-\d\d-\d\dT", parts[0]):
            parts = parts[1:]
        text = "\t".join(parts)
        text = re.sub(r"https://127\.\d+\.\d+\.\d+:\d+", "https://<apiserver>", text)
        text = re.sub(r"\s+", " ", text).strip()
        out.add(text)
    return sorted(out)


def clusterz(text):
    try:
        doc = json.loads(text)
    except ValueError:
        return {"error": text[:200]}
    return sorted((c.get("id"), c.get("secretName") or "", c.get("syncStatus")) for c in doc or [])


# ---------------------------------------------------------------- endpoints a proxy holds

def address_roles(apis):
    """address -> role ("pod:<cluster>/<app>" or "gateway:<cluster>") across every cluster of a lab."""
    roles = {}
    for name, api in apis.items():
        for p in api.get("/api/v1/pods")["items"]:
            ip = (p.get("status") or {}).get("podIP")
            if ip:
                roles[ip] = "pod:%s/%s" % (name, (p["metadata"].get("labels") or {}).get("app", "?"))
        for s in api.get("/api/v1/services")["items"]:
            for ing in ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                roles[ing.get("ip") or ing.get("hostname")] = "gateway:%s/%s" % (name, s["metadata"]["name"])
            for ip in (s.get("spec") or {}).get("externalIPs") or []:
                roles[ip] = "gateway:%s/%s" % (name, s["metadata"]["name"])
    return roles


def proxy_endpoints(clusters_json_text, roles, service="outbound|5000||helloworld.sample.svc.cluster.local"):
    try:
        doc = json.loads(clusters_json_text)
    except ValueError:
        return {"error": clusters_json_text[:200]}
    for st in doc.get("cluster_statuses") or []:
        if st.get("name") == service:
            out = []
            for h in st.get("host_statuses") or []:
                sa = h["address"].get("socket_address") or {}
                out.append((roles.get(sa.get("address"), "other"), sa.get("port_value"), h.get("weight", 1)))
            return sorted(out)
    return {"error": "no cluster %s" % service}
