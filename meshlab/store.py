"""In-memory object store of one cluster, and the one write path (API requests, scenarios, controllers, hooks).

Objects are plain dicts (with kind/apiVersion). Stored objects are never mutated in place: every write stores
a fresh dict, so readers that only look (the server, `peek`, `iter`) need no copies. The public `get`/`list`
return deep copies, safe to change and pass back to `update`.
"""
import asyncio
import collections
import datetime
import random
import re
import uuid

from . import patch as patchlib
from .patch import clone

HISTORY = 20000
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rand_suffix(n=5, rng=random):
    return "".join(rng.choice(NAME_ALPHABET) for _ in range(n))


# ---- errors ------------------------------------------------------------------------------------

class ApiError(Exception):
    """An API failure carried as a Kubernetes Status."""

    def __init__(self, code, reason, message, details=None, metadata=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.metadata = metadata or {}   # ListMeta of the Status (an expired continue carries a new token)

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": dict(self.metadata), "status": "Failure",
             "message": self.message}
        if self.reason:   # omitempty: a webhook denial carries none
            s["reason"] = self.reason
        if self.details is not None:
            s["details"] = self.details
        s["code"] = self.code
        return s


def _details(kind, name=None):
    d = {}
    if name is not None:
        d["name"] = name
    if kind.group:
        d["group"] = kind.group
    d["kind"] = kind.plural
    return d


def not_found(kind, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (kind.key, name), _details(kind, name))


def already_exists(kind, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (kind.key, name), _details(kind, name))


def conflict(kind, name):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    'please apply your changes to the latest version and try again' % (kind.key, name),
                    _details(kind, name))


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def invalid(kind, name, causes):
    """causes: [(field, reason, message)] -> 422 Invalid as the API server words it (apimachinery
    pkg/api/errors NewInvalid: the GroupKind prints as Kind.group; ErrorList.ToAggregate drops repeats)."""
    msgs = []
    for f, _, m in causes:
        s = "%s: %s" % (f if f is not None else "<nil>", m)
        if s not in msgs:
            msgs.append(s)
    joined = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    details = {"name": name or "", "kind": kind.kind}
    if kind.group:
        details = {"name": name or "", "group": kind.group, "kind": kind.kind}
    details["causes"] = [{"reason": r, "message": m, "field": f if f is not None else "<nil>"} for f, r, m in causes]
    gk = kind.kind + ("." + kind.group if kind.group else "")
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (gk, name or "", joined), details)


# ---- selectors ---------------------------------------------------------------------------------

_REQ = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(==|=|!=|\s+in\s+|\s+notin\s+|>|<)\s*(.*?))?\s*$")


def _split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def parse_label_selector(s):
    """String form -> list of (key, op, values). Raises ValueError on bad syntax."""
    reqs = []
    if not s:
        return reqs
    for part in _split_top(s):
        m = _REQ.match(part)
        if not m:
            raise ValueError("unable to parse requirement: %s" % part.strip())
        neg, key, op, val = m.groups()
        if neg:
            if op:
                raise ValueError("unable to parse requirement: %s" % part.strip())
            reqs.append((key, "!", ()))
        elif not op:
            reqs.append((key, "exists", ()))
        else:
            op = op.strip()
            if op in ("in", "notin"):
                val = val.strip()
                if not (val.startswith("(") and val.endswith(")")):
                    raise ValueError("unable to parse requirement: found '%s', expected: '('" % val)
                vals = tuple(v.strip() for v in val[1:-1].split(",") if v.strip() != "" or True)
                reqs.append((key, op, tuple(v for v in vals)))
            else:
                reqs.append((key, "=" if op == "==" else op, (val,)))
    return reqs


def selector_from_struct(sel):
    """metav1.LabelSelector -> requirement list (None selector matches nothing, {} everything)."""
    reqs = []
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        reqs.append((k, "=", (str(v),)))
    for e in sel.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(e.get("operator"))
        reqs.append((e.get("key"), op, tuple(e.get("values") or ())))
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "=":
            if not has or v != vals[0]:
                return False
        elif op == "!=":
            if has and v == vals[0]:
                return False
        elif op == "in":
            if not has or v not in vals:
                return False
        elif op == "notin":
            if has and v in vals:
                return False
        elif op == "exists":
            if not has:
                return False
        elif op == "!":
            if has:
                return False
        elif op in (">", "<"):
            try:
                lv, rv = int(v), int(vals[0])
            except (TypeError, ValueError):
                return False
            if not has or (lv <= rv if op == ">" else lv >= rv):
                return False
        else:
            return False
    return True


