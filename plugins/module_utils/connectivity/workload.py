# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a cluster offers the tests (a *site*): its network, the uninjected test pods, the east-west gateway
addresses (as istiod derives them, gateways.py) and the mesh's helloworld instances; the manifests of
Istio's samples placed in the test namespace; the Ansible process that owns a test run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshmend.multicluster.plugins.module_utils import gateways as _gateways
from ansible_collections.meshmend.multicluster.plugins.module_utils.connectivity.outcomes import ConnectivityError
from ansible_collections.meshmend.multicluster.plugins.module_utils.istio import NETWORK_LABEL
from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import pod_problem, pod_ready, selector_matches

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "meshmend-connectivity"


def deployment_readiness(deployments, pods):
    """For each Deployment: its Ready pods and, when short, why (pure view of a LIST of pods).

    Returns ``(all_ready, [{"name", "replicas", "ready", "pods": [...], "problems": [...]}])``.
    """
    report = []
    all_ready = True
    for dep in deployments:
        meta = dep.get("metadata") or {}
        spec = dep.get("spec") or {}
        replicas = spec.get("replicas", 1)
        if replicas is None:
            replicas = 1
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        mine = [p for p in pods if selector_matches((p.get("metadata") or {}).get("labels"), selector)
                and not (p.get("metadata") or {}).get("deletionTimestamp")]
        ready = [p for p in mine if pod_ready(p)]
        problems = ["%s: %s" % (p["metadata"]["name"], pod_problem(p)) for p in mine if not pod_ready(p)]
        if len(ready) < replicas:
            all_ready = False
            if not mine:
                problems.append("no pods created yet")
        report.append({"name": meta.get("name"), "replicas": replicas, "ready": len(ready),
                       "pods": [p["metadata"]["name"] for p in ready], "problems": problems})
    return all_ready, report


def expand_lists(documents):
    """YAML documents with ``kind: List`` (``v1`` List, ``*List``) replaced by their items, as kubectl does."""
    out = []
    for doc in documents or []:
        if isinstance(doc, dict) and str(doc.get("kind") or "").endswith("List") and isinstance(doc.get("items"), list):
            out.extend(expand_lists(doc["items"]))
        elif doc is not None:
            out.append(doc)
    return out


def select_manifests(documents, version, namespace, helloworld_versions=None):
    """Pick the guide's objects from Istio's sample documents and place them in ``namespace``.

    The guide runs ``kubectl apply -f helloworld.yaml -l service=helloworld`` (the Service) and
    ``-l version=vN`` (one Deployment), then ``sleep.yaml``. Objects keep the sample's names.
    """
    picked = []
    versions_found = []
    for doc in expand_lists(documents):
        if not isinstance(doc, dict) or not doc.get("kind"):
            continue
        labels = (doc.get("metadata") or {}).get("labels") or {}
        if doc["kind"] == "Deployment" and labels.get("app") == "helloworld":
            versions_found.append(labels.get("version"))
            if labels.get("version") != version:
                continue
        elif doc["kind"] == "Service" and labels.get("app") == "helloworld":
            if labels.get("service") != "helloworld":
                continue
        obj = dict(doc)
        obj["metadata"] = dict(doc.get("metadata") or {})
        obj["metadata"]["namespace"] = namespace
        picked.append(obj)
    if version not in versions_found:
        raise ConnectivityError("no helloworld Deployment with label version=%s in the manifests (found: %s)"
                                % (version, ", ".join(v for v in versions_found if v) or "none"))
    return picked


def version_for(index, versions):
    """The helloworld version a cluster runs: v1 for the first, v2 for the second, then alternating
    over ``versions`` (the sample ships v1 and v2 images; answers name the pod, so clusters that share
    a version stay apart)."""
    versions = list(versions or ["v1", "v2"])
    if not versions:
        raise ConnectivityError("connectivity needs at least one helloworld version")
    return versions[int(index) % len(versions)]


