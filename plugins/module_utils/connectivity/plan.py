# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which probes each cluster runs against which peer: pod to pod on a flat network, the peers' east-west
gateways on another network, mesh traffic through the sample's sleep.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity.outcomes import (
    KIND_GATEWAY, KIND_MESH, KIND_POD_TO_POD, ConnectivityError, test_case,
)


def _same_network(a, b):
    # Unknown networks on both sides: a flat (single-network) mesh, as istiod treats it.
    return (a.get("network") or None) == (b.get("network") or None) or not a.get("network") or not b.get("network")


def validate_site(site, what="site"):
    """A site as connectivity_workload returns it; raises ConnectivityError naming what is wrong."""
    if not isinstance(site, dict) or not site.get("cluster"):
        raise ConnectivityError("%s is not a site of connectivity_workload (no cluster name)" % what)
    name = "%s %s" % (what, site["cluster"])
    if site.get("error"):
        return site
    for key, kind in (("helloworld", dict), ("sleep", dict), ("gateways", list), ("mesh", dict)):
        if site.get(key) is not None and not isinstance(site[key], kind):
            raise ConnectivityError("%s: %s must be a %s" % (name, key, kind.__name__))
    if site.get("sleep") and not site.get("namespace"):
        raise ConnectivityError("%s: a sleep pod but no namespace" % name)
    for key, fields in (("helloworld", ("pod",)), ("sleep", ("pod",))):
        for field in fields:
            if site.get(key) and not site[key].get(field):
                raise ConnectivityError("%s: %s has no %s" % (name, key, field))
    for gw in site.get("gateways") or []:
        if not isinstance(gw, dict) or "address" not in gw or "service" not in gw:
            raise ConnectivityError("%s: a gateway entry needs service and address" % name)
    mesh = site.get("mesh") or {}
    if not isinstance(mesh.get("clients") or [], list) or not isinstance(mesh.get("instances") or [], list):
        raise ConnectivityError("%s: mesh clients and instances must be lists" % name)
    for inst in mesh.get("instances") or []:
        if not isinstance(inst, dict) or not inst.get("pod"):
            raise ConnectivityError("%s: a mesh instance needs a pod name" % name)
    return site


def normalize_peers(peers):
    """Sites, or registered connectivity_workload results: a failed result becomes
    ``{"cluster": name, "error": msg}`` so the pair is reported instead of silently missing."""
    out = []
    for peer in peers or []:
        if not isinstance(peer, dict):
            continue
        if isinstance(peer.get("site"), dict):
            out.append(peer["site"])
        elif peer.get("failed") or peer.get("skipped") or peer.get("unreachable"):
            if peer.get("cluster"):
                out.append({"cluster": peer["cluster"],
                            "error": peer.get("msg") or "the test workload could not be set up"})
        elif peer.get("cluster") and ("helloworld" in peer or "mesh" in peer or "error" in peer):
            out.append(peer)
    return out


def multi_network(sites):
    return len(set(s.get("network") for s in sites if s.get("network"))) > 1


