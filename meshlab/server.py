"""The aiohttp API server of one cluster: discovery, OpenAPI, CRUD, Tables, watch, exec (WebSocket v5/v4), logs."""
import asyncio
import datetime
import hashlib
import json
import ssl
import tempfile
import os
import random
import time

import aiohttp
from aiohttp import web
import yaml

from . import tables
from .hooks import ExecRequest, ExecResult
from .store import ApiError, parse_label_selector, parse_field_selector, bad_request, not_found

VERSION = {"major": "1", "minor": "36", "emulationMajor": "1", "emulationMinor": "36",
           "minCompatibilityMajor": "1", "minCompatibilityMinor": "35", "gitVersion": "v1.36.1",
           "gitCommit": "3b2c9ef0a1d8e4f5a6b7c8d9e0f1a2b3c4d5e6f7", "gitTreeState": "clean",
           "buildDate": "2026-05-14T09:12:41Z", "goVersion": "go1.25.9", "compiler": "gc",
           "platform": "linux/amd64"}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
PATCH_TYPES = {"application/json-patch+json": "json", "application/merge-patch+json": "merge",
               "application/strategic-merge-patch+json": "strategic", "application/apply-patch+yaml": "apply"}
EP_WARNING = '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"'
NOT_FOUND_STATUS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "the server could not find the requested resource", "reason": "NotFound",
                    "details": {}, "code": 404}


try:
    import orjson
except ImportError:  # optional: only speed
    orjson = None


def dumps_bytes(o):
    if orjson is not None:
        try:
            return orjson.dumps(o)
        except TypeError:
            pass
    return json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode()


def dumps(o):
    return dumps_bytes(o).decode()


def dumps_pretty(o):
    """Indented JSON text, as Envoy's admin and istiod's debug endpoints print it. The standard encoder
    indents in pure Python (half the lab's CPU at 200 clusters went to one proxy's clusters); orjson does it in C."""
    if orjson is not None:
        try:
            return orjson.dumps(o, option=orjson.OPT_INDENT_2).decode() + "\n"
        except TypeError:
            pass
    return json.dumps(o, indent=2, ensure_ascii=False) + "\n"


def jresp(obj, status=200, headers=None):
    return web.Response(body=dumps_bytes(obj), status=status, content_type="application/json", headers=headers)


def status_resp(err, headers=None):
    return jresp(err.status(), err.code, headers)


def _bool(v):
    return str(v).lower() in ("true", "1", "t", "yes")


class Request:
    """A parsed resource request."""
    __slots__ = ("group", "version", "kind", "namespace", "name", "sub", "verb", "resource")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


