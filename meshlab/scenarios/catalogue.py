"""The bundled scenarios: the healthy bases and one fault each (DESIGN.md sections 4 and 5).

Each builder returns (Mesh, one-line summary, README body, expected findings).
Expected findings list what diagnose must raise (errors and warnings; healthy ones list none).
"""

import base64

import yaml

from meshlab.istio import pki
from meshlab.scenarios.generator import (Mesh, NS, P_KEY, P_SERVER, P_TOKEN, P_CA, _f, _rs)

SCENARIOS = {}


def scenario(name):
    def deco(fn):
        SCENARIOS[name] = fn
        return fn
    return deco


def _guide_only_local(peer="cluster2"):
    return ("The guide would show: `istioctl proxy-config endpoint` on sleep lists only the local "
            "helloworld pod (`10.x.x.x:5000 HEALTHY OK outbound|5000||helloworld.sample.svc.cluster.local`), "
            "and `curl helloworld.sample:5000/hello` from sleep answers only the local version.")


_RAW = ("The guide would show: sleep in cluster1 holds the raw pod IP of cluster2's helloworld "
        "(\"multiple Pod IPs\") instead of cluster2's east-west gateway `IP:15443`; curl to it times out "
        "because the pod networks do not route to each other.")


# ---------------------------------------------------------------- healthy bases

@scenario("healthy-multinetwork")
def healthy_multinetwork():
    m = Mesh(2)
    return (m, "Two primaries on two networks (network1, network2), east-west gateways, shared root: healthy.",
            "Multi-primary on different networks, as in Istio's install guide. Each sleep proxy holds the local "
            "helloworld pod IP plus the peer's east-west gateway `IP:15443`; curl from sleep sees both v1 and v2.",
            [])


@scenario("healthy-primary-remote")
def healthy_primary_remote():
    m = Mesh(2, roles={"cluster1": "primary", "cluster2": "remote"})
    return (m, "Primary cluster1 and remote cluster2 on two networks, istiod exposed through the gateway: healthy.",
            "cluster2 has no istiod: its selector-less Service `istiod` points at cluster1's east-west gateway "
            "(remotePilotAddress), which passes 15012/15017 through to cluster1's istiod (Gateway istiod-gateway). "
            "cluster1's istiod reads cluster2 through istio-remote-secret-cluster2. Both sleeps see v1 and v2.",
            [])


@scenario("healthy-single-network")
def healthy_single_network():
    m = Mesh(2, flat=True)
    return (m, "Two primaries on one flat network (network1): healthy, endpoints are pod IPs on both sides.",
            "Multi-primary on a single network: pod networks route to each other (lab.yaml flatNetworks), no "
            "east-west gateway. Each sleep proxy holds both helloworld pod IPs; curl sees v1 and v2.",
            [])


@scenario("demo")
def demo():
    m = Mesh(2)
    # 1. cluster2's istio-system lost its network label
    ns = m.find("cluster2", "Namespace", NS)
    del ns["metadata"]["labels"]["topology.istio.io/network"]
    # 2. cluster2 has no load balancer: its east-west gateway stays <pending>
    _no_load_balancer(m, "cluster2")
    # 3. cluster1 never got cluster2's remote secret
    m.remove("cluster1", "Secret", "istio-remote-secret-cluster2", NS)
    return (m, "Demo: three faults remediate can fix (network label, pending gateway, missing remote secret).",
            "- cluster2's istio-system lacks `topology.istio.io/network` (remediate: network_labels).\n"
            "- cluster2 has no LoadBalancer support: istio-eastwestgateway EXTERNAL-IP stays `<pending>` "
            "(remediate: gateway_addresses from host var meshmend_eastwest_gateway_ip).\n"
            "- cluster1 has no istio-remote-secret-cluster2 (remediate: remote_secrets).\n\n"
            "The guide would show: sleep in cluster1 holds only its local endpoint (no remote secret); sleep "
            "in cluster2 still reaches v1 through cluster1's gateway. Once the secret is back, cluster1 would see "
            "cluster2's raw pod IP until the gateway gets an address.",
            [_f("network.namespace_label_missing", "cluster2"),
             _f("eastwest_gateway.external_ip_pending", "cluster2"),
             _f("remote_secret.missing", "cluster1", "cluster2"),
             _f("endpoints.remote_missing", "cluster1", "cluster2", ["remote_secret.missing"])])


# ---------------------------------------------------------------- control plane identity

