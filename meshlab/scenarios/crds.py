"""Istio's CustomResourceDefinitions in compact form (names, versions, columns as Istio's chart
declares them; schemas left open with x-kubernetes-preserve-unknown-fields)."""

# group, kind, plural, shortNames, [(version, storage)], printer columns
ISTIO_TYPES = [
    ("extensions.istio.io", "WasmPlugin", "wasmplugins", [], [("v1alpha1", True)], []),
    ("networking.istio.io", "DestinationRule", "destinationrules", ["dr"],
     [("v1", True), ("v1alpha3", False), ("v1beta1", False)],
     [("Host", "string", ".spec.host", "The name of a service from the service registry")]),
    ("networking.istio.io", "EnvoyFilter", "envoyfilters", [], [("v1alpha3", True)], []),
    ("networking.istio.io", "Gateway", "gateways", ["gw"], [("v1", True), ("v1alpha3", False), ("v1beta1", False)], []),
    ("networking.istio.io", "ProxyConfig", "proxyconfigs", [], [("v1beta1", True)], []),
    ("networking.istio.io", "ServiceEntry", "serviceentries", ["se"],
     [("v1", True), ("v1alpha3", False), ("v1beta1", False)],
     [("Hosts", "string", ".spec.hosts", "The hosts associated with the ServiceEntry"),
      ("Location", "string", ".spec.location", "Whether the service is external to the mesh or part of the mesh (MESH_EXTERNAL or MESH_INTERNAL)"),
      ("Resolution", "string", ".spec.resolution", "Service resolution mode for the hosts (NONE, STATIC, or DNS)")]),
    ("networking.istio.io", "Sidecar", "sidecars", [], [("v1", True), ("v1alpha3", False), ("v1beta1", False)], []),
    ("networking.istio.io", "VirtualService", "virtualservices", ["vs"],
     [("v1", True), ("v1alpha3", False), ("v1beta1", False)],
     [("Gateways", "string", ".spec.gateways", "The names of gateways and sidecars that should apply these routes"),
      ("Hosts", "string", ".spec.hosts", "The destination hosts to which traffic is being sent")]),
    ("networking.istio.io", "WorkloadEntry", "workloadentries", ["we"],
     [("v1", True), ("v1alpha3", False), ("v1beta1", False)],
     [("Address", "string", ".spec.address", "Address associated with the network endpoint.")]),
    ("networking.istio.io", "WorkloadGroup", "workloadgroups", ["wg"],
     [("v1", True), ("v1alpha3", False), ("v1beta1", False)], []),
    ("security.istio.io", "AuthorizationPolicy", "authorizationpolicies", ["ap"],
     [("v1", True), ("v1beta1", False)],
     [("Action", "string", ".spec.action", "The operation to take.")]),
    ("security.istio.io", "PeerAuthentication", "peerauthentications", ["pa"],
     [("v1", True), ("v1beta1", False)],
     [("Mode", "string", ".spec.mtls.mode", "Defines the mTLS mode used for peer authentication.")]),
    ("security.istio.io", "RequestAuthentication", "requestauthentications", ["ra"],
     [("v1", True), ("v1beta1", False)], []),
    ("telemetry.istio.io", "Telemetry", "telemetries", ["telemetry"], [("v1", False), ("v1alpha1", True)], []),
]


def istio_crds():
    out = []
    for group, kind, plural, short, versions, cols in ISTIO_TYPES:
        cat = group.replace(".", "-")
        vers = []
        for name, storage in versions:
            v = {"name": name, "served": True, "storage": storage,
                 "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                 "subresources": {"status": {}}}
            pc = [{"name": c[0], "type": c[1], "jsonPath": c[2], "description": c[3]} for c in cols]
            pc.append({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
            v["additionalPrinterColumns"] = pc
            vers.append(v)
        names = {"kind": kind, "listKind": kind + "List", "plural": plural, "singular": kind.lower(),
                 "categories": ["istio-io", cat]}
        if short:
            names["shortNames"] = short
        out.append({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                    "metadata": {"name": "%s.%s" % (plural, group),
                                 "labels": {"app": "istio-pilot", "chart": "istio", "heritage": "Tiller",
                                            "release": "istio"}},
                    "spec": {"group": group, "names": names, "scope": "Namespaced", "versions": vers}})
    return out
