"""Hostile request bodies over HTTP: each is a clear 4xx problem, none is written.

The edge reads the raw body itself (``chalicelib/http/parsing.py``), never
Chalice's ``json_body``, so these are the rules every route sees.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.http.parsing import MAX_FIELD_ERRORS, MAX_NESTING, MAX_NUMBER_LENGTH
from chalicelib.policy import Scope, Tier
from tests.functional.admission.conftest import problem
from tests.functional.conftest import make_key

JSON = {"Content-Type": "application/json"}
KEY = {"name": "bad input", "owner_id": "org_a", "permissions": ["READ_THREATS"]}
THREAT = {"type": "malware", "severity": "high", "target": "payments-db-01"}


@pytest.fixture
def headers(svc: services_module.Services) -> dict[str, str]:
    scopes = [Scope.ADMIN]
    return {**make_key(svc, scopes, Tier.ENTERPRISE, owner="org_admin"), **JSON}


@pytest.fixture
def writes(svc: services_module.Services, headers: dict[str, str]) -> Iterator[None]:
    """Assert the test stored no key, threat, session, webhook or event."""
    tables = [
        svc.settings.keys_table,
        svc.settings.threats_table,
        svc.settings.sessions_table,
        svc.settings.webhooks_table,
        svc.settings.events_table,
        svc.settings.idempotency_table,
    ]
    before = [_count(t) for t in tables]
    yield
    assert [_count(t) for t in tables] == before


def _count(table: str) -> int:
    return int(aws.dynamodb().scan(TableName=table, Select="COUNT")["Count"])


def post(client: Client, path: str, headers: dict[str, str], raw: bytes) -> Any:
    return client.http.post(path, headers=headers, body=raw)


def nested(depth: int) -> bytes:
    """A key body whose ``name`` is a list ``depth`` levels deep in all."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return json.dumps({**KEY, "name": "x"}).replace('"x"', inner).encode()


# Each must be a 400 malformed_json whose detail says what is wrong.
MALFORMED = {
    "ten-thousand-brackets": (b"[" * 10_000, "nests deeper than 32"),
    "deep-and-closed": (b"[" * 10_000 + b"]" * 10_000, "nests deeper than 32"),
    "deep-objects": (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "nests deeper"),
    "one-past-the-limit": (nested(MAX_NESTING + 1), "nests deeper than 32"),
    "latin-1": (b'{"name": "caf\xe9"}', "not valid UTF-8"),
    "utf-16": (json.dumps(KEY).encode("utf-16"), "not valid UTF-8"),
    "lone-surrogate-bytes": (b'{"name": "\xed\xa0\x80"}', "not valid UTF-8"),
    "lone-surrogate-escape": (b'{"name": "\\ud800x"}', "lone UTF-16 surrogate"),
    "lone-low-surrogate-in-a-list": (
        b'{"name": "n", "owner_id": "org_a", "permissions": ["\\udfff"]}',
        "lone UTF-16 surrogate",
    ),
    "utf-8-bom": (b"\xef\xbb\xbf" + json.dumps(KEY).encode(), "BOM"),
    "duplicate-key": (b'{"name": "a", "name": "b"}', "repeats the key 'name'"),
    "duplicate-nested-key": (
        b'{"name": "a", "owner_id": "org_a", "permissions": ["READ_THREATS"],'
        b' "tier": "FREE", "ip_allowlist": [], "x": {"k": 1, "k": 2}}',
        "repeats the key 'k'",
    ),
    "duplicate-key-differing-in-escape": (
        b'{"name": "a", "n\\u0061me": "b"}',
        "repeats the key 'name'",
    ),
    "nan": (b'{"name": NaN}', "NaN is not a number"),
    "infinity": (b'{"name": Infinity}', "Infinity is not a number"),
    "minus-infinity": (b'{"name": -Infinity}', "-Infinity is not a number"),
    "float-overflow": (b'{"name": 1e999}', "too large for a float"),
    "five-thousand-digits": (b'{"name": ' + b"7" * 5_000 + b"}", "longer than"),
    "long-fraction": (b'{"name": 0.' + b"1" * MAX_NUMBER_LENGTH + b"}", "longer"),
    "trailing-garbage": (json.dumps(KEY).encode() + b" x", "Extra data"),
    "two-documents": (json.dumps(KEY).encode() * 2, "Extra data"),
    "truncated": (b'{"name": "x",', "not valid JSON"),
    "whitespace-only": (b"   \n", "not valid JSON"),
    "single-quotes": (b"{'name': 'x'}", "not valid JSON"),
    "nul-byte": (b'{"name": "x"}\x00', "not valid JSON"),
}


@pytest.mark.usefixtures("writes")
def test_a_malformed_body_is_a_clear_400(
    client: Client, headers: dict[str, str]
) -> None:
    for case, (raw, says) in MALFORMED.items():
        answer = post(client, "/api/keys", headers, raw)
        assert answer.status_code == 400, case
        document = problem(answer, 400, "malformed_json")
        assert says in document["detail"], (case, document["detail"])


@pytest.mark.usefixtures("writes")
def test_a_repeated_key_is_named_and_bounded_in_the_detail(
    client: Client, headers: dict[str, str]
) -> None:
    long_key = "k" * 5_000 + "\u2028\r\n"
    raw = json.dumps({long_key: 1}).encode()[:-1] + b", " + raw_pair(long_key) + b"}"
    document = problem(post(client, "/api/keys", headers, raw), 400, "malformed_json")
    assert document["detail"].startswith("the body repeats the key 'kkkk")
    assert len(document["detail"]) < 120