@scenario("istio-not-installed")
def istio_not_installed():
    m = Mesh(2)
    for o in list(m.objects["cluster2"]):
        if o["metadata"].get("namespace") == NS and o["kind"] in ("Deployment", "Service", "ConfigMap", "Endpoints"):
            if o["metadata"]["name"] in ("istiod", "istio", "istio-sidecar-injector"):
                m.objects["cluster2"].remove(o)
    return (m, "cluster2 has no istiod and no remote control-plane Service: Istio is not installed there.",
            "cluster2 was never installed (only the gateway and the samples were applied): no istiod Deployment, "
            "no istiod Service, no injector ConfigMap, so its pods run without sidecars. cluster1 still reads "
            "cluster2 and sees its uninjected helloworld pod, which it drops (no sidecar, other network).",
            [_f("istio.not_installed", "cluster2"),
             # cluster1's proxy has no other cluster with Istio to be compared with: said, under the cause
             _f("endpoints.not_checked", "cluster1", caused_by=["istio.not_installed"])])


@scenario("cluster-duplicate-id")
def cluster_duplicate_id():
    m = Mesh(2)
    for c in m.names:
        env = m.istiod_env(c)
        env[:] = [e for e in env if e["name"] != "CLUSTER_ID"]
        v = m.values(c)
        v["global"]["multiCluster"]["clusterName"] = ""
        m.set_values(c, v)
        peer = "cluster2" if c == "cluster1" else "cluster1"
        _rs(m, c, peer)["metadata"]["annotations"][P_KEY] = "Kubernetes"
        _rs(m, c, peer)["metadata"]["annotations"]["networking.istio.io/cluster"] = "Kubernetes"
    return (m, "Both clusters left at the default cluster ID `Kubernetes`: each istiod ignores the peer's secret.",
            "CLUSTER_ID and values.global.multiCluster.clusterName were never set, so both clusters are "
            "`Kubernetes`; the remote secrets' data key is `Kubernetes` too and istiod logs `ignoring cluster as "
            "it would overwrite the config cluster`. " + _guide_only_local(),
            [_f("cluster.duplicate_id", "cluster1", "cluster2"),
             _f("remote_secret.local_key", "cluster1", "cluster2", ["cluster.duplicate_id"]),
             _f("remote_secret.local_key", "cluster2", "cluster1", ["cluster.duplicate_id"]),
             _f("endpoints.remote_missing", "cluster1", "cluster2", ["cluster.duplicate_id", "remote_secret.local_key"]),
             _f("endpoints.remote_missing", "cluster2", "cluster1", ["cluster.duplicate_id", "remote_secret.local_key"])])


@scenario("mesh-id-mismatch")
def mesh_id_mismatch():
    m = Mesh(2)
    v = m.values("cluster2")
    v["global"]["meshID"] = "mesh2"
    m.set_values("cluster2", v)
    mc = m.mesh("cluster2")
    mc["defaultConfig"]["meshId"] = "mesh2"
    m.set_mesh("cluster2", mc)
    return (m, "cluster2 was installed with meshID mesh2 while cluster1 uses mesh1.",
            "values.global.meshID differs: proxies in cluster2 carry ISTIO_META_MESH_ID=mesh2. Istio expects one "
            "mesh ID across the clusters of a mesh.",
            [_f("mesh.id_mismatch", "cluster2", "cluster1")])


# ---------------------------------------------------------------- remote secrets

@scenario("remote-secret-missing")
def remote_secret_missing():
    m = Mesh(2)
    m.remove("cluster1", "Secret", "istio-remote-secret-cluster2", NS)
    return (m, "cluster1 has no remote secret for cluster2: its proxies see only local endpoints.",
            "`kubectl get secrets -n istio-system -l istio/multiCluster=true` in cluster1 is empty. "
            + _guide_only_local(),
            [_f("remote_secret.missing", "cluster1", "cluster2"),
             _f("endpoints.remote_missing", "cluster1", "cluster2", ["remote_secret.missing"])])


@scenario("remote-secret-wrong-namespace")
def remote_secret_wrong_namespace():
    m = Mesh(2)
    s = _rs(m, "cluster1", "cluster2")
    s["metadata"]["namespace"] = "default"
    return (m, "cluster1's remote secret for cluster2 was applied to namespace default: istiod ignores it.",
            "istiod watches only its own namespace (istio#49780). " + _guide_only_local(),
            [_f("remote_secret.wrong_namespace", "cluster1", "cluster2"),
             _f("endpoints.remote_missing", "cluster1", "cluster2", ["remote_secret.wrong_namespace"])])