def parse_field_selector(s):
    out = []
    if not s:
        return out
    for part in s.split(","):
        part = part.strip()
        if not part:
            continue
        for op in ("!=", "==", "="):
            if op in part:
                k, v = part.split(op, 1)
                out.append((k.strip(), "!=" if op == "!=" else "=", v.strip()))
                break
        else:
            raise ValueError("invalid selector: '%s'; can't understand '%s'" % (s, part))
    return out


def field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(reqs, obj):
    for k, op, v in reqs:
        fv = field_value(obj, k)
        if (fv == v) != (op == "="):
            return False
    return True


# ---- watch -------------------------------------------------------------------------------------

class Watcher:
    def __init__(self, kind, namespace, label_reqs, field_reqs):
        self.kind = kind
        self.namespace = namespace
        self.label_reqs = label_reqs
        self.field_reqs = field_reqs
        self.queue = asyncio.Queue()
        self.closed = False

    def matches(self, obj):
        md = obj.get("metadata") or {}
        if self.namespace and md.get("namespace") != self.namespace:
            return False
        return labels_match(self.label_reqs, md.get("labels")) and fields_match(self.field_reqs, obj)

    def offer(self, etype, obj, old=None):
        """Deliver an event; an object moving out of the selection is a DELETED, into it an ADDED."""
        if self.closed:
            return
        now = self.matches(obj)
        was = old is not None and self.matches(old)
        if etype == "MODIFIED":
            if now and not was and old is not None:
                etype = "ADDED"
            elif was and not now:
                etype = "DELETED"
            elif not now:
                return
        elif not now:
            return
        self.queue.put_nowait((etype, obj))


# ---- the store ---------------------------------------------------------------------------------

