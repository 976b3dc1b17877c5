"""Retries and error mapping over real HTTP: a tiny loopback server that answers as an API server would."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import client as c


class _Handler(BaseHTTPRequestHandler):
    script = []   # list of (status, headers, body) answered in order; the last one repeats
    seen = []

    def _answer(self):
        self.seen.append((self.command, self.path, self.headers.get("Authorization"),
                          self.headers.get_all("Impersonate-Group"), self.headers.get("Content-Type")))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, body = self.script[min(len(self.seen) - 1, len(self.script) - 1)]
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    _Handler.seen = []
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def _client(url, **kw):
    params = {"host": url, "api_key": "tok-abc", "retries": 2, "impersonate_groups": ["g1", "g2"]}
    params.update(kw)
    return c.get_client(params, cluster="stub")


STATUS_429 = {"kind": "Status", "status": "Failure", "reason": "TooManyRequests", "message": "slow down", "code": 429}
STATUS_503 = {"kind": "Status", "status": "Failure", "reason": "ServiceUnavailable", "message": "etcd down", "code": 503}
LIST = {"kind": "PodList", "metadata": {"resourceVersion": "7"}, "items": [{"metadata": {"name": "p"}}]}


def test_429_is_retried_after_retry_after(server):
    _Handler.script = [(429, {"Retry-After": "0"}, STATUS_429), (200, {}, LIST)]
    k = _client(server)
    assert [p["metadata"]["name"] for p in k.list("/api/v1/pods")] == ["p"]
    assert k.requests == 2
    method, path, auth, groups, _ct = _Handler.seen[0]
    assert auth == "Bearer tok-abc" and groups == ["g1", "g2"]
    assert path.startswith("/api/v1/pods?") and "limit=500" in path


def test_5xx_read_retries_are_bounded(server):
    _Handler.script = [(503, {}, STATUS_503)]
    k = _client(server, retries=1)
    with pytest.raises(c.ClusterError) as ei:
        k.get("/api/v1/namespaces/istio-system")
    assert ei.value.kind == "server" and ei.value.status == 503
    assert ei.value.message == "stub: cannot get namespaces/istio-system: 503 Service Unavailable: etcd down"
    assert k.requests == 2


def test_writes_are_not_retried_on_5xx_and_send_patch_types(server):
    _Handler.script = [(503, {}, STATUS_503)]
    k = _client(server)
    with pytest.raises(c.ClusterError):
        k.request("PATCH", "/api/v1/namespaces/istio-system", body={"metadata": {"labels": {"a": "b"}}},
                  content_type="merge", dry_run=True, field_manager="meshmend")
    assert k.requests == 1
    method, path, _auth, _g, ct = _Handler.seen[0]
    assert method == "PATCH" and ct == "application/merge-patch+json"
    assert "dryRun=All" in path and "fieldManager=meshmend" in path


def test_conflict_and_invalid(server):
    _Handler.script = [(409, {}, {"kind": "Status", "reason": "Conflict", "code": 409,
                                  "message": 'Operation cannot be fulfilled on services "x": the object has been modified'})]
    k = _client(server)
    with pytest.raises(c.ClusterError) as ei:
        k.request("PATCH", "/api/v1/namespaces/ns/services/x", body=[{"op": "add", "path": "/a", "value": 1}],
                  content_type="json")
    assert ei.value.kind == "conflict" and _Handler.seen[0][4] == "application/json-patch+json"
    _Handler.seen = []
    _Handler.script = [(422, {}, {"kind": "Status", "reason": "Invalid", "code": 422,
                                  "message": 'Service "x" is invalid: spec.externalIPs[0]: Invalid value: "127.0.0.1"'})]
    with pytest.raises(c.ClusterError) as ei:
        k.request("POST", "/api/v1/namespaces/ns/services", body={"metadata": {"name": "x"}})
    assert ei.value.kind == "invalid"
    assert ei.value.message.startswith("stub: cannot create services in ns: 422 Unprocessable Entity: Service \"x\" is invalid")
