"""Header and log injection: no input forges a response header or a log line.

Every string a client controls that reaches a response header or a log line
is tried with CR/LF, NUL, other control characters, Unicode line separators
and very long values. ``chalice.test.Client`` builds the Lambda event
directly, so these arrive as API Gateway would hand them over, bypassing any
HTTP parser's own checks.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import quote

import pytest
from chalice.test import Client

from chalicelib.http.access_log import MAX_FIELD, clean

JSON = {"Content-Type": "application/json"}
HOSTILE = {
    "crlf-header": "x\r\nSet-Cookie: session=forged",
    "lf-log-line": 'x\n{"event":"request","status":200,"forged":true}',
    "cr": "x\rforged",
    "nul": "x\x00forged",
    "escape-sequence": "x\x1b[2J\x1b[31mforged",
    "bell-and-backspace": "x\x07\x08\x08forged",
    "delete": "x\x7fforged",
    "line-separator": "x\u2028forged",
    "paragraph-separator": "x\u2029forged",
    "next-line": "x\u0085forged",
    "vertical-tab-form-feed": "x\x0b\x0cforged",
    "right-to-left-override": "x\u202eforged",
    "very-long": "x" * 20_000,
}
# What a response header may hold: printable ASCII and spaces, nothing else.
HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
LINE_BREAKS = ("\r", "\n", "\u2028", "\u2029", "\x85", "\x00", "\x0b", "\x0c")


def assert_headers_clean(response: Any) -> None:
    for name, value in response.headers.items():
        assert HEADER_VALUE.fullmatch(name), name
        assert HEADER_VALUE.fullmatch(str(value)), (name, value)
    assert "Set-Cookie" not in response.headers


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """Every access-log line, each checked to be one line of JSON."""
    lines = []
    for record in caplog.records:
        if record.name != "chalicelib.http.access_log":
            continue
        message = record.getMessage()
        assert not any(c in message for c in LINE_BREAKS), message
        lines.append(json.loads(message))
    return lines


def assert_field_clean(value: str | None) -> None:
    assert value is None or all(c.isprintable() for c in value), value
    assert value is None or len(value) <= MAX_FIELD


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_clean_keeps_only_printable_characters_within_the_bound(case: str) -> None:
    cleaned = clean(HOSTILE[case])
    assert cleaned is not None and cleaned.startswith("x")
    assert_field_clean(cleaned)
    assert not any(c in cleaned for c in LINE_BREAKS)


def test_clean_keeps_ordinary_text_and_non_latin_letters() -> None:
    text = "Mozilla/5.0 (X11; Linux) jupiter-sdk/1.0 Grüße 東京"
    assert clean(text) == text


def test_a_hostile_user_agent_is_one_clean_log_field(
    client: Client, admin_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for case, value in HOSTILE.items():
        caplog.clear()
        answer = client.http.get(
            "/api/usage", headers={**admin_headers, "User-Agent": value}
        )
        assert answer.status_code == 200, case
        assert_headers_clean(answer)
        [line] = access_lines(caplog)
        assert line["status"] == 200 and "forged" not in line, case
        assert_field_clean(line["user_agent"])


def test_a_hostile_path_is_a_4xx_and_a_clean_log_field(
    client: Client, admin_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for case, value in HOSTILE.items():
        caplog.clear()
        answer = client.http.get(
            "/api/threats/" + quote(value, safe=""), headers=admin_headers
        )
        assert 400 <= answer.status_code < 500, (case, answer.body)
        assert_headers_clean(answer)
        for line in access_lines(caplog):
            assert_field_clean(line["path"])


def test_the_request_id_is_never_taken_from_the_client(
    client: Client, admin_headers: dict[str, str]
) -> None:
    for case, value in HOSTILE.items():
        answer = client.http.get(
            "/api/usage", headers={**admin_headers, "X-Request-Id": value}
        )
        assert re.fullmatch(r"req_[0-9a-zA-Z-]{8,64}", answer.headers["X-Request-Id"])
        assert_headers_clean(answer)
        assert "forged" not in answer.headers["X-Request-Id"], case


@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
def test_a_hostile_origin_gets_no_cors_grant_and_is_not_echoed(
    client: Client, admin_headers: dict[str, str], method: str
) -> None:
    for case, suffix in HOSTILE.items():
        origin = "http://allowed.example" + suffix
        headers = {
            **admin_headers,
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
        }
        answer = client.http.request(method, "/api/usage", headers=headers, body=b"")
        assert "Access-Control-Allow-Origin" not in answer.headers, case
        assert_headers_clean(answer)


def test_the_allowed_origin_is_still_granted(
    client: Client, admin_headers: dict[str, str]
) -> None:
    headers = {**admin_headers, "Origin": "http://allowed.example"}
    answer = client.http.get("/api/usage", headers=headers)
    assert answer.headers["Access-Control-Allow-Origin"] == "http://allowed.example"


def test_a_hostile_idempotency_key_is_a_400_and_not_echoed(
    client: Client, admin_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body = json.dumps(
        {"name": "k", "owner_id": "org_a", "permissions": ["READ_THREATS"]}
    )
    for case, value in HOSTILE.items():
        headers = {**admin_headers, **JSON, "Idempotency-Key": value}
        answer = client.http.post("/api/keys", headers=headers, body=body)
        assert answer.status_code == 400, case
        assert json.loads(answer.body)["code"] == "invalid_idempotency_key"
        assert_headers_clean(answer)
        assert "forged" not in answer.body.decode()
    assert all("forged" not in r.getMessage() for r in caplog.records)


def test_hostile_webhook_urls_are_refused_at_registration(
    client: Client, admin_headers: dict[str, str]
) -> None:
    for case, suffix in HOSTILE.items():
        url = "https://hooks.example.com/in" + suffix
        body = json.dumps({"url": url, "events": ["*"]})
        answer = client.http.post(
            "/api/webhooks", headers={**admin_headers, **JSON}, body=body
        )
        assert answer.status_code == 400, (case, answer.body)
        document = json.loads(answer.body)
        assert [e["field"] for e in document["errors"]] == ["body.url"], case
        assert_headers_clean(answer)


def test_hostile_key_names_stay_in_json_bodies(
    client: Client, admin_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # A key name is data: it may be refused or stored, never put in a header
    # or a log line.
    caplog.set_level(logging.INFO)
    for case, suffix in HOSTILE.items():
        name = ("k" + suffix)[:64]
        body = json.dumps(
            {"name": name, "owner_id": "org_a", "permissions": ["READ_THREATS"]}
        )
        answer = client.http.post(
            "/api/keys", headers={**admin_headers, **JSON}, body=body
        )
        assert answer.status_code in (201, 400), (case, answer.body)
        assert_headers_clean(answer)
    assert all("forged" not in r.getMessage() for r in caplog.records)


HOSTS = {
    "quote": ('evil.example"; import os #', "http://127.0.0.1"),
    "crlf": ("evil.example\r\nX-Forged: 1", "http://127.0.0.1"),
    "line-separator": ("evil.example\u2028", "http://127.0.0.1"),
    "path": ("evil.example/phish?", "http://127.0.0.1"),
    "userinfo": ("user@evil.example", "http://127.0.0.1"),
    "plain": ("api.example:8443", "http://api.example:8443"),
}
SCHEMES = {
    "javascript": ("javascript", "http"),
    "crlf": ("https\r\nX: y", "http"),
    "upper": ("HTTPS", "https"),
}


def test_the_documents_name_only_a_plain_host_and_scheme(client: Client) -> None:
    for case, (host, expected) in HOSTS.items():
        answer = client.http.get("/api/openapi.json", headers={"Host": host})
        assert answer.status_code == 200, case
        assert json.loads(answer.body)["servers"] == [{"url": expected}], case
        assert_headers_clean(answer)
    for case, (scheme, expected) in SCHEMES.items():
        headers = {"Host": "api.example", "X-Forwarded-Proto": scheme}
        answer = client.http.get("/api/openapi.json", headers=headers)
        served = json.loads(answer.body)["servers"]
        assert served == [{"url": f"{expected}://api.example"}], case


def test_documents_kept_per_host_are_bounded(client: Client) -> None:
    from chalicelib.apidoc import api

    for number in range(3 * api.PER_URL_CACHE):
        host = {"Host": f"host{number}.example"}
        assert client.http.get("/api/postman.json", headers=host).status_code == 200
    assert api._postman.cache_info().currsize <= api.PER_URL_CACHE