class Store:
    def __init__(self, cluster):
        self.cluster = cluster
        self.registry = cluster.registry
        self.data = {}                 # kind key -> {(ns, name): obj}
        self.rv = 1000
        self.history = collections.deque(maxlen=HISTORY)   # (rv, kind key, etype, obj, old)
        self.watchers = set()
        self._pending = collections.deque()
        self._draining = False
        self.rng = random.Random(cluster.name)
        self.compacted_rv = 0

    # ---- raw access ----------------------------------------------------------------------------

    def _kind(self, resource):
        k = self.registry.resolve(resource) if isinstance(resource, str) else resource
        if k is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource",
                           {"kind": resource})
        return k

    def _bucket(self, kind):
        return self.data.setdefault(kind.key, {})

    def peek(self, resource, namespace, name):
        """Stored object without copying: read only."""
        k = self._kind(resource)
        return self.data.get(k.key, {}).get(((namespace or "") if k.namespaced else "", name))

    def iter(self, resource, namespace=None, label_selector=None, field_selector=None):
        """Stored objects without copying, sorted by namespace/name: read only."""
        k = self._kind(resource)
        lreqs = label_selector if isinstance(label_selector, list) else parse_label_selector(label_selector or "")
        freqs = field_selector if isinstance(field_selector, list) else parse_field_selector(field_selector or "")
        bucket = self.data.get(k.key, {})
        out = []
        for (ns, _), obj in sorted(bucket.items(), key=_etcd_order):
            if namespace and k.namespaced and ns != namespace:
                continue
            md = obj["metadata"]
            if lreqs and not labels_match(lreqs, md.get("labels")):
                continue
            if freqs and not fields_match(freqs, obj):
                continue
            out.append(obj)
        return out

    # ---- chunked lists (limit/continue) ------------------------------------------------------------

    def snapshot(self, kind, rv):
        """{(ns, name): obj} of kind as it was at resourceVersion rv, rebuilt from the current objects and the
        change history (etcd keeps old revisions until compaction); None when that revision is compacted or
        older than the history the store keeps."""
        cur = self.data.get(kind.key, {})
        if rv >= self.rv:
            return cur
        if rv < self.compacted_rv or (self.history and self.history[0][0] > rv + 1) or \
                (not self.history and rv < self.rv):
            return None
        snap = dict(cur)
        for hrv, key, etype, obj, old in reversed(self.history):
            if hrv <= rv:
                break
            if key != kind.key:
                continue
            md = (old if old is not None else obj)["metadata"]
            k = (md.get("namespace", "") if kind.namespaced else "", md["name"])
            if etype == "ADDED":
                snap.pop(k, None)
            else:   # MODIFIED, DELETED: what it was before
                snap[k] = old
        return snap

    def compact(self):
        """etcd compaction at the current revision: older revisions (and watch history) are gone."""
        self.compacted_rv = self.rv
        self.history.clear()

    def get(self, resource, namespace, name):
        o = self.peek(resource, namespace, name)
        return clone(o) if o is not None else None

    def list(self, resource, namespace=None, label_selector=None, field_selector=None):
        return clone(self.iter(resource, namespace, label_selector, field_selector))

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def _persist(self, kind, obj, etype, old=None):
        md = obj["metadata"]
        key = (md.get("namespace", "") if kind.namespaced else "", md["name"])
        bucket = self._bucket(kind)
        if etype == "DELETED":
            bucket.pop(key, None)
            # a deletion carries a new resourceVersion, as etcd does
            obj = dict(obj)
            obj["metadata"] = dict(md, resourceVersion=self.next_rv())
        else:
            md["resourceVersion"] = self.next_rv()
            bucket[key] = obj
        self.history.append((int(obj["metadata"]["resourceVersion"]), kind.key, etype, obj, old))
        self._pending.append((kind, etype, obj, old))
        self._drain()
        return obj

    def _drain(self):
        """Deliver events to watchers, built-in controllers and hooks; re-entrant writes queue up."""
        if self._draining:
            return
        self._draining = True
        try:
            while self._pending:
                kind, etype, obj, old = self._pending.popleft()
                for w in list(self.watchers):
                    if w.kind.key == kind.key:
                        w.offer(etype, obj, old)
                self.cluster.on_event(kind, etype, obj, old)
        finally:
            self._draining = False

    # ---- the write path ------------------------------------------------------------------------

    def create_raw(self, resource, obj, namespace=None):
        """create() for controllers: obj is handed over (not copied) and the stored object is returned as is."""
        return self.create(resource, obj, namespace, _owned=True)

    def update_raw(self, resource, obj, namespace=None, name=None, subresource=None):
        """update() for controllers: obj is handed over (not copied) and the stored object is returned as is."""
        return self.update(resource, obj, namespace, name, subresource=subresource, _owned=True)

    def create(self, resource, obj, namespace=None, dry_run=False, subresource=None, field_manager=None,
               _owned=False):
        kind = self._kind(resource)
        obj = obj if _owned else clone(obj)
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        md = obj.setdefault("metadata", {})
        if md is None:
            md = obj["metadata"] = {}
        obj["apiVersion"] = obj.get("apiVersion") or kind.api_version
        obj["kind"] = obj.get("kind") or kind.kind
        if kind.namespaced:
            ns = namespace or md.get("namespace") or "default"
            if md.get("namespace") and namespace and md["namespace"] != namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                                  "request")
            md["namespace"] = ns
            nso = self.peek("namespaces", None, ns)
            if nso is None:
                raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                               {"name": ns, "kind": "namespaces"})
            if nso["metadata"].get("deletionTimestamp"):
                raise ApiError(403, "Forbidden", '%s "%s" is forbidden: unable to create new content in namespace %s '
                               'because it is being terminated' % (kind.key, md.get("name", ""), ns),
                               dict(_details(kind, md.get("name", "")),
                                    causes=[{"reason": "NamespaceTerminating",
                                             "message": "namespace %s is being terminated" % ns,
                                             "field": "metadata.namespace"}]))
        else:
            md.pop("namespace", None)
        if not md.get("name"):
            if md.get("generateName"):
                md["name"] = md["generateName"] + rand_suffix(5, self.rng)
            else:
                raise invalid(kind, "", [("metadata.name", "FieldValueRequired",
                                          "Required value: name or generateName is required")])
        name = md["name"]
        if self.peek(kind, md.get("namespace"), name) is not None:
            raise already_exists(kind, name)
        for k in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "generation",
                  "selfLink", "managedFields"):
            md.pop(k, None)
        obj = self.cluster.admit(kind, "CREATE", obj, None, dry_run)
        md = obj["metadata"]
        md["uid"] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        md["creationTimestamp"] = now_iso()
        if kind.generation:
            md["generation"] = 1
        if dry_run:
            return obj
        # re-check: admission may have renamed (never expected) or a controller raced
        if self.peek(kind, md.get("namespace"), md["name"]) is not None:
            raise already_exists(kind, md["name"])
        stored = self._persist(kind, obj, "ADDED")
        return stored if _owned else clone(stored)

    def update(self, resource, obj, namespace=None, name=None, dry_run=False, subresource=None,
               field_manager=None, _patched=False, _owned=False):
        kind = self._kind(resource)
        obj = obj if (_owned or _patched) else clone(obj)
        md = obj.setdefault("metadata", {})
        ns = (namespace or md.get("namespace") or "default") if kind.namespaced else None
        name = name or md.get("name")
        if md.get("name") and name and md["name"] != name:
            raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                              % (md["name"], name))
        old = self.peek(kind, ns, name)
        if old is None:
            if subresource:
                raise not_found(kind, name)
            # PUT to a missing object creates it (AllowCreateOnUpdate for most built-ins and CRs)
            if kind.plural in ("pods", "deployments", "replicasets", "daemonsets", "statefulsets", "namespaces"):
                raise not_found(kind, name)
            md.pop("resourceVersion", None)
            return self.create(kind, obj, ns, dry_run, _owned=_owned)
        if md.get("resourceVersion") and md["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(kind, name)
        obj["apiVersion"] = obj.get("apiVersion") or kind.api_version
        obj["kind"] = obj.get("kind") or kind.kind
        omd = old["metadata"]
        md["name"] = name
        if kind.namespaced:
            md["namespace"] = ns
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if k in omd:
                md[k] = omd[k]
            else:
                md.pop(k, None)
        md.pop("resourceVersion", None)
        if subresource == "status":
            # stored objects are never mutated in place, so the new version may share spec with the old one
            new = dict(old)
            new["metadata"] = dict(old["metadata"])
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            obj = new
        elif kind.status_subresource and subresource is None:
            if "status" in old:
                obj["status"] = clone(old["status"])
            else:
                obj.pop("status", None)
        obj = self.cluster.admit(kind, "UPDATE", obj, old, dry_run)
        md = obj["metadata"]
        if kind.generation and subresource != "status":
            changed = _strip(obj) != _strip(old)
            if kind.plural == "deployments":
                # the controller's own revision annotation does not count as a user change
                changed = changed or _user_annotations(md) != _user_annotations(omd)
            if changed:
                md["generation"] = int(omd.get("generation", 1)) + 1
        if _same(obj, old):
            # no-op writes do not bump resourceVersion
            return old if _owned else clone(old)
        if dry_run:
            md["resourceVersion"] = omd["resourceVersion"]
            return obj
        stored = self._persist(kind, obj, "MODIFIED", old)
        return stored if _owned else clone(stored)

    def patch(self, resource, namespace, name, patch_type, body, dry_run=False, subresource=None,
              field_manager=None):
        kind = self._kind(resource)
        old = self.peek(kind, namespace, name)
        if old is None:
            raise not_found(kind, name)
        try:
            if patch_type == "json":
                new = patchlib.json_patch(old, body)
            elif patch_type == "merge":
                new = patchlib.merge_patch(old, body)
            elif patch_type == "strategic":
                if kind.crd is not None:
                    raise ApiError(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - accepted media types include: "
                                   "application/json-patch+json, application/merge-patch+json, "
                                   "application/apply-patch+yaml")
                new = patchlib.strategic_merge_patch(old, body)
            elif patch_type == "apply":
                new = patchlib.merge_patch(old, body)
            else:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format")
        except patchlib.PatchError as e:
            raise ApiError(422, "Invalid", str(e)) if patch_type != "json" else ApiError(
                422, "Invalid", str(e))
        if not isinstance(new, dict):
            raise bad_request("the patched object is not an object")
        md = new.setdefault("metadata", {})
        if md.get("resourceVersion") == old["metadata"]["resourceVersion"] or "resourceVersion" not in md:
            md.pop("resourceVersion", None)
        return self.update(kind, new, namespace, name, dry_run, subresource, field_manager, _patched=True)

    def delete(self, resource, namespace, name, dry_run=False, propagation=None, preconditions=None,
               grace_seconds=None):
        """(object, gone_now): the deleted object, or the object being deleted (deletionTimestamp set)."""
        kind = self._kind(resource)
        old = self.peek(kind, namespace, name)
        if old is None:
            raise not_found(kind, name)
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
            raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": Precondition failed: UID in '
                           'precondition: %s, UID in object meta: %s'
                           % (kind.key, name, pre["uid"], old["metadata"].get("uid")),
                           _details(kind, name))
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(kind, name)
        if dry_run:
            return clone(old), True
        if kind.plural == "pods" and grace_seconds != 0 and self.cluster.async_ok():
            # graceful pod deletion: Terminating first, gone once the (simulated, short) grace period ends
            if old["metadata"].get("deletionTimestamp"):
                return clone(old), False
            grace = grace_seconds if grace_seconds is not None else \
                (old.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            obj = clone(old)
            obj["metadata"]["deletionTimestamp"] = now_iso()
            obj["metadata"]["deletionGracePeriodSeconds"] = grace
            obj = self._persist(kind, obj, "MODIFIED", old)
            self.cluster.finalize_later(kind, obj)
            return clone(obj), False
        if old["metadata"].get("finalizers") or kind.plural == "namespaces":
            if old["metadata"].get("deletionTimestamp"):
                return clone(old), False
            obj = clone(old)
            obj["metadata"]["deletionTimestamp"] = now_iso()
            obj["metadata"]["deletionGracePeriodSeconds"] = 0
            if kind.plural == "namespaces":
                obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
                obj.setdefault("status", {})["phase"] = "Terminating"
            obj = self._persist(kind, obj, "MODIFIED", old)
            self.cluster.finalize_later(kind, obj)
            return clone(obj), False
        gone = self._persist(kind, clone(old), "DELETED", old)
        self.cluster.after_delete(kind, gone, propagation)
        return clone(gone), True

    def remove_finalized(self, kind, namespace, name):
        """Drop an object whose finalizers are done (namespace controller, finalizer removal)."""
        old = self.peek(kind, namespace, name)
        if old is None:
            return
        gone = self._persist(kind, clone(old), "DELETED", old)
        self.cluster.after_delete(kind, gone, None)

    # ---- watch ---------------------------------------------------------------------------------

    def watch(self, kind, namespace, label_selector, field_selector):
        w = Watcher(kind, namespace, label_selector, field_selector)
        self.watchers.add(w)
        return w

    def unwatch(self, w):
        w.closed = True
        self.watchers.discard(w)

    def replay(self, w, since_rv):
        """Queue the history after since_rv; False when that history is gone (410 Expired)."""
        if since_rv < self.compacted_rv:
            return False
        if self.history and self.history[0][0] > since_rv + 1 and since_rv < self.rv:
            oldest = self.history[0][0]
            if oldest > since_rv + 1:
                return False
        for rv, key, etype, obj, old in self.history:
            if rv > since_rv and key == w.kind.key:
                w.offer(etype, obj, old)
        return True


def _etcd_order(item):
    """etcd returns a range in key order: /registry/<resource>/<namespace>/<name> compares as one string, so
    namespace "a-b" sorts before "a" ('-' < '/')."""
    (ns, name), _ = item
    return ns + "/" + name if ns else name


def etcd_key(obj, namespaced, with_namespace):
    md = obj["metadata"]
    if namespaced and with_namespace:
        return "%s/%s" % (md.get("namespace", ""), md["name"])
    return md["name"]


def _user_annotations(md):
    return {k: v for k, v in (md.get("annotations") or {}).items() if k != "deployment.kubernetes.io/revision"}


def _strip(o):
    return {k: v for k, v in o.items() if k not in ("metadata", "status")}


def _same(a, b):
    am = {k: v for k, v in a["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    bm = {k: v for k, v in b["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    return am == bm and _strip(a) == _strip(b) and a.get("status") == b.get("status")