def plan_probes(site, peers, pod_to_pod="auto", gateway="auto", mesh=True, direct_attempts=2,
                gateway_attempts=2, mesh_attempts=20, mesh_url=None):
    """Targets one cluster probes, and the tests it skips (with the reason).

    - pod_to_pod: ``auto`` runs it for peers on the same network only (pod IPs of another network
      are not expected to route), ``always`` for every peer, ``never`` not at all.
    - gateway: ``auto`` probes the gateways of peers on another network, ``always`` every peer's.
    - mesh: one target, ``mesh_attempts`` curls of ``helloworld.sample:5000/hello`` from the
      injected sleep; judged per peer later.
    Returns ``(targets, skipped)``; a skipped entry is a test case dict with status ``skipped``.
    """
    for name, value in (("pod_to_pod", pod_to_pod), ("gateway", gateway)):
        if value not in ("auto", "always", "never"):
            raise ConnectivityError("%s must be auto, always or never, not %r" % (name, value))
    validate_site(site)
    for peer in peers:
        validate_site(peer, "peer")
    me = site["cluster"]
    targets, skipped = [], []
    peers = [p for p in peers if p.get("cluster") != me]
    broken = [p for p in peers if p.get("error")]
    peers = [p for p in peers if not p.get("error")]
    for peer in sorted(broken, key=lambda p: p["cluster"]):
        skipped.append(test_case("setup", me, peer["cluster"], "skipped",
                                 "no test against %s: %s" % (peer["cluster"], peer["error"])))
    for peer in sorted(peers, key=lambda p: p["cluster"]):
        pair = "%s -> %s" % (me, peer["cluster"])
        same = _same_network(site, peer)
        if pod_to_pod == "always" or (pod_to_pod == "auto" and same):
            hello = peer.get("helloworld")
            if not site.get("sleep"):
                skipped.append(test_case(KIND_POD_TO_POD, me, peer["cluster"], "skipped",
                                         "no Ready sleep pod in %s/%s" % (me, site.get("namespace"))))
            elif not hello or not hello.get("ip"):
                skipped.append(test_case(KIND_POD_TO_POD, me, peer["cluster"], "skipped",
                                         "no Ready helloworld pod with an IP in %s/%s"
                                         % (peer["cluster"], peer.get("namespace"))))
            else:
                targets.append({
                    "kind": KIND_POD_TO_POD, "name": pair, "peer": peer["cluster"],
                    "url": "http://%s:%s/hello" % (_host(hello["ip"]), hello.get("port") or 5000),
                    "attempts": direct_attempts,
                    "source": {"namespace": site["namespace"], "pod": site["sleep"]["pod"], "container": "sleep"},
                    "expect": {"pod": hello["pod"], "version": hello.get("version"),
                               "resource": "Pod/%s/%s" % (peer.get("namespace"), hello["pod"]),
                               "multi_network": not same},
                })
        elif pod_to_pod == "auto":
            skipped.append(test_case(
                KIND_POD_TO_POD, me, peer["cluster"], "skipped",
                "%s (%s) and %s (%s) are different networks: pod IPs are not expected to route between "
                "them; cross-network traffic goes through the east-west gateway"
                % (me, site.get("network"), peer["cluster"], peer.get("network"))))
        if gateway == "always" or (gateway == "auto" and not same):
            gws = [g for g in peer.get("gateways") or [] if g.get("network") in (None, peer.get("network"))] \
                or list(peer.get("gateways") or [])
            with_addr = [g for g in gws if g.get("address")]
            if not site.get("sleep"):
                skipped.append(test_case(KIND_GATEWAY, me, peer["cluster"], "skipped",
                                         "no Ready sleep pod in %s/%s" % (me, site.get("namespace"))))
            elif not with_addr:
                why = ("%s has no east-west gateway" % peer["cluster"]) if not gws else \
                    ("%s's east-west gateway %s has no address (EXTERNAL-IP <pending>; see "
                     "eastwest_gateway.external_ip_pending)" % (peer["cluster"], gws[0]["service"]))
                skipped.append(test_case(KIND_GATEWAY, me, peer["cluster"], "skipped", why))
            else:
                for gw in with_addr:
                    targets.append({
                        "kind": KIND_GATEWAY, "name": "%s -> %s %s:%s" % (me, peer["cluster"], gw["address"], gw["port"]),
                        "peer": peer["cluster"],
                        # Plain HTTP to the TLS port: any TCP answer (reset, empty reply, handshake
                        # failure) proves reachability; only a timeout or a refusal means blocked.
                        "url": "http://%s:%s/" % (_host(gw["address"]), gw["port"]),
                        "attempts": gateway_attempts,
                        "source": {"namespace": site["namespace"], "pod": site["sleep"]["pod"], "container": "sleep"},
                        "expect": {"resource": "Service/%s" % gw["service"], "address": gw["address"],
                                   "port": gw["port"]},
                    })
    if mesh:
        m = site.get("mesh") or {}
        peer_instances = dict((p["cluster"], [i for i in (p.get("mesh") or {}).get("instances") or [] if i.get("ready")])
                              for p in peers)
        if not m.get("clients"):
            for peer in sorted(peers, key=lambda p: p["cluster"]):
                skipped.append(test_case(KIND_MESH, me, peer["cluster"], "skipped",
                                         "no Ready sleep pod in %s/%s" % (me, m.get("namespace"))))
        elif peers:
            url = mesh_url or "%s.%s:%s/hello" % (m.get("service"), m.get("namespace"), m.get("port"))
            targets.append({
                "kind": KIND_MESH, "name": "%s mesh %s" % (me, url), "peer": None, "url": url,
                "attempts": mesh_attempts,
                "source": {"namespace": m.get("namespace"), "pod": m["clients"][0], "container": "sleep"},
                "expect": {"resource": "Service/%s/%s" % (m.get("namespace"), m.get("service")),
                           "local": [i for i in m.get("instances") or [] if i.get("ready")],
                           "peers": peer_instances},
            })
    return targets, skipped


def _host(address):
    return "[%s]" % address if ":" in str(address) else str(address)


# --- judging ---------------------------------------------------------------------------------------