@scenario("remote-secret-key-mismatch")
def remote_secret_key_mismatch():
    m = Mesh(2)
    _rs(m, "cluster1", "cluster2")["metadata"]["annotations"][P_KEY] = "cluster-2"
    return (m, "cluster1's remote secret for cluster2 uses data key `cluster-2`, not cluster2's cluster ID.",
            "istiod takes the data key as the cluster ID: it registers a cluster `cluster-2` that no proxy "
            "claims. The guide: make sure the cluster name is used as the data key.",
            [_f("remote_secret.key_mismatch", "cluster1", "cluster2")])


@scenario("remote-secret-local-key")
def remote_secret_local_key():
    m = Mesh(2)
    s = _rs(m, "cluster1", "cluster2")
    s["metadata"]["name"] = "istio-remote-secret-cluster1"
    s["metadata"]["annotations"]["networking.istio.io/cluster"] = "cluster1"
    s["metadata"]["annotations"]["meshlab.io/remote-secret-for"] = "cluster1"
    return (m, "cluster1 was given its own remote secret (key cluster1) instead of cluster2's.",
            "istiod logs `ignoring cluster as it would overwrite the config cluster` and never reads cluster2. "
            + _guide_only_local(),
            [_f("remote_secret.local_key", "cluster1"),
             _f("remote_secret.missing", "cluster1", "cluster2"),
             _f("endpoints.remote_missing", "cluster1", "cluster2", ["remote_secret.missing"])])


def _literal_secret(m, c, peer, kubeconfig):
    s = _rs(m, c, peer)
    del s["metadata"]["annotations"]["meshlab.io/remote-secret-for"]
    s["data"] = {peer: base64.b64encode(kubeconfig.encode()).decode()}
    return s


@scenario("remote-secret-invalid-kubeconfig")
def remote_secret_invalid_kubeconfig():
    m = Mesh(2)
    kc = {"apiVersion": "v1", "kind": "Config", "current-context": "cluster2",
          "clusters": [{"name": "cluster2", "cluster": {"server": "https://ABCDEF.gr7.us-east-1.eks.amazonaws.com"}}],
          "contexts": [{"name": "cluster2", "context": {"cluster": "cluster2", "user": "cluster2"}}],
          "users": [{"name": "cluster2", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                                           "command": "aws", "args": ["eks", "get-token",
                                                                                      "--cluster-name", "cluster2"]}}}]}
    _literal_secret(m, "cluster1", "cluster2", yaml.safe_dump(kc, sort_keys=False))
    return (m, "cluster1's remote secret for cluster2 uses exec auth (EKS style): istiod refuses it.",
            "istiod logs `Add cluster: create remote cluster failed: kubeconfig is not allowed: exec is not "
            "allowed` (istio#61773). " + _guide_only_local(),
            [_f("remote_secret.invalid_kubeconfig", "cluster1", "cluster2"),
             _f("remote_secret.istiod_error", "cluster1", "cluster2", ["remote_secret.invalid_kubeconfig"]),
             _f("endpoints.remote_missing", "cluster1", "cluster2", ["remote_secret.invalid_kubeconfig", "remote_secret.istiod_error"])])


@scenario("remote-secret-loopback-server")
def remote_secret_loopback_server():
    m = Mesh(2)
    _rs(m, "cluster1", "cluster2")["metadata"]["annotations"][P_SERVER] = "loopback"
    return (m, "cluster1's remote secret for cluster2 points at https://127.0.0.1 (a kind kubeconfig).",
            "From inside istiod's pod 127.0.0.1 is istiod itself: the connection is refused, the remote "
            "cluster never syncs (`remote cluster cluster2 failed to sync after 30s`, istio#58047). "
            + _guide_only_local(),
            [_f("remote_secret.loopback_server", "cluster1", "cluster2"),
             _f("endpoints.remote_missing", "cluster1", "cluster2", ["remote_secret.loopback_server"])])


@scenario("remote-secret-api-unreachable")
def remote_secret_api_unreachable():
    m = Mesh(2)
    _rs(m, "cluster1", "cluster2")["metadata"]["annotations"][P_CA] = "other"
    return (m, "cluster1's remote secret for cluster2 carries the wrong certificate-authority-data.",
            "istiod's client fails with `x509: certificate signed by unknown authority` and the remote cluster "
            "times out syncing. " + _guide_only_local(),
            [_f("remote_secret.api_unreachable", "cluster1", "cluster2"),
             _f("remote_secret.not_synced", "cluster1", "cluster2", ["remote_secret.api_unreachable"]),
             _f("endpoints.remote_missing", "cluster1", "cluster2", ["remote_secret.api_unreachable", "remote_secret.not_synced"])])


