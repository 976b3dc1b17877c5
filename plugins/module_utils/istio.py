# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Istio's names and conventions, written once: labels, annotations, defaults, the sidecar.

Sources (istio/istio): pkg/config/constants, pkg/kube/inject (the injection template),
istioctl/pkg/multicluster (remote secrets), pilot/pkg/features.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

from ansible_collections.meshmend.multicluster.plugins.module_utils.k8s import (
    annotations_of, as_dict, as_list, dns1123_subdomain_errors, env_map,
)

NETWORK_LABEL = "topology.istio.io/network"
MULTICLUSTER_LABEL = "istio/multiCluster"
MULTICLUSTER_SELECTOR = "istio/multiCluster=true"
CLUSTER_ANNOTATION = "networking.istio.io/cluster"
CONTROL_PLANE_CLUSTERS_ANNOTATION = "topology.istio.io/controlPlaneClusters"
SIDECAR_SELECTOR = "security.istio.io/tlsMode=istio"
ISTIOD_SELECTOR = "app=istiod"
DEFAULT_ISTIO_NAMESPACE = "istio-system"
DEFAULT_CLUSTER_ID = "Kubernetes"
REMOTE_SECRET_PREFIX = "istio-remote-secret-"
READER_SERVICE_ACCOUNT = "istio-reader-service-account"
PROXY_CONTAINER = "istio-proxy"


def secret_annotations(secret):
    """The annotations of a Secret that may be shown: only the one istioctl sets, which names a cluster.

    Any other may hold the Secret itself (kubectl's last-applied-configuration carries every data value)."""
    return dict((k, v) for k, v in annotations_of(secret).items() if k == CLUSTER_ANNOTATION)


def sidecar_container(pod):
    """The ``istio-proxy`` container of a pod, or None when it is not injected.

    Two placements (pkg/kube/inject): a regular container, or, with native sidecars
    (``ENABLE_NATIVE_SIDECARS``, Istio 1.27+ on kubelets 1.33+ by default), an init
    container with ``restartPolicy: Always``. An init container of that name without it is
    not a proxy that runs.
    """
    spec = as_dict(as_dict(pod).get("spec"))
    for c in as_list(spec.get("containers")):
        if as_dict(c).get("name") == PROXY_CONTAINER:
            return c
    for c in as_list(spec.get("initContainers")):
        if as_dict(c).get("name") == PROXY_CONTAINER and c.get("restartPolicy") == "Always":
            return c
    return None


def sidecar_placement(pod):
    """``native`` (init container with restartPolicy Always), ``container``, or None."""
    proxy = sidecar_container(pod)
    if proxy is None:
        return None
    spec = as_dict(as_dict(pod).get("spec"))
    return "container" if any(c is proxy for c in as_list(spec.get("containers"))) else "native"


def sidecar_env(pod):
    """Plain env of the pod's istio-proxy (``{}`` when not injected)."""
    return env_map(sidecar_container(pod))


_SECRET_NAME_CHARS = re.compile(r"[^a-z0-9.-]+")


def remote_secret_name(cluster_id):
    """The Secret name ``istioctl create-remote-secret --name <cluster_id>`` writes.

    istioctl names it ``istio-remote-secret-<name>`` (istioctl/pkg/multicluster,
    remoteSecretNameFromClusterName). A cluster ID that makes no valid object name (an EKS
    ARN, upper case) would be refused by the API server: it is lower-cased, other characters
    become ``-``, and a short hash of the ID keeps two such IDs apart.
    """
    wanted = REMOTE_SECRET_PREFIX + str(cluster_id)
    if not dns1123_subdomain_errors(wanted):
        return wanted
    digest = hashlib.sha256(str(cluster_id).encode("utf-8")).hexdigest()[:8]
    base = _SECRET_NAME_CHARS.sub("-", str(cluster_id).lower()).strip("-.") or "cluster"
    base = base[:253 - len(REMOTE_SECRET_PREFIX) - 9].rstrip("-.")
    return "%s%s-%s" % (REMOTE_SECRET_PREFIX, base, digest)
