"""One API server in-process (real HTTPS on loopback) to reach what kubectl and the Python client do not:
exec over v4.channel.k8s.io, hooks (exec handlers, log providers, admission), log query parameters."""
import asyncio
import json
import ssl

import aiohttp
import pytest

from meshlab.hooks import ExecResult
from meshlab.lab import Lab
from meshlab.server import ApiServer


async def _serve(lab):
    c = lab.clusters["c1"]
    srv = ApiServer(c)
    await srv.start()
    ctx = ssl.create_default_context(cadata=c.ca_pem.decode())
    headers = {"Authorization": "Bearer " + c.admin_token}
    return c, srv, ctx, headers


def _lab():
    lab = Lab({"clusters": [{"name": "c1", "nodes": 1}]})
    lab.hooks.log_providers.append(lambda cluster, pod, container: "".join("line %d of %s\n" % (i, container)
                                                                           for i in range(1, 6)))

    def handler(req):
        if req.command[:1] == ["greet"]:
            return ExecResult(("hi from %s/%s\n" % (req.pod["metadata"]["name"], req.container)).encode(),
                              b"warn\n", 3)
        return None
    lab.hooks.exec_handlers.append(handler)

    def label_pods(cluster, op, obj):
        obj["metadata"].setdefault("labels", {})["admitted"] = op.lower()
        return obj
    label_pods.kinds = {"pods"}
    lab.hooks.admission.append(label_pods)
    st = lab.clusters["c1"].store
    st.create("pods", {"metadata": {"name": "p", "namespace": "default"},
                       "spec": {"containers": [{"name": "app", "image": "x"}, {"name": "side", "image": "y"}]}})
    return lab


def test_admission_hook_runs_on_create():
    lab = _lab()
    assert lab.clusters["c1"].store.get("pods", "default", "p")["metadata"]["labels"] == {"admitted": "create"}
    cm = lab.clusters["c1"].store.create("configmaps", {"metadata": {"name": "c", "namespace": "default"}})
    assert "labels" not in cm["metadata"]


@pytest.mark.parametrize("proto", ["v4.channel.k8s.io", "v5.channel.k8s.io"])
def test_exec_channels_and_status(proto):
    async def go():
        c, srv, ctx, headers = await _serve(_lab())
        try:
            url = c.url + "/api/v1/namespaces/default/pods/p/exec?command=greet&container=side&stdout=true" \
                          "&stderr=true"
            frames = []
            async with aiohttp.ClientSession() as s:
                async with s.ws_connect(url, protocols=(proto,), ssl=ctx, headers=headers) as ws:
                    assert ws.protocol == proto
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.BINARY:
                            frames.append(msg.data)
            return frames
        finally:
            await srv.stop()
    frames = asyncio.run(go())
    assert frames[0] == b"\x01"  # the empty first frame
    assert frames[1] == b"\x01hi from p/side\n" and frames[2] == b"\x02warn\n"
    st = json.loads(frames[3][1:])
    assert frames[3][0] == 3 and st["status"] == "Failure" and st["reason"] == "NonZeroExitCode"
    assert st["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert len(frames) == 4


def test_logs_provider_and_query_parameters():
    async def go():
        c, srv, ctx, headers = await _serve(_lab())
        out = {}
        try:
            async with aiohttp.ClientSession(headers=headers) as s:
                base = c.url + "/api/v1/namespaces/default/pods/p/log"
                for key, q in (("tail", "?container=side&tailLines=2"), ("limit", "?container=app&limitBytes=8"),
                               ("ts", "?container=app&timestamps=true&tailLines=1"), ("nocontainer", "")):
                    async with s.get(base + q, ssl=ctx) as r:
                        out[key] = (r.status, await r.text())
        finally:
            await srv.stop()
        return out
    out = asyncio.run(go())
    assert out["tail"] == (200, "line 4 of side\nline 5 of side\n")
    assert out["limit"] == (200, "line 1 o")
    status, text = out["ts"]
    assert status == 200 and text.endswith("Z line 5 of app\n") and text[:4].isdigit()
    status, text = out["nocontainer"]
    assert status == 400 and json.loads(text)["message"] == (
        "a container name must be specified for pod p, choose one of: [app side]")


def test_watch_table_only_first_event_has_columns():
    async def go():
        c, srv, ctx, headers = await _serve(_lab())
        events = []
        try:
            h = dict(headers, Accept="application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
            async with aiohttp.ClientSession(headers=h) as s:
                url = c.url + "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0&timeoutSeconds=5"
                async with s.get(url, ssl=ctx) as r:
                    await asyncio.sleep(0.1)
                    c.store.create("configmaps", {"metadata": {"name": "w", "namespace": "default"}, "data": {"a": "1"}})
                    while len(events) < 2:
                        line = await r.content.readline()
                        events.append(json.loads(line))
        finally:
            await srv.stop()
        return events
    events = asyncio.run(go())
    assert [e["type"] for e in events] == ["ADDED", "ADDED"]
    assert events[0]["object"]["kind"] == "Table" and events[0]["object"]["columnDefinitions"]
    assert events[1]["object"]["columnDefinitions"] is None
    assert events[1]["object"]["rows"][0]["cells"][:2] == ["w", 1]


def test_pending_pod_logs_and_exec_fail_like_the_kubelet():
    lab = _lab()
    lab.clusters["c1"].store.create("pods", {"metadata": {"name": "stuck", "namespace": "default"}, "spec": {
        "nodeSelector": {"disk": "none"}, "containers": [{"name": "app", "image": "x"}]}})

    async def go():
        c, srv, ctx, headers = await _serve(lab)
        try:
            async with aiohttp.ClientSession(headers=headers) as s:
                async with s.get(c.url + "/api/v1/namespaces/default/pods/stuck/log", ssl=ctx) as r:
                    log = (r.status, json.loads(await r.text())["message"])
                url = c.url + "/api/v1/namespaces/default/pods/stuck/exec?command=true&stdout=true"
                async with s.get(url, ssl=ctx, headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                                        "Sec-WebSocket-Version": "13",
                                                        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                        "Sec-WebSocket-Protocol": "v5.channel.k8s.io"}) as r:
                    ex = (r.status, json.loads(await r.text())["message"])
            return log, ex
        finally:
            await srv.stop()
    log, ex = asyncio.run(go())
    assert log == (400, 'container "app" in pod "stuck" is waiting to start: ContainerCreating')
    assert ex == (400, 'container not found ("app")')
