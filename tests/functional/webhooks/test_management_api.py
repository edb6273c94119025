"""The webhook management API: endpoints, visibility, secrets, logs, replays."""

from __future__ import annotations

import pytest
from chalice.test import Client

from chalicelib import services as services_module
from chalicelib.policy import Scope, Tier
from chalicelib.webhooks.wiring import Webhooks
from local.sqs import QueueConsumer
from tests.functional.conftest import make_key
from tests.functional.webhooks.conftest import call, pump, register
from tests.functional.webhooks.receiver import Receiver

pytestmark = pytest.mark.usefixtures("hooks")


def test_create_shows_the_secret_once(client: Client, key: dict[str, str]) -> None:
    created = register(client, key, "http://127.0.0.1:9/hook", ["threat.detected"])
    assert created["secret"].startswith("whsec_")
    assert created["webhook_id"].startswith("wh_")
    assert created["owner_id"] == "org_a"
    assert created["enabled"] is True
    status, fetched = call(client, "GET", f"/api/webhooks/{created['webhook_id']}", key)
    assert status == 200
    assert "secret" not in fetched
    status, listing = call(client, "GET", "/api/webhooks", key)
    assert status == 200
    assert [w["webhook_id"] for w in listing["webhooks"]] == [created["webhook_id"]]
    assert "secret" not in listing["webhooks"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1:9/h", "events": ["threat.exploded"]}, "events"),
        ({"url": "http://127.0.0.1:9/h", "events": []}, "events"),
        ({"url": "http://127.0.0.1:9/h"}, "events"),
        ({"events": ["*"]}, "url"),
        ({"url": "http://127.0.0.1:9/h", "events": ["*"], "extra": 1}, "extra"),
    ],
)
def test_create_rejects_bad_bodies_field_by_field(
    client: Client, key: dict[str, str], body: dict[str, object], field: str
) -> None:
    status, problem = call(client, "POST", "/api/webhooks", key, body)
    assert status == 400
    assert problem["code"] == "validation_error"
    assert any(field in e["field"] for e in problem["errors"])


