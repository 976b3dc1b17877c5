# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Root of trust: plug-in CA present, one root across the mesh, valid chains, no near expiry.

The guide: "Cross-cluster traffic, as with intra-cluster traffic, relies on a common root of
trust between the proxies. The default Istio installation will use their own individually
generated root certificate-authorities. For multi-cluster, we must manually configure a shared
root of trust." The root compared is the one in use (ConfigMap istio-ca-root-cert), else the
root-cert of Secret cacerts. Only fingerprints are ever read, never key material.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks._mesh import (
    as_dict, as_list, make, parse_time, resource,
)

CA_SECRET = "cacerts"
ROOT_CONFIGMAP = "istio-ca-root-cert"


def _roots_trusted(c):
    """Every root fingerprint the proxies of ``c`` trust (a bundle during a root rotation)."""
    out = set()
    for holder in (as_dict(c.facts.get("ca_root_cert")), as_dict(c.facts.get("cacerts"))):
        if holder:
            for r in as_list(holder.get("roots")):
                if as_dict(r).get("fingerprint"):
                    out.add(r["fingerprint"])
            if holder is c.facts.get("ca_root_cert") and holder.get("fingerprint"):
                out.add(holder["fingerprint"])
            if out:
                break
    fp, _src = _root_in_use(c)
    if fp:
        out.add(fp)
    return out


def _root_in_use(c):
    """(fingerprint, source) of the root the proxies of ``c`` trust."""
    ca_root = as_dict(c.facts.get("ca_root_cert"))
    if ca_root.get("fingerprint"):
        return ca_root["fingerprint"], "ConfigMap %s/%s" % (c.istio_namespace, ROOT_CONFIGMAP)
    root = as_dict(as_dict(c.facts.get("cacerts")).get("root"))
    if root.get("fingerprint"):
        return root["fingerprint"], "Secret %s/%s root-cert" % (c.istio_namespace, CA_SECRET)
    return None, None


def _cmd_plugin(c):
    return ("kubectl --context=%s -n %s create secret generic cacerts --from-file=ca-cert.pem "
            "--from-file=ca-key.pem --from-file=root-cert.pem --from-file=cert-chain.pem (certificates "
            "from one shared root), then kubectl --context=%s -n %s rollout restart deployment istiod and "
            "restart the workloads" % (c.facts.get("context") or c.name, c.istio_namespace,
                                       c.facts.get("context") or c.name, c.istio_namespace))


def check_cacerts(mesh):
    out = []
    for c in mesh.installed():
        if c.name in mesh.not_installed or not c.istiod:
            continue   # a remote without istiod is signed by its primary's CA
        if c.facts.get("cacerts") is not None or c.read_failed("secrets") or not c.has_section("cacerts"):
            continue
        out.append(make(
            "trust.cacerts_missing", c.name,
            "No plug-in CA (Secret %s/%s) in %s: istiod signs with its own generated root, and for "
            "multi-cluster a shared root of trust must be configured manually." % (
                c.istio_namespace, CA_SECRET, c.name),
            resource=resource("Secret", c.istio_namespace, CA_SECRET),
            evidence={"root_in_use": _root_in_use(c)[0]},
            remedy="Plug in certificates from the mesh's shared root: %s. Manual." % _cmd_plugin(c),
        ))
    return out


def check_root_mismatch(mesh, found):
    out = []
    roots = {}
    for c in mesh.installed():
        if c.name in mesh.not_installed:
            continue
        fp, source = _root_in_use(c)
        if fp:
            roots[c.name] = (fp, source)
    groups = {}
    for name, (fp, _src) in roots.items():
        groups.setdefault(fp, []).append(name)
    if len(groups) > 1:
        def plugged(names):
            return any(mesh.clusters[n].facts.get("cacerts") is not None for n in names)

        # the reference root: the one a plug-in CA gives, then the most clusters, then the first name
        ref_fp, ref_names = sorted(
            groups.items(), key=lambda kv: (not plugged(kv[1]), -len(kv[1]), sorted(kv[1])[0]))[0]
        reference = sorted(ref_names)[0]
        ref_bundle = _roots_trusted(mesh.clusters[reference])
        for fp, names in sorted(groups.items(), key=lambda kv: sorted(kv[1])[0]):
            if fp == ref_fp:
                continue
            names = sorted(names)
            odd = names[0]
            if ref_fp in _roots_trusted(mesh.clusters[odd]) and fp in ref_bundle:
                continue   # both trust both roots: a rotation in progress, not a mismatch
            # one finding per pair of differing roots, on the first cluster of the pair by name
            first, second = sorted([reference, odd])
            causes = []
            for n in names + (sorted(ref_names) if not plugged(ref_names) else []):
                causes += [k for k in ("trust.cacerts_missing@%s" % n, "trust.root_not_in_use@%s" % n)
                           if k in found]
            c = mesh.clusters[odd]
            source = roots[odd][1]
            out.append(make(
                "trust.root_mismatch", first,
                "The root certificate of %s (%s) differs from that of %s (%s): the clusters share no root of "
                "trust, so cross-cluster mTLS fails with TLS errors." % (
                    ", ".join(names), fp, ", ".join(sorted(ref_names)), ref_fp),
                peer=second,
                resource=resource("ConfigMap", c.istio_namespace, ROOT_CONFIGMAP)
                if source.startswith("ConfigMap") else resource("Secret", c.istio_namespace, CA_SECRET),
                evidence={"roots": {n: {"fingerprint": roots[n][0], "from": roots[n][1]} for n in sorted(roots)},
                          "mesh_root": ref_fp, "clusters_with_mesh_root": sorted(ref_names),
                          "clusters_with_other_root": names},
                remedy="Compare the root-cert in each cluster (kubectl -n istio-system get secret cacerts "
                       "-ojsonpath='{.data.root-cert\\.pem}'); plug in certificates of one shared root in %s: "
                       "%s. Manual." % (", ".join(names), _cmd_plugin(c)),
                caused_by=causes,
            ))
    return out


