#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: remote_secret
short_description: Create or fix the remote secret that lets istiod read a peer cluster
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - Does what C(istioctl create-remote-secret --name=PEER | kubectl apply -f -) does, with two connections,
    the B(target) cluster (the auth options), whose istiod will read the peer, and the B(peer) cluster
    (O(peer_kubeconfig), O(peer_context)), whose endpoints istiod should discover.
  - On the peer it reads the token of ServiceAccount C(istio-reader-service-account) from the Secret
    C(istio-reader-service-account-istio-remote-secret-token), creating that Secret (type
    C(kubernetes.io/service-account-token)) when absent and waiting, bounded by O(token_timeout), for the
    token controller to fill it in.
  - The peer's API server address and CA come from the peer's kubeconfig context, or O(server).
  - On the target it creates or updates Secret C(istio-remote-secret-<peer_name>) in istiod's namespace with
    label C(istio/multiCluster=true), annotation C(networking.istio.io/cluster) and one data key, the peer's
    cluster ID, holding a token kubeconfig. A secret whose key is wrong is re-keyed (O(rekey)).
  - Refuses a loopback server address (C(localhost), C(127.0.0.1), C(::1)), unreachable from inside a
    cluster, unless O(server) is given explicitly.
  - The token never appears in the output, the diff or the logs; the diff shows the secret's metadata,
    its key names and fingerprints of the token, the CA and the whole kubeconfig.
  - Idempotent. An unchanged peer gives an unchanged secret. Writes carry resourceVersion preconditions
    and are retried on 409 from a fresh read. Nothing is ever deleted.
  - In check mode every write (also the token Secret on the peer) is sent as a server-side dry run.
extends_documentation_fragment:
  - meshmend.multicluster.auth
  - meshmend.multicluster.attributes
options:
  peer_name:
    description:
      - Name of the peer cluster, used in the secret's name C(istio-remote-secret-<peer_name>) and in messages.
    type: str
    required: true
  cluster_id:
    description:
      - The peer's cluster ID (its istiod C(CLUSTER_ID), C(values.global.multiCluster.clusterName)), the data key
        and the C(networking.istio.io/cluster) annotation. istiod takes the key as the cluster ID.
      - Defaults to O(peer_name).
    type: str
  peer_kubeconfig:
    description:
      - Kubeconfig of the peer (path or dictionary). Defaults to O(kubeconfig).
    type: raw
  peer_context:
    description:
      - Context of the peer in O(peer_kubeconfig). Defaults to O(peer_name).
    type: str
  namespace:
    description:
      - istiod's namespace in the target cluster, where istiod watches remote secrets.
    type: str
    default: istio-system
  name:
    description:
      - Name of the secret. Defaults to C(istio-remote-secret-<peer_name>).
    type: str
  peer_namespace:
    description:
      - Namespace of the reader ServiceAccount in the peer.
    type: str
    default: istio-system
  service_account:
    description:
      - ServiceAccount in the peer whose token istiod uses.
    type: str
    default: istio-reader-service-account
  server:
    description:
      - API server URL of the peer as istiod reaches it. Defaults to the server of the peer's kubeconfig context.
      - Giving it explicitly also allows a loopback address.
    type: str
  rekey:
    description:
      - Remove this peer's wrong data keys from the secret (a secret made for this peer under a wrong key), that is
        those listed in O(remove_keys), or when it is not given, the keys whose kubeconfig names the peer's server.
      - A key for another cluster is never removed; with V(false), no key is removed.
      - The secret is changed with a merge patch of only the label, the annotation and these keys, preconditioned
        on the resourceVersion read; a concurrent change is re-read and decided again, never overwritten.
    type: bool
    default: true
  remove_keys:
    description:
      - The wrong keys to remove with O(rekey) (remediation passes the ones the diagnosis saw). Keys not listed stay.
    type: list
    elements: str
  write_key:
    description:
      - With V(false), nothing is written from the peer (which is not contacted); only the keys in O(remove_keys)
        are removed from the Secret, for example an unusable second copy of a peer istiod already reads elsewhere
        (istiod ignores a second secret for one cluster ID).
    type: bool
    default: true
  token_timeout:
    description:
      - Seconds to wait for the token controller to fill a newly created token Secret.
    type: float
    default: 10
