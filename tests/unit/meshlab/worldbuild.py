"""Expand a scenario directory into a DictWorld, doing in a few lines what the lab's controllers do
(Deployments -> Pods with IPs, ClusterIPs, LoadBalancer ingress from the pool, SA tokens) so the
pure Istio model can be tested on the very manifests the bundled scenarios ship."""

import base64
import copy
import glob
import ipaddress
import json
import os

import yaml

from meshlab.istio.world import DictWorld, labels_of, name_of, ns_of
from meshlab.istio import injection, placeholders
from meshlab.istio.networks import address_owner


_CACHE = {}


def load(path):
    """(spec, {cluster: [objects]}) of a scenario directory (parsed once per test session)."""
    path = os.path.abspath(path)
    if path not in _CACHE:
        _CACHE[path] = _load(path)
    return copy.deepcopy(_CACHE[path])


def _load(path):
    with open(os.path.join(path, "lab.yaml")) as f:
        spec = yaml.safe_load(f)
    objects = {}
    for c in spec["clusters"]:
        objs = []
        for fn in sorted(glob.glob(os.path.join(path, c["name"], "*.yaml")) +
                         glob.glob(os.path.join(path, c["name"], "*.json"))):
            with open(fn) as f:
                if fn.endswith(".json"):
                    d = json.load(f)
                    objs += d["items"] if d.get("kind") == "List" else [d]
                else:
                    objs += [d for d in yaml.load_all(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d]
        objects[c["name"]] = objs
    return spec, objects


class Builder:
    def __init__(self, spec, objects):
        self.spec = spec
        self.world = DictWorld({c: [] for c in objects}, spec, {})
        self.pod_ips = {}
        self.svc_ips = {}
        self.lb_ips = {}
        self.counter = 0
        for i, c in enumerate(spec["clusters"]):
            name = c["name"]
            url = "https://127.0.%d.1:6443" % (i + 1)
            self.world.api[url] = {"cluster": name, "ca_pem": "CA-%s" % name, "tokens": {}, "up": True}
            self.pod_ips[name] = ipaddress.ip_network(c["podCIDR"]).hosts()
            self.svc_ips[name] = ipaddress.ip_network(c["serviceCIDR"]).hosts()
            lb = c.get("loadBalancer")
            self.lb_ips[name] = ipaddress.ip_network(lb["pool"]).hosts() if lb else None
            for n in range(c.get("nodes", 1)):
                self.world.objects[name].append({
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": "%s-node-%d" % (name, n), "labels": {
                        "kubernetes.io/hostname": "%s-node-%d" % (name, n),
                        "topology.kubernetes.io/region": c.get("region", ""),
                        "topology.kubernetes.io/zone": c.get("zone", "")}},
                    "status": {"addresses": [{"type": "InternalIP", "address": "192.168.%d.%d" % (i + 1, n + 10)},
                                             {"type": "ExternalIP", "address": "203.0.%d.%d" % (i + 1, n + 10)}],
                               "nodeInfo": {"kubeletVersion": c.get("kubeletVersion", "v1.36.1")}}})
        for c in spec["clusters"]:
            for o in objects[c["name"]]:
                self.apply(c["name"], o)
        self.resolve()

    def url(self, cluster):
        return next(u for u, e in self.world.api.items() if e["cluster"] == cluster)

    def apply(self, cluster, obj):
        o = copy.deepcopy(obj)
        kind = o["kind"]
        objs = self.world.objects[cluster]
        if kind in ("Deployment",):
            objs.append(o)
            for _ in range(o["spec"].get("replicas", 1)):
                self.counter += 1
                tmpl = copy.deepcopy(o["spec"]["template"])
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": "%s-7d4f8c6b9b-%05d" % (name_of(o), self.counter),
                                    "namespace": ns_of(o) or "default",
                                    "labels": dict(tmpl["metadata"].get("labels") or {}, **{"pod-template-hash": "7d4f8c6b9b"}),
                                    "annotations": dict(tmpl["metadata"].get("annotations") or {}),
                                    "ownerReferences": [{"kind": "ReplicaSet", "name": "%s-7d4f8c6b9b" % name_of(o)}]},
                       "spec": dict(tmpl["spec"], nodeName="%s-node-0" % cluster)}
                self.create_pod(cluster, pod)
            return
        if kind == "Service":
            spec = o.setdefault("spec", {})
            if spec.get("type") != "ExternalName":
                spec["clusterIP"] = str(next(self.svc_ips[cluster]))
            if spec.get("type") in ("LoadBalancer", "NodePort"):
                for j, p in enumerate(spec.get("ports") or []):
                    p.setdefault("nodePort", 30000 + self.counter * 10 + j)
            if spec.get("type") == "LoadBalancer":
                self.assign_lb(cluster, o)
        if kind == "Secret" and o.get("type") == "kubernetes.io/service-account-token":
            tok = "token-%s-%s" % (cluster, name_of(o))
            o["data"] = {"token": base64.b64encode(tok.encode()).decode()}
            sa = o["metadata"]["annotations"]["kubernetes.io/service-account.name"]
            self.world.api[self.url(cluster)]["tokens"][tok] = "system:serviceaccount:%s:%s" % (ns_of(o), sa)
        objs.append(o)

    def assign_lb(self, cluster, svc):
        cs = self.world.cluster_spec(cluster)
        lb = cs.get("loadBalancer")
        if not lb:
            svc["status"] = {"loadBalancer": {}}
            return
        ip = str(next(self.lb_ips[cluster]))
        ing = {"hostname": "a%s-%s.elb.amazonaws.com" % (ip.replace(".", ""), cluster)} if lb.get("hostname") else {"ip": ip}
        svc["status"] = {"loadBalancer": {"ingress": [dict(ing, ipMode="VIP") if "ip" in ing else ing]}}

    def create_pod(self, cluster, pod):
        pod = injection.admission(self.world, cluster, pod)
        pod["status"] = {"phase": "Running", "podIP": str(next(self.pod_ips[cluster])), "hostIP": "192.168.0.10"}
        self.world.objects[cluster].append(pod)
        return pod

    def reader_allowed(self, cluster):
        return any(o["kind"] == "ClusterRoleBinding" and name_of(o) == "istio-reader-clusterrole-istio-system"
                   for o in self.world.objects[cluster])

    def resolve(self):
        for name, objs in self.world.objects.items():
            for idx, o in enumerate(objs):
                if o["kind"] == "Secret" and placeholders.pending_remote_secret(o):
                    peer = o["metadata"]["annotations"][placeholders.P_REMOTE]
                    tok_secret = next(x for x in self.world.objects[peer] if x["kind"] == "Secret"
                                      and name_of(x) == "istio-reader-service-account-istio-remote-secret-token")
                    tok = base64.b64decode(tok_secret["data"]["token"]).decode()
                    objs[idx] = placeholders.fill_remote_secret(o, self.url(peer), "CA-%s" % peer, tok)
                elif placeholders.pending_pilot(o):
                    primary = o["metadata"]["annotations"][placeholders.P_PILOT]
                    gw = next(x for x in self.world.objects[primary] if x["kind"] == "Service"
                              and name_of(x) == "istio-eastwestgateway")
                    objs[idx] = placeholders.fill_pilot_address(o, placeholders.gateway_address(gw) or "192.0.2.1")
        for url, e in self.world.api.items():
            e["allowed"] = True if self.reader_allowed(e["cluster"]) else set()


def build(path):
    spec, objects = load(path)
    return Builder(spec, objects)


SCEN = os.path.join(os.path.dirname(__file__), "..", "..", "..", "meshlab", "scenarios")


def scenario(name):
    return build(os.path.join(SCEN, name))


def pod(world, cluster, prefix, ns="sample"):
    return next(p for p in world.list(cluster, "pods", ns) if name_of(p).startswith(prefix))
