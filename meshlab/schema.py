"""Known fields of the common built-in types, for the server's strict decoding (fieldValidation=Strict).

Only the types and levels listed here are checked; anything deeper or unlisted is accepted, so a lab never
rejects a valid object (it may miss an unknown field in an unusual place).
"""

ANY = None  # accept any content below

OBJECT_META = {k: ANY for k in (
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "managedFields")}

PROBE = ANY
CONTAINER = {k: ANY for k in (
    "name", "image", "command", "args", "workingDir", "envFrom", "env", "resources", "resizePolicy",
    "restartPolicy", "restartPolicyRules", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe",
    "startupProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
    "securityContext", "stdin", "stdinOnce", "tty", "targetContainerName")}
CONTAINER["ports"] = [{k: ANY for k in ("name", "hostPort", "containerPort", "protocol", "hostIP")}]
CONTAINER["env"] = [{k: ANY for k in ("name", "value", "valueFrom")}]

POD_SPEC = {k: ANY for k in (
    "volumes", "ephemeralContainers", "restartPolicy", "terminationGracePeriodSeconds",
    "activeDeadlineSeconds", "dnsPolicy", "nodeSelector", "serviceAccountName", "serviceAccount",
    "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace",
    "securityContext", "imagePullSecrets", "hostname", "subdomain", "affinity", "schedulerName", "tolerations",
    "hostAliases", "priorityClassName", "priority", "dnsConfig", "readinessGates", "runtimeClassName",
    "enableServiceLinks", "preemptionPolicy", "overhead", "topologySpreadConstraints", "setHostnameAsFQDN", "os",
    "hostUsers", "schedulingGates", "resourceClaims", "resources", "hostnameOverride")}
POD_SPEC["containers"] = [CONTAINER]
POD_SPEC["initContainers"] = [CONTAINER]
TEMPLATE = {"metadata": OBJECT_META, "spec": POD_SPEC}

SERVICE_SPEC = {k: ANY for k in (
    "selector", "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity", "loadBalancerIP",
    "loadBalancerSourceRanges", "externalName", "externalTrafficPolicy", "healthCheckNodePort",
    "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies", "ipFamilyPolicy",
    "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution")}
SERVICE_SPEC["ports"] = [{k: ANY for k in ("name", "protocol", "appProtocol", "port", "targetPort", "nodePort")}]


def _top(spec=ANY, extra=()):
    d = {"apiVersion": ANY, "kind": ANY, "metadata": OBJECT_META, "status": ANY}
    if spec is not False:
        d["spec"] = spec
    for e in extra:
        d[e] = ANY
    return d


DEPLOY_SPEC = {k: ANY for k in ("replicas", "selector", "strategy", "minReadySeconds", "revisionHistoryLimit",
                                "paused", "progressDeadlineSeconds")}
DEPLOY_SPEC["template"] = TEMPLATE

SCHEMAS = {
    "pods": _top(POD_SPEC),
    "services": _top(SERVICE_SPEC),
    "deployments.apps": _top(DEPLOY_SPEC),
    "configmaps": _top(False, ("data", "binaryData", "immutable")),
    "secrets": _top(False, ("data", "stringData", "type", "immutable")),
    "namespaces": _top(),
    "serviceaccounts": _top(False, ("secrets", "imagePullSecrets", "automountServiceAccountToken")),
    "endpoints": _top(False, ("subsets",)),
    "endpointslices.discovery.k8s.io": _top(False, ("addressType", "endpoints", "ports")),
    "roles.rbac.authorization.k8s.io": _top(False, ("rules",)),
    "clusterroles.rbac.authorization.k8s.io": _top(False, ("rules", "aggregationRule")),
    "rolebindings.rbac.authorization.k8s.io": _top(False, ("subjects", "roleRef")),
    "clusterrolebindings.rbac.authorization.k8s.io": _top(False, ("subjects", "roleRef")),
    "customresourcedefinitions.apiextensions.k8s.io": _top(),
}


def _walk(schema, obj, path, out):
    if schema is ANY:
        return
    if isinstance(schema, list):
        if isinstance(obj, list):
            for i, item in enumerate(obj):
                _walk(schema[0], item, "%s[%d]" % (path, i), out)
        return
    if not isinstance(obj, dict):
        return
    for k, v in obj.items():
        p = "%s.%s" % (path, k) if path else k
        if k not in schema:
            out.append(p)
        else:
            _walk(schema[k], v, p, out)


def _walk_openapi(schema, obj, path, out):
    """Unknown fields of a custom resource against its structural openAPIV3Schema."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(obj, dict):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        for k, v in obj.items():
            p = "%s.%s" % (path, k) if path else k
            if props is not None and k in props:
                _walk_openapi(props[k], v, p, out)
            elif isinstance(addl, dict):
                _walk_openapi(addl, v, p, out)
            elif addl is True:
                continue
            elif props is not None or schema.get("type") == "object":
                out.append(p)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(obj):
            _walk_openapi(schema["items"], item, "%s[%d]" % (path, i), out)


def unknown_fields(kind, obj):
    """Dotted paths of fields the type does not have (as strict decoding reports them)."""
    if kind.crd is not None and isinstance(obj, dict):
        version = (obj.get("apiVersion") or "").rpartition("/")[2] or kind.version
        for v in (kind.crd.get("spec") or {}).get("versions") or []:
            if v.get("name") == version:
                root = ((v.get("schema") or {}).get("openAPIV3Schema")) or {}
                out = []
                body = {k: val for k, val in obj.items() if k not in ("apiVersion", "kind", "metadata")}
                _walk_openapi(root, body, "", out)
                return out
        return []
    schema = SCHEMAS.get(kind.key)
    if schema is None or not isinstance(obj, dict):
        return []
    out = []
    _walk(schema, obj, "", out)
    return out
