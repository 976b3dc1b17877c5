"""curl outputs -> outcomes (plugins/module_utils/connectivity.py)."""
import pytest

from ansible_collections.meshmend.multicluster.plugins.module_utils import connectivity as c

# The guide's exact line (seed: "a more confusing error such as").
GUIDE_TLS = ("upstream connect error or disconnect/reset before headers. reset reason: local reset, "
             "transport failure reason: TLS error: 268435612:SSL routines:OPENSSL_internal:HTTP_REQUEST")
# istio#32523 / #39987: no common root of trust.
ROOT_TLS = ("upstream connect error or disconnect/reset before headers. reset reason: connection failure, "
            "transport failure reason: TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED")


def test_hello_answer():
    o = c.parse_curl("Hello version: v2, instance: helloworld-v2-7d8f9c6b5-x2k7q\n", "", 0)
    assert o["outcome"] == c.OK
    assert o["version"] == "v2"
    assert o["instance"] == "helloworld-v2-7d8f9c6b5-x2k7q"
    assert o["output"] == "Hello version: v2, instance: helloworld-v2-7d8f9c6b5-x2k7q\n"


def test_guide_tls_error_line():
    o = c.parse_curl(GUIDE_TLS, "", 0)
    assert o["outcome"] == c.TLS_ERROR
    assert o["output"] == GUIDE_TLS
    assert o["reason"] == ("local reset, TLS error: 268435612:SSL routines:OPENSSL_internal:HTTP_REQUEST")


def test_root_mismatch_tls_error():
    o = c.parse_curl(ROOT_TLS + "\n", "", 0)
    assert o["outcome"] == c.TLS_ERROR
    assert "CERTIFICATE_VERIFY_FAILED" in o["reason"]


def test_upstream_error_without_tls():
    body = "upstream connect error or disconnect/reset before headers. reset reason: connection timeout"
    o = c.parse_curl(body, "", 0)
    assert o["outcome"] == c.UPSTREAM_ERROR
    assert o["reason"] == "connection timeout"
    assert c.parse_curl("no healthy upstream", "", 0)["outcome"] == c.UPSTREAM_ERROR


@pytest.mark.parametrize("stderr,rc,outcome", [
    ("curl: (28) Connection timed out after 3001 milliseconds\n", 28, c.TIMEOUT),
    ("curl: (28) Operation timed out after 3000 milliseconds with 0 bytes received\n", 28, c.TIMEOUT),
    ("curl: (7) Failed to connect to 10.20.0.5 port 5000 after 1 ms: Couldn't connect to server\n", 7, c.REFUSED),
    ("curl: (6) Could not resolve host: helloworld.sample\n", 6, c.DNS_ERROR),
    ("curl: (56) Recv failure: Connection reset by peer\n", 56, c.CLOSED),
    ("curl: (52) Empty reply from server\n", 52, c.CLOSED),
    ("curl: (35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to 172.18.2.10:15443\n", 35, c.HANDSHAKE),
    ("curl: (60) SSL certificate problem: self-signed certificate\n", 60, c.ERROR),
])
def test_curl_errors(stderr, rc, outcome):
    o = c.parse_curl("", stderr, rc)
    assert o["outcome"] == outcome
    assert o["rc"] == rc
    assert o["output"] == stderr
    assert o["reason"] == stderr.split(") ", 1)[1].strip()


def test_exit_code_without_message():
    o = c.parse_curl("", "", 28)
    assert o["outcome"] == c.TIMEOUT
    assert o["reason"] == "operation timed out"


def test_exec_errors():
    msg = ('OCI runtime exec failed: exec failed: unable to start container process: exec: "curl": '
           'executable file not found in $PATH: unknown')
    o = c.parse_curl("", msg, 126)
    assert o["outcome"] == c.EXEC_ERROR
    assert o["reason"] == msg


def test_other_http_answer_and_bytes():
    o = c.parse_curl(b"404 page not found\n", b"", 0)
    assert o["outcome"] == c.HTTP_ANSWER
    assert o["reason"] == "404 page not found"


def test_hello_with_nonzero_rc_is_not_ok():
    # A hello body followed by a failure exit code: not a clean answer.
    o = c.parse_curl("Hello version: v1, instance: x\n", "curl: (56) Recv failure\n", 56)
    assert o["outcome"] == c.CLOSED
    assert o["output"] == "Hello version: v1, instance: x\ncurl: (56) Recv failure\n"


def test_curl_command_bounded():
    assert c.curl_command("http://10.0.0.1:5000/hello", 3, 2) == [
        "curl", "-sS", "--max-time", "3", "--connect-timeout", "2", "http://10.0.0.1:5000/hello"]
    with pytest.raises(c.ConnectivityError):
        c.curl_command("", 3)
    with pytest.raises(c.ConnectivityError):
        c.curl_command("x", 0)


def test_count_by():
    attempts = [c.parse_curl("Hello version: v1, instance: a", "", 0),
                c.parse_curl("Hello version: v2, instance: b", "", 0),
                c.parse_curl("Hello version: v1, instance: a", "", 0),
                c.parse_curl(GUIDE_TLS, "", 0)]
    assert c.count_by(attempts, "version") == {"v1": 2, "v2": 1}
    assert c.count_by(attempts, "outcome") == {"ok": 3, "tls_error": 1}
