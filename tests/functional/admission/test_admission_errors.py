"""Every way admission and input handling refuse a request, over HTTP.

Each refusal is a problem document with its stable code and the request id;
none is a 500.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from chalice.app import Chalice
from chalice.test import Client
from pydantic import BaseModel

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.admission.gateway import Gateway
from chalicelib.admission.ip_guard import IpGuard
from chalicelib.analytics import buckets, requests
from chalicelib.clock import FixedClock
from chalicelib.dynamo import from_item
from chalicelib.http.call import Call
from chalicelib.http.edge import Edge
from chalicelib.http.registry import Registry, Route
from chalicelib.policy import Scope, Tier
from tests.functional.admission.conftest import (
    JSON,
    body,
    key_item,
    problem,
)
from tests.functional.conftest import PROJECT_DIR, make_key

UNKNOWN_ID = "jptr_" + "z" * 24
SOME_SECRET = "0" * 64


class Probe(BaseModel):
    """What the test-only scoped route answers."""

    key_id: str


def _probe(call: Call) -> Probe:
    return Probe(key_id=call.key.key_id)


@pytest.fixture
def scoped(core: services_module.Services) -> Iterator[Client]:
    """A small app with one READ_THREATS route behind the real edge."""
    app = Chalice(app_name="scoped-probe")
    route = Route(
        "get_probe",
        "GET",
        "/api/probe",
        _probe,
        "A route that needs READ_THREATS",
        "Test",
        scope=Scope.READ_THREATS,
        response=Probe,
    )
    Edge(app, Registry([route])).mount()
    with Client(app, stage_name="local", project_dir=PROJECT_DIR) as client:
        yield client


@pytest.fixture
def reader(core: services_module.Services) -> dict[str, str]:
    return make_key(core, [Scope.READ_THREATS])


def post_key(http: Client, headers: dict[str, str], payload: Any) -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return http.http.post("/api/keys", headers={**headers, **JSON}, body=raw)


def new_key_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "integration",
        "owner_id": "org_a",
        "permissions": ["READ_THREATS"],
        "tier": "FREE",
        **overrides,
    }


# ------------------------------------------------------------------ 401


MALFORMED_HEADERS = {
    "none": {},
    "no-secret": {"X-API-Key-ID": UNKNOWN_ID},
    "no-id": {"X-API-Key-Secret": SOME_SECRET},
    "short-id": {"X-API-Key-ID": "jptr_short", "X-API-Key-Secret": SOME_SECRET},
    "wrong-prefix": {
        "X-API-Key-ID": "key_" + "a" * 24,
        "X-API-Key-Secret": SOME_SECRET,
    },
    "upper-secret": {"X-API-Key-ID": UNKNOWN_ID, "X-API-Key-Secret": "F" * 64},
    "short-secret": {"X-API-Key-ID": UNKNOWN_ID, "X-API-Key-Secret": "f" * 63},
}


def test_missing_or_malformed_headers_are_401(http: Client) -> None:
    for case, headers in MALFORMED_HEADERS.items():
        refused = http.http.get("/api/usage", headers=headers)
        assert refused.status_code == 401, case
        problem(refused, 401, "invalid_api_key")


def test_unknown_key_is_401(http: Client) -> None:
    headers = {"X-API-Key-ID": UNKNOWN_ID, "X-API-Key-Secret": SOME_SECRET}
    problem(http.http.get("/api/usage", headers=headers), 401, "invalid_api_key")


def test_wrong_secret_is_401_and_indistinguishable_from_an_unknown_key(
    http: Client, reader: dict[str, str]
) -> None:
    wrong = {**reader, "X-API-Key-Secret": SOME_SECRET}
    refused = problem(
        http.http.get("/api/usage", headers=wrong), 401, "invalid_api_key"
    )
    unknown = {"X-API-Key-ID": UNKNOWN_ID, "X-API-Key-Secret": SOME_SECRET}
    other = problem(
        http.http.get("/api/usage", headers=unknown), 401, "invalid_api_key"
    )
    assert refused["detail"] == other["detail"]
    assert SOME_SECRET not in json.dumps(refused)


def test_revoked_key_is_401_revoked_but_only_to_its_secret_holder(
    http: Client, core: services_module.Services, admin_headers: dict[str, str]
) -> None:
    victim = make_key(core, [Scope.READ_THREATS])
    revoked = http.http.delete(
        f"/api/keys/{victim['X-API-Key-ID']}", headers=admin_headers
    )
    assert revoked.status_code == 200
    assert body(revoked)["status"] == "revoked"
    problem(http.http.get("/api/usage", headers=victim), 401, "api_key_revoked")
    guess = {**victim, "X-API-Key-Secret": SOME_SECRET}
    problem(http.http.get("/api/usage", headers=guess), 401, "invalid_api_key")


def test_expired_key_is_401_expired(
    http: Client, core: services_module.Services, clock: FixedClock
) -> None:
    expiry = datetime.fromtimestamp(clock.now() + 60, UTC)
    headers = make_key(core, [Scope.READ_THREATS], expires_at=expiry)
    assert http.http.get("/api/usage", headers=headers).status_code == 200
    clock.advance(60)
    problem(http.http.get("/api/usage", headers=headers), 401, "api_key_expired")


def test_key_used_outside_its_allowlist_is_401(
    http: Client, core: services_module.Services
) -> None:
    # chalice.test.Client always calls from 127.0.0.1.
    elsewhere = make_key(core, [Scope.READ_THREATS], ip_allowlist=["203.0.113.0/24"])
    problem(http.http.get("/api/usage", headers=elsewhere), 401, "ip_not_allowed")
    here = make_key(
        core, [Scope.READ_THREATS], ip_allowlist=["203.0.113.0/24", "127.0.0.0/8"]
    )
    assert http.http.get("/api/usage", headers=here).status_code == 200
    assert http.http.get("/api/usage", headers=here).status_code == 200


# ------------------------------------------------------------------ 403


def test_key_without_the_routes_scope_is_403(
    scoped: Client, core: services_module.Services
) -> None:
    writer = make_key(core, [Scope.WRITE_THREATS, Scope.READ_ANALYTICS])
    refused = scoped.http.get("/api/probe", headers=writer)
    document = problem(refused, 403, "insufficient_permissions")
    assert "READ_THREATS" in document["detail"]


def test_scope_or_admin_is_admitted_on_a_scoped_route(
    scoped: Client, core: services_module.Services, admin_headers: dict[str, str]
) -> None:
    reader = make_key(core, [Scope.READ_THREATS])
    answered = scoped.http.get("/api/probe", headers=reader)
    assert answered.status_code == 200
    assert body(answered) == {"key_id": reader["X-API-Key-ID"]}
    assert "RateLimit" in answered.headers
    assert scoped.http.get("/api/probe", headers=admin_headers).status_code == 200


def test_refused_scope_is_not_counted(
    scoped: Client, core: services_module.Services
) -> None:
    writer = make_key(core, [Scope.WRITE_THREATS])
    scoped.http.get("/api/probe", headers=writer)
    assert key_item(core, writer["X-API-Key-ID"])["ht"] == 0


@pytest.fixture
def member(core: services_module.Services) -> dict[str, str]:
    """A BASIC, non-admin key of org_a that reads and writes threats."""
    return make_key(
        core, [Scope.READ_THREATS, Scope.WRITE_THREATS], Tier.BASIC, owner="org_a"
    )


ESCALATIONS = {
    "admin-scope": ({"permissions": ["READ_THREATS", "ADMIN"]}, "ADMIN"),
    "other-scope": ({"permissions": ["READ_ANALYTICS"]}, "READ_ANALYTICS"),
    "higher-tier": ({"tier": "PROFESSIONAL"}, "PROFESSIONAL"),
    "other-owner": ({"owner_id": "org_b"}, "own owner"),
}


def test_non_admin_cannot_escalate_scope_tier_or_owner(
    http: Client, member: dict[str, str]
) -> None:
    for case, (overrides, reason) in ESCALATIONS.items():
        refused = post_key(http, member, new_key_body(**overrides))
        assert refused.status_code == 403, case
        assert reason in problem(refused, 403, "privilege_escalation")["detail"]


def test_non_admin_may_create_within_what_it_holds(
    http: Client, member: dict[str, str]
) -> None:
    created = post_key(
        http, member, new_key_body(permissions=["WRITE_THREATS"], tier="BASIC")
    )
    assert created.status_code == 201
    assert body(created)["owner_id"] == "org_a"


def test_non_admin_cannot_revoke_or_rotate_another_owners_key(
    http: Client, core: services_module.Services, member: dict[str, str]
) -> None:
    other = make_key(core, [Scope.READ_THREATS], owner="org_b")["X-API-Key-ID"]
    problem(http.http.delete(f"/api/keys/{other}", headers=member), 404, "not_found")
    rotated = http.http.post(
        f"/api/keys/{other}/rotate", headers={**member, **JSON}, body=b"{}"
    )
    problem(rotated, 404, "not_found")


def test_non_admin_cannot_revoke_a_key_of_its_owner_that_holds_more(
    http: Client, core: services_module.Services, member: dict[str, str]
) -> None:
    stronger = make_key(core, [Scope.ADMIN], owner="org_a")["X-API-Key-ID"]
    refused = http.http.delete(f"/api/keys/{stronger}", headers=member)
    problem(refused, 403, "privilege_escalation")


# ------------------------------------------------------------------ 400


def fields(document: dict[str, Any]) -> set[str]:
    return {error["field"] for error in document["errors"]}


BAD_BODIES = {
    "wrong-types": (
        new_key_body(permissions="READ_THREATS", tier=5, name=7),
        {"body.permissions", "body.tier", "body.name"},
    ),
    "unknown-scope": (
        new_key_body(permissions=["READ_EVERYTHING"]),
        {"body.permissions.0"},
    ),
    "unknown-tier": (new_key_body(tier="PLATINUM"), {"body.tier"}),
    "extra-field": (new_key_body(colour="blue"), {"body.colour"}),
    "no-permissions": (new_key_body(permissions=[]), {"body.permissions"}),
    "bad-cidr": (new_key_body(ip_allowlist=["10.0.0.0/33"]), {"body.ip_allowlist"}),
    "past-expiry": (
        new_key_body(expires_at="2026-01-01T00:00:00Z"),
        {"body.expires_at"},
    ),
    "naive-expiry": (
        new_key_body(expires_at="2030-01-01T00:00:00"),
        {"body.expires_at"},
    ),
    "empty": ({}, {"body.name", "body.owner_id", "body.permissions"}),
    "not-an-object": ([new_key_body()], {"body"}),
}


def test_bad_bodies_are_400_naming_every_bad_field(
    http: Client, admin_headers: dict[str, str]
) -> None:
    for case, (payload, bad) in BAD_BODIES.items():
        refused = post_key(http, admin_headers, payload)
        assert refused.status_code == 400, case
        assert fields(problem(refused, 400, "validation_error")) == bad, case


MALFORMED_JSON = {
    "truncated": b'{"name": "x",',
    "duplicate-key": b'{"name": "a", "name": "b"}',
    "not-utf8": b'{"name": "\xff"}',
    "too-deep": b"[" * 64 + b"]" * 64,
    "nan": b'{"name": NaN}',
}


def test_malformed_json_is_400(http: Client, admin_headers: dict[str, str]) -> None:
    for case, raw in MALFORMED_JSON.items():
        refused = post_key(http, admin_headers, raw)
        assert refused.status_code == 400, case
        problem(refused, 400, "malformed_json")


BAD_QUERIES = {
    "limit=0": {"query.limit"},
    "limit=many": {"query.limit"},
    "owner_id=has%20space": {"query.owner_id"},
    "sort=desc": {"query.sort"},
}


def test_bad_queries_are_400_naming_the_field(
    http: Client, admin_headers: dict[str, str]
) -> None:
    for query, bad in BAD_QUERIES.items():
        refused = http.http.get(f"/api/keys?{query}", headers=admin_headers)
        assert refused.status_code == 400, query
        assert fields(problem(refused, 400, "validation_error")) == bad, query


def test_tampered_cursor_is_400(http: Client, admin_headers: dict[str, str]) -> None:
    refused = http.http.get("/api/keys?cursor=bm90LWEtY3Vyc29y", headers=admin_headers)
    problem(refused, 400, "invalid_cursor")


def test_rotation_grace_over_a_day_is_400(
    http: Client, core: services_module.Services, admin_headers: dict[str, str]
) -> None:
    target = make_key(core, [Scope.READ_THREATS])["X-API-Key-ID"]
    refused = http.http.post(
        f"/api/keys/{target}/rotate",
        headers={**admin_headers, **JSON},
        body=json.dumps({"grace_period_seconds": 86_401}),
    )
    assert fields(problem(refused, 400, "validation_error")) == {
        "body.grace_period_seconds"
    }


# ------------------------------------------------------- 404, 405, 413, 415


def test_revoking_an_unknown_key_is_404(
    http: Client, admin_headers: dict[str, str]
) -> None:
    refused = http.http.delete(f"/api/keys/{UNKNOWN_ID}", headers=admin_headers)
    problem(refused, 404, "not_found")


def test_oversized_body_is_413_before_authentication(
    http: Client, core: services_module.Services, admin_headers: dict[str, str]
) -> None:
    too_big = b'{"name": "' + b"x" * core.settings.max_body_bytes + b'"}'
    problem(post_key(http, {}, too_big), 413, "payload_too_large")
    problem(post_key(http, admin_headers, too_big), 413, "payload_too_large")
    admin_id = admin_headers["X-API-Key-ID"]
    assert key_item(core, admin_id)["ht"] == 0


def test_non_json_content_type_is_415(
    http: Client, admin_headers: dict[str, str]
) -> None:
    refused = http.http.post(
        "/api/keys",
        headers={**admin_headers, "Content-Type": "text/plain"},
        body=json.dumps(new_key_body()),
    )
    problem(refused, 415, "unsupported_media_type")


def test_unsupported_method_is_405_with_allow(
    http: Client, admin_headers: dict[str, str]
) -> None:
    refused = http.http.put("/api/keys", headers={**admin_headers, **JSON}, body="{}")
    problem(refused, 405, "method_not_allowed")
    assert "POST" in refused.headers["Allow"]


# ------------------------------------------------------------------ 503


def _failing_gateway(core: services_module.Services, client: Any) -> Gateway:
    config = core.settings
    guard = IpGuard(client, config.ip_guard_table, core.clock)
    return Gateway(client, config.keys_table, core.clock, guard)


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "UpdateItem",
    )


# Throttling, the store's own 5xx answers, and a store that cannot be reached.
STORE_FAULTS: dict[str, Exception] = {
    "provisioned-throughput": _client_error(
        "ProvisionedThroughputExceededException", 400
    ),
    "throttling": _client_error("ThrottlingException", 400),
    "request-limit": _client_error("RequestLimitExceeded", 400),
    "internal-server-error": _client_error("InternalServerError", 500),
    "service-unavailable": _client_error("ServiceUnavailable", 503),
    "endpoint-unreachable": EndpointConnectionError(
        endpoint_url="https://dynamodb.example"
    ),
    "connect-timeout": ConnectTimeoutError(endpoint_url="https://dynamodb.example"),
    "read-timeout": ReadTimeoutError(endpoint_url="https://dynamodb.example"),
}


class FailingStore:
    """A DynamoDB client whose every call fails with one injected error."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def update_item(self, **_: Any) -> Any:
        self.calls += 1
        raise self.error

    def get_item(self, **_: Any) -> Any:
        self.calls += 1
        raise self.error


