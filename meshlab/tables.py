"""`kubectl get` Tables (meta.k8s.io/v1) with the columns kube-apiserver's printers produce."""
import datetime

DESC = {
    "Name": "Name must be unique within a namespace. Is required when creating resources, although some resources "
            "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
            "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
            "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    "Age": "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
           "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
           "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. "
           "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
}


def col(name, typ="string", priority=0, fmt="", desc=None):
    return {"name": name, "type": typ, "format": fmt, "description": desc if desc is not None else DESC.get(name, name),
            "priority": priority}


NAME = col("Name", fmt="name")
AGE = col("Age")


def parse_ts(ts):
    try:
        return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def human_duration(seconds):
    """apimachinery's duration.HumanDuration."""
    s = int(seconds)
    if s < 0:
        s = 0
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        rs = s % 60
        return "%dm%ds" % (m, rs) if rs else "%dm" % m
    if m < 180:
        return "%dm" % m
    h = s // 3600
    if h < 8:
        rm = (s % 3600) // 60
        return "%dh%dm" % (h, rm) if rm else "%dh" % h
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        rh = h % 24
        return "%dd%dh" % (h // 24, rh) if rh else "%dd" % (h // 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    if h < 24 * 365 * 8:
        y = h // (24 * 365)
        rd = (h % (24 * 365)) // 24
        return "%dy%dd" % (y, rd) if rd else "%dy" % y
    return "%dy" % (h // (24 * 365))


def age(obj, now=None):
    ts = parse_ts((obj.get("metadata") or {}).get("creationTimestamp"))
    if ts is None:
        return "<unknown>"
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return human_duration((now - ts).total_seconds())


def _sel(sel):
    if not sel:
        return "<none>"
    return ",".join("%s=%s" % (k, v) for k, v in sorted(sel.items()))


def _label_sel(sel):
    if not sel:
        return "<none>"
    parts = ["%s=%s" % (k, v) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        if op == "In":
            parts.append("%s in (%s)" % (e["key"], ",".join(e.get("values") or [])))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (e["key"], ",".join(e.get("values") or [])))
        elif op == "Exists":
            parts.append(e["key"])
        elif op == "DoesNotExist":
            parts.append("!" + e["key"])
    return ",".join(parts) or "<none>"


# ---- per-resource rows --------------------------------------------------------------------------

def _pod(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    restartable_init = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    total = len(spec.get("containers") or []) + len(restartable_init)
    ready = 0
    restarts = 0
    reason = st.get("reason") or st.get("phase") or "Pending"
    init_names = {c.get("name") for c in restartable_init}
    initializing = False
    for i, cs in enumerate(st.get("initContainerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        state = cs.get("state") or {}
        if cs.get("name") in init_names:
            if cs.get("ready") and "running" in state:
                ready += 1
            continue
        term = state.get("terminated")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = "Init:" + (term.get("reason") or "Signal:%d" % term.get("signal", 0)) if term.get("reason") else \
                "Init:ExitCode:%d" % term.get("exitCode", 0)
        elif (state.get("waiting") or {}).get("reason") not in (None, "PodInitializing"):
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = "Init:%d/%d" % (i, len(spec.get("initContainers") or []))
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(st.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif (state.get("terminated") or {}).get("reason"):
                reason = state["terminated"]["reason"]
            elif state.get("terminated"):
                t = state["terminated"]
                reason = "Signal:%d" % t["signal"] if t.get("signal") else "ExitCode:%d" % t.get("exitCode", 0)
            elif "running" in state and cs.get("ready"):
                has_running = True
                ready += 1
            elif "running" in state:
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running" if any(c.get("type") == "Ready" and c.get("status") == "True"
                                      for c in st.get("conditions") or []) else "NotReady"
    if (o.get("metadata") or {}).get("deletionTimestamp") and st.get("phase") not in ("Succeeded", "Failed"):
        reason = "Terminating" if st.get("reason") != "NodeLost" else "Unknown"
    ips = st.get("podIPs") or ([{"ip": st["podIP"]}] if st.get("podIP") else [])
    gates = spec.get("readinessGates") or []
    gates_cell = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
        gates_cell = "%d/%d" % (sum(1 for g in gates if conds.get(g.get("conditionType")) == "True"), len(gates))
    return [o["metadata"]["name"], "%d/%d" % (ready, total), reason, str(restarts), age(o),
            ips[0]["ip"] if ips else "<none>", spec.get("nodeName") or "<none>",
            st.get("nominatedNodeName") or "<none>", gates_cell]


POD_COLS = [NAME, col("Ready", desc="The aggregate readiness state of this pod for accepting traffic."),
            col("Status", desc="The aggregate status of the containers in this pod."),
            col("Restarts", desc="The number of times the containers in this pod have been restarted and when the "
                                 "last container in this pod has restarted."),
            AGE, col("IP", priority=1, desc="IP address allocated to the pod. Routable at least within the cluster. "
                                            "Empty if not yet allocated."),
            col("Node", priority=1, desc="NodeName is a request to schedule this pod onto a specific node."),
            col("Nominated Node", priority=1, desc="nominatedNodeName is set only when this pod preempts other pods "
                                                   "on the node."),
            col("Readiness Gates", priority=1, desc="If specified, all readiness gates will be evaluated for pod "
                                                    "readiness.")]


def external_ip(svc):
    spec = svc.get("spec") or {}
    typ = spec.get("type", "ClusterIP")
    ext = spec.get("externalIPs") or []
    if typ in ("ClusterIP", "NodePort"):
        return ",".join(ext) if ext else "<none>"
    if typ == "LoadBalancer":
        ing = []
        for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            v = i.get("ip") or i.get("hostname")
            if v:
                ing.append(v)
        res = sorted(set(ing)) + list(ext)
        return ",".join(res) if res else "<pending>"
    if typ == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _svc(o):
    spec = o.get("spec") or {}
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    cip = ips[0] if ips else "<none>"
    ports = []
    for p in spec.get("ports") or []:
        s = "%d" % p.get("port", 0)
        if p.get("nodePort"):
            s += ":%d" % p["nodePort"]
        ports.append(s + "/" + p.get("protocol", "TCP"))
    return [o["metadata"]["name"], spec.get("type", "ClusterIP"), cip, external_ip(o),
            ",".join(ports) if ports else "<none>", age(o), _sel(spec.get("selector"))]


SVC_COLS = [NAME, col("Type", desc="type determines how the Service is exposed."),
            col("Cluster-IP", desc="clusterIP is the IP address of the service and is usually assigned randomly."),
            col("External-IP", desc="externalIPs is a list of IP addresses for which nodes in the cluster will also "
                                    "accept traffic for this service."),
            col("Port(s)", desc="The list of ports that are exposed by this service."), AGE,
            col("Selector", priority=1, desc="Route service traffic to pods with label keys and values matching this "
                                             "selector.")]


def _node(o):
    st = o.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    status = "Ready" if conds.get("Ready") == "True" else ("NotReady" if "Ready" in conds else "Unknown")
    if (o.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (o["metadata"].get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1])
    info = st.get("nodeInfo") or {}
    addrs = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
    return [o["metadata"]["name"], status, ",".join(roles) or "<none>", age(o), info.get("kubeletVersion", ""),
            addrs.get("InternalIP", "<none>"), addrs.get("ExternalIP", "<none>"), info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion") or "<unknown>"]


NODE_COLS = [NAME, col("Status", desc="The status of the node"), col("Roles", desc="The roles of the node"), AGE,
             col("Version", desc="Kubelet Version reported by the node."),
             col("Internal-IP", priority=1, desc="List of addresses reachable to the node. Queried from cloud provider, "
                                                 "if available."),
             col("External-IP", priority=1, desc="List of addresses reachable to the node. Queried from cloud "
                                                 "provider, if available."),
             col("OS-Image", priority=1, desc="OS Image reported by the node from /etc/os-release (e.g. Debian "
                                              "GNU/Linux 7 (wheezy))."),
             col("Kernel-Version", priority=1, desc="Kernel Version reported by the node from 'uname -r' (e.g. "
                                                    "3.16.0-0.bpo.4-amd64)."),
             col("Container-Runtime", priority=1, desc="ContainerRuntime Version reported by the node through runtime "
                                                       "remote API (e.g. containerd://1.4.2).")]


def _containers(spec):
    cs = (spec.get("template") or {}).get("spec", {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _deploy(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(spec)
    return [o["metadata"]["name"], "%d/%d" % (st.get("readyReplicas", 0), spec.get("replicas", 0)),
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), age(o), names, images,
            _label_sel(spec.get("selector"))]


DEPLOY_COLS = [NAME, col("Ready", desc="Number of the pod with ready state"),
               col("Up-to-date", "integer", desc="Total number of non-terminated pods targeted by this deployment that "
                                                 "have the desired template spec."),
               col("Available", "integer", desc="Total number of available pods (ready for at least minReadySeconds) "
                                                "targeted by this deployment."), AGE,
               col("Containers", priority=1, desc="Names of each container in the template."),
               col("Images", priority=1, desc="Images referenced by each container in the template."),
               col("Selector", priority=1, desc="Label selector for pods. Existing ReplicaSets whose pods are selected "
                                                "by this will be the ones affected by this deployment.")]


def _rs(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(spec)
    return [o["metadata"]["name"], spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0), age(o),
            names, images, _label_sel(spec.get("selector"))]


RS_COLS = [NAME, col("Desired", "integer", desc="Replicas is the number of desired pods."),
           col("Current", "integer", desc="Replicas is the most recently observed number of replicas."),
           col("Ready", "integer", desc="The number of ready replicas for this replica set."), AGE,
           col("Containers", priority=1, desc="Names of each container in the template."),
           col("Images", priority=1, desc="Images referenced by each container in the template."),
           col("Selector", priority=1, desc="Selector is a label query over pods that should match the replica "
                                            "count.")]


def _endpoints(o):
    eps = []
    subsets = o.get("subsets") or []
    if not subsets:
        cell = "<none>"
    else:
        for s in subsets:
            ports = s.get("ports") or [{}]
            for a in s.get("addresses") or []:
                for p in ports:
                    eps.append("%s:%s" % (a.get("ip"), p.get("port")) if p.get("port") else a.get("ip"))
        if len(eps) > 3:
            cell = ",".join(eps[:3]) + " + %d more..." % (len(eps) - 3)
        else:
            cell = ",".join(eps)
    return [o["metadata"]["name"], cell, age(o)]


EP_COLS = [NAME, col("Endpoints", desc="Endpoints of the service"), AGE]


def _slice(o):
    ports = o.get("ports")
    if ports is None:
        pcell = "<unset>"
    else:
        pcell = ",".join(str(p.get("port")) for p in ports) or "<unset>"
    addrs = []
    for e in o.get("endpoints") or []:
        addrs.extend(e.get("addresses") or [])
    if not addrs:
        ecell = "<unset>"
    elif len(addrs) > 3:
        ecell = ",".join(addrs[:3]) + " + %d more..." % (len(addrs) - 3)
    else:
        ecell = ",".join(addrs)
    return [o["metadata"]["name"], o.get("addressType", ""), pcell, ecell, age(o)]


SLICE_COLS = [NAME, col("AddressType", desc="Type of address carried by this EndpointSlice."),
              col("Ports", desc="Ports allowed by this EndpointSlice."),
              col("Endpoints", desc="Endpoints of this EndpointSlice."), AGE]


def _ds(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(spec)
    sel = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    return [o["metadata"]["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
            _sel(sel), age(o), names, images, _label_sel(spec.get("selector"))]


DS_COLS = [NAME, col("Desired", "integer", desc="The desired number of daemon pods."),
           col("Current", "integer", desc="The current number of daemon pods."),
           col("Ready", "integer", desc="The number of ready daemon pods."),
           col("Up-to-date", "integer", desc="The number of daemon pods with the updated template."),
           col("Available", "integer", desc="The number of available daemon pods."),
           col("Node Selector", desc="The node selector of the daemon pods."), AGE,
           col("Containers", priority=1, desc="Names of each container in the template."),
           col("Images", priority=1, desc="Images referenced by each container in the template."),
           col("Selector", priority=1, desc="A label query over pods that are managed by the daemon set.")]


def _sts(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(spec)
    return [o["metadata"]["name"], "%d/%d" % (st.get("readyReplicas", 0), spec.get("replicas", 1)), age(o), names,
            images]


STS_COLS = [NAME, col("Ready", desc="Number of the pod with ready state"), AGE,
            col("Containers", priority=1, desc="Names of each container in the template."),
            col("Images", priority=1, desc="Images referenced by each container in the template.")]

TABLES = {
    "daemonsets.apps": (DS_COLS, _ds),
    "statefulsets.apps": (STS_COLS, _sts),
    "pods": (POD_COLS, _pod),
    "services": (SVC_COLS, _svc),
    "secrets": ([NAME, col("Type", desc="The type of the secret"),
                 col("Data", "integer", desc="The number of entries in the secret"), AGE],
                lambda o: [o["metadata"]["name"], o.get("type", "Opaque"), len(o.get("data") or {}), age(o)]),
    "configmaps": ([NAME, col("Data", "integer", desc="The number of entries in the configmap"), AGE],
                   lambda o: [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                              age(o)]),
    "namespaces": ([NAME, col("Status", desc="The status of the namespace"), AGE],
                   lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", ""), age(o)]),
    "nodes": (NODE_COLS, _node),
    "deployments.apps": (DEPLOY_COLS, _deploy),
    "replicasets.apps": (RS_COLS, _rs),
    "endpoints": (EP_COLS, _endpoints),
    "endpointslices.discovery.k8s.io": (SLICE_COLS, _slice),
    "serviceaccounts": ([NAME, col("Secrets", "integer", desc="Secrets is a list of the secrets in the same "
                                   "namespace that pods running using this ServiceAccount are allowed to use."), AGE],
                        lambda o: [o["metadata"]["name"], len(o.get("secrets") or []), age(o)]),
    "events": ([col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message")],
               lambda o: [age({"metadata": {"creationTimestamp": o.get("lastTimestamp") or
                                            o["metadata"].get("creationTimestamp")}}),
                          o.get("type", ""), o.get("reason", ""),
                          "%s/%s" % ((o.get("involvedObject") or {}).get("kind", "").lower(),
                                     (o.get("involvedObject") or {}).get("name", "")), o.get("message", "")]),
    "roles.rbac.authorization.k8s.io": ([NAME, col("Created At", "date")],
                                        lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp")]),
    "rolebindings.rbac.authorization.k8s.io": (
        [NAME, col("Role"), AGE, col("Users", priority=1), col("Groups", priority=1),
         col("ServiceAccounts", priority=1)], lambda o: _binding(o)),
    "clusterrolebindings.rbac.authorization.k8s.io": (
        [NAME, col("Role"), AGE, col("Users", priority=1), col("Groups", priority=1),
         col("ServiceAccounts", priority=1)], lambda o: _binding(o)),
}


def _binding(o):
    ref = o.get("roleRef") or {}
    users, groups, sas = [], [], []
    for s in o.get("subjects") or []:
        if s.get("kind") == "User":
            users.append(s.get("name"))
        elif s.get("kind") == "Group":
            groups.append(s.get("name"))
        elif s.get("kind") == "ServiceAccount":
            sas.append("%s/%s" % (s.get("namespace", ""), s.get("name")))
    return [o["metadata"]["name"], "%s/%s" % (ref.get("kind"), ref.get("name")), age(o), ",".join(users),
            ",".join(groups), ",".join(sas)]


def _jsonpath(obj, path):
    """The subset of JSONPath CRD printer columns use: .a.b, .a[0].b, .a[*].b"""
    cur = [obj]
    p = path.lstrip(".")
    import re
    for tok in re.findall(r"[^.\[\]]+|\[[^\]]*\]", p):
        nxt = []
        for c in cur:
            if tok.startswith("["):
                idx = tok[1:-1]
                if isinstance(c, list):
                    if idx == "*":
                        nxt.extend(c)
                    else:
                        try:
                            nxt.append(c[int(idx)])
                        except (ValueError, IndexError):
                            pass
            elif isinstance(c, dict) and tok in c:
                nxt.append(c[tok])
        cur = nxt
    return cur


def crd_table(kind):
    cols = [NAME]
    getters = []
    pcs = kind.printer_columns
    if pcs is None:
        pcs = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    for pc in pcs:
        cols.append(col(pc.get("name", ""), "string" if pc.get("type") == "date" else pc.get("type", "string"),
                        pc.get("priority", 0), pc.get("format", ""), pc.get("description", "")))
        getters.append(pc)

    def row(o):
        cells = [o["metadata"]["name"]]
        for pc in getters:
            vals = _jsonpath(o, pc.get("jsonPath", ""))
            if pc.get("type") == "date":
                cells.append(age({"metadata": {"creationTimestamp": vals[0]}}) if vals else "<unknown>")
            elif not vals:
                cells.append(None)
            elif len(vals) == 1:
                v = vals[0]
                cells.append(v if not isinstance(v, (dict, list)) else __import__("json").dumps(v))
            else:
                cells.append(",".join(str(v) for v in vals))
        return cells
    return cols, row


def table_for(kind):
    if kind.key in TABLES:
        return TABLES[kind.key]
    if kind.crd is not None:
        return crd_table(kind)
    return ([NAME, col("Created At", "date", desc=DESC["Age"])],
            lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp")])


def partial(o, include):
    if include == "None":
        return None
    if include == "Object":
        return o
    md = o.get("metadata") or {}
    pm = {k: md[k] for k in ("name", "generateName", "namespace", "uid", "resourceVersion", "generation",
                             "creationTimestamp", "deletionTimestamp", "labels", "annotations", "ownerReferences",
                             "finalizers") if k in md}
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": pm}


def table(kind, objs, rv, include="Metadata", with_columns=True):
    cols, rowf = table_for(kind)
    rows = []
    for o in objs:
        r = {"cells": rowf(o)}
        p = partial(o, include)
        if p is not None:
            r["object"] = p
        rows.append(r)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
            "columnDefinitions": cols if with_columns else None, "rows": rows}