def controller_pid(chain):
    """The ansible-playbook (or ansible) process that drives this module: the topmost of the
    ancestors whose command is Ansible's (workers are forks of it with the same command line).

    ``chain``: ``[(pid, argv), ...]`` from the parent upwards. None when no ancestor is Ansible.
    """
    found = None
    seen_ansible = False
    for pid, argv in chain:
        words = " ".join(os_basename(a) for a in (argv or [])[:3])
        if "ansible-playbook" in words or "ansible " in words + " " or words.startswith("ansible"):
            found, seen_ansible = pid, True
        elif seen_ansible:
            break
    return found


def os_basename(path):
    return str(path).rstrip("/").rsplit("/", 1)[-1]


def build_site(cluster, namespace, test_pods, istio_namespace_obj=None, injector_values=None,
               gateway_services=None, mesh_pods=None, mesh_namespace="sample", mesh_service="helloworld",
               mesh_port=5000, declared_network=None, helloworld_port=5000):
    """What a cluster offers the tests: its network, test pods, gateways and mesh instances."""
    network, source = None, None
    if declared_network:
        network, source = declared_network, "inventory (meshmend_network)"
    else:
        ns_labels = ((istio_namespace_obj or {}).get("metadata") or {}).get("labels") or {}
        if ns_labels.get(NETWORK_LABEL):
            network, source = ns_labels[NETWORK_LABEL], "istio-system label %s" % NETWORK_LABEL
        elif ((injector_values or {}).get("global") or {}).get("network"):
            network, source = injector_values["global"]["network"], "values.global.network"

    def _pick(app):
        pods = [p for p in test_pods or [] if ((p.get("metadata") or {}).get("labels") or {}).get("app") == app
                and pod_ready(p)]
        pods.sort(key=lambda p: p["metadata"]["name"])
        return pods[0] if pods else None

    hello = _pick("helloworld")
    sleep = _pick("sleep")
    gateways = []
    for svc in gateway_services or []:
        meta = svc.get("metadata") or {}
        port = _gateways.gateway_port(meta.get("labels"))[0]
        ports = [p.get("port") for p in (svc.get("spec") or {}).get("ports") or []]
        # the addresses istiod would use (gateways.py); NodePort ones need the Nodes, which the test does not read
        addresses, seen = [], set()
        for addr in _gateways.gateway_addresses(svc):
            if addr["value"] not in seen:   # one probe per address (istiod keeps a set of gateways too)
                seen.add(addr["value"])
                addresses.append(addr)
        for addr in addresses:
            gateways.append({"service": "%s/%s" % (meta.get("namespace"), meta.get("name")),
                             "network": (meta.get("labels") or {}).get(NETWORK_LABEL),
                             "address": addr["value"], "kind": addr["kind"], "source": addr["source"],
                             "port": port, "port_exposed": port in ports})
        if not addresses:
            gateways.append({"service": "%s/%s" % (meta.get("namespace"), meta.get("name")),
                             "network": (meta.get("labels") or {}).get(NETWORK_LABEL),
                             "address": None, "kind": None, "source": None, "port": port,
                             "port_exposed": port in ports})
    instances, clients = [], []
    for pod in mesh_pods or []:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get("app") == mesh_service:
            instances.append({"pod": meta.get("name"), "version": labels.get("version"), "ready": pod_ready(pod)})
        elif labels.get("app") == "sleep" and pod_ready(pod):
            clients.append(meta.get("name"))
    instances.sort(key=lambda i: i["pod"] or "")
    clients.sort()
    return {
        "cluster": cluster,
        "network": network,
        "network_source": source,
        "namespace": namespace,
        "helloworld": ({"pod": hello["metadata"]["name"], "ip": (hello.get("status") or {}).get("podIP"),
                        "version": (hello["metadata"].get("labels") or {}).get("version"),
                        "port": helloworld_port} if hello else None),
        "sleep": {"pod": sleep["metadata"]["name"]} if sleep else None,
        "gateways": gateways,
        "mesh": {"namespace": mesh_namespace, "service": mesh_service, "port": mesh_port,
                 "clients": clients, "instances": instances},
    }