@scenario("remote-secret-istiod-error")
def remote_secret_istiod_error():
    m = Mesh(2)
    dep = m.find("cluster1", "Deployment", "istiod", NS)
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/istio/pilot:1.9.9"
    kc = {"apiVersion": "v1", "kind": "Config", "current-context": "cluster2",
          "clusters": [{"name": "cluster2", "cluster": {"server": "https://10.0.0.2:6443"}}],
          "contexts": [{"name": "cluster2", "context": {"cluster": "cluster2", "user": "cluster2"}}],
          "users": [{"name": "cluster2", "user": {"tokenFile": "/var/run/secrets/remote/token"}}]}
    _literal_secret(m, "cluster1", "cluster2", yaml.safe_dump(kc, sort_keys=False))
    return (m, "cluster1 runs istiod 1.9: its log holds `Failed to add remote cluster from secret` for cluster2.",
            "The guide's own wording: the remote secret for cluster2 refers to a token file istiod may not "
            "read, and the 1.9 istiod logs `Failed to add remote cluster from secret=... for cluster_id=cluster2`. "
            + _guide_only_local(),
            [_f("remote_secret.istiod_error", "cluster1", "cluster2", ["remote_secret.invalid_kubeconfig"]),
             _f("remote_secret.invalid_kubeconfig", "cluster1", "cluster2"),
             _f("endpoints.remote_missing", "cluster1", "cluster2", ["remote_secret.invalid_kubeconfig", "remote_secret.istiod_error"])])


@scenario("remote-secret-not-synced")
def remote_secret_not_synced():
    m = Mesh(2)
    m.remove("cluster2", "ClusterRoleBinding", "istio-reader-clusterrole-istio-system")
    return (m, "cluster2 lost the istio-reader ClusterRoleBinding: cluster1's istiod cannot list there and never syncs.",
            "The token authenticates but RBAC forbids `list pods`; `istioctl remote-clusters` shows cluster2 "
            "`timeout`. " + _guide_only_local(),
            [_f("remote_secret.not_synced", "cluster1", "cluster2", ["remote_secret.api_unreachable"]),
             _f("remote_secret.api_unreachable", "cluster1", "cluster2"),
             _f("endpoints.remote_missing", "cluster1", "cluster2", ["remote_secret.api_unreachable", "remote_secret.not_synced"])])


# ---------------------------------------------------------------- primary-remote

@scenario("primary-remote-istiod-remote-missing")
def primary_remote_istiod_remote_missing():
    m = Mesh(2, roles={"cluster1": "primary", "cluster2": "remote"})
    m.remove("cluster2", "Service", "istiod", NS)
    m.remove("cluster2", "Endpoints", "istiod", NS)
    tmp = Mesh.__new__(Mesh)
    tmp.root, tmp.names = m.root, m.names
    for o in Mesh.istiod(tmp, "cluster2"):
        m.objects["cluster2"].insert(3, o)
    v = m.values("cluster2")
    v["global"]["remotePilotAddress"] = ""
    m.set_values("cluster2", v)
    cm = m.find("cluster2", "ConfigMap", "istio-sidecar-injector", NS)
    cm["metadata"].pop("annotations", None)
    return (m, "Remote cluster2 runs its own istiod and no istiod-remote Service: its proxies see only cluster2.",
            "cluster2 was installed with a full istiod instead of the remote profile (remotePilotAddress unset). "
            "Its proxies connect to that in-cluster istiod, meant only for injection and CA, which has no "
            "remote secrets: sleep in cluster2 lists only the cluster2 helloworld pod. The guide: look for a "
            "Service named istiod-remote; reinstall with values.global.remotePilotAddress.",
            [_f("primary_remote.istiod_remote_missing", "cluster2", "cluster1"),
             _f("endpoints.remote_missing", "cluster2", "cluster1", ["primary_remote.istiod_remote_missing"])])


# ---------------------------------------------------------------- networks

@scenario("network-namespace-label-missing")
def network_namespace_label_missing():
    m = Mesh(2)
    del m.find("cluster2", "Namespace", NS)["metadata"]["labels"]["topology.istio.io/network"]
    return (m, "cluster2's istio-system lacks the topology.istio.io/network label.",
            "Injected pods still carry network2 from injection, but uninjected pods in cluster2 have no network; "
            "the guide: `kubectl get ns istio-system -ojsonpath='{.metadata.labels.topology\\.istio\\.io/network}'` "
            "prints nothing. Remediate sets the label.",
            [_f("network.namespace_label_missing", "cluster2")])