class ApiServer:
    def __init__(self, cluster):
        self.cluster = cluster
        self.lab = cluster.lab
        self.store = cluster.store
        self.app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[])
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    # ---- lifecycle -------------------------------------------------------------------------------

    def ssl_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        bad = self.cluster.faults.get("bad_cert")
        cert, key = (bad if bad else (self.cluster.cert_pem, self.cluster.key_pem))
        # ssl loads keys only from files: a private (0600) file that lives just for this call
        fd, path = tempfile.mkstemp(prefix="meshlab-", suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(key + cert)
            ctx.load_cert_chain(path)
        finally:
            os.unlink(path)
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    async def start(self):
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.cluster.host, self.cluster.port, ssl_context=self.ssl_context(),
                           reuse_address=True, backlog=256)
        await site.start()
        if not self.cluster.port:
            self.cluster.port = site._server.sockets[0].getsockname()[1]
        self.cluster.runner = runner
        self.cluster.up = True
        self.cluster.server_started = time.time()

    async def stop(self):
        self.cluster.up = False
        runner, self.cluster.runner = self.cluster.runner, None
        if runner is not None:
            for w in list(self.store.watchers):
                self.store.unwatch(w)
                w.queue.put_nowait(None)
            await runner.cleanup()
        # a fresh app for the next start (an aiohttp Application cannot be set up twice)
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    # ---- entry point ------------------------------------------------------------------------------

    async def handle(self, request):
        c = self.cluster
        c.stats.requests += 1
        f = c.faults
        if f:
            r = await self.fault(request, f)
            if r is not None:
                return r
        try:
            return await self.dispatch(request)
        except ApiError as e:
            return status_resp(e)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as e:  # never a traceback to the client
            self.lab.log("internal error in %s on %s %s: %r" % (c.name, request.method, request.path, e))
            import traceback
            traceback.print_exc()
            return status_resp(ApiError(500, "InternalError", "Internal error occurred: %s" % e,
                                        {"causes": [{"message": str(e)}]}))

    async def fault(self, request, f):
        if f.get("latency"):
            await asyncio.sleep(float(f["latency"]))
        rate = f.get("error_rate")
        if rate and random.random() < float(rate):
            code = int(f.get("error_code", 503))
            reason = {500: "InternalError", 503: "ServiceUnavailable", 429: "TooManyRequests"}.get(code, "InternalError")
            msg = {500: "Internal error occurred: injected fault", 503: "the server is currently unable to handle "
                   "the request", 429: "Too many requests, please try again later."}.get(code, "injected fault")
            headers = {"Retry-After": "1"} if code in (429, 503) else None
            return jresp({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": msg,
                          "reason": reason, "details": {"retryAfterSeconds": 1} if headers else {}, "code": code},
                         code, headers)
        drop = f.get("drop_rate")
        if drop and random.random() < float(drop):
            # answer half a response, then cut the connection
            resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                           "Content-Length": "4096"})
            await resp.prepare(request)
            await resp.write(b'{"kind":"Status","apiVersion":"v1","metadata":{},')
            if request.transport is not None:
                request.transport.abort()
            return resp
        return None

    def user_for(self, request):
        h = request.headers.get("Authorization", "")
        if not h:
            return "anonymous"
        if not h.lower().startswith("bearer "):
            return None
        return self.cluster.authenticate(h[7:].strip())

    async def dispatch(self, request):
        path = request.path
        method = request.method
        user = self.user_for(request)
        if user is None:
            return jresp({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": "Unauthorized", "reason": "Unauthorized", "code": 401}, 401)
        if user == "anonymous":
            from .auth import User
            user = User("system:anonymous", ["system:unauthenticated"])
        if "Impersonate-User" in request.headers or "Impersonate-Group" in request.headers:
            user = self.impersonate(request, user)
        segs = [s for s in path.split("/") if s]
        # non-resource paths
        if not segs or segs[0] not in ("api", "apis") or (segs[0] == "api" and len(segs) <= 2) or \
                (segs[0] == "apis" and len(segs) <= 3):
            if method != "GET":
                return web.Response(status=405, text="405: Method Not Allowed")
            # system:public-info-viewer: anyone may read the version and health endpoints
            if path not in ("/version", "/healthz", "/livez", "/readyz"):
                ok, msg = self.cluster.authorize(user, "get", None, path=path)
                if not ok:
                    return status_resp(ApiError(403, "Forbidden", msg, {}))
            return self.nonresource(request, segs)
        req = self.parse(segs, method, request.query)
        if req is None:
            return jresp(NOT_FOUND_STATUS, 404)
        c = self.cluster
        verb = req.verb
        stat_verb = {"deletecollection": "delete"}.get(verb, verb)
        if req.sub == "exec":
            stat_verb = "exec"
        elif req.sub == "log":
            stat_verb = "log"
        if stat_verb in c.stats.verbs:
            c.stats.verbs[stat_verb] += 1
        dry = "All" in request.query.getall("dryRun", [])
        k = req.kind
        ok, msg = c.authorize(user, verb, k.plural, req.namespace if k.namespaced else None, k.group, req.name,
                              req.sub)
        if not ok:
            details = {"kind": k.plural}
            if req.name:
                details = {"name": req.name, "kind": k.plural}
            if k.group:
                details["group"] = k.group
                details = {kk: details[kk] for kk in ("name", "group", "kind") if kk in details}
            return status_resp(ApiError(403, "Forbidden", msg, details))
        if verb in WRITE_VERBS and not dry and req.sub not in ("exec",):
            c.stats.writes += 1
        if req.sub == "exec" or req.sub == "attach":
            return await self.exec(request, req, user)
        if req.sub == "log":
            return await self.log(request, req)
        if req.sub == "token" and k.plural == "serviceaccounts":
            return await self.token_request(request, req)
        if req.sub == "eviction" and k.plural == "pods" and verb == "create":
            # no PodDisruptionBudget is consulted: an eviction is a graceful delete
            self.store.delete(k, req.namespace, req.name, dry_run=dry)
            return jresp({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
                         201)
        if req.sub not in (None, "status", "scale"):
            return status_resp(ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                        "requested resource", {}))
        headers = {"Warning": EP_WARNING} if k.key == "endpoints" else None
        if k.key in ("selfsubjectaccessreviews.authorization.k8s.io", "subjectaccessreviews.authorization.k8s.io",
                     "tokenreviews.authentication.k8s.io"):
            return await self.review(request, req, user)
        if verb == "get":
            return self.get(request, req, headers)
        if verb == "list":
            return self.list(request, req, headers)
        if verb == "watch":
            return await self.watch(request, req)
        body = await self.body(request, req) if method in ("POST", "PUT", "PATCH") or \
            (method == "DELETE" and request.can_read_body) else None
        fm = request.query.get("fieldManager")
        if req.sub == "scale" and verb in ("update", "patch"):
            return jresp(self.write_scale(request, req, body, dry))
        if verb == "create":
            if req.name:
                return status_resp(ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                            "requested resource", {}))
            self.check_gvk(req, body)
            self.strict(request, req, body)
            obj = self.store.create(k, body, req.namespace, dry_run=dry, field_manager=fm)
            return jresp(obj, 201, headers)
        if verb == "update":
            self.check_gvk(req, body)
            self.strict(request, req, body)
            if k.plural == "namespaces" and req.sub == "finalize":
                return jresp(self.store.update(k, body, None, req.name, dry_run=dry))
            existed = self.store.peek(k, req.namespace, req.name) is not None
            obj = self.store.update(k, body, req.namespace, req.name, dry_run=dry, subresource=req.sub,
                                    field_manager=fm)
            return jresp(obj, 200 if existed else 201, headers)
        if verb == "patch":
            ctype = request.content_type
            ptype = PATCH_TYPES.get(ctype)
            if ptype is None:
                accepted = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                if k.crd is None:
                    accepted += ", application/strategic-merge-patch+json"
                return status_resp(ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                                            "format - accepted media types include: " + accepted, {}))
            if ptype == "apply" and self.store.peek(k, req.namespace, req.name) is None:
                body = dict(body)
                obj = self.store.create(k, body, req.namespace, dry_run=dry, field_manager=fm)
                return jresp(obj, 201, headers)
            obj = self.store.patch(k, req.namespace, req.name, ptype, body, dry_run=dry, subresource=req.sub,
                                   field_manager=fm)
            return jresp(obj, 200, headers)
        if verb == "delete":
            opts = body if isinstance(body, dict) else {}
            prop = request.query.get("propagationPolicy") or opts.get("propagationPolicy")
            grace = request.query.get("gracePeriodSeconds", opts.get("gracePeriodSeconds"))
            try:
                grace = int(grace) if grace is not None else None
            except ValueError:
                raise bad_request("gracePeriodSeconds must be an integer") from None
            obj, gone = self.store.delete(k, req.namespace, req.name, dry_run=dry, propagation=prop,
                                          preconditions=opts.get("preconditions"), grace_seconds=grace)
            if gone and k.plural not in ("pods",):
                details = {"name": req.name}
                if k.group:
                    details["group"] = k.group
                details["kind"] = k.plural
                details["uid"] = obj["metadata"].get("uid")
                return jresp({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "details": details}, 200, headers)
            if gone and k.plural == "pods":
                obj["metadata"]["deletionTimestamp"] = obj["metadata"].get("deletionTimestamp") or \
                    datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
            return jresp(obj, 200, headers)
        if verb == "deletecollection":
            opts = body if isinstance(body, dict) else {}
            items = self.store.iter(k, req.namespace, request.query.get("labelSelector"),
                                    request.query.get("fieldSelector"))
            out = []
            for o in list(items):
                try:
                    d, _ = self.store.delete(k, o["metadata"].get("namespace"), o["metadata"]["name"], dry_run=dry,
                                             propagation=request.query.get("propagationPolicy") or
                                             opts.get("propagationPolicy"))
                    out.append(d)
                except ApiError:
                    pass
            return jresp(self.list_obj(k, out))
        return jresp(NOT_FOUND_STATUS, 404)

    def impersonate(self, request, user):
        """Impersonate-User/-Group headers (kubectl --as/--as-group), allowed by RBAC verb "impersonate"."""
        from .auth import User
        name = request.headers.get("Impersonate-User", "")
        groups = request.headers.getall("Impersonate-Group", [])
        if not name:
            raise ApiError(500, "InternalError", "Internal error occurred: requested %s without impersonating a user"
                           % groups, {})
        if name.startswith("system:serviceaccount:"):
            parts = name.split(":")
            if len(parts) == 4:
                ok, msg = self.cluster.authorize(user, "impersonate", "serviceaccounts", parts[2], "", parts[3])
                base = ["system:serviceaccounts", "system:serviceaccounts:%s" % parts[2]]
            else:
                ok, msg, base = False, "", []
        else:
            ok, msg = self.cluster.authorize(user, "impersonate", "users", None, "", name)
            base = []
        for g in groups:
            if ok:
                ok, msg = self.cluster.authorize(user, "impersonate", "groups", None, "", g)
        if not ok:
            raise ApiError(403, "Forbidden", msg or 'users "%s" is forbidden: User "%s" cannot impersonate resource '
                           '"users" in API group "" at the cluster scope' % (name, user.name),
                           {"name": name, "kind": "users"})
        all_groups = list(dict.fromkeys(base + groups + ["system:authenticated"]))
        return User(name, all_groups)

    # ---- parsing -------------------------------------------------------------------------------

    def parse(self, segs, method, query):
        reg = self.cluster.registry
        if segs[0] == "api":
            group, version, rest = "", segs[1], segs[2:]
        else:
            group, version, rest = segs[1], segs[2], segs[3:]
        ns = name = sub = None
        if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
            ns = rest[1]
            res = rest[2]
            name = rest[3] if len(rest) > 3 else None
            sub = rest[4] if len(rest) > 4 else None
            if len(rest) > 5:
                return None
        else:
            res = rest[0]
            name = rest[1] if len(rest) > 1 else None
            sub = rest[2] if len(rest) > 2 else None
            if len(rest) > 3:
                return None
        kind = reg.find(group, version, res)
        if kind is None:
            return None
        if ns is not None and not kind.namespaced:
            return None
        if sub and sub not in kind.subresources:
            return None
        if method == "GET":
            if sub in ("exec", "attach", "portforward"):
                verb = "create"
            elif name:
                verb = "get"
            else:
                verb = "watch" if _bool(query.get("watch", "false")) else "list"
        elif method == "POST":
            verb = "create"
        elif method == "PUT":
            verb = "update"
        elif method == "PATCH":
            verb = "patch"
        elif method == "DELETE":
            verb = "delete" if name else "deletecollection"
        else:
            return None
        if verb not in kind.verbs and not sub:
            return None
        if name is None and verb in ("update", "patch"):
            return None
        return Request(group=group, version=version, kind=kind, namespace=ns, name=name, sub=sub, verb=verb,
                       resource=res)

    async def body(self, request, req):
        raw = await request.read()
        if not raw:
            if request.method == "DELETE":
                return {}
            raise bad_request("the body of the request was in an unknown format")
        if request.content_type == "application/vnd.kubernetes.protobuf":
            from .protobuf import decode, ProtoError
            try:
                return decode(raw)
            except (ProtoError, UnicodeDecodeError, IndexError) as e:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                               "accepted media types include: application/json, application/yaml (%s)" % e, {})
        try:
            if request.content_type in ("application/yaml", "application/apply-patch+yaml"):
                return yaml.safe_load(raw)
            return orjson.loads(raw) if orjson is not None else json.loads(raw)
        except (ValueError, yaml.YAMLError) as e:
            k = req.kind
            raise bad_request('%s in version "%s" cannot be handled as a %s: %s'
                              % (k.kind, k.version, k.kind, str(e).split("\n")[0]))

    def check_gvk(self, req, body):
        k = req.kind
        if not isinstance(body, dict):
            raise bad_request('%s in version "%s" cannot be handled as a %s: json: cannot unmarshal into Go value of '
                              'type struct' % (k.kind, k.version, k.kind))
        if body.get("kind") and body["kind"] != k.kind and req.sub is None:
            raise bad_request('%s in version "%s" cannot be handled as a %s: no kind "%s" is registered for version '
                              '"%s" in scheme "pkg/api/legacyscheme/scheme.go:30"'
                              % (k.kind, k.version, k.kind, body["kind"], body.get("apiVersion", "")))

    def strict(self, request, req, body):
        from .schema import unknown_fields
        mode = request.query.get("fieldValidation", "")
        if mode not in ("Strict", "Warn", ""):
            return
        errs = unknown_fields(req.kind, body)
        if errs and mode == "Strict":
            k = req.kind
            raise bad_request('%s in version "%s" cannot be handled as a %s: strict decoding error: %s'
                              % (k.kind, k.version, k.kind, ", ".join('unknown field "%s"' % e for e in errs)))

    # ---- reads -----------------------------------------------------------------------------------

    def wants_table(self, request):
        acc = request.headers.get("Accept", "")
        return "as=Table" in acc

    def include(self, request):
        return request.query.get("includeObject", "Metadata")

    def get(self, request, req, headers):
        obj = self.store.peek(req.kind, req.namespace, req.name)
        if obj is None:
            raise not_found(req.kind, req.name)
        if req.sub == "scale":
            return jresp(self.scale(req, obj), 200, headers)
        if self.wants_table(request):
            return jresp(tables.table(req.kind, [obj], obj["metadata"]["resourceVersion"], self.include(request)),
                         200, headers)
        return jresp(obj, 200, headers)

    def scale(self, req, obj):
        md = obj["metadata"]
        sel = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": md["name"], "namespace": md.get("namespace"), "uid": md["uid"],
                             "resourceVersion": md["resourceVersion"],
                             "creationTimestamp": md["creationTimestamp"]},
                "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": ",".join("%s=%s" % kv for kv in sorted(sel.items()))}}

    def write_scale(self, request, req, body, dry):
        """PUT/PATCH of the scale subresource: only spec.replicas of the parent changes."""
        obj = self.store.peek(req.kind, req.namespace, req.name)
        if obj is None:
            raise not_found(req.kind, req.name)
        cur = self.scale(req, obj)
        if request.method == "PUT":
            new = body if isinstance(body, dict) else {}
            rv = (new.get("metadata") or {}).get("resourceVersion")
            if rv and rv != obj["metadata"]["resourceVersion"]:
                from .store import conflict
                raise conflict(req.kind, req.name)
        else:
            from . import patch as patchlib
            ptype = PATCH_TYPES.get(request.content_type, "merge")
            try:
                new = patchlib.json_patch(cur, body) if ptype == "json" else patchlib.merge_patch(cur, body)
            except patchlib.PatchError as e:
                raise ApiError(422, "Invalid", str(e), {})
        replicas = (new.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            from .store import invalid
            raise invalid(req.kind, req.name, [("spec.replicas", "FieldValueInvalid", "Invalid value: %s: must be "
                                                "greater than or equal to 0" % json.dumps(replicas))])
        upd = self.store.get(req.kind, req.namespace, req.name)
        upd["spec"]["replicas"] = replicas
        out = self.store.update(req.kind, upd, req.namespace, req.name, dry_run=dry)
        return self.scale(req, out)

    def selectors(self, request):
        try:
            lsel = parse_label_selector(request.query.get("labelSelector", ""))
        except ValueError as e:
            raise bad_request("unable to parse requirement: %s" % e)
        try:
            fsel = parse_field_selector(request.query.get("fieldSelector", ""))
        except ValueError as e:
            raise bad_request(str(e))
        return lsel, fsel

    def list_obj(self, k, items, meta=None):
        if k.crd is None:
            items = [{kk: vv for kk, vv in o.items() if kk not in ("kind", "apiVersion")} for o in items]
        return {"kind": k.kind + "List", "apiVersion": k.api_version,
                "metadata": meta or {"resourceVersion": str(self.store.rv)}, "items": items}

    def list(self, request, req, headers):
        lsel, fsel = self.selectors(request)
        items, meta = self.chunk(request, req, lsel, fsel)
        if self.wants_table(request):
            t = tables.table(req.kind, items, meta["resourceVersion"], self.include(request))
            t["metadata"] = meta
            return jresp(t, 200, headers)
        return jresp(self.list_obj(req.kind, items, meta), 200, headers)

    def chunk(self, request, req, lsel, fsel):
        """LIST with limit/continue as kube-apiserver 1.36 serves it (apiserver pkg/storage: continue.go
        DecodeContinue/EncodeContinue/PrepareContinueToken, interfaces.go ValidateListOptions,
        cacher/cacher.go GetList and computeListLimit, etcd3/errors.go handleCompactedErrorForPaging).

        - limit is ignored for resourceVersion=0 (served whole from the watch cache);
        - a page carries metadata.continue (base64url of {"v":"meta.k8s.io/v1","rv":<list rv>,"start":"<key>\\x00"})
          while items remain after it, and metadata.remainingItemCount when no selector filters the list;
        - every page of one list reads the store as it was at the first page's resourceVersion;
        - a token that does not decode is 400 `invalid continue token: ...`; one whose revision is compacted
          (ctl fault compact, or more changes than the store's history keeps) is 410 Expired with a fresh
          token that continues from the latest revision (rv -1)."""
        import base64
        q = request.query
        k = req.kind
        store = self.store
        cont = q.get("continue", "")
        rv = q.get("resourceVersion", "")
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            limit = 0
        ns = req.namespace if k.namespaced else None
        with_ns = k.namespaced and not ns
        start, at = "", store.rv
        if cont:
            try:
                raw = base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4))
                tok = json.loads(raw)
                if not isinstance(tok, dict):
                    raise ValueError("not an object")
            except (ValueError, UnicodeDecodeError) as e:
                raise bad_request("invalid continue token: continue key is not valid: %s" % e) from None
            if tok.get("v") != "meta.k8s.io/v1":
                raise bad_request("invalid continue token: continue key is not valid: server does not recognize "
                                  "this encoded version %s" % tok.get("v", ""))
            if not tok.get("rv"):
                raise bad_request("invalid continue token: continue key is not valid: incorrect encoded start "
                                  "resourceVersion (version meta.k8s.io/v1)")
            if not tok.get("start"):
                raise bad_request("invalid continue token: continue key is not valid: encoded start key empty "
                                  "(version meta.k8s.io/v1)")
            if rv not in ("", "0"):
                raise bad_request("specifying resource version is not allowed when using continue")
            start = str(tok["start"]).lstrip("/")
            if int(tok["rv"]) > 0:
                at = int(tok["rv"])
        if limit <= 0 or rv == "0" and not cont:
            items = store.iter(k, ns, lsel, fsel)
            return items, {"resourceVersion": str(store.rv)}
        bucket = store.snapshot(k, at)
        if bucket is None:
            fresh = base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": -1, "start": start},
                                                        separators=(",", ":")).encode()).decode().rstrip("=")
            raise ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list "
                           "result. You can start a new list without the continue parameter, or use the continue "
                           "token in this response to retrieve the remainder of the results. Continuing with the "
                           "provided token results in an inconsistent list - objects that were created, modified, "
                           "or deleted between the time the first chunk was returned and now may show up in the "
                           "list.", {}, {"continue": fresh})
        from .store import _etcd_order, labels_match, fields_match
        raw = []
        for key, obj in sorted(bucket.items(), key=_etcd_order):
            if ns and key[0] != ns:
                continue
            ek = _etcd_order((key, obj)) if with_ns or not k.namespaced else key[1]
            if start and ek < start:
                continue
            raw.append((ek, obj))
        out, last, more = [], None, False
        for i, (ek, obj) in enumerate(raw):
            md = obj["metadata"]
            if (not lsel or labels_match(lsel, md.get("labels"))) and (not fsel or fields_match(fsel, obj)):
                out.append(obj)
                last = ek
            if len(out) >= limit:
                more = i < len(raw) - 1
                break
        meta = {"resourceVersion": str(at)}
        if more:
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                {"v": "meta.k8s.io/v1", "rv": at, "start": last + "\x00"}, separators=(",", ":")).encode()
            ).decode().rstrip("=")
            if not lsel and not fsel:
                meta["remainingItemCount"] = len(raw) - limit
        return out, meta

    async def watch(self, request, req):
        lsel, fsel = self.selectors(request)
        q = request.query
        k = req.kind
        table = self.wants_table(request)
        include = self.include(request)
        initial = _bool(q.get("sendInitialEvents", "false"))
        rv = q.get("resourceVersion", "")
        if initial and q.get("resourceVersionMatch") != "NotOlderThan":
            raise ApiError(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                           'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan', {})
        try:
            timeout = float(q.get("timeoutSeconds") or 1800)
        except ValueError:
            timeout = 1800
        bookmarks = _bool(q.get("allowWatchBookmarks", "false"))
        w = self.store.watch(k, req.namespace if k.namespaced else None, lsel, fsel)
        headers = {"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
        if k.key == "endpoints":
            headers["Warning"] = EP_WARNING
        resp = web.StreamResponse(status=200, headers=headers)
        resp.enable_chunked_encoding()
        first = [True]

        def encode(etype, obj):
            if table and etype != "BOOKMARK":
                o = tables.table(k, [obj], obj["metadata"].get("resourceVersion", ""), include,
                                 with_columns=first[0])
                first[0] = False
            else:
                o = obj
            return dumps_bytes({"type": etype, "object": o}) + b"\n"

        try:
            expired = False
            if initial or rv in ("", "0"):
                for obj in self.store.iter(k, req.namespace if k.namespaced else None, lsel, fsel):
                    w.queue.put_nowait(("ADDED", obj))
                if initial:
                    w.queue.put_nowait(("BOOKMARK", {
                        "kind": k.kind, "apiVersion": k.api_version,
                        "metadata": {"resourceVersion": str(self.store.rv),
                                     "annotations": {"k8s.io/initial-events-end": "true"}}}))
            else:
                try:
                    since = int(rv)
                except ValueError:
                    raise bad_request('invalid resource version "%s"' % rv) from None
                if not self.store.replay(w, since):
                    expired = True
            await resp.prepare(request)
            if expired:
                err = ApiError(410, "Expired", "too old resource version: %s (%d)" % (rv, self.store.rv))
                await resp.write(encode("ERROR", err.status()))
                return resp
            deadline = time.monotonic() + timeout
            last_bm = time.monotonic()
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(w.queue.get(), timeout=min(left, 30.0))
                except asyncio.TimeoutError:
                    if bookmarks and time.monotonic() - last_bm >= 30:
                        last_bm = time.monotonic()
                        await resp.write(encode("BOOKMARK", {"kind": k.kind, "apiVersion": k.api_version,
                                                             "metadata": {"resourceVersion": str(self.store.rv)}}))
                    continue
                if item is None:
                    break
                etype, obj = item
                chunk = [encode(etype, obj)]
                while not w.queue.empty():
                    item = w.queue.get_nowait()
                    if item is None:
                        break
                    chunk.append(encode(*item))
                await resp.write(b"".join(chunk))
                if item is None:
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.unwatch(w)
        return resp

    # ---- non-resource ----------------------------------------------------------------------------

    def nonresource(self, request, segs):
        reg = self.cluster.registry
        path = "/" + "/".join(segs)
        if path == "/version":
            return jresp(VERSION)
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if path == "/api":
            return jresp({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "%s:%d" % (self.cluster.host, self.cluster.port)}]})
        if path == "/apis":
            groups = []
            for g, vs in reg.groups():
                groups.append({"name": g, "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in vs],
                               "preferredVersion": {"groupVersion": "%s/%s" % (g, vs[0]), "version": vs[0]}})
            return jresp({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if segs[0] == "api" and len(segs) == 2:
            if segs[1] != "v1":
                return web.Response(status=404, text="404 page not found\n")
            return jresp(self.resource_list("", "v1"))
        if segs[0] == "apis" and len(segs) == 2:
            for g, vs in reg.groups():
                if g == segs[1]:
                    return jresp({"kind": "APIGroup", "apiVersion": "v1", "name": g,
                                  "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in vs],
                                  "preferredVersion": {"groupVersion": "%s/%s" % (g, vs[0]), "version": vs[0]}})
            return web.Response(status=404, text="404 page not found\n")
        if segs[0] == "apis" and len(segs) == 3:
            if not reg.in_group_version(segs[1], segs[2]):
                return web.Response(status=404, text="404 page not found\n")
            return jresp(self.resource_list(segs[1], segs[2]))
        if segs[0] == "openapi":
            return self.openapi(request, segs)
        return web.Response(status=404, text="404 page not found\n")

    def resource_list(self, group, version):
        out = []
        for k in sorted(self.cluster.registry.in_group_version(group, version), key=lambda k: k.plural):
            r = {"name": k.plural, "singularName": k.singular, "namespaced": k.namespaced, "kind": k.kind,
                 "verbs": k.verbs}
            if k.short_names:
                r["shortNames"] = k.short_names
            if k.categories:
                r["categories"] = k.categories
            r["storageVersionHash"] = hashlib.sha256(k.key.encode()).digest()[:8].hex()
            out.append(r)
            for sub, spec in sorted(k.subresources.items()):
                s = {"name": "%s/%s" % (k.plural, sub), "singularName": "", "namespaced": k.namespaced,
                     "kind": spec[0], "verbs": spec[1]}
                if len(spec) > 2:
                    s["group"], s["version"] = spec[2], spec[3]
                out.append(s)
        gv = "%s/%s" % (group, version) if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}

    def openapi(self, request, segs):
        reg = self.cluster.registry
        if len(segs) >= 2 and segs[1] == "v2":
            return web.Response(status=404, text="404 page not found\n")
        if len(segs) < 2 or segs[1] != "v3":
            return web.Response(status=404, text="404 page not found\n")
        gvs = [("", "v1")] + [(g, v) for g, vs in reg.groups() for v in vs]
        if len(segs) == 2:
            paths = {}
            for g, v in gvs:
                key = "apis/%s/%s" % (g, v) if g else "api/%s" % v
                h = hashlib.sha256(dumps(self.openapi_doc(g, v)).encode()).hexdigest()[:32].upper()
                paths[key] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (key, h)}
            return jresp({"paths": paths})
        rest = segs[2:]
        if rest[0] == "api" and len(rest) == 2:
            g, v = "", rest[1]
        elif rest[0] == "apis" and len(rest) == 3:
            g, v = rest[1], rest[2]
        else:
            return web.Response(status=404, text="404 page not found\n")
        if (g, v) not in gvs:
            return web.Response(status=404, text="404 page not found\n")
        return jresp(self.openapi_doc(g, v), headers={"Cache-Control": "public, immutable"} if "hash" in
                     request.query else None)

    def openapi_doc(self, group, version):
        """Enough of a spec3 document for kubectl: PATCH operations with their GVK and fieldValidation."""
        paths = {}
        params = {"fieldValidation": {"name": "fieldValidation", "in": "query", "description": "fieldValidation "
                                      "instructs the server on how to handle objects in the request", "schema": {
                                          "type": "string", "uniqueItems": True}}}
        for k in self.cluster.registry.in_group_version(group, version):
            base = "/apis/%s/%s" % (group, version) if group else "/api/%s" % version
            p = base + ("/namespaces/{namespace}/%s/{name}" % k.plural if k.namespaced else "/%s/{name}" % k.plural)
            gvk = {"group": group, "version": version, "kind": k.kind}
            ops = {}
            if "patch" in k.verbs:
                ops["patch"] = {"operationId": "patch" + k.kind, "x-kubernetes-action": "patch",
                                "x-kubernetes-group-version-kind": gvk,
                                "parameters": [params["fieldValidation"]],
                                "responses": {"200": {"description": "OK"}}}
            if "get" in k.verbs:
                ops["get"] = {"operationId": "read" + k.kind, "x-kubernetes-action": "get",
                              "x-kubernetes-group-version-kind": gvk, "responses": {"200": {"description": "OK"}}}
            if ops:
                paths[p] = ops
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
                "paths": paths, "components": {"parameters": params, "schemas": {}}}

    # ---- reviews and tokens ------------------------------------------------------------------------

    async def review(self, request, req, user):
        body = await self.body(request, req)
        k = req.kind
        if k.plural == "tokenreviews":
            tok = ((body or {}).get("spec") or {}).get("token", "")
            u = self.cluster.authenticate(tok)
            status = {"authenticated": bool(u)}
            if u:
                status["user"] = {"username": u.name, "uid": u.uid, "groups": u.groups}
            body["status"] = status
            return jresp(body, 201)
        spec = (body or {}).get("spec") or {}
        ra = spec.get("resourceAttributes")
        nra = spec.get("nonResourceAttributes")
        subject = user
        if k.plural == "subjectaccessreviews":
            from .auth import User
            subject = User(spec.get("user", ""), list(spec.get("groups") or []))
        if ra:
            ok, _ = self.cluster.authorize(subject, ra.get("verb", ""), ra.get("resource", ""),
                                           ra.get("namespace") or None, ra.get("group", ""), ra.get("name") or None,
                                           ra.get("subresource") or None)
        else:
            ok, _ = self.cluster.authorize(subject, (nra or {}).get("verb", "get"), None,
                                           path=(nra or {}).get("path", "/"))
        body["status"] = {"allowed": ok}
        if ok:
            body["status"]["reason"] = 'RBAC: allowed by ClusterRoleBinding'
        body.setdefault("metadata", {})["creationTimestamp"] = None
        return jresp(body, 201)

    async def token_request(self, request, req):
        if request.method != "POST":
            return status_resp(ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                        "requested resource", {}))
        body = await self.body(request, req) or {}
        exp = int(((body.get("spec") or {}).get("expirationSeconds")) or 3600)
        res = self.cluster.issue_bound_token(req.namespace, req.name, exp)
        if res is None:
            raise not_found(req.kind, req.name)
        tok, expires = res
        body = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": req.name, "namespace": req.namespace, "creationTimestamp": None},
                "spec": dict(body.get("spec") or {}, expirationSeconds=exp),
                "status": {"token": tok, "expirationTimestamp": datetime.datetime.fromtimestamp(
                    expires, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}}
        body["spec"].setdefault("audiences", ["https://kubernetes.default.svc.cluster.local"])
        return jresp(body, 201)

    # ---- exec and logs ---------------------------------------------------------------------------

    def pod_and_container(self, req, container, what):
        pod = self.store.peek("pods", req.namespace, req.name)
        if pod is None:
            raise not_found(req.kind, req.name)
        names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        inits = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
        if not container:
            if len(names) == 1:
                container = names[0]
            else:
                msg = "a container name must be specified for pod %s, choose one of: [%s]" % (req.name, " ".join(names))
                if inits:
                    msg += " or one of the init containers: [%s]" % " ".join(inits)
                raise bad_request(msg)
        if container not in names and container not in inits:
            raise bad_request("container %s is not valid for pod %s" % (container, req.name))
        if what == "exec" and container in inits and not any(
                c.get("name") == container and c.get("restartPolicy") == "Always"
                for c in (pod.get("spec") or {}).get("initContainers") or []):
            # an init container that ran to completion has no process to exec into (the kubelet's answer);
            # a native sidecar (restartPolicy: Always) keeps running and takes exec like any container
            raise bad_request('container not found ("%s")' % container)
        if (pod.get("status") or {}).get("phase", "Pending") == "Pending":
            # not started: what the kubelet answers for a container that never ran
            if what == "log":
                reason = "ContainerCreating"
                for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                    waiting = (cs.get("state") or {}).get("waiting") or {}
                    if cs.get("name") == container and waiting.get("reason"):
                        reason = waiting["reason"]
                if reason in ("ImagePullBackOff", "ErrImagePull"):
                    reason = "trying and failing to pull image"
                raise bad_request('container "%s" in pod "%s" is waiting to start: %s' % (container, req.name,
                                                                                          reason))
            # kubectl prints it as `error: unable to upgrade connection: container not found ("x")`: client-go's
            # upgrade (httpstream/spdy roundtripper) prefixes the Status message it got
            raise bad_request('container not found ("%s")' % container)
        return pod, container

    async def exec(self, request, req, user):
        q = request.query
        pod, container = self.pod_and_container(req, q.get("container"), "exec")
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            raise bad_request("cannot exec into a container in a completed pod; current phase is %s" % phase)
        command = q.getall("command", [])
        if not command:
            raise bad_request("you must specify at least 1 command")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise bad_request("Upgrade request required")
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        proto = next((p for p in ("v5.channel.k8s.io", "v4.channel.k8s.io") if p in offered), None)
        if proto is None:
            raise bad_request("unable to upgrade connection: unsupported protocol(s): %s" % ", ".join(offered))
        ws = web.WebSocketResponse(protocols=(proto,), autoping=True, max_msg_size=64 * 1024 * 1024)
        await ws.prepare(request)
        want_stdin = _bool(q.get("stdin", "false"))
        want_stdout = _bool(q.get("stdout", "false"))
        want_stderr = _bool(q.get("stderr", "false"))
        tty = _bool(q.get("tty", "false"))
        try:
            first = 1 if want_stdout else (2 if want_stderr else 3)
            await ws.send_bytes(bytes([first]))
            stdin = None
            if want_stdin:
                stdin = await self.read_stdin(ws, proto)
            result = self.run_exec(pod, container, command, stdin, tty)
            out, err = result.stdout or b"", result.stderr or b""
            if isinstance(out, str):
                out = out.encode()
            if isinstance(err, str):
                err = err.encode()
            if tty:
                out, err = (out + err).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), b""
            if want_stdout and out:
                for i in range(0, len(out), 32768):
                    await ws.send_bytes(b"\x01" + out[i:i + 32768])
            if want_stderr and err:
                for i in range(0, len(err), 32768):
                    await ws.send_bytes(b"\x02" + err[i:i + 32768])
            if result.exit_code == 0:
                st = {"metadata": {}, "status": "Success"}
            else:
                st = {"metadata": {}, "status": "Failure",
                      "message": "command terminated with non-zero exit code: error executing command [%s], exit code "
                                 "%d" % (" ".join(command), result.exit_code),
                      "reason": "NonZeroExitCode",
                      "details": {"causes": [{"reason": "ExitCode", "message": str(result.exit_code)}]}}
            await ws.send_bytes(b"\x03" + dumps(st).encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            await ws.close()
        return ws

    async def read_stdin(self, ws, proto):
        buf = []
        idle = 0.5 if proto == "v4.channel.k8s.io" else 300
        while True:
            try:
                msg = await asyncio.wait_for(ws.receive(), timeout=idle)
            except asyncio.TimeoutError:
                break
            if msg.type == aiohttp.WSMsgType.BINARY:
                data = msg.data
            elif msg.type == aiohttp.WSMsgType.TEXT:
                data = msg.data.encode()
            else:
                break
            if not data:
                continue
            if data[0] == 0:
                buf.append(data[1:])
            elif data[0] == 255 and len(data) > 1 and data[1] == 0:
                break
        return b"".join(buf)

    def run_exec(self, pod, container, command, stdin, tty):
        req = ExecRequest(self.lab, self.cluster, pod, container, list(command), stdin, tty)
        for h in self.lab.hooks.exec_handlers:
            try:
                r = h(req)
            except Exception as e:
                self.lab.log("exec handler error in %s: %r" % (self.cluster.name, e))
                return ExecResult(b"", ("error: %s\n" % e).encode(), 1)
            if r is not None:
                return r
        return builtin_exec(req)

    async def log(self, request, req):
        q = request.query
        pod, container = self.pod_and_container(req, q.get("container"), "log")
        if _bool(q.get("previous", "false")):
            raise bad_request('previous terminated container "%s" in pod "%s" not found' % (container, req.name))
        text = self.cluster.logs(req.namespace, req.name, container) or ""
        lines = text.splitlines(keepends=True)
        if _bool(q.get("timestamps", "false")):
            ts = ((pod.get("status") or {}).get("startTime") or "").replace("Z", ".000000000Z")
            lines = ["%s %s" % (ts, ln) for ln in lines]
        if q.get("tailLines"):
            try:
                n = int(q["tailLines"])
                lines = lines[-n:] if n > 0 else []
            except ValueError:
                raise bad_request("tailLines must be an integer")
        data = "".join(lines).encode()
        if q.get("limitBytes"):
            try:
                data = data[:int(q["limitBytes"])]
            except ValueError:
                raise bad_request("limitBytes must be an integer")
        if not _bool(q.get("follow", "false")):
            return web.Response(body=data, content_type="text/plain")
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(data)
        uid = pod["metadata"]["uid"]
        try:
            while True:
                await asyncio.sleep(1)
                p = self.store.peek("pods", req.namespace, req.name)
                if p is None or p["metadata"]["uid"] != uid or not self.cluster.up:
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return resp


def _not_found_exec(cmd):
    msg = ('OCI runtime exec failed: exec failed: unable to start container process: exec: "%s": executable file '
           'not found in $PATH: unknown\r\n' % cmd)
    return ExecResult(b"", msg.encode(), 127)


def builtin_exec(req):
    """A few shell basics every image has; anything else fails as the runtime reports it."""
    cmd = req.command
    name = cmd[0]
    base = name.rsplit("/", 1)[-1]
    pod = req.pod
    env = {"HOSTNAME": pod["metadata"]["name"], "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": "/root"}
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") == req.container:
            for e in c.get("env") or []:
                if "value" in e:
                    env[e["name"]] = str(e["value"])
    if base == "true":
        return ExecResult(b"", b"", 0)
    if base == "false":
        return ExecResult(b"", b"", 1)
    if base == "echo":
        args = cmd[1:]
        nl = True
        if args and args[0] == "-n":
            nl, args = False, args[1:]
        return ExecResult((" ".join(args) + ("\n" if nl else "")).encode(), b"", 0)
    if base == "hostname":
        return ExecResult((pod["metadata"]["name"] + "\n").encode(), b"", 0)
    if base in ("env", "printenv"):
        if base == "printenv" and len(cmd) > 1:
            vals = [env[k] for k in cmd[1:] if k in env]
            return ExecResult("".join(v + "\n" for v in vals).encode(), b"", 0 if len(vals) == len(cmd) - 1 else 1)
        return ExecResult("".join("%s=%s\n" % kv for kv in env.items()).encode(), b"", 0)
    if base == "sleep":
        return ExecResult(b"", b"", 0)
    if base == "cat":
        if len(cmd) == 1:
            return ExecResult(req.stdin or b"", b"", 0)
        out, err, code = b"", b"", 0
        for f in cmd[1:]:
            if f == "/etc/hostname":
                out += (pod["metadata"]["name"] + "\n").encode()
            elif f == "/var/run/secrets/kubernetes.io/serviceaccount/namespace":
                out += pod["metadata"]["namespace"].encode()
            elif f == "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt":
                out += req.cluster.ca_pem
            else:
                err += ("cat: %s: No such file or directory\n" % f).encode()
                code = 1
        return ExecResult(out, err, code)
    if base in ("sh", "bash", "ash") and len(cmd) >= 3 and cmd[1] == "-c":
        import shlex
        try:
            inner = shlex.split(cmd[2])
        except ValueError:
            return ExecResult(b"", ("%s: syntax error\n" % base).encode(), 2)
        if not inner:
            return ExecResult(b"", b"", 0)
        if inner[0] == "exit" and len(inner) <= 2:
            try:
                return ExecResult(b"", b"", int(inner[1]) if len(inner) == 2 else 0)
            except ValueError:
                return ExecResult(b"", ("%s: 1: exit: Illegal number: %s\n" % (base, inner[1])).encode(), 2)
        if any(t in ("|", "&&", "||", ";", ">", "<") for t in inner):
            return ExecResult(b"", ("%s: meshlab: pipelines are not modelled: %s\n" % (base, cmd[2])).encode(), 2)
        r = builtin_exec(ExecRequest(req.lab, req.cluster, req.pod, req.container, inner, req.stdin, req.tty))
        if r.exit_code == 127 and b"OCI runtime" in r.stderr:
            return ExecResult(b"", ("%s: 1: %s: not found\n" % (base, inner[0])).encode(), 127)
        return r
    return _not_found_exec(name)
