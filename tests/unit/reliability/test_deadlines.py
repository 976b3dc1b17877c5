"""Issue 15 item 5: every read has a deadline and a size, against a hostile loopback API server.

The measured failures were: a body trickled at 1 byte/s held one request 90 s past request_timeout; a server
always answering metadata.continue was paged 2,634 times; a 1 GiB answer was read whole; a 9 s latency made a
gather take 130 s; a 302 was followed and became a false diagnosis. Each case here ends in a named error kind
within its limit (the limits are shrunk so the tests stay quick).
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import client as c
from ansible_collections.meshmend.multicluster.plugins.module_utils import gather
from ansible_collections.meshmend.multicluster.plugins.module_utils.checks import run_checks

NS = {"kind": "Namespace", "metadata": {"name": "istio-system", "labels": {}}}


class _Hostile(BaseHTTPRequestHandler):
    mode = "ok"
    latency = 0.0
    sent = 0          # body bytes written in the current test
    requests = 0
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        cls = type(self)
        cls.requests += 1
        time.sleep(cls.latency)
        mode = cls.mode
        if mode == "trickle":
            self._head(200, 1000)
            self._trickle(b" ")
            return
        if mode == "slow-headers":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self._trickle(b"a")
            return
        if mode == "huge":
            size = 64 * 1024 * 1024
            self._head(200, size)
            block = b" " * 65536
            try:
                for _block in range(size // len(block)):
                    self.wfile.write(block)
                    cls.sent += len(block)
            except OSError:
                pass
            return
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "https://login.example/sso?token=s3cr3t-in-query")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "endless":
            body = {"kind": "List", "metadata": {"continue": "more-%d" % cls.requests}, "items": []}
        elif self.path.startswith("/api/v1/namespaces/istio-system"):
            body = NS
        else:
            body = {"kind": "List", "metadata": {"resourceVersion": "1"}, "items": []}
        self._json(body)

    def _trickle(self, byte):
        """1000 bytes, one every 50 ms: no single socket read ever waits long."""
        try:
            for _byte in range(1000):
                self.wfile.write(byte)
                self.wfile.flush()
                type(self).sent += 1
                time.sleep(0.05)
        except OSError:
            pass

    def _head(self, status, length):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _json(self, body):
        data = json.dumps(body).encode()
        self._head(200, len(data))
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile():
    _Hostile.mode, _Hostile.latency, _Hostile.sent, _Hostile.requests = "ok", 0.0, 0, 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.daemon_threads = True
    httpd.handle_error = lambda *args: None   # the client hanging up mid-body is the point
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def _client(url, **kw):
    params = {"host": url, "api_key": "tok-abc", "retries": 0, "request_timeout": 1.0}
    params.update(kw)
    return c.get_client(params, cluster="hostile")


def test_trickled_body_ends_at_request_timeout_not_per_socket_read(hostile):
    _Hostile.mode = "trickle"   # one byte every 50 ms: no single socket read ever waits 1 s
    cl = _client(hostile, request_timeout=0.6)
    started = time.monotonic()
    with pytest.raises(c.ClusterError) as exc:
        cl.get("/api/v1/namespaces/istio-system")
    took = time.monotonic() - started
    assert exc.value.kind == "timeout"
    assert "no answer within 0.6s (request_timeout)" in exc.value.message
    assert took < 1.5, took
    assert _Hostile.sent < 40   # 1000 bytes were on offer: the read stopped early


def test_trickled_headers_end_at_request_timeout_too(hostile):
    _Hostile.mode = "slow-headers"
    cl = _client(hostile, request_timeout=0.6)
    started = time.monotonic()
    with pytest.raises(c.ClusterError) as exc:
        cl.get("/api/v1/namespaces/istio-system")
    assert exc.value.kind == "timeout" and "no answer within 0.6s (request_timeout)" in exc.value.message
    assert time.monotonic() - started < 1.5
    assert _Hostile.sent < 40


def test_response_over_the_cap_is_refused_without_reading_it_whole(hostile):
    _Hostile.mode = "huge"
    cl = _client(hostile, request_timeout=10)
    cl.max_response_bytes = 1024 * 1024
    with pytest.raises(c.ClusterError) as exc:
        cl.get("/api/v1/namespaces/istio-system")
    assert exc.value.kind == "too_large"
    assert exc.value.reason == "ResponseTooLarge"
    assert "larger than 1048576 bytes" in exc.value.message
    assert not exc.value.fatal   # one read fails; the gather goes on with the others


def test_endless_continue_stops_at_the_page_limit(hostile):
    _Hostile.mode = "endless"
    cl = _client(hostile)
    cl.max_pages = 7
    with pytest.raises(c.ClusterError) as exc:
        cl.list("/api/v1/pods")
    assert exc.value.kind == "too_large" and exc.value.reason == "TooManyPages"
    assert "more than 7 pages" in exc.value.message
    assert _Hostile.requests == 7


def test_redirect_is_reported_not_followed_and_its_query_not_echoed(hostile):
    _Hostile.mode = "redirect"
    cl = _client(hostile)
    with pytest.raises(c.ClusterError) as exc:
        cl.get("/api/v1/namespaces/istio-system")
    assert exc.value.kind == "redirect" and exc.value.fatal
    assert "302 Found: a redirect to https://login.example/sso" in exc.value.message
    assert "s3cr3t" not in exc.value.message
    assert _Hostile.requests == 1


def test_redirecting_server_is_unreachable_not_a_mesh_id_mismatch(hostile):
    _Hostile.mode = "redirect"
    facts = gather.gather_cluster(_client(hostile), {"peers": {}})
    assert facts["reachable"] is False and facts["error_kind"] == "redirect"
    ids = sorted(f.id for f in run_checks({"hostile": facts}))
    assert ids == ["cluster.unreachable"], ids


def test_gather_deadline_bounds_a_slow_cluster(hostile):
    _Hostile.latency = 0.3   # under request_timeout: each read succeeds, there are just many of them
    started = time.monotonic()
    facts = gather.gather_cluster(_client(hostile, request_timeout=1.0), {"peers": {}, "gather_timeout": 1.0})
    took = time.monotonic() - started
    assert took < 1.0 + 0.5, took
    assert facts["error_kind"] == "timeout"
    assert "gather deadline of 1s (gather_timeout) passed" in facts["error"]
    finding = [f for f in run_checks({"hostile": facts}) if f.id == "cluster.unreachable"]
    assert finding and finding[0].evidence["gather_stopped"] is True


def test_deadline_also_bounds_a_request_in_flight(hostile):
    _Hostile.latency = 5.0
    cl = _client(hostile, request_timeout=10)
    cl.deadline, cl.deadline_name = time.monotonic() + 0.5, "the test deadline"
    started = time.monotonic()
    with pytest.raises(c.ClusterError) as exc:
        cl.get("/api/v1/namespaces/istio-system")
    assert exc.value.kind == "timeout"
    assert time.monotonic() - started < 1.5
    with pytest.raises(c.ClusterError) as exc:   # once passed, nothing more is sent
        cl.get("/api/v1/namespaces/istio-system")
    assert "the test deadline passed" in exc.value.message


def test_endless_lists_end_as_a_named_read_failure_and_the_gather_goes_on(hostile):
    _Hostile.mode = "endless"
    cl = _client(hostile)
    cl.max_pages = 3
    facts = gather.gather_cluster(cl, {"peers": {}, "read_log": False, "read_clusterz": False, "read_proxy": False})
    assert facts["reachable"] is True and facts["error"] is None
    reasons = set(e["reason"] for e in facts["read_errors"])
    assert reasons == {"TooManyPages"}, facts["read_errors"]
    (finding,) = [f for f in run_checks({"hostile": facts}) if f.id == "cluster.read_failed"]
    assert finding.evidence["count"] == len(facts["read_errors"]) >= 5
    assert _Hostile.requests < 1 + 3 * 12   # every LIST stopped at its page limit