@scenario("network-namespace-label-mismatch")
def network_namespace_label_mismatch():
    m = Mesh(2)
    m.find("cluster2", "Namespace", NS)["metadata"]["labels"]["topology.istio.io/network"] = "network3"
    return (m, "cluster2's istio-system is labelled network3 while its install says network2.",
            "values.global.network is network2 (pods, gateway) but the namespace label says network3: "
            "uninjected pods land on a network no gateway serves.",
            [_f("network.namespace_label_mismatch", "cluster2")])


@scenario("network-pod-network-unset")
def network_pod_network_unset():
    m = Mesh(2)
    v = m.values("cluster2")
    v["global"]["network"] = ""
    m.set_values("cluster2", v)
    del m.find("cluster2", "Namespace", NS)["metadata"]["labels"]["topology.istio.io/network"]
    return (m, "cluster2 was installed without values.global.network: its pods have no network.",
            "Sidecars in cluster2 have no ISTIO_META_NETWORK and no topology.istio.io/network label, and "
            "istio-system is unlabelled, so istiod cannot tell cluster2's endpoints are on another network. "
            + _RAW,
            [_f("network.pod_network_unset", "cluster2"),
             _f("network.namespace_label_missing", "cluster2"),
             _f("endpoints.remote_pod_ips", "cluster1", "cluster2",
                ["network.namespace_label_missing", "network.pod_network_unset"])])


# ---------------------------------------------------------------- east-west gateway

def _no_load_balancer(m, cluster):
    """No LoadBalancer support: the gateway stays <pending>. The operator knows an address reachable
    from the other networks (eastwestGatewayIP -> inventory meshmend_eastwest_gateway_ip)."""
    spec = m.cspec(cluster)
    spec["loadBalancer"] = None
    spec["eastwestGatewayIP"] = "172.18.%d.100" % (m.spec["clusters"].index(spec) + 1)


def _gw(m, c):
    return m.find(c, "Service", "istio-eastwestgateway", NS)


@scenario("eastwest-gateway-missing")
def eastwest_gateway_missing():
    m = Mesh(2)
    for kind, name in (("Service", "istio-eastwestgateway"), ("Deployment", "istio-eastwestgateway"),
                       ("Gateway", "cross-network-gateway"), ("ServiceAccount", "istio-eastwestgateway-service-account")):
        m.remove("cluster2", kind, name, NS)
    return (m, "cluster2 has no east-west gateway: cluster1's proxies get cluster2's raw pod IPs.",
            "gen-eastwest-gateway.sh was never run in cluster2. " + _RAW,
            [_f("eastwest_gateway.missing", "cluster2"),
             _f("endpoints.remote_pod_ips", "cluster1", "cluster2", ["eastwest_gateway.missing"])])


@scenario("eastwest-gateway-external-ip-pending")
def eastwest_gateway_external_ip_pending():
    m = Mesh(2)
    _no_load_balancer(m, "cluster2")
    return (m, "cluster2 has no LoadBalancer support: istio-eastwestgateway EXTERNAL-IP stays <pending>.",
            "`kubectl -n istio-system get service -l istio=eastwestgateway` shows `<pending>` (istio#49045). "
            "Fix: set spec.externalIPs. " + _RAW,
            [_f("eastwest_gateway.external_ip_pending", "cluster2"),
             _f("endpoints.remote_pod_ips", "cluster1", "cluster2", ["eastwest_gateway.external_ip_pending"])])


@scenario("eastwest-gateway-hostname-only")
def eastwest_gateway_hostname_only():
    m = Mesh(2)
    m.cspec("cluster2")["loadBalancer"]["hostname"] = True
    return (m, "cluster2's gateway load balancer gives only a hostname (AWS ELB style) that istiod cannot resolve.",
            "The ingress carries a hostname, no ip; istiod resolves hostname gateways (RESOLVE_HOSTNAME_GATEWAYS) "
            "and logs `could not resolve hostname` when DNS gives nothing (istio#36275). " + _RAW,
            [_f("eastwest_gateway.hostname_only", "cluster2"),
             _f("endpoints.remote_pod_ips", "cluster1", "cluster2", ["eastwest_gateway.hostname_only"])])