attributes:
  check_mode:
    support: full
    details:
      - Writes (the peer's token Secret, the remote secret) are sent with C(dryRun=All).
  diff_mode:
    support: full
    details:
      - Metadata, key names and fingerprints before and after; never the token.
  platform:
    platforms: kubernetes
    details:
      - Talks to the Kubernetes API of the target and of the peer.
notes:
  - In check mode, when the peer has no token Secret yet, the token that would be issued is unknown;
    the diff shows its fingerprint as null.
seealso:
  - module: meshmend.multicluster.network_label_fix
"""

EXAMPLES = r"""
- name: Let istiod in cluster1 discover cluster2's endpoints
  meshmend.multicluster.remote_secret:
    kubeconfig: "{{ kubeconfig }}"
    context: cluster1
    peer_name: cluster2
    peer_kubeconfig: "{{ hostvars['cluster2'].kubeconfig }}"
    peer_context: "{{ hostvars['cluster2'].kube_context }}"

- name: Preview, for a peer whose kubeconfig says https://127.0.0.1 (kind), with the address istiod can reach
  meshmend.multicluster.remote_secret:
    context: cluster1
    peer_name: cluster2
    server: https://192.0.2.20:6443
  check_mode: true
  diff: true
"""

RETURN = r"""
secret:
  description: The remote secret after the module ran, without credentials.
  returned: always
  type: dict
  sample:
    name: istio-remote-secret-cluster2
    namespace: istio-system
    labels: {istio/multiCluster: "true"}
    annotations: {networking.istio.io/cluster: cluster2}
    keys: [cluster2]
    entries:
      cluster2: {server: "https://127.0.2.1:6443", auth: token, token_fingerprint: "sha256:0123456789abcdef",
                 ca_fingerprint: "sha256:fedcba9876543210", fingerprint: "sha256:00112233445566aa"}
created:
  description: Whether the remote secret was created (rather than updated or left alone).
  returned: always
  type: bool
  sample: true
removed_keys:
  description: Data keys removed by re-keying.
  returned: always
  type: list
  elements: str
  sample: [Kubernetes]
token_secret_created:
  description: Whether the peer's token Secret was created.
  returned: always
  type: bool
  sample: false
server:
  description: The peer API server written into the kubeconfig.
  returned: always
  type: str
  sample: https://127.0.2.1:6443
token_fingerprint:
  description: Fingerprint of the peer's token (never the token). Null in check mode when no token exists yet.
  returned: always
  type: str
  sample: sha256:0123456789abcdef
attempts:
  description: Write attempts on the remote secret (more than 1 after a conflict was retried).
  returned: always
  type: int
  sample: 1
diff:
  description:
    - The secret's credential-free summary (as in RV(secret)) before and after; C({}) for a side where the
      secret does not exist. Tokens appear only as fingerprints.
  returned: when diff mode is on
  type: dict
  sample:
    before:
      name: istio-remote-secret-cluster2
      namespace: istio-system
      labels: {istio/multiCluster: "true"}
      annotations: {networking.istio.io/cluster: cluster2}
      keys: [Kubernetes]
      entries:
        Kubernetes: {server: "https://127.0.2.1:6443", auth: token, token_fingerprint: "sha256:0123456789abcdef",
                     ca_fingerprint: "sha256:fedcba9876543210", fingerprint: "sha256:99887766554433bb"}
    after:
      name: istio-remote-secret-cluster2
      namespace: istio-system
      labels: {istio/multiCluster: "true"}
      annotations: {networking.istio.io/cluster: cluster2}
      keys: [cluster2]
      entries:
        cluster2: {server: "https://127.0.2.1:6443", auth: token, token_fingerprint: "sha256:0123456789abcdef",
                   ca_fingerprint: "sha256:fedcba9876543210", fingerprint: "sha256:00112233445566aa"}
"""

import base64
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import ClusterError, api_path
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import AUTH_ARG_SPEC, get_client, get_module_client
from ansible_collections.meshmend.multicluster.plugins.module_utils.certs import fingerprint
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import dns1123_subdomain_errors, secret_key_errors
from ansible_collections.meshmend.multicluster.plugins.module_utils.kubeconfig import is_loopback_server
from ansible_collections.meshmend.multicluster.plugins.module_utils.remote_secrets import (
    READER_TOKEN_SECRET, build_remote_kubeconfig, decode_secret_data, drop_keys_patch, summarize_secret, wanted_remote_secret,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.writes import (
    FIELD_MANAGER, WriteConflict, ensure_object, patch_object,
)


class ModuleFailure(Exception):
    pass


def _peer_client(module):
    p = module.params
    params = dict((k, None) for k in AUTH_ARG_SPEC)
    params.update(kubeconfig=p["peer_kubeconfig"] if p["peer_kubeconfig"] is not None else p["kubeconfig"],
                  context=p["peer_context"] or p["peer_name"], validate_certs=p["validate_certs"],
                  request_timeout=p["request_timeout"], retries=p["retries"], persist_config=False)
    try:
        return get_client(params, cluster=p["peer_name"], module=module)
    except ClusterError as exc:
        raise ModuleFailure("peer %s: %s" % (p["peer_name"], exc.message))


def _ca_data(client):
    """certificate-authority-data (base64 PEM) of a client's connection, or None (system trust)."""
    cfg = client.configuration
    pem = getattr(cfg, "ca_cert_data", None)
    if not pem and cfg.ssl_ca_cert:
        with open(cfg.ssl_ca_cert, "rb") as fh:
            pem = fh.read()
    if not pem:
        return None
    if not isinstance(pem, bytes):
        pem = pem.encode("utf-8")
    return base64.b64encode(pem).decode("ascii")


def _hide(module, value):
    if value:
        module.no_log_values.add(value)
        module.no_log_values.add(base64.b64encode(value.encode("utf-8")).decode("ascii"))


def _peer_token(module, peer):
    """(token or None, created): the reader ServiceAccount's token from its token Secret on the peer."""
    p = module.params
    ns, sa = p["peer_namespace"], p["service_account"]
    if peer.get_or_none(api_path("serviceaccounts", ns, sa)) is None:
        raise ModuleFailure("peer %s has no ServiceAccount %s/%s: install Istio there first (istioctl install "
                            "creates it for istiod's readers)" % (p["peer_name"], ns, sa))
    path = api_path("secrets", ns, READER_TOKEN_SECRET)
    secret = peer.get_or_none(path)
    created = False
    if secret is None:
        body = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                "metadata": {"name": READER_TOKEN_SECRET, "namespace": ns,
                             "annotations": {"kubernetes.io/service-account.name": sa}}}
        try:
            peer.request("POST", api_path("secrets", ns), body=body, dry_run=module.check_mode,
                         field_manager=FIELD_MANAGER)
            created = True
        except ClusterError as exc:
            if exc.kind != "conflict":  # AlreadyExists: someone created it meanwhile; read it below
                raise
        if module.check_mode:
            return None, created
    deadline = time.time() + float(p["token_timeout"])
    while True:
        token_b64 = ((secret or {}).get("data") or {}).get("token")
        if token_b64:
            module.no_log_values.add(token_b64)
            token = base64.b64decode(token_b64).decode("utf-8")
            _hide(module, token)
            return token, created
        if time.time() >= deadline:
            raise ModuleFailure("peer %s: Secret %s/%s holds no token after %ss: is the token controller running "
                                "(kube-controller-manager) and does ServiceAccount %s exist?"
                                % (p["peer_name"], ns, READER_TOKEN_SECRET, p["token_timeout"], sa))
        time.sleep(0.1)
        secret = peer.get_or_none(path)


