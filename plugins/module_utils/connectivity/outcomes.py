# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One curl attempt of the guide's active tests: the command, and its output read as an *outcome*.

The modules exec curl in test pods and hand the outputs in; nothing here does I/O.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

KIND_POD_TO_POD = "pod_to_pod"
KIND_GATEWAY = "gateway"
KIND_MESH = "mesh"
KIND_CUSTOM = "custom"
KINDS = (KIND_POD_TO_POD, KIND_GATEWAY, KIND_MESH, KIND_CUSTOM)

# Outcomes of one curl attempt.
OK = "ok"                      # an answer from helloworld ("Hello version: ...")
HTTP_ANSWER = "http_answer"    # an HTTP answer that is not helloworld's (still: the path works)
TLS_ERROR = "tls_error"        # Envoy's 503 body (or curl's own error) names a TLS failure
UPSTREAM_ERROR = "upstream_error"  # Envoy's 503 body without TLS: connection failure/timeout, no healthy upstream
TIMEOUT = "timeout"            # curl exit 28
REFUSED = "refused"            # curl exit 7 (connection refused / no route)
DNS_ERROR = "dns_error"        # curl exit 6
CLOSED = "closed"              # connected, then the server closed or reset (curl 52/56): TCP reachable
HANDSHAKE = "handshake"        # connected, TLS handshake failed (curl 35): TCP reachable
EXEC_ERROR = "exec_error"      # curl could not run in the pod (exit 126/127, exec refused)
ERROR = "error"                # any other curl failure

# Outcomes that prove a TCP connection to the target was made (the gateway probe's question).
CONNECTED = (OK, HTTP_ANSWER, TLS_ERROR, UPSTREAM_ERROR, CLOSED, HANDSHAKE)

CURL_EXIT = {
    6: "could not resolve host",
    7: "failed to connect",
    28: "operation timed out",
    35: "TLS/SSL connect error",
    52: "empty reply from server",
    56: "failure receiving network data",
}

_HELLO_RE = re.compile(r"Hello version:\s*(?P<version>[^,\s]+),\s*instance:\s*(?P<instance>\S+)")
_CURL_ERR_RE = re.compile(r"curl:\s*\((?P<code>\d+)\)\s*(?P<text>.*)")
_UPSTREAM_RE = re.compile(r"upstream connect error or disconnect/reset before headers\.?(?P<rest>.*)", re.S)
_RESET_REASON_RE = re.compile(r"reset reason:\s*(?P<reason>[^,\n]+)")
_TRANSPORT_RE = re.compile(r"transport failure reason:\s*(?P<reason>[^\n]+)")
_TLS_WORDS = ("TLS error", "CERTIFICATE_VERIFY_FAILED", "SSL routines", "TLSV1_ALERT", "SSL_ERROR", "WRONG_VERSION_NUMBER")


class ConnectivityError(ValueError):
    """Bad input to the connectivity logic (names what is wrong)."""


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def curl_command(url, timeout, connect_timeout=None, extra=None):
    """The curl argv run in the client pod: the guide's ``curl -sS URL`` with bounded timeouts.

    ``--max-time`` bounds the whole attempt so a blackholed path ends as exit 28, as on a real
    cluster behind a dropping firewall.
    """
    if not url:
        raise ConnectivityError("curl needs a URL")
    timeout = int(timeout)
    if timeout < 1:
        raise ConnectivityError("curl timeout must be at least 1 second, not %r" % (timeout,))
    cmd = ["curl", "-sS", "--max-time", str(timeout)]
    if connect_timeout:
        cmd += ["--connect-timeout", str(min(int(connect_timeout), timeout))]
    cmd += list(extra or [])
    cmd.append(url)
    return cmd


def combined_output(stdout, stderr):
    """stdout then stderr, as a terminal shows them: the exact text kept as evidence."""
    out, err = _text(stdout), _text(stderr)
    if out and err and not out.endswith("\n"):
        out += "\n"
    return out + err


def parse_curl(stdout, stderr, rc):
    """One curl attempt -> outcome dict.

    ``{"outcome", "rc", "version", "instance", "reason", "output"}``; ``output`` is the exact
    stdout+stderr. Envoy answers failures with a 503 and a text body on stdout (curl exits 0
    without ``-f``), so the body is read before the exit code.
    """
    out, err = _text(stdout), _text(stderr)
    output = combined_output(out, err)
    try:
        rc = int(rc) if rc is not None else None
    except (TypeError, ValueError):
        rc = None
    result = {"outcome": ERROR, "rc": rc, "version": None, "instance": None, "reason": None, "output": output}

    hello = _HELLO_RE.search(out)
    if hello and rc in (0, None):
        result.update(outcome=OK, version=hello.group("version"), instance=hello.group("instance"))
        return result

    upstream = _UPSTREAM_RE.search(output)
    if upstream:
        rest = upstream.group("rest")
        reset = _RESET_REASON_RE.search(rest)
        transport = _TRANSPORT_RE.search(rest)
        reason_parts = []
        if reset:
            reason_parts.append(reset.group("reason").strip())
        if transport:
            reason_parts.append(transport.group("reason").strip())
        result["reason"] = ", ".join(reason_parts) or rest.strip() or None
        result["outcome"] = TLS_ERROR if any(w in rest for w in _TLS_WORDS) else UPSTREAM_ERROR
        return result

    if rc is not None and rc in (126, 127):
        result.update(outcome=EXEC_ERROR, reason=(err or out).strip() or "exit %d" % rc)
        return result

    curl_err = _CURL_ERR_RE.search(err) or _CURL_ERR_RE.search(out)
    code = int(curl_err.group("code")) if curl_err else rc
    text = curl_err.group("text").strip() if curl_err else None
    if code == 0 or (rc == 0 and not curl_err):
        # curl succeeded; the body is not helloworld's (e.g. "no healthy upstream", a 404 page).
        body = out.strip()
        if body == "no healthy upstream":
            result.update(outcome=UPSTREAM_ERROR, reason=body)
        else:
            result.update(outcome=HTTP_ANSWER, reason=body[:200] or "empty body")
        return result
    outcome = {6: DNS_ERROR, 7: REFUSED, 28: TIMEOUT, 35: HANDSHAKE, 52: CLOSED, 56: CLOSED}.get(code, ERROR)
    if outcome == HANDSHAKE and text and any(w in text for w in ("certificate", "CERTIFICATE")):
        outcome = TLS_ERROR
    result["outcome"] = outcome
    result["reason"] = text or CURL_EXIT.get(code) or ("exit code %s" % code if code is not None else "no exit code")
    return result


def count_by(attempts, field):
    counts = {}
    for attempt in attempts:
        value = attempt.get(field)
        if value is None:
            continue
        counts[value] = counts.get(value, 0) + 1
    return counts


def test_case(kind, cluster, peer, status, message=None, output=None, duration=None, finding=None, details=None):
    """One JUnit case: ``classname`` connectivity.<kind>, ``name`` ``cluster -> peer``."""
    return {
        "classname": "connectivity.%s" % kind,
        "name": "%s -> %s" % (cluster, peer) if peer else cluster,
        "cluster": cluster,
        "peer": peer,
        "status": status,
        "message": message,
        "output": output,
        "time": round(duration, 3) if duration is not None else None,
        "finding": finding,
        "details": details or {},
    }