@scenario("eastwest-gateway-network-label-missing")
def eastwest_gateway_network_label_missing():
    m = Mesh(2)
    del _gw(m, "cluster2")["metadata"]["labels"]["topology.istio.io/network"]
    return (m, "cluster2's istio-eastwestgateway Service lacks topology.istio.io/network: istiod knows no gateway for network2.",
            "The guide: check that the Service includes a topology.istio.io/network label with the correct value. "
            + _RAW,
            [_f("eastwest_gateway.network_label_missing", "cluster2"),
             _f("endpoints.remote_pod_ips", "cluster1", "cluster2", ["eastwest_gateway.network_label_missing"])])


@scenario("eastwest-gateway-network-label-mismatch")
def eastwest_gateway_network_label_mismatch():
    m = Mesh(2)
    _gw(m, "cluster2")["metadata"]["labels"]["topology.istio.io/network"] = "network1"
    return (m, "cluster2's east-west gateway Service is labelled network1 (cluster1's network) instead of network2.",
            "The gateway was generated with the wrong --network: istiod knows no gateway for network2 and "
            "believes cluster2's gateway serves network1. " + _RAW,
            [_f("eastwest_gateway.network_label_mismatch", "cluster2"),
             _f("endpoints.remote_pod_ips", "cluster1", "cluster2", ["eastwest_gateway.network_label_mismatch"])])


@scenario("eastwest-gateway-port-missing")
def eastwest_gateway_port_missing():
    m = Mesh(2)
    svc = _gw(m, "cluster2")
    svc["spec"]["ports"] = [p for p in svc["spec"]["ports"] if p["port"] != 15443]
    return (m, "cluster2's east-west gateway Service does not expose 15443: istiod ignores it as a gateway.",
            "istiod logs `service istio-system/istio-eastwestgateway is labeled as gateway, but does not listen "
            "neither on port 15443 nor on port 15008`. " + _RAW,
            [_f("eastwest_gateway.port_missing", "cluster2"),
             _f("endpoints.remote_pod_ips", "cluster1", "cluster2", ["eastwest_gateway.port_missing"])])


@scenario("eastwest-gateway-expose-gateway-missing")
def eastwest_gateway_expose_gateway_missing():
    m = Mesh(2)
    m.remove("cluster2", "Gateway", "cross-network-gateway", NS)
    return (m, "cluster2 has no cross-network-gateway (AUTO_PASSTHROUGH on 15443): its gateway does not pass mesh traffic.",
            "samples/multicluster/expose-services.yaml was not applied in cluster2. EDS in cluster1 is right "
            "(cluster2's gateway IP:15443), but curl from sleep in cluster1 gets `upstream connect error or "
            "disconnect/reset before headers. reset reason: connection failure` for half the requests.",
            [_f("eastwest_gateway.expose_gateway_missing", "cluster2")])


# ---------------------------------------------------------------- trust

@scenario("trust-cacerts-missing")
def trust_cacerts_missing():
    m = Mesh(2)
    for c in m.names:
        m.remove(c, "Secret", "cacerts", NS)
    return (m, "No plug-in CA in either cluster: each istiod signs with its own self-signed root.",
            "Without Secret cacerts istiod writes istio-ca-secret with its own root, so the clusters do not share "
            "a root of trust: curl from sleep fails across clusters with `TLS error: ... CERTIFICATE_VERIFY_FAILED`.",
            [_f("trust.cacerts_missing", "cluster1"), _f("trust.cacerts_missing", "cluster2"),
             _f("trust.root_mismatch", "cluster1", "cluster2", ["trust.cacerts_missing", "trust.cacerts_missing"])])


@scenario("trust-root-mismatch")
def trust_root_mismatch():
    m = Mesh(2)
    other = pki.make_root()
    m.remove("cluster2", "Secret", "cacerts", NS)
    m.objects["cluster2"].insert(1, pki.cacerts_secret(pki.make_intermediate(other, "cluster2")))
    return (m, "cluster1 and cluster2 plug in CA certificates from two different roots.",
            "The guide's diff of `root-cert.pem` differs; cross-cluster requests fail with `upstream connect error "
            "or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS "
            "error: ... CERTIFICATE_VERIFY_FAILED` (istio#32523).",
            [_f("trust.root_mismatch", "cluster1", "cluster2")])