def _request_counters(core: services_module.Services) -> dict[str, Any]:
    start = buckets.BY_HOUR.start(core.clock.now())
    response = aws.dynamodb().get_item(
        TableName=core.settings.aggregates_table,
        Key={"pk": {"S": buckets.key(requests.FAMILY, buckets.BY_HOUR, start)}},
        ConsistentRead=True,
    )
    return from_item(response.get("Item", {}))


def _event_count(core: services_module.Services) -> int:
    scanned = aws.dynamodb().scan(TableName=core.settings.events_table, Select="COUNT")
    return int(scanned["Count"])


@pytest.mark.parametrize("fault", list(STORE_FAULTS))
def test_throttled_store_is_503_with_retry_after_and_nothing_admitted(
    http: Client, core: services_module.Services, reader: dict[str, str], fault: str
) -> None:
    key_id = reader["X-API-Key-ID"]
    before = key_item(core, key_id)
    events_before = _event_count(core)
    store = FailingStore(STORE_FAULTS[fault])
    failing = core.replacing(gateway=_failing_gateway(core, store))
    with services_module.override(failing):
        refused = http.http.get("/api/usage", headers=reader)

    document = problem(refused, 503, "store_unavailable")
    assert int(refused.headers["Retry-After"]) >= 1
    assert "RateLimit" not in refused.headers
    assert store.calls >= 1
    assert "injected" not in json.dumps(document)
    # Nothing admitted and nothing half-written: the key item (windows, byte
    # count, last use) is as it was, no event was raised, and the key is not
    # counted; the refusal itself shows in the hour's 5xx count.
    assert key_item(core, key_id) == before
    assert _event_count(core) == events_before
    counters = _request_counters(core)
    assert f"k:{key_id}" not in counters
    assert counters.get("s:5xx") == 1
    assert "s:2xx" not in counters

    # Once the store answers again the same request is admitted, counted once.
    assert http.http.get("/api/usage", headers=reader).status_code == 200
    after = key_item(core, key_id)
    assert (after["ht"], after["bc"], after["dc"]) == (1, 1, 1)
    assert _request_counters(core)[f"k:{key_id}"] == 1
