#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: remote_secret_check
short_description: Check a cluster's Istio remote secrets against its peer clusters
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - The guide's remote-secret steps for one primary cluster, as structured findings. For every peer in
    O(peers), is there an C(istio/multiCluster=true) Secret in istiod's namespace whose data key is the peer's
    cluster ID, holding a kubeconfig istiod accepts, pointing at a reachable, non-loopback API server?
  - "Checks: namespace (a secret outside istiod's namespace is ignored), label, data keys (the key is the cluster ID;
    a key equal to the local cluster ID is skipped), kubeconfig parse and the auth kinds istiod refuses (exec,
    tokenFile, client key / certificate files, auth providers but OIDC), loopback servers (C(localhost),
    C(127.0.0.1), C(::1)), optionally a probe of the peer's API server from the controller with that kubeconfig's
    own credentials, istiod's log lines in every Istio version's wording, and C(/debug/clusterz) sync status."
  - Returns findings (the meshmend findings model); the module itself does not fail on a finding, so a play
    decides. Never returns a credential; kubeconfig secrets are fingerprinted and hidden from output.
extends_documentation_fragment:
  - meshmend.multicluster.auth
  - meshmend.multicluster.attributes
  - meshmend.multicluster.attributes.info_module
options:
  istio_namespace:
    description:
      - istiod's namespace.
    type: str
    default: istio-system
  peers:
    description:
      - The other clusters of the mesh, which this cluster's istiod should read.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The peer's name (inventory hostname, or what C(istioctl create-remote-secret --name) was given).
        type: str
        required: true
      cluster_id:
        description: The peer's cluster ID (its istiod C(CLUSTER_ID)); the data key a remote secret must use. Defaults to O(peers[].name).
        type: str
      server:
        description: The peer's API server URL as reachable from istiod; identifies which secret points at which peer.
        type: str
  probe:
    description:
      - Try each remote secret's API server from the controller with the kubeconfig's own credentials (one
        request each; list pods at cluster scope, limit 1).
      - V(auto) probes only the kubeconfigs istiod does not report synced in C(/debug/clusterz).
      - One of V(true), V(false), V(auto).
    type: raw
    default: true
  probe_timeout:
    description:
      - Seconds one probe may take.
    type: float
    default: 5.0
  log_lines:
    description:
      - Lines of istiod's log read (tail). V(0) skips the log.
    type: int
    default: 2000
  read_clusterz:
    description:
      - Read istiod's C(/debug/clusterz) through one exec (C(pilot-discovery request GET /debug/clusterz)).
    type: bool
    default: true
  exec_timeout:
    description:
      - Seconds the clusterz exec may take.
    type: float
    default: 10.0
  insecure_kubeconfig_options:
    description:
      - Auth kinds this istiod accepts (its C(PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS)).
    type: list
    elements: str
    default: []
notes:
  - Only primaries read remote secrets. On a cluster without istiod the findings say so through the peers'
    view, not this cluster's secrets.
  - Uses the meshmend check catalogue (C(remote_secret.*) findings, plus C(cluster.unreachable) / C(cluster.forbidden)).
seealso:
  - module: meshmend.multicluster.cluster_info
  - module: meshmend.multicluster.remote_secret
"""

EXAMPLES = r"""
- name: Check cluster1's remote secrets for cluster2 and cluster3
  meshmend.multicluster.remote_secret_check:
    context: cluster1
    peers:
      - {name: cluster2, server: "https://api.cluster2.example.com:6443"}
      - {name: cluster3, cluster_id: east-3}
  register: rs

- name: Show what is wrong
  ansible.builtin.debug:
    msg: "{{ rs.findings | map(attribute='message') | list }}"

- name: Fail the play on an error finding
  ansible.builtin.assert:
    that: not rs.failed_checks
    fail_msg: "{{ rs.findings | selectattr('severity', 'eq', 'error') | map(attribute='message') | list }}"
"""

RETURN = r"""
findings:
  description: Findings of the remote-secret checks (and why a check could not run), sorted by severity.
  returned: always
  type: list
  elements: dict
  sample:
    - id: remote_secret.invalid_kubeconfig
      severity: error
      cluster: cluster1
      peer: cluster2
      resource: Secret/istio-system/istio-remote-secret-cluster2
      message: "istiod cannot use key cluster2 of istio-system/istio-remote-secret-cluster2: kubeconfig is not allowed: exec is not allowed"
      evidence: {secret: istio-system/istio-remote-secret-cluster2, key: cluster2, auth: exec, fingerprint: "sha256:0123456789abcdef"}
      remedy: "istioctl create-remote-secret --context=cluster2 --name=cluster2 | kubectl apply --context=cluster1 -n istio-system -f -"
      category: remote_secrets
      caused_by: []
      key: remote_secret.invalid_kubeconfig@cluster1->cluster2
failed_checks:
  description: Whether any finding has severity error.
  returned: always
  type: bool
  sample: false
remote_secrets:
  description: Every C(istio/multiCluster=true) Secret of the cluster, one entry per data key (no credential).
  returned: always
  type: list
  elements: dict
  sample:
    - namespace: istio-system
      name: istio-remote-secret-cluster2
      entries:
        - {key: cluster2, fingerprint: "sha256:0123456789abcdef", size: 2311, error: null,
           server: "https://127.0.2.1:6443", loopback: false, auth: token, ca_fingerprint: "sha256:89abcdef01234567",
           probe: {ok: true, tried_from: controller, error: null, cluster: cluster2}}