@scenario("trust-chain-invalid")
def trust_chain_invalid():
    m = Mesh(2)
    other = pki.make_root()
    files = pki.make_intermediate(other, "cluster2")
    files["root-cert.pem"] = m.root["cert_pem"]  # ca-cert not signed by the root it ships with
    files["cert-chain.pem"] = files["ca-cert.pem"] + m.root["cert_pem"]
    m.remove("cluster2", "Secret", "cacerts", NS)
    m.objects["cluster2"].insert(1, pki.cacerts_secret(files))
    return (m, "cluster2's cacerts ca-cert.pem is not signed by the root-cert.pem it carries.",
            "The intermediate was issued by another root: workload certificates from cluster2 do not verify "
            "against the shared root.",
            [_f("trust.chain_invalid", "cluster2")])


@scenario("trust-cert-expiring")
def trust_cert_expiring():
    import datetime
    m = Mesh(2)
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=355)
    files = pki.make_intermediate(m.root, "cluster2", days=365, not_before=start)
    m.remove("cluster2", "Secret", "cacerts", NS)
    m.objects["cluster2"].insert(1, pki.cacerts_secret(files))
    return (m, "cluster2's intermediate CA certificate expires in about 10 days.",
            "Rotate the plug-in CA before it expires, or workload certificates stop being issued.",
            [_f("trust.cert_expiring", "cluster2")])


# ---------------------------------------------------------------- endpoints and locality

@scenario("endpoints-remote-missing")
def endpoints_remote_missing():
    m = Mesh(2)
    mc = m.mesh("cluster1")
    mc["discoverySelectors"] = [{"matchLabels": {"istio-discovery": "enabled"}}]
    m.set_mesh("cluster1", mc)
    m.find("cluster1", "Namespace", "sample")["metadata"]["labels"]["istio-discovery"] = "enabled"
    return (m, "cluster1's discoverySelectors select sample only where it is labelled: cluster2's sample is invisible.",
            "meshConfig.discoverySelectors apply to remote clusters too; cluster2's sample namespace lacks "
            "`istio-discovery=enabled`, so cluster1's istiod ignores its helloworld. " + _guide_only_local(),
            [_f("endpoints.remote_missing", "cluster1", "cluster2")])


@scenario("endpoints-remote-pod-ips")
def endpoints_remote_pod_ips():
    m = Mesh(2)
    _gw(m, "cluster2")["spec"]["type"] = "NodePort"
    m.cspec("cluster2")["eastwestGatewayIP"] = "172.18.2.100"
    return (m, "cluster2's east-west gateway is a NodePort Service without traffic.istio.io/nodeSelector.",
            "A NodePort gateway needs externalIPs or the nodeSelector annotation (istio#39930); with neither "
            "istiod has no address for network2. " + _RAW,
            [_f("eastwest_gateway.external_ip_pending", "cluster2"),
             _f("endpoints.remote_pod_ips", "cluster1", "cluster2", ["eastwest_gateway.external_ip_pending"])])


@scenario("locality-prefers-local")
def locality_prefers_local():
    m = Mesh(2)
    for c in m.names:
        m.objects[c].append({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                             "metadata": {"name": "helloworld", "namespace": "sample"},
                             "spec": {"host": "helloworld.sample.svc.cluster.local",
                                      "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 5,
                                                                             "interval": "10s",
                                                                             "baseEjectionTime": "30s"}}}})
    return (m, "A DestinationRule with outlierDetection turns on locality failover: traffic stays in the local region.",
            "The clusters are in different regions; with outlierDetection, Istio's default locality load "
            "balancing keeps each sleep on its local helloworld (istio#39477). This is by design; the guide: "
            "if the clusters are in different localities, it is working as intended.",
            [_f("locality.prefers_local", "cluster1", "cluster2"), _f("locality.prefers_local", "cluster2", "cluster1")])


# ---------------------------------------------------------------- proxies that reach no istiod (issue 13)

def _remote_symptoms(cause):
    """What the remote's sleep holds when its proxies reach no istiod: no endpoint of cluster1, and not even its
    own cluster's (those come through the primary's remote secret too)."""
    return [_f("endpoints.remote_missing", "cluster2", "cluster1", [cause]),
            _f("endpoints.remote_missing", "cluster2", None, [cause])]


@scenario("primary-remote-control-plane-service-missing")
def primary_remote_control_plane_service_missing():
    m = Mesh(2, roles={"cluster1": "primary", "cluster2": "remote"})
    m.remove("cluster2", "Service", "istiod", NS)
    m.remove("cluster2", "Endpoints", "istiod", NS)
    return (m, "Remote cluster2 lost its selector-less istiod Service: its proxies reach no istiod.",
            "cluster2 was installed with the remote profile (remotePilotAddress set), then the Service istiod that "
            "leads its proxies to cluster1's istiod was deleted. Istio is installed there; its wiring is broken. "
            "The guide's primary-remote section: the remote's proxies read configuration from the primary through "
            "that Service.",
            [_f("primary_remote.control_plane_service_missing", "cluster2", "cluster1")]
            + _remote_symptoms("primary_remote.control_plane_service_missing"))


