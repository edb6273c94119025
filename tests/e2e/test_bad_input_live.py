"""Bad input against the live stack, through the local server's own HTTP parser.

``local/server.py`` reads bodies and headers with aiohttp and turns them into
API Gateway events (base64 for bytes that are not UTF-8), a path separate from
``chalice.test.Client``'s: these check that both end in the same refusals, and
that no header sent over a raw socket forges a log line.
"""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any

import pytest
import requests
from websockets.sync.client import connect

from tests.e2e.conftest import LocalStack, assert_problem

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

KEY = {"name": "live bad input", "owner_id": "org_bad", "permissions": ["READ_THREATS"]}
MARKER = "forged-by-test-bad-input"


def post_keys(stack: LocalStack, raw: bytes) -> requests.Response:
    return requests.post(
        stack.url("/api/keys"),
        data=raw,
        headers={**stack.admin, "Content-Type": "application/json"},
        timeout=30,
    )


LIVE_MALFORMED = {
    "not-utf8": (b'{"name": "caf\xe9"}', "not valid UTF-8"),
    "ten-thousand-brackets": (b"[" * 10_000, "nests deeper than 32"),
    "duplicate-key": (b'{"name": "a", "name": "b"}', "repeats the key 'name'"),
    "nan": (b'{"name": NaN}', "NaN is not a number"),
    "float-overflow": (b'{"name": 1e999}', "too large for a float"),
    "five-thousand-digits": (b'{"name": ' + b"7" * 5_000 + b"}", "longer than"),
}


def test_malformed_bodies_are_clear_400s_over_http(stack: LocalStack) -> None:
    for case, (raw, says) in LIVE_MALFORMED.items():
        document = assert_problem(post_keys(stack, raw), 400, "malformed_json")
        assert says in document["detail"], (case, document["detail"])


def test_the_body_limit_is_exact_over_http(stack: LocalStack) -> None:
    refused = assert_problem(
        post_keys(stack, b" " * 2_000_000), 413, "payload_too_large"
    )
    limit = int(re.findall(r"\d+", refused["detail"])[-1])
    raw = json.dumps(KEY).encode()
    at_limit = post_keys(stack, raw + b" " * (limit - len(raw)))
    assert at_limit.status_code == 201, at_limit.text
    over = post_keys(stack, raw + b" " * (limit + 1 - len(raw)))
    assert_problem(over, 413, "payload_too_large")


def raw_request(stack: LocalStack, head: bytes) -> bytes:
    """Send ``head`` (a request without a body) as bytes; return the answer."""
    with socket.create_connection(("127.0.0.1", stack.api_port), timeout=10) as conn:
        conn.sendall(head)
        answer = b""
        while chunk := conn.recv(65_536):
            answer += chunk
    return answer


HOSTILE_HEADER_VALUES = [
    # Bytes as they travel: UTF-8 line separators, C1 next-line, escapes,
    # a bare CR inside a value, and a JSON look-alike of a log line.
    'x \u2028{"event":"request","marker":"' + MARKER + '"}',
    "x \u2029\u0085" + MARKER,
    "x \x1b[2J\x1b[31m" + MARKER,
    "x \x0b\x0c\x7f" + MARKER,
]


def test_hostile_header_bytes_forge_no_log_line(stack: LocalStack) -> None:
    admin = stack.admin
    for value in HOSTILE_HEADER_VALUES:
        head = (
            "GET /api/usage HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\n"
            f"X-API-Key-ID: {admin['X-API-Key-ID']}\r\n"
            f"X-API-Key-Secret: {admin['X-API-Key-Secret']}\r\n"
            f"User-Agent: {value}\r\n"
            f"Idempotency-Key: {value}\r\n"
            f"Origin: http://allowed.example{value}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        answer = raw_request(stack, head)
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line.split()[1] in (b"200", b"400"), answer[:300]
        headers = rest.partition(b"\r\n\r\n")[0]
        assert MARKER.encode() not in headers
        assert b"Access-Control-Allow-Origin" not in headers
    assert_log_is_json_lines(stack)


def test_hostile_websocket_frames_forge_no_log_line(stack: LocalStack) -> None:
    frames: list[Any] = [
        "[" * 10_000,
        {"type": "ping\r\n" + MARKER},
        {"type": "ping", "id": "\u2028" + MARKER},
        {"action": "authenticate\u0085" + MARKER},
        '{"type": "ping", "type": "ping"}',
    ]
    ws_url = stack.base_url.replace("http://", "ws://") + "/ws"
    with connect(ws_url) as socket_:
        for frame in frames:
            socket_.send(frame if isinstance(frame, str) else json.dumps(frame))
            reply = json.loads(socket_.recv(timeout=10))
            assert reply["type"] == "error", reply
    time.sleep(0.5)
    assert_log_is_json_lines(stack)


def assert_log_is_json_lines(stack: LocalStack) -> None:
    """Every line the stack logged is one JSON object, none forged by input.

    aiohttp itself logs the requests its parser refuses, traceback and all,
    but as one escaped JSON field of one line, like everything else.
    """
    requests_seen = 0
    for line in stack.log().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert record.get("marker") != MARKER, line
        if record.get("event") in ("request", "ws_message"):
            requests_seen += 1
            for value in record.values():
                assert not isinstance(value, str) or value.isprintable(), line
    assert requests_seen