cluster_id:
  description: This cluster's own ID (istiod C(CLUSTER_ID)); a data key equal to it is ignored by istiod.
  returned: always
  type: str
  sample: cluster1
clusterz:
  description: istiod's C(/debug/clusterz) (null when not read).
  returned: always
  type: list
  elements: dict
  sample: [{id: cluster1, secretName: "", syncStatus: synced},
           {id: cluster2, secretName: istio-system/istio-remote-secret-cluster2, syncStatus: synced}]
istiod_log:
  description: Remote-cluster lines found in istiod's log (errors, ignored local keys, sync timeouts).
  returned: always
  type: dict
  sample: {pod: istiod-7d4f8c6b9b-x2k7q, lines_read: 2000, errors: [], ignored_local: [], sync_timeouts: []}
reachable:
  description: Whether the cluster's API server answered.
  returned: always
  type: bool
  sample: true
cluster:
  description: The cluster name used in findings.
  returned: always
  type: str
  sample: cluster1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.client import (
    AUTH_ARG_SPEC, HAS_KUBERNETES, KUBERNETES_IMPORT_ERROR, ClusterError, get_client,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.cluster_info import probe_mode
from ansible_collections.meshmend.multicluster.plugins.module_utils.requirements import fail_missing

try:
    from ansible_collections.meshmend.multicluster.plugins.module_utils.gather import SCHEMA, gather_cluster
    from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import run_checks
    IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - PyYAML / cryptography missing
    IMPORT_ERROR = exc

SECTIONS = ["istiod", "services", "configmaps", "remote_secrets", "log", "clusterz"]


def argument_spec():
    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        istio_namespace=dict(type="str", default="istio-system"),
        peers=dict(type="list", elements="dict", required=True, options=dict(
            name=dict(type="str", required=True), cluster_id=dict(type="str"), server=dict(type="str"))),
        probe=dict(type="raw", default=True),
        probe_timeout=dict(type="float", default=5.0),
        log_lines=dict(type="int", default=2000),
        read_clusterz=dict(type="bool", default=True),
        exec_timeout=dict(type="float", default=10.0),
        insecure_kubeconfig_options=dict(type="list", elements="str", default=[]),
    )
    return spec


def peer_facts(peers):
    """Peers as partial facts for the checks: what the inventory knows, nothing read."""
    out = {}
    for p in peers:
        out[p["name"]] = {"cluster": p["name"], "cluster_id": p.get("cluster_id") or p["name"],
                          "server": p.get("server"), "partial": True, "reachable": True}
    return out


def check(facts, peers):
    """Pure: findings (dicts) for this cluster's facts against its peers."""
    by_cluster = peer_facts(peers)
    by_cluster[facts["cluster"]] = facts
    findings = run_checks(by_cluster, {"areas": ["remote_secret"]})
    # Only what concerns this cluster: the peers are partial, their own view is not checked here.
    return [f.to_dict() for f in findings if f.cluster == facts["cluster"]]


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        fail_missing(module, KUBERNETES_IMPORT_ERROR, "kubernetes")
    if IMPORT_ERROR is not None:
        fail_missing(module, IMPORT_ERROR, "PyYAML cryptography")
    p = module.params
    mode, bad = None, None
    try:
        mode = probe_mode(p.get("probe"), default="true", option="probe")
    except ValueError as exc:
        bad = str(exc)
    if bad:
        module.fail_json(msg=bad)
    name = p.get("cluster_name") or p.get("context") or p.get("host") or "cluster"
    if name in [x["name"] for x in p["peers"]]:
        module.fail_json(msg="%s: peers must list the other clusters, not %s itself" % (name, name))
    try:
        client = get_client(p, cluster=name, module=module)
        facts = gather_cluster(client, {
            "istio_namespace": p["istio_namespace"], "sections": SECTIONS, "peers": p["peers"],
            "log_lines": p["log_lines"], "read_log": bool(p["log_lines"]), "read_clusterz": p["read_clusterz"],
            "probe_remote_secrets": mode, "probe_timeout": p["probe_timeout"], "exec_timeout": p["exec_timeout"],
            "insecure_kubeconfig_options": p["insecure_kubeconfig_options"], "no_log_values": module.no_log_values,
        })
    except ClusterError as exc:  # bad kubeconfig: the same finding an unreachable cluster gets
        facts = {"schema": SCHEMA, "cluster": name, "context": p.get("context"), "reachable": False,
                 "error": exc.message, "error_kind": exc.kind, "read_errors": [], "istio_namespace": p["istio_namespace"]}
    findings = check(facts, p["peers"])
    module.exit_json(
        changed=False, cluster=name, reachable=facts.get("reachable", False), findings=findings,
        failed_checks=any(f["severity"] == "error" for f in findings),
        remote_secrets=facts.get("remote_secrets"), cluster_id=facts.get("cluster_id"),
        clusterz=facts.get("clusterz"), istiod_log=facts.get("istiod_log"),
    )


if __name__ == "__main__":
    main()
