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

from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.cluster_view import parse_time
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks.registry import check
from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import make_finding, target
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import as_dict, as_list

CA_SECRET = "cacerts"
ROOT_CONFIGMAP = "istio-ca-root-cert"


def _root_in_use(c):
    """(fingerprint, source) of the root the proxies of ``c`` trust."""
    ca_root = as_dict(c.facts.get("ca_root_cert"))
    if ca_root.get("fingerprint"):
        return ca_root["fingerprint"], "ConfigMap %s/%s" % (c.istio_namespace, ROOT_CONFIGMAP)
    root = as_dict(as_dict(c.facts.get("cacerts")).get("root"))
    if root.get("fingerprint"):
        return root["fingerprint"], "Secret %s/%s root-cert" % (c.istio_namespace, CA_SECRET)
    return None, None


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


def _secret(c):
    return target("Secret", c.istio_namespace, CA_SECRET)


@check("trust.cacerts_missing")
def cacerts_missing(mesh):
    for c in mesh.judged():
        if not c.istiod:
            continue   # a remote without istiod is signed by its primary's CA
        if c.facts.get("cacerts") is not None or c.read_failed("secrets") or not c.has_section("cacerts"):
            continue
        yield make_finding("trust.cacerts_missing", c.name, target=_secret(c),
                           evidence={"root_in_use": _root_in_use(c)[0]}, ctx=c.context, ns=c.istio_namespace)


@check("trust.root_not_in_use")
def root_not_in_use(mesh):
    """cacerts holds one root, istio-ca-root-cert another: istiod was not restarted after plugging in."""
    for c in mesh.judged():
        if not c.istiod:
            continue
        plugged = as_dict(as_dict(c.facts.get("cacerts")).get("root")).get("fingerprint")
        ca_root = as_dict(c.facts.get("ca_root_cert"))
        in_use = ca_root.get("fingerprint")
        bundle = set(as_dict(r).get("fingerprint") for r in as_list(ca_root.get("roots")))
        if plugged and in_use and plugged != in_use and plugged not in bundle:
            yield make_finding("trust.root_not_in_use", c.name, target=_secret(c),
                               evidence={"cacerts_root": plugged, "istio_ca_root_cert": in_use},
                               ctx=c.context, ns=c.istio_namespace, istiod=c.istiod_name)


@check("trust.root_mismatch")
def root_mismatch(mesh):
    roots = {}
    for c in mesh.judged():
        fp, source = _root_in_use(c)
        if fp:
            roots[c.name] = (fp, source)
    groups = {}
    for name, (fp, _src) in roots.items():
        groups.setdefault(fp, []).append(name)
    if len(groups) < 2:
        return

    def plugged(names):
        return any(mesh.clusters[n].facts.get("cacerts") is not None for n in names)

    # the reference root: the one a plug-in CA gives, then the most clusters, then the first name
    ref_fp, ref_names = sorted(groups.items(), key=lambda kv: (not plugged(kv[1]), -len(kv[1]), sorted(kv[1])[0]))[0]
    reference = sorted(ref_names)[0]
    ref_bundle = _roots_trusted(mesh.clusters[reference])
    for fp, names in sorted(groups.items(), key=lambda kv: sorted(kv[1])[0]):
        if fp == ref_fp:
            continue
        names = sorted(names)
        odd = mesh.clusters[names[0]]
        if ref_fp in _roots_trusted(odd) and fp in ref_bundle:
            continue   # both trust both roots: a rotation in progress, not a mismatch
        # one finding per pair of differing roots, on the first cluster of the pair by name
        first, second = sorted([reference, odd.name])
        causes = []
        for n in names + (sorted(ref_names) if not plugged(ref_names) else []):
            causes += ["trust.cacerts_missing@%s" % n, "trust.root_not_in_use@%s" % n]
        source = roots[odd.name][1]
        yield make_finding(
            "trust.root_mismatch", first, peer=second,
            target=target("ConfigMap", odd.istio_namespace, ROOT_CONFIGMAP) if source.startswith("ConfigMap")
            else target("Secret", odd.istio_namespace, CA_SECRET),
            evidence={"roots": dict((n, {"fingerprint": roots[n][0], "from": roots[n][1]}) for n in sorted(roots)),
                      "mesh_root": ref_fp, "clusters_with_mesh_root": sorted(ref_names),
                      "clusters_with_other_root": names},
            caused_by=causes, odd=", ".join(names), odd_root=fp, reference=", ".join(sorted(ref_names)),
            mesh_root=ref_fp, ctx=odd.context, ns=odd.istio_namespace)


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


def _summary(cert):
    cert = as_dict(cert)
    if not cert:
        return None
    return dict((k, cert.get(k)) for k in ("fingerprint", "subject", "issuer", "not_before", "not_after"))


def _validity(mesh, c):
    """(problems, expiring) of the CA certificates of ``c``."""
    now = mesh.now
    soon = now + datetime.timedelta(days=mesh.expiry_days)
    cacerts = c.facts.get("cacerts")
    problems, expiring = [], []
    if isinstance(cacerts, dict):
        if cacerts.get("chain_valid") is False:
            problems.append("ca-cert is not signed by root-cert")
        for err in as_list(cacerts.get("errors")):
            if err and str(err) not in problems:
                problems.append(str(err))
    for label, cert in _certs(c):
        not_after, not_before = parse_time(cert.get("not_after")), parse_time(cert.get("not_before"))
        if not_after and not_after <= now:
            problems.append("%s expired on %s" % (label, cert.get("not_after")))
        elif not_before and not_before > now:
            problems.append("%s is not valid before %s" % (label, cert.get("not_before")))
        elif not_after and not_after <= soon:
            expiring.append({"certificate": label, "subject": cert.get("subject"), "fingerprint": cert.get("fingerprint"),
                             "not_after": cert.get("not_after"), "days_left": (not_after - now).days})
    return problems, expiring


@check("trust.chain_invalid")
def chain_invalid(mesh):
    for c in mesh.judged():
        problems, _expiring = _validity(mesh, c)
        if problems:
            cacerts = as_dict(c.facts.get("cacerts"))
            yield make_finding(
                "trust.chain_invalid", c.name, target=_secret(c),
                evidence={"problems": problems, "root": _summary(cacerts.get("root")), "ca": _summary(cacerts.get("ca")),
                          "layout": cacerts.get("layout")},
                problems="; ".join(problems), ns=c.istio_namespace)


@check("trust.cert_expiring")
def cert_expiring(mesh):
    for c in mesh.judged():
        _problems, expiring = _validity(mesh, c)
        if expiring:
            yield make_finding(
                "trust.cert_expiring", c.name, target=_secret(c),
                evidence={"expiring": expiring, "expiry_days": mesh.expiry_days}, days=mesh.expiry_days,
                expiring=", ".join("%s on %s" % (e["certificate"], e["not_after"]) for e in expiring))
