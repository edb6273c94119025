"""Key listing shows no secret and pages with signed cursors; every key action
is in the audit trail with who, what, when, from where and with what client."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.dynamo import from_item
from chalicelib.policy import Scope, Tier
from tests.functional.admission.conftest import JSON, at, body, problem
from tests.functional.conftest import make_key

AGENT = {"User-Agent": "jupiter-tests/1.0"}


def create(
    http: Client, headers: dict[str, str], owner: str, name: str = "k"
) -> dict[str, Any]:
    payload = {"name": name, "owner_id": owner, "permissions": ["READ_THREATS"]}
    response = http.http.post(
        "/api/keys", headers={**headers, **JSON, **AGENT}, body=json.dumps(payload)
    )
    assert response.status_code == 201, response.body
    created: dict[str, Any] = body(response)
    created["request_id"] = response.headers["X-Request-Id"]
    return created


def listing(http: Client, headers: dict[str, str], query: str) -> Any:
    response = http.http.get(f"/api/keys?{query}", headers=headers)
    assert response.status_code == 200, response.body
    return response


def test_listing_shows_a_prefix_and_never_a_secret(
    http: Client, admin_headers: dict[str, str]
) -> None:
    created = [create(http, admin_headers, "org_a", f"k{i}") for i in range(3)]
    response = listing(http, admin_headers, "owner_id=org_a")
    for key in created:
        assert key["key_secret"] not in response.body.decode()
    keys = body(response)["keys"]
    assert {k["key_id"] for k in keys} == {k["key_id"] for k in created}
    by_id = {k["key_id"]: k for k in keys}
    for key in created:
        listed = by_id[key["key_id"]]
        assert "key_secret" not in listed
        assert listed["secret_prefix"] == key["key_secret"][:6] + "…"
        assert listed["status"] == "active"


def test_listing_reports_when_each_key_was_last_used(
    http: Client,
    core: services_module.Services,
    admin_headers: dict[str, str],
    clock: FixedClock,
) -> None:
    clock.at = at("2026-11-30T12:00:00")
    key = make_key(core, [Scope.READ_THREATS], owner="org_u")
    first = body(listing(http, admin_headers, "owner_id=org_u"))["keys"][0]
    assert first["last_used_at"] is None
    clock.at = at("2026-11-30T12:34:56")
    assert http.http.get("/api/usage", headers=key).status_code == 200
    used = body(listing(http, admin_headers, "owner_id=org_u"))["keys"][0]
    assert used["last_used_at"] == "2026-11-30T12:34:56Z"


def test_listing_pages_newest_first_with_signed_cursors(
    http: Client, admin_headers: dict[str, str], clock: FixedClock
) -> None:
    created = []
    for index in range(5):
        clock.advance(1)
        created.append(create(http, admin_headers, "org_p", f"k{index}")["key_id"])
    pages, cursor = [], None
    while True:
        query = "owner_id=org_p&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = body(listing(http, admin_headers, query))
        pages.append([k["key_id"] for k in page["keys"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages if p] == [2, 2, 1]
    assert [k for p in pages for k in p] == list(reversed(created))


def test_cursor_of_one_owners_listing_is_refused_for_another(
    http: Client, admin_headers: dict[str, str]
) -> None:
    for index in range(3):
        create(http, admin_headers, "org_p", f"k{index}")
    page = body(listing(http, admin_headers, "owner_id=org_p&limit=1"))
    cursor = page["next_cursor"]
    refused = http.http.get(
        f"/api/keys?owner_id=org_q&limit=1&cursor={cursor}", headers=admin_headers
    )
    problem(refused, 400, "invalid_cursor")


def test_non_admin_lists_only_its_own_owners_keys(
    http: Client, core: services_module.Services, admin_headers: dict[str, str]
) -> None:
    member = make_key(core, [Scope.READ_THREATS], Tier.BASIC, owner="org_a")
    create(http, admin_headers, "org_a", "sibling")
    create(http, admin_headers, "org_b", "stranger")
    own = body(listing(http, member, ""))["keys"]
    assert {k["owner_id"] for k in own} == {"org_a"}
    assert len(own) == 2
    assert body(listing(http, member, "owner_id=org_b"))["keys"] == []


def audit_rows(svc: services_module.Services, key_id: str) -> list[dict[str, Any]]:
    response = aws.dynamodb().query(
        TableName=svc.settings.audit_table,
        KeyConditionExpression="key_id = :k",
        ExpressionAttributeValues={":k": {"S": key_id}},
    )
    return [from_item(item) for item in response["Items"]]


def test_create_rotate_and_revoke_are_audited_with_actor_time_address_and_agent(
    http: Client,
    core: services_module.Services,
    admin_headers: dict[str, str],
    clock: FixedClock,
) -> None:
    clock.at = at("2026-11-30T12:00:00")
    created = create(http, admin_headers, "org_a")
    key_id = created["key_id"]
    clock.advance(60)
    rotated = http.http.post(
        f"/api/keys/{key_id}/rotate",
        headers={**admin_headers, **JSON, **AGENT},
        body=json.dumps({"grace_period_seconds": 120}),
    )
    clock.advance(60)
    revoked = http.http.delete(
        f"/api/keys/{key_id}", headers={**admin_headers, **AGENT}
    )
    assert (rotated.status_code, revoked.status_code) == (200, 200)

    rows = sorted(audit_rows(core, key_id), key=lambda r: r["at"])
    assert [r["action"] for r in rows] == ["key.created", "key.rotated", "key.revoked"]
    times = ["2026-11-30T12:00:00Z", "2026-11-30T12:01:00Z", "2026-11-30T12:02:00Z"]
    request_ids = [
        created["request_id"],
        rotated.headers["X-Request-Id"],
        revoked.headers["X-Request-Id"],
    ]
    for row, moment, request_id in zip(rows, times, request_ids, strict=True):
        assert row["at"].startswith(moment + "#")
        assert row["actor_key_id"] == admin_headers["X-API-Key-ID"]
        assert row["actor_owner_id"] == "org_admin"
        assert row["source_ip"] == "127.0.0.1"
        assert row["user_agent"] == AGENT["User-Agent"]
        assert row["request_id"] == request_id
    assert json.loads(json.dumps(rows[1]["detail"])) == {"grace_period_seconds": 120}
    assert created["key_secret"] not in json.dumps(rows, default=str)


def test_refused_actions_leave_no_audit_record(
    http: Client, core: services_module.Services
) -> None:
    member = make_key(core, [Scope.READ_THREATS], Tier.BASIC, owner="org_a")
    payload = {"name": "x", "owner_id": "org_a", "permissions": ["ADMIN"]}
    refused = http.http.post(
        "/api/keys", headers={**member, **JSON}, body=json.dumps(payload)
    )
    problem(refused, 403, "privilege_escalation")
    rows = [
        from_item(r)
        for r in aws.dynamodb().scan(TableName=core.settings.audit_table)["Items"]
    ]
    assert [r for r in rows if r["actor_key_id"] == member["X-API-Key-ID"]] == []