def _drop_keys(module, target, name, what):
    """write_key=false: remove only the keys in remove_keys (if present); the peer is not contacted."""
    p = module.params
    removed = []

    def compute(obj):
        for value in decode_secret_data(obj).values():
            _hide(module, value)
        patch, removed[:] = drop_keys_patch(obj, p["remove_keys"])
        return patch

    try:
        obj = target.get_or_none(api_path("secrets", p["namespace"], name))
        result = patch_object(target, api_path("secrets", p["namespace"], name), compute, what,
                              check_mode=module.check_mode, current=obj) if obj is not None else None
    except WriteConflict as exc:
        module.fail_json(msg=str(exc))
    except ClusterError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict())
    if result is None:
        module.exit_json(changed=False, secret=None, created=False, removed_keys=[], token_secret_created=False,
                         server=None, token_fingerprint=None, attempts=0)
    out = dict(changed=result.changed, secret=summarize_secret(result.after), created=False,
               removed_keys=list(removed) if result.changed else [], token_secret_created=False, server=None,
               token_fingerprint=None, attempts=result.attempts)
    if module._diff:
        out["diff"] = {"before": summarize_secret(result.before) or {}, "after": summarize_secret(result.after) or {}}
    module.exit_json(**out)


def main():
    argument_spec = dict(AUTH_ARG_SPEC)
    argument_spec.update(
        peer_name=dict(type="str", required=True),
        cluster_id=dict(type="str"),
        peer_kubeconfig=dict(type="raw"),
        peer_context=dict(type="str"),
        namespace=dict(type="str", default="istio-system"),
        name=dict(type="str"),
        peer_namespace=dict(type="str", default="istio-system"),
        service_account=dict(type="str", default="istio-reader-service-account"),
        server=dict(type="str"),
        rekey=dict(type="bool", default=True),
        remove_keys=dict(type="list", elements="str", no_log=False),
        write_key=dict(type="bool", default=True),
        token_timeout=dict(type="float", default=10),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    cluster_id = p["cluster_id"] or p["peer_name"]
    name = p["name"] or "istio-remote-secret-%s" % p["peer_name"]
    bad = ["cluster_id %r: %s" % (cluster_id, e) for e in secret_key_errors(cluster_id)] + \
        ["name %r: %s" % (name, e) for e in dns1123_subdomain_errors(name)]
    if bad:   # before any request: the API server would refuse the Secret
        module.fail_json(msg="the remote secret cannot be written: " + "; ".join(bad))
    target = get_module_client(module)
    what = "Secret %s/%s" % (p["namespace"], name)
    if not p["write_key"]:
        _drop_keys(module, target, name, what)
    try:
        peer = _peer_client(module)
        server = p["server"] or peer.server
        if not p["server"] and is_loopback_server(server):
            raise ModuleFailure("peer %s: its kubeconfig server %s is a loopback address, which istiod in %s cannot "
                                "reach: give the address istiod reaches it on with server=" % (
                                    p["peer_name"], server, target.cluster))
        ca = _ca_data(peer)
        token, token_created = _peer_token(module, peer)
        wanted_text = build_remote_kubeconfig(cluster_id, server, ca, token or "")
        _hide(module, wanted_text)
        removed = []

        def build(obj):
            if obj is not None:
                for value in decode_secret_data(obj).values():
                    _hide(module, value)
            wanted, extra = wanted_remote_secret(obj, name, p["namespace"], cluster_id, wanted_text,
                                                 token_known=token is not None, rekey=p["rekey"],
                                                 peer_server=server, remove_keys=p["remove_keys"])
            removed[:] = extra
            return wanted

        result = ensure_object(target, api_path("secrets", p["namespace"]), name, build, what,
                               check_mode=module.check_mode)
    except ModuleFailure as exc:
        module.fail_json(msg=str(exc))
    except WriteConflict as exc:
        module.fail_json(msg=str(exc))
    except ClusterError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict())
    before = summarize_secret(result.before)
    after = summarize_secret(result.after)
    out = dict(changed=bool(result.changed or token_created), secret=after, created=result.created,
               removed_keys=list(removed) if result.changed else [], token_secret_created=token_created,
               server=server, token_fingerprint=fingerprint(token) if token else None,
               attempts=result.attempts)
    if module._diff:
        out["diff"] = {"before": before or {}, "after": after or {}}
    module.exit_json(**out)


if __name__ == "__main__":
    main()
