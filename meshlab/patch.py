"""JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch for built-in types."""


try:
    import orjson
except ImportError:  # optional: only speed
    orjson = None


def _clone_py(o):
    if isinstance(o, dict):
        return {k: _clone_py(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_clone_py(v) for v in o]
    return o


def clone(o):
    """Deep copy of JSON-shaped data (dicts, lists, scalars); much faster than copy.deepcopy."""
    if orjson is not None and isinstance(o, (dict, list)):
        try:
            return orjson.loads(orjson.dumps(o))
        except (TypeError, orjson.JSONEncodeError):
            pass
    return _clone_py(o)


class PatchError(Exception):
    """Raised for a patch that cannot be applied; the message is what the API server says."""


# ---- JSON patch ------------------------------------------------------------------------------

def _unescape(tok):
    return tok.replace("~1", "/").replace("~0", "~")


def _split(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError('invalid JSON pointer "%s"' % path)
    return [_unescape(t) for t in path[1:].split("/")]


def _walk(doc, toks, op):
    cur = doc
    for t in toks:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError("doc is missing path: \"/%s\": missing value" % "/".join(toks))
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[int(t)]
            except (ValueError, IndexError):
                raise PatchError("doc is missing path: \"/%s\": missing value" % "/".join(toks))
        else:
            raise PatchError("doc is missing path: \"/%s\": missing value" % "/".join(toks))
    return cur


def _get(doc, path):
    return _walk(doc, _split(path), "get")


def _add(doc, path, value, replace=False):
    toks = _split(path)
    if not toks:
        return value
    parent = _walk(doc, toks[:-1], "add")
    last = toks[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError("replace operation does not apply: doc is missing key: %s: missing value" % path)
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            if replace:
                raise PatchError("replace operation does not apply: doc is missing key: %s" % path)
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError:
                raise PatchError("invalid array index: %s" % last)
            if replace:
                if not 0 <= i < len(parent):
                    raise PatchError("replace operation does not apply: doc is missing key: %s: missing value" % path)
                parent[i] = value
            else:
                if not 0 <= i <= len(parent):
                    raise PatchError("add operation does not apply: doc is missing path: \"%s\": missing value" % path)
                parent.insert(i, value)
    else:
        raise PatchError("add operation does not apply: doc is missing path: \"%s\": missing value" % path)
    return doc


def _remove(doc, path):
    toks = _split(path)
    if not toks:
        raise PatchError("remove operation does not apply: doc is missing path: \"\"")
    parent = _walk(doc, toks[:-1], "remove")
    last = toks[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError("remove operation does not apply: doc is missing path: \"%s\": missing value" % path)
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            i = int(last)
            return parent.pop(i)
        except (ValueError, IndexError):
            raise PatchError("remove operation does not apply: doc is missing path: \"%s\": missing value" % path)
    raise PatchError("remove operation does not apply: doc is missing path: \"%s\": missing value" % path)


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = clone(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError("Unexpected kind: %s" % (op.get("op") if isinstance(op, dict) else op))
        kind = op["op"]
        path = op.get("path", "")
        if kind == "add":
            doc = _add(doc, path, clone(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _add(doc, path, clone(op.get("value")), replace=True)
        elif kind == "move":
            v = _remove(doc, op["from"])
            doc = _add(doc, path, v)
        elif kind == "copy":
            v = clone(_get(doc, op["from"]))
            doc = _add(doc, path, v)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError("testing value %s failed: test failed" % path)
        else:
            raise PatchError("Unexpected kind: %s" % kind)
    return doc


# ---- merge patch -----------------------------------------------------------------------------

def merge_patch(doc, patch):
    if not isinstance(patch, dict):
        return clone(patch)
    out = clone(doc) if isinstance(doc, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            out[k] = merge_patch(out.get(k), v)
        else:
            out[k] = clone(v)
    return out


# ---- strategic merge patch -------------------------------------------------------------------

# Field name -> merge key (None = merge as a set of primitives). Lists not here are replaced.
_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumeMounts": "mountPath", "volumes": "name", "imagePullSecrets": "name", "hostAliases": "ip",
    "ownerReferences": "uid", "conditions": "type", "finalizers": None, "volumeDevices": "devicePath",
    "topologySpreadConstraints": "topologyKey", "resourceClaims": "name", "readinessGates": None,
}
_RETAIN_KEYS = {"volumes", "strategy", "updateStrategy"}


def merge_key_for(path, name):
    """Merge key of list `name` found at `path` (tuple of parent field names)."""
    if name == "ports":
        if any(p in ("containers", "initContainers", "ephemeralContainers") for p in path):
            return "containerPort"
        if path and path[-1] == "spec":
            return "port"
        return False
    if name == "finalizers" and path and path[-1] != "metadata":
        return False
    if name == "readinessGates":
        return "conditionType"
    if name in _MERGE_KEYS:
        return _MERGE_KEYS[name]
    return False


def strategic_merge_patch(doc, patch, path=()):
    """Apply an SMP to a dict; `path` tracks field names to find list merge keys."""
    if not isinstance(patch, dict):
        return clone(patch)
    out = clone(doc) if isinstance(doc, dict) else {}
    directive = patch.get("$patch")
    if directive == "replace":
        p = {k: v for k, v in patch.items() if k != "$patch"}
        return clone(p)
    if directive == "delete":
        return None
    retain = patch.get("$retainKeys")
    orders = {}
    deletes = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
        elif k.startswith("$deleteFromPrimitiveList/"):
            deletes[k.split("/", 1)[1]] = v
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            out.pop(k, None)
            continue
        if isinstance(v, dict):
            merged = strategic_merge_patch(out.get(k), v, path + (k,))
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        elif isinstance(v, list):
            key = merge_key_for(path, k)
            if key is False or not isinstance(out.get(k), list):
                if key is not False:
                    # no live list: still honour delete directives
                    out[k] = _merge_list([], v, key, path + (k,))
                else:
                    out[k] = clone(v)
            else:
                out[k] = _merge_list(out[k], v, key, path + (k,))
        else:
            out[k] = clone(v)
    for k, vals in deletes.items():
        if isinstance(out.get(k), list):
            out[k] = [x for x in out[k] if x not in vals]
    for k, order in orders.items():
        lst = out.get(k)
        key = merge_key_for(path, k)
        if isinstance(lst, list) and isinstance(order, list):
            out[k] = _reorder(lst, order, key)
    if isinstance(retain, list):
        for k in list(out):
            if k not in retain:
                del out[k]
    return out


def _reorder(lst, order, key):
    def ident(x):
        if key and isinstance(x, dict):
            return x.get(key)
        return x if not isinstance(x, dict) else None
    pos = {}
    for i, o in enumerate(order):
        pos[ident(o) if isinstance(o, dict) else o] = i
    listed = [x for x in lst if ident(x) in pos]
    rest = [x for x in lst if ident(x) not in pos]
    listed.sort(key=lambda x: pos[ident(x)])
    return listed + rest


def _merge_list(live, patch, key, path):
    out = clone(live)
    if key is None:
        # primitive set merge
        for v in patch:
            if isinstance(v, dict) and v.get("$patch") == "replace":
                return []
            if v not in out:
                out.append(clone(v))
        return out
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
        return [clone({kk: vv for kk, vv in v.items()}) for v in patch
                if not (isinstance(v, dict) and v.get("$patch"))]
    for v in patch:
        if not isinstance(v, dict):
            out.append(clone(v))
            continue
        kv = v.get(key)
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == kv), None)
        if v.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge_patch({}, v, path))
        else:
            out[idx] = strategic_merge_patch(out[idx], v, path)
    return out
