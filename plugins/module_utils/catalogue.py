# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The findings catalogue: every finding id with its severity, meaning, words and causes, in one place.

As Istio's analyzers keep their messages in one file, the checks here only decide *whether* a
finding holds and supply the values; what it says lives in its entry:

- ``message`` / ``remedy``: ``str.format`` templates, or a dict of variants (``default`` and the
  variants a check may pick, e.g. ``duplicate`` when two clusters share an ID). Fields come from
  the check (``cluster``, ``peer``, ``ns``, ``ctx`` and the entry's own);
- ``category``: the remediate category that fixes it by default (None: manual);
- ``causes``: the guide's decision tree, as (id, scope) pairs. After every check ran, a finding is
  linked to each listed cause that was found: scope ``pair`` (same cluster and peer), ``peer`` (a
  finding about the peer cluster itself), ``shared_id`` (``cluster.duplicate_id`` between the two
  clusters, either way). Checks add causes that depend on the topology (which istiod serves which
  proxies) themselves.

Ids are a contract: new ones are added, none is renamed (DESIGN_IDS are the first 36, the project's
fixed set; docs/findings.md has one section per id).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

CREATE_SECRET = ("istioctl create-remote-secret --context={peer_ctx} --name={peer_id} | "
                 "kubectl apply --context={ctx} -n {ns} -f -")
PLUG_IN_CA = ("kubectl --context={ctx} -n {ns} create secret generic cacerts --from-file=ca-cert.pem "
              "--from-file=ca-key.pem --from-file=root-cert.pem --from-file=cert-chain.pem (certificates from one "
              "shared root), then kubectl --context={ctx} -n {ns} rollout restart deployment istiod and restart the "
              "workloads")
SECRET_CAUSES = ("remote_secret.invalid_kubeconfig", "remote_secret.loopback_server",
                 "remote_secret.api_unreachable")


class Entry:
    """One catalogue entry (see the module docstring)."""

    __slots__ = ("id", "severity", "summary", "message", "remedy", "category", "causes")

    def __init__(self, fid, severity, summary, message=None, remedy=None, category=None, causes=()):
        self.id = fid
        self.severity = severity
        self.summary = summary
        self.message = message if isinstance(message, dict) or message is None else {"default": message}
        self.remedy = remedy if isinstance(remedy, dict) or remedy is None else {"default": remedy}
        self.category = category
        self.causes = tuple(causes)

    @property
    def area(self):
        return self.id.split(".", 1)[0]

    def render(self, which, variant, fields):
        templates = self.message if which == "message" else self.remedy
        if not templates:
            return None
        template = templates.get(variant or "default", templates.get("default"))
        return template.format_map(fields)


ENTRIES = (
    # ------------------------------------------------------------------ the fixed set (DESIGN_IDS)
    Entry("cluster.unreachable", "error", "the controller cannot reach this cluster's API server",
          message={"default": "The controller cannot reach the API server of {cluster} ({reason}): nothing else is "
                              "known about it.",
                   "stopped": "The API server of {cluster} stopped answering part way through the gather ({reason}): "
                              "what was read is incomplete, so nothing else is judged about it."},
          remedy="Check the kubeconfig/context of {cluster}, that the API server runs and that the controller can "
                 "reach {server}; its peers' checks against it are limited to what they hold."),
    Entry("cluster.forbidden", "error", "the credentials lack a read the checks need",
          message="The credentials used for {cluster} cannot {permissions}: the checks that need it were skipped.",
          remedy={"default": "Grant the identity of context {ctx} read access ({permissions_list}), e.g. a ClusterRole "
                             "with get/list on those resources bound to it; then diagnose again.",
                  "rbac": "{rbac} Then diagnose again."}),
    Entry("istio.not_installed", "error", "no istiod and no remote control-plane Service in istio-system",
          message="Istio is not installed in {cluster}: no istiod Deployment and no remote control-plane Service "
                  "in {ns}.",
          remedy="Install Istio in {cluster} (istioctl install with the primary or remote profile and "
                 "values.global.meshID/multiCluster.clusterName/network), or remove it from the inventory. Manual."),
    Entry("cluster.duplicate_id", "error", "two clusters share one cluster ID",
          message="{cluster} and {peer} share the cluster ID {cluster_id!r}{default_note}: istiod cannot tell them "
                  "apart and ignores a remote secret keyed by its own ID.",
          remedy="Give every cluster a unique ID: reinstall Istio in {peer} (or {cluster}) with "
                 "--set values.global.multiCluster.clusterName=<unique id> (istiod CLUSTER_ID follows), restart the "
                 "workloads, and recreate the remote secrets with that name. Manual."),
    Entry("mesh.id_mismatch", "error", "meshID differs between clusters",
          message="The meshID of {cluster} ({mesh_id}) differs from that of {peer} ({peer_mesh_id}): clusters of one "
                  "mesh must share it.",
          remedy="Reinstall Istio in {cluster} with --set values.global.meshID={wanted} and restart the workloads. "
                 "Manual."),
    Entry("remote_secret.missing", "error",
          "no istio/multiCluster=true Secret in istiod's namespace provides the peer",
          message="No remote secret in {cluster}/{ns} provides {peer}: the control plane cannot read endpoints from "
                  "{peer}{duplicate_note}{down_note}.",
          remedy={"default": "If the secret is missing, create it: " + CREATE_SECRET +
                             " (remediate category remote_secrets).",
                  "duplicate": "Make the cluster IDs unique first (cluster.duplicate_id), then create the secret. "
                               "Manual."},
          category="remote_secrets",
          causes=(("cluster.duplicate_id", "shared_id"), ("cluster.unreachable", "peer"))),
    Entry("remote_secret.wrong_namespace", "error",
          "a remote secret for the peer exists, but outside istiod's namespace",
          message="A remote secret for {peer} exists in {cluster}, but in namespace {secret_ns}: istiod only watches "
                  "{ns}, so it is silently ignored.",
          remedy="Create the secret in {ns}: " + CREATE_SECRET + " (remediate category remote_secrets), then delete "
                 "{secret} by hand.",
          category="remote_secrets"),
    Entry("remote_secret.key_mismatch", "error", "a remote secret's data key is not the peer's cluster ID",
          message="Remote secret {secret} in {cluster} is meant for {peer} (matched by {matched_by}) but its data key "
                  "is {key!r}, not {peer}'s cluster ID {peer_id!r}: istiod takes the data key as the cluster "
                  "ID{duplicate_note}.",
          remedy={"default": "Make sure the cluster name is used as the data key for the remote kubeconfig: " +
                             CREATE_SECRET + " (remediate category remote_secrets).",
                  "duplicate": "Make the cluster IDs unique first (cluster.duplicate_id): re-keying the secret to the "
                               "shared ID would make istiod ignore it. Manual."},
          category="remote_secrets",
          causes=(("cluster.duplicate_id", "shared_id"),)),
    Entry("remote_secret.local_key", "error", "a data key equals this cluster's own ID (istiod ignores it)",
          message="Remote secret {secret} in {cluster} has the data key {key!r}, {cluster}'s own cluster ID: istiod "
                  "ignores it (\"ignoring cluster as it would overwrite the config cluster\"){why}.",
          remedy={"default": "Recreate the secret keyed by the peer's cluster ID: " + CREATE_SECRET +
                             " (remediate category remote_secrets).",
                  "duplicate": "Make the cluster IDs unique first (see cluster.duplicate_id): a secret cannot fix "
                               "this. Manual.",
                  "no_peer": "Remove the data key {key!r} from {secret}: it names this cluster. Manual."},
          category="remote_secrets",
          causes=(("cluster.duplicate_id", "shared_id"),)),
    Entry("remote_secret.invalid_kubeconfig", "error", "empty, unparsable, or auth istiod refuses",
          message={"default": "The kubeconfig in remote secret {secret} (key {key!r}) is refused by istiod: {error}.",
                   "unknown_key": "The kubeconfig in remote secret {secret} (key {key!r}, which names no cluster of "
                                  "the inventory) is refused by istiod: {error}."},
          remedy={"default": "Regenerate it with a ServiceAccount token (istioctl's default; exec plugins, tokenFile, "
                             "client key files and most auth providers are not allowed): " + CREATE_SECRET +
                             " (remediate category remote_secrets).",
                  "unknown_key": "Fix or delete data key {key!r} of {secret} by hand (if it is a cluster of the "
                                 "mesh, add that cluster to the inventory and diagnose again: remediation can then "
                                 "regenerate the secret). Manual."},
          category="remote_secrets"),
    Entry("remote_secret.loopback_server", "error", "the kubeconfig's server is a loopback address",
          message="The kubeconfig in remote secret {secret} points at {server}, a loopback address: from inside "
                  "{cluster} it never reaches {peer}'s API server (istioctl warns about this).",
          remedy="Recreate the secret with an API server address reachable from {cluster}'s pods (istioctl "
                 "create-remote-secret --server=https://<address>:<port> ...): " + CREATE_SECRET +
                 " (remediate category remote_secrets).",
          category="remote_secrets"),
    Entry("remote_secret.api_unreachable", "error", "the kubeconfig's server or credentials fail",
          message="The kubeconfig in remote secret {secret} fails against {server} (tried from {tried_from}): "
                  "{error}.",
          remedy="Check that {peer}'s API server at {server} is reachable from {cluster}'s istiod and that the token "
                 "is valid and may list pods, services and endpointslices (istio-reader-service-account); "
                 "regenerate the secret if the token was revoked: " + CREATE_SECRET + ". Manual unless regenerated.",
          causes=(("cluster.unreachable", "peer"),)),
    Entry("remote_secret.istiod_error", "error", "istiod's log holds a remote-cluster failure line",
          message="istiod in {cluster} logs a failure for remote cluster {peer}: {line}",
          remedy="Check the logs of istiod for connectivity or permissions issues reaching the remote Kubernetes API "
                 "server; fix the secret or the access the line names. Manual.",
          causes=tuple((fid, "pair") for fid in SECRET_CAUSES)),
    Entry("remote_secret.not_synced", "warning", "istiod reports the remote cluster not synced",
          message="istiod in {cluster} reports remote cluster {key} {status} ({source}).",
          remedy="Run istioctl remote-clusters --context={ctx}; a cluster stuck in syncing/timeout cannot be read "
                 "with the secret's credentials from istiod: check reachability and RBAC of {peer}'s API server. "
                 "Manual.",
          causes=tuple((fid, "pair") for fid in SECRET_CAUSES + ("remote_secret.istiod_error",))),
    Entry("primary_remote.istiod_remote_missing", "error", "a remote cluster's proxies talk to an in-cluster istiod",
          message="The proxies of remote cluster {cluster} read their configuration from an istiod inside {cluster}; "
                  "an in-cluster istiod in a remote cluster is only meant for sidecar injection and CA, so they only "
                  "see what that istiod sees.",
          remedy="Reinstall the remote profile in {cluster} making sure values.global.remotePilotAddress is set to the "
                 "primary's east-west gateway (or istiod) address: it creates the selector-less Service istiod-remote "
                 "(istiod when no local istiod runs) and points the mesh discoveryAddress at it; then restart the "
                 "workloads. Manual."),
    Entry("network.namespace_label_missing", "error",
          "multi-network mesh, istio-system lacks topology.istio.io/network",
          message="In this multi-network mesh, namespace {ns} of {cluster} has no topology.istio.io/network label: "
                  "Istio cannot tell the network of non-injected pods and gateways there.",
          remedy={"default": "Set the label: {label_cmd} (remediate category network_labels).",
                  "unknown": "Set the label: {label_cmd} (remediate category network_labels; declare meshmend_network "
                             "first, the network is unknown)."},
          category="network_labels"),
    Entry("network.namespace_label_mismatch", "error",
          "istio-system's network label disagrees with the install or the declared network",
          message="The network of {cluster} disagrees with itself: {disagreements}.",
          remedy={"relabel": "Set the label to the intended network: {label_cmd} (remediate category "
                             "network_labels){values_note}.",
                  "default": "Reinstall Istio in {cluster} with --set values.global.network={network} and restart "
                             "the workloads so injection sets ISTIO_META_NETWORK again. Manual."}),
    Entry("network.pod_network_unset", "error",
          "sidecar pods without ISTIO_META_NETWORK, or one that disagrees with the cluster's network",
          message="{count} sidecar pod(s) in {cluster} have no ISTIO_META_NETWORK or one that is not the cluster's "
                  "network {network}: istiod may treat them as being on the same network as their peers and send "
                  "network-local endpoints.",
          remedy="Check that values.global.network was set properly during install (istio-sidecar-injector values) "
                 "and that the injection webhook is configured correctly, then restart the pods (kubectl "
                 "--context={ctx} rollout restart deployment -n <namespace>). Manual."),
    Entry("eastwest_gateway.missing", "error", "multi-network mesh, no east-west gateway in this cluster",
          message="No east-west gateway in {cluster}: in this multi-network mesh the other networks cannot reach its "
                  "endpoints, and its proxies get raw pod IPs of {cluster}'s endpoints.",
          remedy="Install the east-west gateway: samples/multicluster/gen-eastwest-gateway.sh --network {network} | "
                 "istioctl --context={ctx} install -y -f -, then kubectl --context={ctx} apply -n {ns} -f "
                 "samples/multicluster/expose-services.yaml. Manual."),
    Entry("eastwest_gateway.external_ip_pending", "error", "gateway has no address: LoadBalancer pending, no externalIPs",
          message="The east-west gateway Service {service} in {cluster} has no address (EXTERNAL-IP <pending>): the "
                  "environment may not support LoadBalancer services, so istiod cannot determine the address of the "
                  "gateway for network {network}.",
          remedy="Give the gateway an IP reachable from the other networks in spec.externalIPs: kubectl --context={ctx} "
                 "-n {service_ns} patch service {service_name} -p '{{\"spec\":{{\"externalIPs\":[\"{address}\"]}}}}' "
                 "(remediate category gateway_addresses, from host var meshmend_eastwest_gateway_ip).",
          category="gateway_addresses"),
    Entry("eastwest_gateway.hostname_only", "warning", "only a hostname address (needs RESOLVE_HOSTNAME_GATEWAYS)",
          message={"default": "The east-west gateway Service {service} in {cluster} only has a hostname address: "
                              "istiod must resolve it (RESOLVE_HOSTNAME_GATEWAYS, default on since 1.13), and an "
                              "empty answer leaves the network without a gateway.",
                   "too_old": "The east-west gateway Service {service} in {cluster} only has a hostname address: "
                              "Istio {version} drops hostname gateways (\"Hostnames are not supported for "
                              "gateways\")."},
          remedy="Make sure the hostname resolves from istiod (and RESOLVE_HOSTNAME_GATEWAYS is not false), upgrade "
                 "Istio before 1.13, or give the Service an IP in spec.externalIPs. Manual."),
    Entry("eastwest_gateway.network_label_missing", "error", "gateway Service lacks topology.istio.io/network",
          message="The east-west gateway Service {service} in {cluster} has no topology.istio.io/network label: "
                  "istiod does not know it is the gateway for network {network}.",
          remedy="kubectl --context={ctx} -n {service_ns} label service {service_name} "
                 "topology.istio.io/network={network} (remediate category network_labels); or reinstall the gateway "
                 "with the --network flag of the generation script.",
          category="network_labels"),
    Entry("eastwest_gateway.network_label_mismatch", "error",
          "gateway Service's network label is not this cluster's network",
          message="The east-west gateway Service {service} in {cluster} is labelled topology.istio.io/network={label}, "
                  "but {cluster} is on network {network}: the gateway is registered for the wrong network.",
          remedy="Relabel it: kubectl --context={ctx} -n {service_ns} label service {service_name} "
                 "topology.istio.io/network={network} --overwrite (remediate category network_labels); reinstall the "
                 "gateway with the right --network so its pods' ISTIO_META_REQUESTED_NETWORK_VIEW follows.",
          category="network_labels"),
    Entry("eastwest_gateway.port_missing", "error", "gateway Service lacks 15443 (or its gatewayPort)",
          message={"default": "The east-west gateway Service {service} in {cluster} does not expose port {ports} "
                              "(istiod ignores a gateway that listens neither on its gatewayPort nor on 15008).",
                   "istiod": "The east-west gateway Service {service} in {cluster} does not expose port {ports} "
                             "needed by remote cluster(s) {remotes} to reach istiod."},
          remedy="Reinstall the gateway from samples/multicluster/gen-eastwest-gateway.sh (ports tls 15443, tls-istiod "
                 "15012, tls-webhook 15017) or add the port to the Service. Manual."),
    Entry("eastwest_gateway.expose_gateway_missing", "error",
          "no AUTO_PASSTHROUGH Gateway on 15443 selecting the east-west gateway",
          message="No Gateway with an AUTO_PASSTHROUGH server on 15443 selects the east-west gateway {service} in "
                  "{cluster}: it does not pass cross-network mesh traffic through.",
          remedy="kubectl --context={ctx} apply -n {ns} -f samples/multicluster/expose-services.yaml (Gateway "
                 "cross-network-gateway: selector istio=eastwestgateway, port 15443 TLS AUTO_PASSTHROUGH, hosts "
                 "*.local). Manual."),
    Entry("trust.cacerts_missing", "warning", "no plug-in CA: istiod signs with its own root",
          message="No plug-in CA (Secret {ns}/cacerts) in {cluster}: istiod signs with its own generated root, and for "
                  "multi-cluster a shared root of trust must be configured manually.",
          remedy="Plug in certificates from the mesh's shared root: " + PLUG_IN_CA + ". Manual."),
    Entry("trust.root_mismatch", "error", "root certificates differ between clusters",
          message="The root certificate of {odd} ({odd_root}) differs from that of {reference} ({mesh_root}): the "
                  "clusters share no root of trust, so cross-cluster mTLS fails with TLS errors.",
          remedy="Compare the root-cert in each cluster (kubectl -n istio-system get secret cacerts "
                 "-ojsonpath='{{.data.root-cert\\.pem}}'); plug in certificates of one shared root in {odd}: " +
                 PLUG_IN_CA + ". Manual."),
    Entry("trust.chain_invalid", "error", "ca-cert is not signed by root-cert, or a certificate is expired",
          message="The plug-in CA of {cluster} is not valid: {problems}.",
          remedy="Issue a new intermediate (ca-cert.pem, ca-key.pem, cert-chain.pem) from the shared root and replace "
                 "Secret {ns}/cacerts, then restart istiod. Manual."),
    Entry("trust.cert_expiring", "warning", "a CA certificate expires within 30 days",
          message="A CA certificate of {cluster} expires within {days} days: {expiring}.",
          remedy="Rotate the plug-in CA before it expires (new intermediate from the same root; a new root needs a "
                 "staged rollout across all clusters). Manual."),
    Entry("endpoints.remote_missing", "error",
          "a proxy holds only local endpoints of a service that runs in other clusters",
          message={"default": "The proxy {pod} in {cluster} holds no endpoint of {host} from {peer}, where it runs: the "
                              "control plane cannot read endpoints from that cluster.",
                   "only_local": "The proxy {pod} in {cluster} holds only local endpoints of {host} while it also runs "
                                 "in {peer}: the control plane cannot read endpoints from the remote cluster.",
                   "own": "The proxy {pod} in remote cluster {cluster} holds no endpoint of {host} in its own cluster: "
                          "the control plane cannot read endpoints from {cluster}."},
          remedy={"default": "Verify that remote secrets are configured properly (kubectl get secrets -n istio-system "
                             "-l istio/multiCluster=true on the primary) and fix the causes listed; then check again "
                             "with istioctl proxy-config endpoint {pod}.",
                  "no_cause": "Verify that remote secrets are configured properly (kubectl get secrets -n "
                              "istio-system -l istio/multiCluster=true on the primary) and fix the causes listed; if "
                              "none is listed, check that Service {svc_ns}/{svc_name} exists in {peer} and that "
                              "meshConfig discoverySelectors select its namespace there."}),
    Entry("endpoints.remote_pod_ips", "error", "a proxy in a multi-network mesh holds raw pod IPs of another network",
          message="The proxy {pod} in {cluster} holds pod IPs of {peer} (network {peer_network}) for {host} instead of "
                  "{peer}'s east-west gateway: either the address of the gateway for the remote network cannot be "
                  "determined, or the network of the client or server pod cannot be determined.",
          remedy="In {peer} check that the east-west gateway Service has an External IP and a topology.istio.io/network "
                 "label with the correct value; check ISTIO_META_NETWORK of the client and server pods and the network "
                 "label of istio-system in both clusters. Fix the causes listed (remediate categories "
                 "gateway_addresses / network_labels fix some)."),
    Entry("locality.prefers_local", "info",
          "locality load balancing keeps traffic local by design (clusters in different localities)",
          message="{cluster} ({localities}) and {peer} ({peer_localities}) are in different localities and locality "
                  "load balancing is in effect for {host}: proxies in {cluster} prefer the local cluster, which is "
                  "working as intended.",
          remedy="Nothing to fix if this is wanted. To spread traffic, remove outlierDetection / trafficDistribution or "
                 "set trafficPolicy.loadBalancer.localityLbSetting.enabled: false in the DestinationRule for {host}."),
    # connectivity.* come from the connectivity playbook's active tests (connectivity.py writes their words).
    Entry("connectivity.pod_to_pod_blocked", "error", "an uninjected pod cannot reach a pod IP in the peer cluster"),
    Entry("connectivity.gateway_blocked", "error", "the peer's east-west gateway address:15443 cannot be reached"),
    Entry("connectivity.tls_error", "error", "mesh traffic to the peer fails with a TLS error"),
    Entry("connectivity.local_only", "warning", "mesh traffic reached only local versions"),
    # ------------------------------------------------------------------ added since (add, never rename)
    Entry("cluster.read_failed", "warning", "a read the checks need failed for another reason than RBAC",
          message="Some reads of {cluster} failed, so the checks that need them were skipped.",
          remedy="Look at the API server of {cluster} for the errors listed and diagnose again."),
    Entry("cluster.declared_id_mismatch", "error", "the cluster ID differs from the inventory's meshmend_cluster_id",
          message="{cluster} runs with cluster ID {cluster_id!r} but the inventory declares {declared!r}.",
          remedy="Either fix meshmend_cluster_id in the inventory or reinstall Istio in {cluster} with "
                 "values.global.multiCluster.clusterName={declared} (and recreate the remote secrets that name it). "
                 "Manual."),
    Entry("cluster.declared_role_mismatch", "warning",
          "the cluster's role differs from the inventory's meshmend_cluster_role",
          message="The inventory declares {cluster} a primary, but it runs no istiod and its proxies use a remote "
                  "control plane.",
          remedy="Fix meshmend_cluster_role in the inventory, or install istiod in {cluster} as a primary. Manual."),
    Entry("mesh.declared_id_mismatch", "error", "the mesh ID differs from the inventory's meshmend_mesh_id",
          message="{cluster} runs with meshID {mesh_id!r} but the inventory declares {declared!r}.",
          remedy="Fix meshmend_mesh_id in the inventory or reinstall Istio in {cluster} with "
                 "values.global.meshID={declared}. Manual."),
    Entry("remote_secret.unknown_cluster", "info", "a remote secret names a cluster that is not in the inventory",
          message="Remote secret {secret} in {cluster} has key {key!r}, which names no cluster of the inventory: "
                  "istiod will try to read it as a remote cluster.",
          remedy="Delete the stale secret by hand if that cluster left the mesh, or add the cluster to the inventory. "
                 "Manual."),
    Entry("remote_secret.peers_out_of_play", "info", "peers left out by --limit were not checked",
          message="Remote secrets of {cluster} were not checked against {out_of_play}: out of play (not gathered, e.g. "
                  "--limit).",
          remedy="Run the diagnosis over every cluster of the mesh to check them."),
    Entry("endpoints.not_checked", "warning",
          "the endpoints a client proxy holds could not be checked (no client, no service in several clusters)",
          message="The endpoints the proxies of {cluster} hold were not checked: {reason}.",
          remedy="Tell the diagnosis which client and service to use: diagnose_probe_client (namespace/label "
                 "selector of an injected pod) and diagnose_probe_service (name.namespace of a service that runs in "
                 "several clusters), or deploy Istio's sleep and helloworld samples as the guide does. This is the "
                 "guide's central check: without it a missing remote secret or gateway shows only in its own "
                 "findings."),
    Entry("istio.istiod_not_ready", "error", "istiod runs but has no ready replica",
          message="istiod in {cluster} has {ready} of {replicas} replica(s) ready: the proxies it serves{remotes} get "
                  "no new configuration (endpoints of new pods or other clusters) and new pods are not injected.",
          remedy="kubectl --context={ctx} -n {ns} get deployment {istiod} and describe its pods: scale it up "
                 "(kubectl --context={ctx} -n {ns} scale deployment {istiod} --replicas=1) or fix what keeps it "
                 "from becoming ready. Manual."),
    Entry("primary_remote.control_plane_service_missing", "error",
          "a remote cluster has no Service that leads its proxies to the primary's istiod",
          message="{cluster} is a remote cluster ({why}) but istio-system has no selector-less Service {service}: its "
                  "proxies dial {address} and reach no istiod, so they get no configuration and sidecar injection "
                  "fails.",
          remedy="Reinstall the remote profile in {cluster} with values.global.remotePilotAddress set to the primary's "
                 "east-west gateway address (istioctl install -f remote.yaml): it creates the selector-less Service "
                 "{service} and its Endpoints. Manual."),
    Entry("primary_remote.control_plane_address_stale", "error",
          "a remote cluster's istiod Service leads to no primary's istiod",
          message={"default": "The selector-less Service {service} of remote cluster {cluster} leads to {targets}, "
                              "which is no primary's east-west gateway (known: {known}): its proxies reach no "
                              "istiod.",
                   "empty": "The selector-less Service {service} of remote cluster {cluster} has no endpoints: its "
                            "proxies reach no istiod."},
          remedy="Point it at the primary's east-west gateway address: reinstall the remote profile with "
                 "values.global.remotePilotAddress=<address> (it rewrites the Endpoints of {service}), or fix the "
                 "Endpoints by hand (kubectl --context={ctx} -n {ns} edit endpoints {service_name}). Manual."),
    Entry("primary_remote.istiod_not_exposed", "error",
          "remote clusters reach the primary's east-west gateway, but it does not expose istiod",
          message="Remote cluster(s) {remotes} reach istiod through the east-west gateway {gateway} of {cluster}, but no "
                  "Gateway passes port 15012 through to istiod there (samples/multicluster/expose-istiod.yaml): "
                  "their proxies reach no istiod.",
          remedy="kubectl --context={ctx} apply -n {ns} -f samples/multicluster/expose-istiod.yaml (Gateway "
                 "istiod-gateway: selector istio=eastwestgateway, ports 15012 and 15017 TLS PASSTHROUGH, and "
                 "VirtualService istiod-vs). Manual."),
    Entry("network.mesh_networks_invalid", "error", "istiod rejects meshNetworks: the gateways it declares are ignored",
          message="The meshNetworks of {cluster} (ConfigMap {ns}/istio, key meshNetworks) is invalid, so istiod ignores it "
                  "(\"invalid mesh networks, using last known state\"): {errors}.",
          remedy="Fix meshNetworks (values.global.meshNetworks of the install, or the ConfigMap): each network's "
                 "endpoints need fromRegistry (a cluster ID) or fromCidr, each gateway registryServiceName (an FQDN) or "
                 "address, and a port. Manual."),
    Entry("cluster.same_cluster", "info", "two inventory hosts reach one cluster: it is diagnosed once",
          message="{cluster} reaches the same cluster as {peer} (API server {server}, cluster ID {cluster_id!r}): it is "
                  "diagnosed once, as {peer}; findings and fixes name {peer}.",
          remedy="Nothing to fix in the mesh. To keep the inventory to one host per cluster, drop {cluster} (or limit "
                 "the play to one of the two)."),
    Entry("trust.root_not_in_use", "warning",
          "cacerts holds a root istiod does not distribute (istio-ca-root-cert differs)",
          message="The root-cert of Secret {ns}/cacerts in {cluster} is not the root istiod distributes (ConfigMap "
                  "istio-ca-root-cert): istiod still signs with an older or its own root.",
          remedy="Restart istiod (kubectl --context={ctx} -n {ns} rollout restart deployment {istiod}) and then the "
                 "workloads so they pick up the plugged-in root. Manual."),
)

CATALOGUE = dict((e.id, e) for e in ENTRIES)

# The ids the project fixed at its start (its design's section 5); the rest were added since.
DESIGN_IDS = tuple(e.id for e in ENTRIES[:36])

# Remediate categories.
REMEDIATE_CATEGORIES = ("network_labels", "gateway_addresses", "remote_secrets")