def raw_pair(key: str) -> bytes:
    return json.dumps(key).encode() + b": 2"


@pytest.mark.usefixtures("writes")
def test_nesting_at_the_limit_is_parsed_and_validated(
    client: Client, headers: dict[str, str]
) -> None:
    refused = post(client, "/api/keys", headers, nested(MAX_NESTING))
    document = problem(refused, 400, "validation_error")
    assert [e["field"] for e in document["errors"]] == ["body.name"]


NOT_AN_OBJECT = [b"[]", b'"a key"', b"42", b"true", b"null", b"[{}]"]


@pytest.mark.usefixtures("writes")
def test_a_body_that_is_not_an_object_is_a_validation_error_on_the_body(
    client: Client, headers: dict[str, str]
) -> None:
    for raw in NOT_AN_OBJECT:
        for path in ("/api/keys", "/api/threats", "/api/vr/sessions"):
            answer = post(client, path, headers, raw)
            document = problem(answer, 400, "validation_error")
            assert [e["field"] for e in document["errors"]] == ["body"], (path, raw)


HUGE_NUMBERS = {
    "thirty-digit-integer": 10**30,
    "just-too-many-participants": 65,
    "negative": -(10**20),
    "float-for-an-integer": 8.5,
    "tiny-float": 1e-300,
}


@pytest.mark.usefixtures("writes")
def test_numbers_out_of_a_fields_range_are_validation_errors(
    client: Client, headers: dict[str, str]
) -> None:
    for case, number in HUGE_NUMBERS.items():
        session = {
            "user_id": "analyst_42",
            "environment": "training",
            "config": {"max_participants": number},
        }
        answer = post(client, "/api/vr/sessions", headers, json.dumps(session).encode())
        document = problem(answer, 400, "validation_error")
        fields = [e["field"] for e in document["errors"]]
        assert fields == ["body.config.max_participants"], case


@pytest.mark.usefixtures("writes")
def test_a_number_for_a_time_is_a_validation_error_not_an_overflow(
    client: Client, headers: dict[str, str]
) -> None:
    for value in ("1e300", "9" * MAX_NUMBER_LENGTH, "-1e300"):
        raw = json.dumps(THREAT).encode()[:-1] + f', "detected_at": {value}}}'.encode()
        refused = post(client, "/api/threats", headers, raw)
        document = problem(refused, 400, "validation_error")
        assert [e["field"] for e in document["errors"]] == ["body.detected_at"]


@pytest.mark.usefixtures("writes")
def test_thousands_of_unknown_fields_give_a_bounded_error_list(
    client: Client, headers: dict[str, str], svc: services_module.Services
) -> None:
    extra = {f"f{i}": 0 for i in range(60_000)}
    raw = json.dumps({**KEY, **extra}).encode()
    assert len(raw) < svc.settings.max_body_bytes
    refused = post(client, "/api/keys", headers, raw)
    document = problem(refused, 400, "validation_error")
    assert len(document["errors"]) == MAX_FIELD_ERRORS
    assert document["detail"].endswith(f" and {60_000 - MAX_FIELD_ERRORS} more")
    assert len(refused.body) < 10_000


# ------------------------------------------------------------------ size


def padded(payload: dict[str, Any], size: int) -> bytes:
    """``payload`` as JSON, padded with trailing whitespace to ``size`` bytes."""
    raw = json.dumps(payload).encode()
    return raw + b" " * (size - len(raw))


def test_a_body_of_exactly_the_limit_is_accepted(
    client: Client, headers: dict[str, str], svc: services_module.Services
) -> None:
    raw = padded(KEY, svc.settings.max_body_bytes)
    created = post(client, "/api/keys", headers, raw)
    assert created.status_code == 201, created.body


@pytest.mark.usefixtures("writes")
def test_one_byte_over_the_limit_is_413_before_anything_else(
    client: Client, headers: dict[str, str], svc: services_module.Services
) -> None:
    limit = svc.settings.max_body_bytes
    for path in ("/api/keys", "/api/threats", "/api/webhooks"):
        raw = padded(KEY, limit + 1)
        document = problem(post(client, path, headers, raw), 413, "payload_too_large")
        assert str(limit) in document["detail"]
    # Malformed and unauthenticated too: the size is checked first.
    problem(
        post(client, "/api/keys", JSON, b"[" * (limit + 1)), 413, "payload_too_large"
    )


# ----------------------------------------------- POSTs that take no body


NO_BODY_POSTS = [
    "/api/webhooks/wh_{}/test",
    "/api/webhooks/wh_{}/rotate-secret",
    "/api/vr/sessions/vrs_{}/end",
]


HOSTILE = [b"[" * 10_000, b'{"a": 1, "a": 2}', b"\xff\xfe", b"7" * 5_000, b"NaN"]


@pytest.mark.usefixtures("writes")
def test_a_hostile_body_on_a_route_without_one_is_never_a_500(
    client: Client, headers: dict[str, str]
) -> None:
    # With an Idempotency-Key the body is fingerprinted before the handler.
    for path in NO_BODY_POSTS:
        url = path.format("0" * 24)
        for number, raw in enumerate(HOSTILE):
            key = {"Idempotency-Key": f"retry-{number}"}
            answer = post(client, url, {**headers, **key}, raw)
            assert 400 <= answer.status_code < 500, (url, raw[:10], answer.body)