def check_root_in_use(mesh):
    """cacerts holds one root, istio-ca-root-cert another: istiod was not restarted after plugging in."""
    out = []
    for c in mesh.installed():
        if c.name in mesh.not_installed or not c.istiod:
            continue
        plugged = as_dict(as_dict(c.facts.get("cacerts")).get("root")).get("fingerprint")
        in_use = as_dict(c.facts.get("ca_root_cert")).get("fingerprint")
        bundle = set(as_dict(r).get("fingerprint") for r in as_list(as_dict(c.facts.get("ca_root_cert")).get("roots")))
        if plugged and in_use and plugged != in_use and plugged not in bundle:
            out.append(make(
                "trust.root_not_in_use", c.name,
                "The root-cert of Secret %s/%s in %s is not the root istiod distributes (ConfigMap %s): istiod "
                "still signs with an older or its own root." % (c.istio_namespace, CA_SECRET, c.name, ROOT_CONFIGMAP),
                resource=resource("Secret", c.istio_namespace, CA_SECRET),
                evidence={"cacerts_root": plugged, "istio_ca_root_cert": in_use},
                remedy="Restart istiod (kubectl --context=%s -n %s rollout restart deployment %s) and then the "
                       "workloads so they pick up the plugged-in root. Manual." % (
                           c.facts.get("context") or c.name, c.istio_namespace,
                           as_dict(c.istiod).get("name") or "istiod"),
            ))
    return out


def _certs(c):
    """(label, cert dict) of every certificate the facts describe for ``c``."""
    cacerts = as_dict(c.facts.get("cacerts"))
    out = []
    for label in ("root", "ca"):
        cert = as_dict(cacerts.get(label))
        if cert:
            out.append(("cacerts %s" % ("root-cert" if label == "root" else "ca-cert"), cert))
    ca_root = as_dict(c.facts.get("ca_root_cert"))
    if ca_root and ca_root.get("fingerprint") != as_dict(cacerts.get("root")).get("fingerprint"):
        out.append(("istio-ca-root-cert", ca_root))
    return out


def check_chain_and_expiry(mesh):
    out = []
    now = mesh.now
    soon = now + datetime.timedelta(days=mesh.expiry_days)
    for c in mesh.installed():
        if c.name in mesh.not_installed:
            continue
        cacerts = c.facts.get("cacerts")
        problems, expiring = [], []
        if isinstance(cacerts, dict):
            if cacerts.get("chain_valid") is False:
                problems.append("ca-cert is not signed by root-cert")
            for err in as_list(cacerts.get("errors")):
                if err and str(err) not in problems:
                    problems.append(str(err))
        for label, cert in _certs(c):
            not_after = parse_time(cert.get("not_after"))
            not_before = parse_time(cert.get("not_before"))
            if not_after and not_after <= now:
                problems.append("%s expired on %s" % (label, cert.get("not_after")))
            elif not_before and not_before > now:
                problems.append("%s is not valid before %s" % (label, cert.get("not_before")))
            elif not_after and not_after <= soon:
                expiring.append({"certificate": label, "subject": cert.get("subject"),
                                 "fingerprint": cert.get("fingerprint"), "not_after": cert.get("not_after"),
                                 "days_left": (not_after - now).days})
        if problems:
            out.append(make(
                "trust.chain_invalid", c.name,
                "The plug-in CA of %s is not valid: %s." % (c.name, "; ".join(problems)),
                resource=resource("Secret", c.istio_namespace, CA_SECRET),
                evidence={"problems": problems,
                          "root": _summary(as_dict(cacerts).get("root")),
                          "ca": _summary(as_dict(cacerts).get("ca")),
                          "layout": as_dict(cacerts).get("layout")},
                remedy="Issue a new intermediate (ca-cert.pem, ca-key.pem, cert-chain.pem) from the shared root and "
                       "replace Secret %s/%s, then restart istiod. Manual." % (c.istio_namespace, CA_SECRET),
            ))
        if expiring:
            out.append(make(
                "trust.cert_expiring", c.name,
                "A CA certificate of %s expires within %d days: %s." % (
                    c.name, mesh.expiry_days, ", ".join("%s on %s" % (e["certificate"], e["not_after"])
                                                        for e in expiring)),
                resource=resource("Secret", c.istio_namespace, CA_SECRET),
                evidence={"expiring": expiring, "expiry_days": mesh.expiry_days},
                remedy="Rotate the plug-in CA before it expires (new intermediate from the same root; a new root "
                       "needs a staged rollout across all clusters). Manual.",
            ))
    return out


def _summary(cert):
    cert = as_dict(cert)
    if not cert:
        return None
    return {k: cert.get(k) for k in ("fingerprint", "subject", "issuer", "not_before", "not_after")}


def check(mesh, found):
    out = check_cacerts(mesh) + check_root_in_use(mesh)
    found_now = dict(found)
    found_now.update((f.key, f) for f in out)
    out += check_root_mismatch(mesh, found_now)
    out += check_chain_and_expiry(mesh)
    return out
