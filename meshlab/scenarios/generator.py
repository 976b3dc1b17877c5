"""Scenario generator: a healthy mesh as plain manifests, plus one fault per scenario.

`generate(n, out_dir)` writes a healthy N-cluster multi-primary multi-network scenario.
`python -m meshlab.scenarios.generator --bundled` rewrites the bundled scenarios in this folder.

Values known only at `up` time (API server URLs, ServiceAccount tokens, load-balancer addresses)
are placeholders the lab resolves when it starts (meshlab/README.md, "Scenario placeholders").
"""

import argparse
import copy
import json
import os
import shutil

import yaml

from meshlab.istio import pki
from meshlab.scenarios.crds import CRDS_FILE

HERE = os.path.dirname(os.path.abspath(__file__))
ISTIO_VERSION = "1.30.3"
# Nodes' kubelet: with Istio >= 1.27 on kubelets >= 1.33 istiod injects istio-proxy as a native sidecar
KUBELET_VERSION = "v1.36.1"
PILOT = "docker.io/istio/pilot:%s" % ISTIO_VERSION
PROXY = "docker.io/istio/proxyv2:%s" % ISTIO_VERSION
NS = "istio-system"
REGIONS = ["us-east1", "us-west1", "europe-west1", "asia-east1", "us-central1", "europe-north1"]

# placeholder annotations (resolved by meshlab/istio at lab start)
P_REMOTE = "meshlab.io/remote-secret-for"
P_KEY = "meshlab.io/remote-secret-key"
P_SERVER = "meshlab.io/remote-secret-server"
P_TOKEN = "meshlab.io/remote-secret-token"
P_CA = "meshlab.io/remote-secret-ca"
P_PILOT = "meshlab.io/pilot-address-of"


def _md(name, ns=None, labels=None, annotations=None):
    md = {"name": name}
    if ns:
        md["namespace"] = ns
    if labels:
        md["labels"] = dict(labels)
    if annotations:
        md["annotations"] = dict(annotations)
    return md


