#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: root_cert_info
short_description: A cluster's Istio root of trust; fingerprints, subjects, chain validation and expiry
version_added: 1.0.0
author: meshmend developers (@meshmend)
description:
  - Reads Secret C(cacerts) (the plug-in CA; C(root-cert.pem), C(ca-cert.pem), C(cert-chain.pem), or the
    cert-manager layout C(ca.crt), C(tls.crt)) and ConfigMap C(istio-ca-root-cert) (the root istiod really
    distributes) from istiod's namespace. Two API requests.
  - Returns SHA-256 fingerprints, subjects, issuers, validity, whether C(ca-cert) chains up to C(root-cert),
    expired and soon-expiring certificates. Compare RV(root_fingerprint) across clusters to check a shared root
    (the guide's C(diff) of the two root certificates, done right).
  - Never reads key material; C(ca-key.pem) / C(tls.key) are reported present or absent, nothing more.
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
  expiring_days:
    description:
      - A certificate expiring within this many days is reported in RV(cert_warnings).
    type: int
    default: 30
  expected_root_fingerprint:
    description:
      - A root fingerprint (as returned in RV(root_fingerprint), C(sha256:) + 16 hex characters, or the full
        64-character SHA-256 hex) the cluster is expected to use; RV(root_matches_expected) compares.
    type: str
seealso:
  - module: meshmend.multicluster.cluster_info
"""

EXAMPLES = r"""
- name: Root of trust of every cluster
  meshmend.multicluster.root_cert_info:
    context: "{{ kube_context }}"
  register: roots

- name: All clusters share one root
  ansible.builtin.assert:
    that: >-
      ansible_play_hosts | map('extract', hostvars, ['roots', 'root_fingerprint']) | unique | length == 1
  run_once: true

- name: Check against a known root
  meshmend.multicluster.root_cert_info:
    context: cluster2
    expected_root_fingerprint: "sha256:11c9202c6be8ea5f"
  register: root2
"""

RETURN = r"""
cacerts:
  description:
    - Secret C(cacerts) analysed; null when the Secret does not exist (istiod then signs with its own root).
  returned: success
  type: dict
  sample:
    layout: plugin
    keys: [ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem]
    key_present: true
    root: {fingerprint: "sha256:11c9202c6be8ea5f", subject: "CN=Root CA,O=Istio", issuer: "CN=Root CA,O=Istio",
           not_before: "2023-12-11T16:24:36Z", not_after: "2033-12-08T16:24:36Z", is_ca: true, expired: false,
           expiring: false, days_left: 2569}
    ca: {fingerprint: "sha256:7d0d3c3d7f1e2a10", subject: "L=cluster1,CN=Intermediate CA,O=Istio",
         issuer: "CN=Root CA,O=Istio", not_after: "2033-12-08T16:25:25Z", is_ca: true}
    chain_valid: true
    errors: []
    warnings: []
ca_root_cert:
  description:
    - ConfigMap C(istio-ca-root-cert) in istiod's namespace; the root istiod distributes. Null when absent.
  returned: success
  type: dict
  sample: {fingerprint: "sha256:11c9202c6be8ea5f", subject: "CN=Root CA,O=Istio", not_after: "2033-12-08T16:24:36Z",
           expired: false, expiring: false, errors: []}
plugged_in:
  description: Whether a plug-in CA (Secret C(cacerts)) exists.
  returned: success
  type: bool
  sample: true
root_fingerprint:
  description: The root in use; the ConfigMap's root, else the C(cacerts) root. Null when neither exists.
  returned: success
  type: str
  sample: "sha256:11c9202c6be8ea5f"
in_use_matches_cacerts:
  description:
    - Whether the distributed root (ConfigMap) is the C(cacerts) root; false after plugging new certificates
      without restarting istiod. Null when either is missing.
  returned: success
  type: bool
  sample: true
root_matches_expected:
  description: RV(root_fingerprint) equals O(expected_root_fingerprint); null when not given.
  returned: success
  type: bool
  sample: null
errors:
  description: Chain and validity errors (invalid chain, expired certificate, not PEM).
  returned: success
  type: list
  elements: str
  sample: []
cert_warnings:
  description: Certificates expiring within O(expiring_days).
  returned: success
  type: list
  elements: str
  sample: []
cluster:
  description: The cluster name used in messages.
  returned: always
  type: str
  sample: cluster1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshmend.multicluster.plugins.module_utils.api_errors import ClusterError, api_path
from ansible_collections.meshmend.multicluster.plugins.module_utils.client import AUTH_ARG_SPEC, get_module_client
from ansible_collections.meshmend.multicluster.plugins.module_utils.certs import (
    CRYPTOGRAPHY_IMPORT_ERROR, HAS_CRYPTOGRAPHY, analyze_cacerts, analyze_root_configmap,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.requirements import fail_missing


def argument_spec():
    spec = dict(AUTH_ARG_SPEC)
    spec.update(istio_namespace=dict(type="str", default="istio-system"),
                expiring_days=dict(type="int", default=30), expected_root_fingerprint=dict(type="str"))
    return spec


def _fp_equal(actual, full_sha256, expected):
    if not expected or not actual:
        return None
    e = expected.strip().lower().replace(":", "")
    if e.startswith("sha256"):
        e = e[len("sha256"):]
    return actual.lower().endswith(e) if len(e) == 16 else (full_sha256 or "").lower() == e


def summarize(cacerts_secret, root_cm, expiring_days=30, expected=None):
    """Pure: the module's result from the two objects (None when absent)."""
    cacerts = analyze_cacerts((cacerts_secret or {}).get("data") or {}, expiring_days=expiring_days) \
        if cacerts_secret is not None else None
    root_cm_facts = analyze_root_configmap((root_cm or {}).get("data") or {}, expiring_days=expiring_days) \
        if root_cm is not None else None
    in_use, full = None, None
    if root_cm_facts and root_cm_facts.get("fingerprint"):
        in_use, full = root_cm_facts["fingerprint"], root_cm_facts["roots"][0]["sha256"]
    elif cacerts and cacerts.get("root"):
        in_use, full = cacerts["root"]["fingerprint"], cacerts["root"]["sha256"]
    matches = None
    if cacerts and cacerts.get("root") and root_cm_facts and root_cm_facts.get("fingerprint"):
        matches = any(r["fingerprint"] == cacerts["root"]["fingerprint"] for r in root_cm_facts["roots"])
    errors = list((cacerts or {}).get("errors") or []) + list((root_cm_facts or {}).get("errors") or [])
    warnings = list((cacerts or {}).get("warnings") or [])
    if root_cm_facts and root_cm_facts.get("expired"):
        errors.append("istio-ca-root-cert root expired on %s" % root_cm_facts["not_after"])
    elif root_cm_facts and root_cm_facts.get("expiring"):
        warnings.append("istio-ca-root-cert root expires on %s" % root_cm_facts["not_after"])
    return {"cacerts": cacerts, "ca_root_cert": root_cm_facts, "plugged_in": cacerts_secret is not None,
            "root_fingerprint": in_use, "in_use_matches_cacerts": matches,
            "root_matches_expected": _fp_equal(in_use, full, expected),
            "errors": errors, "cert_warnings": warnings}


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_CRYPTOGRAPHY:
        fail_missing(module, CRYPTOGRAPHY_IMPORT_ERROR, "cryptography")
    p = module.params
    client = get_module_client(module)
    ns = p["istio_namespace"]
    error = None
    try:
        secret = client.get_or_none(api_path("secrets", ns, "cacerts"))
        cm = client.get_or_none(api_path("configmaps", ns, "istio-ca-root-cert"))
    except ClusterError as exc:
        error = exc
    if error is not None:
        module.fail_json(msg=error.message, error=error.to_dict(), cluster=client.cluster)
    result = summarize(secret, cm, p["expiring_days"], p.get("expected_root_fingerprint"))
    module.exit_json(changed=False, cluster=client.cluster, **result)


if __name__ == "__main__":
    main()
