"""Decoding of the Kubernetes protobuf encoding for the request bodies kubectl >= 1.3x sends that way.

kubectl's typed clients (`kubectl create namespace|secret|configmap|serviceaccount|token|rolebinding|deployment|
service|job`, `kubectl auth can-i`) POST
`application/vnd.kubernetes.protobuf`: the bytes `k8s\\0` and a runtime.Unknown wrapping the object. Only the
types below are known; the server answers 415 for any other protobuf body.
"""
import base64
import datetime

MAGIC = b"k8s\x00"


class ProtoError(Exception):
    pass


def _varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ProtoError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(buf):
    """Yield (field number, wire type, value) of a message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ProtoError("unsupported wire type %d" % wt)
        yield num, wt, v


S, B, I, BOOL, TIME = "s", "b", "i", "bool", "time"


def _map(kind):
    return ("map", kind)


def _msg(schema):
    return ("msg", schema)


def _rep(t):
    return ("rep", t)


OWNER_REF = {1: ("kind", S), 3: ("name", S), 4: ("uid", S), 5: ("apiVersion", S), 6: ("controller", BOOL),
             7: ("blockOwnerDeletion", BOOL)}
OBJECT_META = {1: ("name", S), 2: ("generateName", S), 3: ("namespace", S), 5: ("uid", S),
               6: ("resourceVersion", S), 7: ("generation", I), 8: ("creationTimestamp", TIME),
               11: ("labels", _map(S)), 12: ("annotations", _map(S)), 13: ("ownerReferences", _rep(_msg(OWNER_REF))),
               14: ("finalizers", _rep(S))}
OBJECT_REF = {1: ("kind", S), 2: ("namespace", S), 3: ("name", S), 4: ("uid", S), 5: ("apiVersion", S),
              6: ("resourceVersion", S), 7: ("fieldPath", S)}
SUBJECT = {1: ("kind", S), 2: ("apiGroup", S), 3: ("name", S), 4: ("namespace", S)}
ROLE_REF = {1: ("apiGroup", S), 2: ("kind", S), 3: ("name", S)}
POLICY_RULE = {1: ("verbs", _rep(S)), 3: ("apiGroups", _rep(S)), 4: ("resources", _rep(S)),
               5: ("resourceNames", _rep(S)), 6: ("nonResourceURLs", _rep(S))}
META = ("metadata", _msg(OBJECT_META))

INT_OR_STRING = "intorstr"
QUANTITY = "quantity"
LABEL_SELECTOR = {1: ("matchLabels", _map(S)),
                  2: ("matchExpressions", _rep(_msg({1: ("key", S), 2: ("operator", S), 3: ("values", _rep(S))})))}
CONTAINER_PORT = {1: ("name", S), 2: ("hostPort", I), 3: ("containerPort", I), 4: ("protocol", S), 5: ("hostIP", S)}
ENV_VAR = {1: ("name", S), 2: ("value", S)}
RESOURCES = {1: ("limits", _map(QUANTITY)), 2: ("requests", _map(QUANTITY))}
VOLUME_MOUNT = {1: ("name", S), 2: ("readOnly", BOOL), 3: ("mountPath", S), 4: ("subPath", S)}
CONTAINER = {1: ("name", S), 2: ("image", S), 3: ("command", _rep(S)), 4: ("args", _rep(S)), 5: ("workingDir", S),
             6: ("ports", _rep(_msg(CONTAINER_PORT))), 7: ("env", _rep(_msg(ENV_VAR))),
             8: ("resources", _msg(RESOURCES)), 9: ("volumeMounts", _rep(_msg(VOLUME_MOUNT))),
             13: ("terminationMessagePath", S), 14: ("imagePullPolicy", S), 16: ("stdin", BOOL),
             17: ("stdinOnce", BOOL), 18: ("tty", BOOL), 20: ("terminationMessagePolicy", S)}
POD_SPEC = {2: ("containers", _rep(_msg(CONTAINER))), 3: ("restartPolicy", S),
            4: ("terminationGracePeriodSeconds", I), 6: ("dnsPolicy", S), 7: ("nodeSelector", _map(S)),
            8: ("serviceAccountName", S), 10: ("nodeName", S), 11: ("hostNetwork", BOOL),
            20: ("initContainers", _rep(_msg(CONTAINER))), 21: ("automountServiceAccountToken", BOOL)}
POD_TEMPLATE = {1: META, 2: ("spec", _msg(POD_SPEC))}
SERVICE_PORT = {1: ("name", S), 2: ("protocol", S), 3: ("port", I), 4: ("targetPort", INT_OR_STRING),
                5: ("nodePort", I), 6: ("appProtocol", S)}

TYPES = {
    ("v1", "Namespace"): {1: META, 2: ("spec", _msg({1: ("finalizers", _rep(S))})),
                          3: ("status", _msg({1: ("phase", S)}))},
    ("v1", "Secret"): {1: META, 2: ("data", _map(B)), 3: ("type", S), 4: ("stringData", _map(S)),
                       5: ("immutable", BOOL)},
    ("v1", "ConfigMap"): {1: META, 2: ("data", _map(S)), 3: ("binaryData", _map(B)), 4: ("immutable", BOOL)},
    ("v1", "ServiceAccount"): {1: META, 2: ("secrets", _rep(_msg(OBJECT_REF))),
                               3: ("imagePullSecrets", _rep(_msg({1: ("name", S)}))),
                               4: ("automountServiceAccountToken", BOOL)},
    ("authentication.k8s.io/v1", "TokenRequest"): {
        1: META, 2: ("spec", _msg({1: ("audiences", _rep(S)), 4: ("expirationSeconds", I),
                                   3: ("boundObjectRef", _msg({1: ("kind", S), 2: ("apiVersion", S), 3: ("name", S),
                                                               4: ("uid", S)}))}))},
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: META, 2: ("spec", _msg({1: ("resourceAttributes", _msg({
            1: ("namespace", S), 2: ("verb", S), 3: ("group", S), 4: ("version", S), 5: ("resource", S),
            6: ("subresource", S), 7: ("name", S)})),
            2: ("nonResourceAttributes", _msg({1: ("path", S), 2: ("verb", S)}))}))},
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): {1: META, 2: ("spec", _msg({1: ("namespace", S)}))},
    ("apps/v1", "Deployment"): {1: META, 2: ("spec", _msg({
        1: ("replicas", I), 2: ("selector", _msg(LABEL_SELECTOR)), 3: ("template", _msg(POD_TEMPLATE)),
        4: ("strategy", _msg({1: ("type", S), 2: ("rollingUpdate", _msg({1: ("maxUnavailable", INT_OR_STRING),
                                                                         2: ("maxSurge", INT_OR_STRING)}))})),
        5: ("minReadySeconds", I), 6: ("revisionHistoryLimit", I), 7: ("paused", BOOL),
        9: ("progressDeadlineSeconds", I)})), 3: ("status", _msg({}))},
    ("v1", "Service"): {1: META, 2: ("spec", _msg({
        1: ("ports", _rep(_msg(SERVICE_PORT))), 2: ("selector", _map(S)), 3: ("clusterIP", S), 4: ("type", S),
        5: ("externalIPs", _rep(S)), 7: ("sessionAffinity", S), 10: ("externalName", S),
        11: ("externalTrafficPolicy", S)})), 3: ("status", _msg({}))},
    ("v1", "Pod"): {1: META, 2: ("spec", _msg(POD_SPEC)), 3: ("status", _msg({}))},
    ("batch/v1", "Job"): {1: META, 2: ("spec", _msg({1: ("parallelism", I), 2: ("completions", I),
                                                     4: ("selector", _msg(LABEL_SELECTOR)),
                                                     6: ("template", _msg(POD_TEMPLATE)),
                                                     7: ("backoffLimit", I)})), 3: ("status", _msg({}))},
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): {1: META, 2: ("subjects", _rep(_msg(SUBJECT))),
                                                      3: ("roleRef", _msg(ROLE_REF))},
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): {1: META, 2: ("subjects", _rep(_msg(SUBJECT))),
                                                             3: ("roleRef", _msg(ROLE_REF))},
    ("rbac.authorization.k8s.io/v1", "Role"): {1: META, 2: ("rules", _rep(_msg(POLICY_RULE)))},
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): {1: META, 2: ("rules", _rep(_msg(POLICY_RULE)))},
}


def _scalar(t, wt, v):
    if t == INT_OR_STRING:
        kind = ival = 0
        sval = ""
        for n, _, x in fields(v):
            if n == 1:
                kind = x
            elif n == 2:
                ival = x
            elif n == 3:
                sval = x.decode("utf-8")
        return sval if kind == 1 else ival
    if t == QUANTITY:
        for n, _, x in fields(v):
            if n == 1:
                return x.decode("utf-8")
        return "0"
    if t == S:
        return v.decode("utf-8")
    if t == B:
        return base64.b64encode(bytes(v)).decode()
    if t == I:
        return v - (1 << 64) if v >= 1 << 63 else v
    if t == BOOL:
        return bool(v)
    if t == TIME:
        secs = 0
        for n, _, x in fields(v):
            if n == 1:
                secs = x - (1 << 64) if x >= 1 << 63 else x
        if secs <= 0:
            return None  # Go's zero time: JSON null
        return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise ProtoError("bad type")


def _value(t, wt, v):
    if isinstance(t, tuple) and t[0] == "msg":
        return decode_message(v, t[1])
    return _scalar(t, wt, v)


# gogo-protobuf writes every non-pointer field, zero or not; JSON omits them (omitempty). These are pointers in
# the Go types, where a zero is meaningful and kept.
KEEP_ZERO = {"replicas", "terminationGracePeriodSeconds", "revisionHistoryLimit", "progressDeadlineSeconds",
             "backoffLimit", "parallelism", "completions", "expirationSeconds", "automountServiceAccountToken",
             "immutable", "controller", "blockOwnerDeletion", "paused", "allocateLoadBalancerNodePorts"}


def _empty(name, value):
    if name in KEEP_ZERO or (name == "creationTimestamp" and value is None):
        return False
    return value in ("", 0, False, None)


def decode_message(buf, schema):
    out = {}
    for num, wt, v in fields(buf):
        spec = schema.get(num)
        if spec is None:
            continue
        name, t = spec
        if isinstance(t, tuple) and t[0] == "map":
            k = val = None
            for n, w, x in fields(v):
                if n == 1:
                    k = x.decode("utf-8")
                elif n == 2:
                    val = _scalar(t[1], w, x)
            out.setdefault(name, {})[k] = val if val is not None else ("" if t[1] in (S, B) else val)
        elif isinstance(t, tuple) and t[0] == "rep":
            if wt == 2 or not (isinstance(t[1], str) and t[1] in (I, BOOL)):
                out.setdefault(name, []).append(_value(t[1], wt, v))
            else:
                out.setdefault(name, []).append(_scalar(t[1], wt, v))
        else:
            val = _value(t, wt, v)
            if _empty(name, val):
                out.pop(name, None)
            else:
                out[name] = val
    return out


def decode(body):
    """k8s protobuf envelope -> JSON-shaped object. Raises ProtoError for unknown types or bad bytes."""
    if not body.startswith(MAGIC):
        raise ProtoError("missing k8s protobuf magic")
    api_version = kind = ""
    raw = b""
    for num, _, v in fields(body[len(MAGIC):]):
        if num == 1:
            for n, _, x in fields(v):
                if n == 1:
                    api_version = x.decode()
                elif n == 2:
                    kind = x.decode()
        elif num == 2:
            raw = v
    schema = TYPES.get((api_version, kind))
    if schema is None:
        raise ProtoError("no protobuf decoding for %s %s in meshlab" % (api_version, kind))
    obj = {"apiVersion": api_version, "kind": kind}
    obj.update(decode_message(bytes(raw), schema))
    return obj