@scenario("primary-remote-control-plane-address-stale")
def primary_remote_control_plane_address_stale():
    m = Mesh(2, roles={"cluster1": "primary", "cluster2": "remote"})
    ep = m.find("cluster2", "Endpoints", "istiod", NS)
    ep["metadata"].pop("annotations", None)
    for sub in ep.get("subsets") or []:
        sub["addresses"] = [{"ip": "192.0.2.77"}]
    return (m, "Remote cluster2's istiod Service leads to 192.0.2.77, no longer cluster1's east-west gateway.",
            "The primary's east-west gateway got a new address; the Endpoints of cluster2's selector-less istiod "
            "Service still hold the old one, so cluster2's proxies reach no istiod.",
            [_f("primary_remote.control_plane_address_stale", "cluster2", "cluster1")]
            + _remote_symptoms("primary_remote.control_plane_address_stale"))


@scenario("primary-remote-istiod-not-exposed")
def primary_remote_istiod_not_exposed():
    m = Mesh(2, roles={"cluster1": "primary", "cluster2": "remote"})
    m.remove("cluster1", "Gateway", "istiod-gateway", NS)
    m.remove("cluster1", "VirtualService", "istiod-vs", NS)
    return (m, "cluster1's east-west gateway does not pass 15012 through to istiod: remote cluster2 reaches no istiod.",
            "samples/multicluster/expose-istiod.yaml was not applied (or deleted) on the primary: cluster2's istiod "
            "Service leads to cluster1's gateway, which has no PASSTHROUGH server on 15012.",
            [_f("primary_remote.istiod_not_exposed", "cluster1", "cluster2")]
            + _remote_symptoms("primary_remote.istiod_not_exposed"))


@scenario("istio-istiod-not-ready")
def istio_istiod_not_ready():
    m = Mesh(2)
    m.find("cluster1", "Deployment", "istiod", NS)["spec"]["replicas"] = 0
    return (m, "cluster1's istiod is scaled to zero: its proxies get no new configuration.",
            "Someone scaled istiod down. A proxy that (re)starts now gets no configuration (the lab shows every proxy "
            "that way: sleep in cluster1 holds no endpoint of cluster2) and new pods are not injected; istiod's log "
            "and /debug/clusterz cannot be read, so the remote secrets are probed from the controller instead (and "
            "are fine, so they are not blamed).",
            [_f("istio.istiod_not_ready", "cluster1"),
             _f("endpoints.remote_missing", "cluster1", "cluster2", ["istio.istiod_not_ready"])])


@scenario("endpoints-not-checked")
def endpoints_not_checked():
    m = Mesh(2)
    m.find("cluster2", "Namespace", "sample")["metadata"]["labels"].pop("istio-injection", None)
    return (m, "cluster2 runs no injected workload: the endpoints a proxy holds cannot be checked anywhere.",
            "The sample namespace of cluster2 is not labelled for injection, so no pod there has a sidecar: cluster2 "
            "has no client proxy to ask, and cluster1's proxy knows no service that runs (with a sidecar) in more "
            "than one cluster. meshmend says so rather than passing the check.",
            [_f("endpoints.not_checked", "cluster1"), _f("endpoints.not_checked", "cluster2")])


@scenario("network-mesh-networks-invalid")
def network_mesh_networks_invalid():
    m = Mesh(2)
    cm = m.find("cluster1", "ConfigMap", "istio", NS)
    cm["data"]["meshNetworks"] = yaml.safe_dump({"networks": {"network1": {
        "endpoints": [{"fromRegistry": "Cluster_1"}], "gateways": [{"address": "172.18.1.10", "port": 15443}]}}})
    return (m, "cluster1's meshNetworks names registry Cluster_1, which is no DNS-1123 label: istiod ignores it all.",
            "istiod validates meshNetworks (pkg/config/validation/agent validateNetwork) and, on any error, logs "
            "\"invalid mesh networks, using last known state\". Here the label-based east-west gateways still give "
            "each network its gateway, so traffic flows; a meshNetworks-only gateway would be lost.",
            [_f("network.mesh_networks_invalid", "cluster1")])