def test_other_owners_endpoints_are_invisible_but_admin_sees_all(
    client: Client,
    svc: services_module.Services,
    key: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    created = register(client, key, "http://127.0.0.1:9/hook")
    path = f"/api/webhooks/{created['webhook_id']}"
    stranger = make_key(svc, [Scope.READ_THREATS], Tier.ENTERPRISE, owner="org_b")
    for method in ("GET", "DELETE"):
        status, problem = call(client, method, path, stranger)
        assert status == 404, method
        assert problem["code"] == "not_found"
    status, _ = call(client, "PATCH", path, stranger, {"enabled": False})
    assert status == 404
    status, listing = call(client, "GET", "/api/webhooks?owner_id=org_a", stranger)
    assert listing["webhooks"] == []
    status, listing = call(client, "GET", "/api/webhooks?owner_id=org_a", admin_headers)
    assert [w["webhook_id"] for w in listing["webhooks"]] == [created["webhook_id"]]
    assert call(client, "GET", path, admin_headers)[0] == 200


def test_a_key_cannot_register_for_another_owner(
    client: Client, key: dict[str, str], admin_headers: dict[str, str]
) -> None:
    body = {"url": "http://127.0.0.1:9/h", "events": ["*"], "owner_id": "org_b"}
    status, problem = call(client, "POST", "/api/webhooks", key, body)
    assert status == 403
    assert problem["code"] == "privilege_escalation"
    status, created = call(client, "POST", "/api/webhooks", admin_headers, body)
    assert status == 201
    assert created["owner_id"] == "org_b"


def test_patch_changes_fields_and_disabling_shows_a_reason(
    client: Client, key: dict[str, str]
) -> None:
    created = register(client, key, "http://127.0.0.1:9/hook", ["threat.detected"])
    path = f"/api/webhooks/{created['webhook_id']}"
    change = {"events": ["quota.warning", "quota.exceeded"], "description": "ops"}
    status, updated = call(client, "PATCH", path, key, change)
    assert status == 200
    assert updated["events"] == ["quota.exceeded", "quota.warning"]
    assert updated["description"] == "ops"
    status, disabled = call(client, "PATCH", path, key, {"enabled": False})
    assert disabled["enabled"] is False
    assert disabled["disabled_reason"] == "disabled by its owner"
    assert disabled["disabled_at"] is not None
    status, enabled = call(client, "PATCH", path, key, {"enabled": True})
    assert enabled["enabled"] is True
    assert enabled["disabled_reason"] is None
    status, cleared = call(client, "PATCH", path, key, {"description": None})
    assert cleared["description"] is None


def test_patch_vets_a_new_url(client: Client, key: dict[str, str]) -> None:
    created = register(client, key, "http://127.0.0.1:9/hook")
    path = f"/api/webhooks/{created['webhook_id']}"
    status, problem = call(client, "PATCH", path, key, {"url": "http://10.0.0.1/"})
    assert status == 400
    assert problem["errors"][0]["field"] == "body.url"
    assert "private" in problem["errors"][0]["message"]


def test_delete_removes_the_endpoint(client: Client, key: dict[str, str]) -> None:
    created = register(client, key, "http://127.0.0.1:9/hook")
    path = f"/api/webhooks/{created['webhook_id']}"
    status, deleted = call(client, "DELETE", path, key)
    assert status == 200
    assert deleted["webhook_id"] == created["webhook_id"]
    assert call(client, "GET", path, key)[0] == 404
    assert call(client, "DELETE", path, key)[0] == 404


def test_list_pages_with_a_signed_cursor(client: Client, key: dict[str, str]) -> None:
    ids = {register(client, key, "http://127.0.0.1:9/h")["webhook_id"] for _ in "abc"}
    status, first = call(client, "GET", "/api/webhooks?limit=2", key)
    assert status == 200
    assert len(first["webhooks"]) == 2
    cursor = first["next_cursor"]
    status, second = call(client, "GET", f"/api/webhooks?limit=2&cursor={cursor}", key)
    seen = {w["webhook_id"] for w in first["webhooks"] + second["webhooks"]}
    assert seen == ids
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    status, problem = call(client, "GET", f"/api/webhooks?cursor={tampered}", key)
    assert status == 400
    assert problem["code"] == "invalid_cursor"


def test_rotate_secret_returns_a_new_secret_and_the_overlap(
    client: Client, key: dict[str, str]
) -> None:
    created = register(client, key, "http://127.0.0.1:9/hook")
    path = f"/api/webhooks/{created['webhook_id']}/rotate-secret"
    status, rotated = call(client, "POST", path, key)
    assert status == 200
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    assert rotated["previous_secret_valid_until"] is not None


def test_send_test_event_is_delivered_and_logged(
    client: Client,
    key: dict[str, str],
    receiver: Receiver,
    consumer: QueueConsumer,
    hooks: Webhooks,
) -> None:
    created = register(client, key, receiver.url, ["threat.detected"])
    base = f"/api/webhooks/{created['webhook_id']}"
    status, delivery = call(client, "POST", f"{base}/test", key)
    assert status == 202
    assert delivery["status"] == "pending"
    assert delivery["event_type"] == "webhook.test"
    pump(consumer, lambda: len(receiver.received) == 1)
    pump(consumer, lambda: consumer.poll_once() == 0)
    status, log = call(client, "GET", f"{base}/deliveries", key)
    assert status == 200
    (attempt,) = log["attempts"]
    assert attempt["attempt"] == 1
    assert attempt["outcome"] == "succeeded"
    assert attempt["status_code"] == 204
    assert attempt["event_type"] == "webhook.test"
    assert attempt["latency_ms"] >= 0
    path = f"{base}/deliveries/{delivery['delivery_id']}"
    status, done = call(client, "GET", path, key)
    assert done["status"] == "succeeded"
    assert done["attempts"] == 1


def test_test_event_on_a_disabled_endpoint_is_a_conflict(
    client: Client, key: dict[str, str]
) -> None:
    created = register(client, key, "http://127.0.0.1:9/hook")
    base = f"/api/webhooks/{created['webhook_id']}"
    call(client, "PATCH", base, key, {"enabled": False})
    status, problem = call(client, "POST", f"{base}/test", key)
    assert status == 409
    assert "disabled" in problem["detail"]


def test_replay_of_a_pending_or_unknown_delivery_is_refused(
    client: Client, key: dict[str, str]
) -> None:
    created = register(client, key, "http://127.0.0.1:9/hook")
    base = f"/api/webhooks/{created['webhook_id']}"
    _status, delivery = call(client, "POST", f"{base}/test", key)
    replay = f"{base}/deliveries/{delivery['delivery_id']}/replay"
    assert call(client, "POST", replay, key)[0] == 409
    unknown = f"{base}/deliveries/dlv_nothing/replay"
    assert call(client, "POST", unknown, key)[0] == 404
    assert call(client, "GET", f"{base}/deliveries/dlv_nothing", key)[0] == 404


def test_replay_since_needs_a_time_zone(client: Client, key: dict[str, str]) -> None:
    created = register(client, key, "http://127.0.0.1:9/hook")
    path = f"/api/webhooks/{created['webhook_id']}/replay"
    status, problem = call(client, "POST", path, key, {"since": "2026-01-01T00:00:00"})
    assert status == 400
    assert problem["errors"][0]["field"] == "body.since"


def test_every_webhook_route_needs_a_key(client: Client) -> None:
    for method, path in [
        ("GET", "/api/webhooks"),
        ("POST", "/api/webhooks/wh_x/test"),
        ("GET", "/api/webhooks/wh_x/deliveries"),
    ]:
        status, _problem = call(client, method, path, {})
        assert status == 401, path