def pod_cidr(i):
    """The i-th cluster's pod CIDR (0-based): 10.(10+i).0.0/16 as before up to 90 clusters (the bundled
    scenarios keep theirs), then /20 blocks of 100.64.0.0/10, so that 500 clusters never overlap."""
    if i < 90:
        return "10.%d.0.0/16" % (10 + i)
    block = (i - 90) * 16
    return "100.%d.%d.0/20" % (64 + block // 256, block % 256)


def service_cidr(i):
    """10.(100+i).0.0/16 up to 90 clusters, then /24 blocks of 198.18.0.0/15 (up to 600 clusters)."""
    if i < 90:
        return "10.%d.0.0/16" % (100 + i)
    return "198.%d.%d.0/24" % (18 + (i - 90) // 256, (i - 90) % 256)


def lb_pool(i):
    """172.18.(i+1).0/24 up to 254 clusters, then on through 172.19 ... 172.31."""
    n = i + 1
    return "172.%d.%d.0/24" % (18 + n // 256, n % 256)


class Mesh:
    """The objects of one scenario: lab spec + {cluster: [manifest]}; faults edit them in place."""

    def __init__(self, n=2, roles=None, networks=None, flat=False, root=None):
        self.n = n
        self.names = ["cluster%d" % (i + 1) for i in range(n)]
        self.roles = roles or {c: "primary" for c in self.names}
        self.networks = networks or {c: ("network1" if flat else "network%d" % (i + 1))
                                     for i, c in enumerate(self.names)}
        self.flat = flat
        self.root = root or pki.make_root()
        self.spec = {"clusters": [], "firewall": []}
        for i, c in enumerate(self.names):
            region = REGIONS[i % len(REGIONS)]
            self.spec["clusters"].append({
                "name": c, "region": region, "zone": region + "-" + "abc"[i % 3], "nodes": 1,
                "kubeletVersion": KUBELET_VERSION,
                "podCIDR": pod_cidr(i), "serviceCIDR": service_cidr(i),
                "loadBalancer": {"pool": lb_pool(i), "mode": "L4", "hostname": False}})
        if flat:
            self.spec["flatNetworks"] = [list(self.names)]
        self.objects = {c: [] for c in self.names}
        for i, c in enumerate(self.names):
            self.build_cluster(i, c)

    # ------------------------------------------------------------ lookup helpers for faults
    def find(self, cluster, kind, name, ns=None):
        for o in self.objects[cluster]:
            if o["kind"] == kind and o["metadata"]["name"] == name and (ns is None or o["metadata"].get("namespace") == ns):
                return o
        return None

    def remove(self, cluster, kind, name, ns=None):
        o = self.find(cluster, kind, name, ns)
        if o is not None:
            self.objects[cluster].remove(o)
        return o

    def cspec(self, cluster):
        return next(c for c in self.spec["clusters"] if c["name"] == cluster)

    def values(self, cluster):
        cm = self.find(cluster, "ConfigMap", "istio-sidecar-injector", NS)
        return json.loads(cm["data"]["values"])

    def set_values(self, cluster, values):
        cm = self.find(cluster, "ConfigMap", "istio-sidecar-injector", NS)
        cm["data"]["values"] = json.dumps(values, indent=2, sort_keys=True)

    def mesh(self, cluster):
        return yaml.safe_load(self.find(cluster, "ConfigMap", "istio", NS)["data"]["mesh"])

    def set_mesh(self, cluster, mesh):
        self.find(cluster, "ConfigMap", "istio", NS)["data"]["mesh"] = yaml.safe_dump(mesh, sort_keys=False)

    def set_istiod_env(self, cluster, name, value):
        env = self.istiod_env(cluster)
        env[:] = [e for e in env if e["name"] != name] + [{"name": name, "value": value}]

    def istiod_env(self, cluster):
        dep = self.find(cluster, "Deployment", "istiod", NS)
        return dep["spec"]["template"]["spec"]["containers"][0]["env"]

    # ------------------------------------------------------------ the install
    def build_cluster(self, i, c):
        objs = self.objects[c]
        net = self.networks[c]
        remote = self.roles[c] == "remote"
        primary = next(x for x in self.names if self.roles[x] == "primary")
        ns_ann = {"topology.istio.io/controlPlaneClusters": primary} if remote else None
        # the network label is set on single-network meshes too (one network, named network1)
        ns_labels = {"kubernetes.io/metadata.name": NS, "topology.istio.io/network": net}
        objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": _md(NS, labels=ns_labels, annotations=ns_ann)})
        objs += self.cacerts(c)
        objs += self.config_maps(c, remote, primary)
        if remote:
            objs += self.remote_control_plane(c, primary)
        else:
            objs += self.istiod(c)
        objs += self.reader(c)
        if not remote:
            for peer in self.names:
                if peer != c and (self.roles[peer] == "remote" or not any(self.roles[x] == "remote" for x in self.names)):
                    objs.append(self.remote_secret(c, peer))
        if not self.flat:
            objs += self.eastwest(c, net)
            if self.roles[c] == "primary" and any(self.roles[x] == "remote" for x in self.names):
                objs += self.expose_istiod()
        objs += self.sample(i, c)

    def cacerts(self, c):
        return [pki.cacerts_secret(pki.make_intermediate(self.root, c))]

    def config_maps(self, c, remote, primary):
        mesh = {"defaultConfig": {"discoveryAddress": "istiod.%s.svc:15012" % NS,
                                  "meshId": "mesh1", "proxyMetadata": {}},
                "enablePrometheusMerge": True, "rootNamespace": NS, "trustDomain": "cluster.local"}
        values = {"global": {"meshID": "mesh1", "multiCluster": {"clusterName": c, "enabled": True},
                             "network": self.networks[c], "istioNamespace": NS, "hub": "docker.io/istio",
                             "tag": ISTIO_VERSION, "remotePilotAddress": "", "externalIstiod": False,
                             "configCluster": False, "omitSidecarInjectorConfigMap": False},
                  "revision": "", "sidecarInjectorWebhook": {"enableNamespacesByDefault": False,
                                                             "rewriteAppHTTPProbe": True}}
        ann = None
        if remote:
            values["global"]["remotePilotAddress"] = "192.0.2.1"
            values["istiodRemote"] = {"enabled": True, "enabledLocalInjectorIstiod": False}
            ann = {P_PILOT: primary}
        if not remote and any(self.roles[x] == "remote" for x in self.names):
            values["global"]["externalIstiod"] = True
        return [
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": _md("istio", NS, {"app": "istiod", "istio.io/rev": "default", "release": "istio"}),
             "data": {"mesh": yaml.safe_dump(mesh, sort_keys=False), "meshNetworks": "networks: {}\n"}},
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": _md("istio-sidecar-injector", NS, {"app": "sidecar-injector", "istio.io/rev": "default",
                                                            "release": "istio"}, ann),
             "data": {"values": json.dumps(values, indent=2, sort_keys=True),
                      "config": "defaultTemplates: [sidecar]\npolicy: enabled\nalwaysInjectSelector: []\n"
                                "neverInjectSelector: []\ninjectedAnnotations: {}\ntemplate: '{{ Template_Version_And_Istio_Version_Mismatched_Check_Installation }}'\n"}},
        ]

    def istiod(self, c):
        labels = {"app": "istiod", "istio": "pilot", "istio.io/rev": "default"}
        env = [{"name": "REVISION", "value": "default"}, {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
               {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
               {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
               {"name": "KUBECONFIG", "value": "/var/run/secrets/remote/config"},
               {"name": "CA_TRUSTED_NODE_ACCOUNTS", "value": "istio-system/ztunnel"},
               {"name": "PILOT_TRACE_SAMPLING", "value": "1"},
               {"name": "PILOT_ENABLE_ANALYSIS", "value": "false"},
               {"name": "CLUSTER_ID", "value": c},
               {"name": "PLATFORM", "value": ""}]
        return [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _md("istiod", NS, {"app": "istiod"})},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _md("istiod", NS, dict(labels, **{"install.operator.istio.io/owning-resource": "unknown"})),
             "spec": {"replicas": 1, "selector": {"matchLabels": {"istio": "pilot"}},
                      "template": {"metadata": {"labels": dict(labels, **{"sidecar.istio.io/inject": "false"}),
                                                "annotations": {"prometheus.io/port": "15014", "prometheus.io/scrape": "true",
                                                                "sidecar.istio.io/inject": "false"}},
                                   "spec": {"serviceAccountName": "istiod", "containers": [{
                                       "name": "discovery", "image": PILOT,
                                       "args": ["discovery", "--monitoringAddr=:15014", "--log_output_level=default:info",
                                                "--domain", "cluster.local", "--keepaliveMaxServerConnectionAge", "30m"],
                                       "env": env,
                                       "ports": [{"containerPort": 8080, "protocol": "TCP"},
                                                 {"containerPort": 15010, "protocol": "TCP"},
                                                 {"containerPort": 15012, "protocol": "TCP"},
                                                 {"containerPort": 15017, "protocol": "TCP"},
                                                 {"containerPort": 15014, "protocol": "TCP"}]}]}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": _md("istiod", NS, {"app": "istiod", "istio": "pilot", "istio.io/rev": "default"}),
             "spec": {"selector": {"app": "istiod", "istio": "pilot"},
                      "ports": [{"name": "grpc-xds", "port": 15010, "protocol": "TCP"},
                                {"name": "https-dns", "port": 15012, "protocol": "TCP"},
                                {"name": "https-webhook", "port": 443, "targetPort": 15017, "protocol": "TCP"},
                                {"name": "http-monitoring", "port": 15014, "protocol": "TCP"}]}},
        ]

    def remote_control_plane(self, c, primary):
        """The remote profile: a selector-less istiod Service pointing at the primary's exposed istiod."""
        return [
            {"apiVersion": "v1", "kind": "Service", "metadata": _md("istiod", NS, {"app": "istiod", "istio": "pilot", "istio.io/rev": "default"}),
             "spec": {"ports": [{"name": "tcp-istiod", "port": 15012, "protocol": "TCP"},
                                {"name": "tcp-webhook", "port": 443, "targetPort": 15017, "protocol": "TCP"}]}},
            {"apiVersion": "v1", "kind": "Endpoints",
             "metadata": _md("istiod", NS, {"app": "istiod", "istio.io/rev": "default"}, {P_PILOT: primary}),
             "subsets": [{"addresses": [{"ip": "192.0.2.1"}],
                          "ports": [{"name": "tcp-istiod", "port": 15012, "protocol": "TCP"},
                                    {"name": "tcp-webhook", "port": 15017, "protocol": "TCP"}]}]},
        ]

    def reader(self, c):
        rules = [{"apiGroups": ["config.istio.io", "security.istio.io", "networking.istio.io",
                                "authentication.istio.io", "rbac.istio.io", "telemetry.istio.io", "extensions.istio.io"],
                  "resources": ["*"], "verbs": ["get", "list", "watch"]},
                 {"apiGroups": [""], "resources": ["endpoints", "pods", "services", "nodes", "replicationcontrollers",
                                                   "namespaces", "secrets"], "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["networking.istio.io"], "resources": ["workloadentries"],
                  "verbs": ["get", "watch", "list"]},
                 {"apiGroups": ["networking.x-k8s.io", "gateway.networking.k8s.io"], "resources": ["gateways"],
                  "verbs": ["get", "watch", "list"]},
                 {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
                  "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["multicluster.x-k8s.io"], "resources": ["serviceexports", "serviceimports"],
                  "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
                 {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}]
        return [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _md("istio-reader-service-account", NS,
                                                                           {"app": "istio-reader", "release": "istio"})},
            {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
             "metadata": _md("istio-reader-service-account-istio-remote-secret-token", NS, None,
                             {"kubernetes.io/service-account.name": "istio-reader-service-account"})},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": _md("istio-reader-clusterrole-istio-system", labels={"app": "istio-reader", "release": "istio"}),
             "rules": rules},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": _md("istio-reader-clusterrole-istio-system", labels={"app": "istio-reader", "release": "istio"}),
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                         "name": "istio-reader-clusterrole-istio-system"},
             "subjects": [{"kind": "ServiceAccount", "name": "istio-reader-service-account", "namespace": NS}]},
        ]

    def remote_secret(self, c, peer, ns=NS):
        """istioctl create-remote-secret --name PEER output; kubeconfig filled at lab start."""
        return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": _md("istio-remote-secret-%s" % peer, ns, {"istio/multiCluster": "true"},
                                {"networking.istio.io/cluster": peer, P_REMOTE: peer}),
                "data": {}}

    def eastwest(self, c, net):
        labels = {"istio": "eastwestgateway", "app": "istio-eastwestgateway", "topology.istio.io/network": net}
        return [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _md("istio-eastwestgateway-service-account", NS)},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _md("istio-eastwestgateway", NS, labels),
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "istio-eastwestgateway", "istio": "eastwestgateway"}},
                      "template": {"metadata": {"labels": dict(labels, **{"sidecar.istio.io/inject": "false",
                                                                          "service.istio.io/canonical-name": "istio-eastwestgateway"}),
                                                "annotations": {"prometheus.io/port": "15020", "prometheus.io/scrape": "true"}},
                                   "spec": {"serviceAccountName": "istio-eastwestgateway-service-account",
                                            "containers": [{"name": "istio-proxy", "image": PROXY,
                                                            "args": ["proxy", "router", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
                                                            "env": [{"name": "ISTIO_META_REQUESTED_NETWORK_VIEW", "value": net},
                                                                    {"name": "ISTIO_META_CLUSTER_ID", "value": c},
                                                                    {"name": "ISTIO_META_NETWORK", "value": net},
                                                                    {"name": "ISTIO_META_ROUTER_MODE", "value": "sni-dnat"}],
                                                            "ports": [{"containerPort": 15021, "protocol": "TCP"},
                                                                      {"containerPort": 15443, "protocol": "TCP"},
                                                                      {"containerPort": 15012, "protocol": "TCP"},
                                                                      {"containerPort": 15017, "protocol": "TCP"},
                                                                      {"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}]}]}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": _md("istio-eastwestgateway", NS, labels),
             "spec": {"type": "LoadBalancer", "selector": {"app": "istio-eastwestgateway", "istio": "eastwestgateway"},
                      "ports": [{"name": "status-port", "port": 15021, "targetPort": 15021, "protocol": "TCP"},
                                {"name": "tls", "port": 15443, "targetPort": 15443, "protocol": "TCP"},
                                {"name": "tls-istiod", "port": 15012, "targetPort": 15012, "protocol": "TCP"},
                                {"name": "tls-webhook", "port": 15017, "targetPort": 15017, "protocol": "TCP"}]}},
            {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": _md("cross-network-gateway", NS),
             "spec": {"selector": {"istio": "eastwestgateway"},
                      "servers": [{"port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                                   "tls": {"mode": "AUTO_PASSTHROUGH"}, "hosts": ["*.local"]}]}},
        ]

    def expose_istiod(self):
        return [
            {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": _md("istiod-gateway", NS),
             "spec": {"selector": {"istio": "eastwestgateway"},
                      "servers": [{"port": {"name": "tls-istiod", "number": 15012, "protocol": "tls"},
                                   "tls": {"mode": "PASSTHROUGH"}, "hosts": ["*"]},
                                  {"port": {"name": "tls-istiodwebhook", "number": 15017, "protocol": "tls"},
                                   "tls": {"mode": "PASSTHROUGH"}, "hosts": ["*"]}]}},
            {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": _md("istiod-vs", NS),
             "spec": {"hosts": ["*"], "gateways": ["istiod-gateway"],
                      "tls": [{"match": [{"port": 15012, "sniHosts": ["*"]}],
                               "route": [{"destination": {"host": "istiod.istio-system.svc.cluster.local",
                                                          "port": {"number": 15012}}}]},
                              {"match": [{"port": 15017, "sniHosts": ["*"]}],
                               "route": [{"destination": {"host": "istiod.istio-system.svc.cluster.local",
                                                          "port": {"number": 443}}}]}]}},
        ]

    def sample(self, i, c):
        version = "v1" if i % 2 == 0 else "v2"
        hl = {"app": "helloworld", "version": version}
        return [
            {"apiVersion": "v1", "kind": "Namespace",
             "metadata": _md("sample", labels={"istio-injection": "enabled", "kubernetes.io/metadata.name": "sample"})},
            {"apiVersion": "v1", "kind": "Service", "metadata": _md("helloworld", "sample", {"app": "helloworld", "service": "helloworld"}),
             "spec": {"ports": [{"port": 5000, "name": "http"}], "selector": {"app": "helloworld"}}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _md("helloworld-%s" % version, "sample", hl),
             "spec": {"replicas": 1, "selector": {"matchLabels": hl},
                      "template": {"metadata": {"labels": hl},
                                   "spec": {"containers": [{"name": "helloworld",
                                                            "image": "registry.istio.io/release/examples-helloworld-%s:1.0" % version,
                                                            "resources": {"requests": {"cpu": "100m"}},
                                                            "imagePullPolicy": "IfNotPresent",
                                                            "ports": [{"containerPort": 5000}]}]}}}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _md("sleep", "sample")},
            {"apiVersion": "v1", "kind": "Service", "metadata": _md("sleep", "sample", {"app": "sleep", "service": "sleep"}),
             "spec": {"ports": [{"port": 80, "name": "http"}], "selector": {"app": "sleep"}}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _md("sleep", "sample"),
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "sleep"}},
                      "template": {"metadata": {"labels": {"app": "sleep"}},
                                   "spec": {"terminationGracePeriodSeconds": 0, "serviceAccountName": "sleep",
                                            "containers": [{"name": "sleep", "image": "docker.io/curlimages/curl:8.16.0",
                                                            "command": ["/bin/sleep", "infinity"],
                                                            "imagePullPolicy": "IfNotPresent"}]}}}},
        ]

    # ------------------------------------------------------------ output
    def write(self, out_dir, name, summary, body, findings, crds_link=None):
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        os.makedirs(out_dir)
        with open(os.path.join(out_dir, "lab.yaml"), "w") as f:
            f.write("# %s\n" % summary)
            yaml.safe_dump(self.spec, f, sort_keys=False, default_flow_style=None)
        with open(os.path.join(out_dir, "README.md"), "w") as f:
            f.write("%s\n\n%s\n" % (summary, body.strip()))
        with open(os.path.join(out_dir, "expected.yaml"), "w") as f:
            yaml.safe_dump({"findings": findings}, f, sort_keys=False)
        if not crds_link:
            # one copy of Istio's CRDs (500 kB of JSON) per scenario, linked from every cluster's folder
            os.makedirs(os.path.join(out_dir, "_common"))
            shutil.copyfile(CRDS_FILE, os.path.join(out_dir, "_common", "istio-crds.json"))
            crds_link = os.path.join("..", "_common", "istio-crds.json")
        for c in self.names:
            cdir = os.path.join(out_dir, c)
            os.makedirs(cdir)
            os.symlink(crds_link, os.path.join(cdir, "00-istio-crds.json"))
            groups = {"10-istio-system.yaml": [], "20-sample.yaml": []}
            for o in self.objects[c]:
                ns = o["metadata"].get("namespace")
                key = "20-sample.yaml" if (ns and ns != NS) or (o["kind"] == "Namespace" and o["metadata"]["name"] != NS) \
                    else "10-istio-system.yaml"
                groups[key].append(o)
            for fname, objs in groups.items():
                if objs:
                    _dump(os.path.join(cdir, fname), objs)


def _dump(path, objs):
    with open(path, "w") as f:
        yaml.safe_dump_all(objs, f, sort_keys=False, default_flow_style=False, width=120)


def generate(n, out_dir):
    """A healthy N-cluster multi-primary multi-network scenario in out_dir (EC keys: fast at 50)."""
    n = int(n)
    if n < 1:
        raise ValueError("--clusters must be at least 1")
    mesh = Mesh(n)
    mesh.write(out_dir, "generated-%d" % n,
               "Healthy %d-cluster multi-primary multi-network mesh (generated)." % n,
               "Every cluster is a primary on its own network with an east-west gateway, remote secrets for "
               "every peer and a shared root of trust. helloworld v1/v2 alternate across clusters.",
               [])
    return out_dir


# ---------------------------------------------------------------- the catalogue

def _f(fid, cluster, peer=None, caused_by=()):
    return {"id": fid, "cluster": cluster, "peer": peer, "caused_by": list(caused_by)}


def _rs(mesh, c, peer):
    return mesh.find(c, "Secret", "istio-remote-secret-%s" % peer, NS)


def build_catalogue():
    """name -> (Mesh, summary, body, findings)."""
    from meshlab.scenarios import catalogue
    return catalogue.SCENARIOS


def write_bundled(only=None):
    from meshlab.scenarios.catalogue import SCENARIOS
    # _common/istio-crds.json is data (Istio's own CRDs), not generated
    for name, build in SCENARIOS.items():
        if only and name not in only:
            continue
        mesh, summary, body, findings = build()
        mesh.write(os.path.join(HERE, name), name, summary, body, findings,
                   crds_link=os.path.join("..", "..", "_common", "istio-crds.json"))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="meshlab.scenarios.generator")
    ap.add_argument("--bundled", action="store_true", help="rewrite the bundled scenarios")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--clusters", type=int)
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    if a.bundled:
        write_bundled(a.only)
    elif a.clusters and a.out:
        generate(a.clusters, a.out)
    else:
        ap.error("--bundled or --clusters N --out DIR")


if __name__ == "__main__":
    main()
