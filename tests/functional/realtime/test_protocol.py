"""The WebSocket protocol through the app's handlers: authentication, frames,
errors, the deadline, the connection cap and rate limiting."""

from __future__ import annotations

from chalicelib import aws
from chalicelib.policy import Scope, Tier
from tests.functional.conftest import make_key
from tests.functional.realtime.conftest import Harness, admin_actor


def test_authenticate_answers_with_the_key_and_its_connection_limit(
    ws: Harness,
) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS], Tier.BASIC)
    connection = ws.connect()

    answer = ws.authenticate(connection, headers)

    assert answer == [
        {
            "type": "authenticated",
            "key_id": headers["X-API-Key-ID"],
            "tier": "BASIC",
            "scopes": ["READ_THREATS"],
            "connection_limit": 5,
        }
    ]


def test_reply_to_echoes_the_frame_id(ws: Harness) -> None:
    connection = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), [])

    answer = ws.ask(connection, {"type": "ping", "id": "p-1"})

    assert answer[0]["type"] == "pong"
    assert answer[0]["reply_to"] == "p-1"


def test_action_is_accepted_as_a_synonym_of_type(ws: Harness) -> None:
    connection = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), [])

    answer = ws.ask(connection, {"action": "subscribe", "channels": ["threats"]})

    assert answer[0]["type"] == "subscribed"
    assert answer[0]["channels"] == ["threats"]


def test_subscribe_before_authenticate_is_an_error_and_keeps_the_connection(
    ws: Harness,
) -> None:
    connection = ws.connect()

    answer = ws.ask(connection, {"type": "subscribe", "channels": ["threats"]})

    assert answer[0]["type"] == "error"
    assert answer[0]["code"] == "not_authenticated"
    assert connection not in ws.management.closed
    headers = make_key(ws.svc, [Scope.READ_THREATS])
    assert ws.authenticate(connection, headers)[0]["type"] == "authenticated"


def test_wrong_secret_is_an_error_and_the_client_may_try_again(ws: Harness) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS])
    connection = ws.connect()

    wrong = {**headers, "X-API-Key-Secret": "0" * 64}
    answer = ws.authenticate(connection, wrong)

    assert answer[0]["code"] == "invalid_api_key"
    assert ws.authenticate(connection, headers)[0]["type"] == "authenticated"


def test_channel_without_its_scope_gets_an_error_naming_it(ws: Harness) -> None:
    connection = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), [])

    answer = ws.ask(
        connection, {"type": "subscribe", "channels": ["threats", "vr_sessions"]}
    )

    errors = [f for f in answer if f["type"] == "error"]
    assert errors == [
        {
            "type": "error",
            "code": "insufficient_permissions",
            "message": "the vr_sessions channel needs the READ_VR_SESSIONS scope",
            "channel": "vr_sessions",
        }
    ]
    subscribed = next(f for f in answer if f["type"] == "subscribed")
    assert subscribed["channels"] == ["threats"]


def test_system_channel_needs_only_a_valid_key(ws: Harness) -> None:
    connection = ws.session(make_key(ws.svc, [Scope.READ_ANALYTICS]), [])

    answer = ws.ask(connection, {"type": "subscribe", "channels": ["system"]})

    assert answer[0]["type"] == "subscribed"


def test_garbage_frames_get_errors_and_the_connection_stays_usable(
    ws: Harness,
) -> None:
    connection = ws.session(make_key(ws.svc, [Scope.READ_THREATS], Tier.BASIC), [])
    garbage = {
        "not json": "malformed_json",
        "[1, 2]": "malformed_json",
        '{"type": "launch_missiles"}': "unknown_frame_type",
        '{"no_type": true}': "unknown_frame_type",
        '{"type": 7}': "unknown_frame_type",
        '{"type": "subscribe", "channels": ["weather"]}': "validation_error",
        '{"type": "subscribe", "channels": []}': "validation_error",
        '{"type": "ping", "unexpected": 1}': "validation_error",
        '{"type": "ping", "type": "ping"}': "malformed_json",
        "": "malformed_json",
        "[" * 10_000: "malformed_json",
        '{"type": "ping", "id": ' + "[" * 5_000 + "]" * 5_000 + "}": "malformed_json",
        '{"type": "ping", "n": 1e999}': "malformed_json",
        '{"type": "ping", "n": ' + "9" * 5_000 + "}": "malformed_json",
        '{"type": "ping", "bad": "\ud800"}': "malformed_json",
    }
    for body, code in garbage.items():
        answer = ws.ask(connection, body)
        assert [f["code"] for f in answer] == [code], body

    assert ws.ask(connection, {"type": "ping"})[0]["type"] == "pong"


def test_validation_errors_list_each_bad_field(ws: Harness) -> None:
    connection = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), [])

    answer = ws.ask(connection, {"type": "stream_threats", "limit": 0})

    assert answer[0]["code"] == "validation_error"
    assert answer[0]["errors"][0]["field"] == "frame.limit"


def test_a_second_authenticate_is_a_conflict(ws: Harness) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS])
    connection = ws.session(headers, [])

    answer = ws.authenticate(connection, headers)

    assert answer[0]["code"] == "conflict"


def test_frame_after_the_deadline_closes_the_connection(ws: Harness) -> None:
    connection = ws.connect()
    ws.clock.advance(ws.svc.settings.ws_auth_deadline_seconds + 1)

    answer = ws.ask(connection, {"type": "ping"})

    assert answer[0]["code"] == "authentication_timeout"
    assert connection in ws.management.closed
    assert ws.realtime.store.get(connection) is None


def test_sweep_closes_connections_past_their_deadline_only(ws: Harness) -> None:
    late = ws.connect()
    ws.clock.advance(3)
    recent = ws.connect()
    authenticated = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), [])
    ws.clock.advance(ws.svc.settings.ws_auth_deadline_seconds - 1)

    ws.schedule("ws_sweep")

    assert ws.management.closed == [late]
    assert ws.management.take(late)[-1]["code"] == "authentication_timeout"
    assert ws.realtime.store.get(recent) is not None
    assert ws.realtime.store.get(authenticated) is not None


def test_message_from_an_unknown_connection_closes_it(ws: Harness) -> None:
    connection = ws.connect()
    ws.realtime.store.remove(connection)

    ws.send(connection, {"type": "ping"})

    assert connection in ws.management.closed


def test_free_key_second_connection_is_refused_and_closed(ws: Harness) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS], Tier.FREE)
    first = ws.session(headers, [])
    second = ws.connect()

    answer = ws.authenticate(second, headers)

    assert answer[0]["code"] == "connection_limit_exceeded"
    assert "(1)" in answer[0]["message"]
    assert second in ws.management.closed
    assert ws.realtime.store.get(second) is None
    assert ws.realtime.slots.holders(headers["X-API-Key-ID"]).keys() == {first}


def test_slot_is_free_again_after_disconnect(ws: Harness) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS], Tier.FREE)
    first = ws.session(headers, [])

    ws.disconnect(first)

    third = ws.connect()
    assert ws.authenticate(third, headers)[0]["type"] == "authenticated"


def test_slot_of_a_client_that_vanished_without_disconnect_is_reclaimed(
    ws: Harness,
) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS], Tier.FREE)
    first = ws.session(headers, [])
    ws.management.vanish(first)  # no $disconnect ever arrives

    replacement = ws.connect()
    answer = ws.authenticate(replacement, headers)

    assert answer[0]["type"] == "authenticated"
    assert ws.realtime.slots.holders(headers["X-API-Key-ID"]).keys() == {replacement}


def test_expired_slot_is_reclaimed_without_asking_the_management_api(
    ws: Harness,
) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS], Tier.FREE)
    ws.session(headers, [])
    ws.clock.advance(7_201)
    before = ws.management.calls["get_connection"]

    answer = ws.authenticate(ws.connect(), headers)

    assert answer[0]["type"] == "authenticated"
    assert ws.management.calls["get_connection"] == before


def test_every_message_counts_toward_the_rate_limit(ws: Harness) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS], Tier.FREE)
    connection = ws.session(headers, [])  # the authenticate frame counts: 1
    burst = 20  # FREE: 20 requests per 10 s

    answers = [ws.ask(connection, {"type": "ping"})[0] for _ in range(burst)]

    assert [a["type"] for a in answers[:-1]] == ["pong"] * (burst - 1)
    refused = answers[-1]
    assert refused["code"] == "rate_limit_exceeded"
    assert refused["retry_after"] >= 1
    assert connection not in ws.management.closed
    ws.clock.advance(10)
    assert ws.ask(connection, {"type": "ping"})[0]["type"] == "pong"


def test_garbage_counts_toward_the_rate_limit_too(ws: Harness) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS], Tier.FREE)
    connection = ws.session(headers, [])

    for _ in range(19):
        ws.ask(connection, "garbage")

    assert ws.ask(connection, {"type": "ping"})[0]["code"] == "rate_limit_exceeded"


def test_revoked_key_is_refused_and_closed_on_its_next_frame(ws: Harness) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS])
    connection = ws.session(headers, [])
    ws.svc.keys.revoke(admin_actor(), headers["X-API-Key-ID"])

    answer = ws.ask(connection, {"type": "ping"})

    assert answer[0]["code"] == "api_key_revoked"
    assert connection in ws.management.closed
    assert ws.realtime.slots.holders(headers["X-API-Key-ID"]) == {}


def test_unsubscribe_answers_with_the_channels(ws: Harness) -> None:
    connection = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), ["threats"])

    answer = ws.ask(connection, {"type": "unsubscribe", "channels": ["threats"]})

    assert answer == [{"type": "unsubscribed", "channels": ["threats"]}]


def test_connect_is_refused_when_the_store_is_unavailable(ws: Harness) -> None:
    aws.dynamodb().delete_table(TableName=ws.svc.settings.connections_table)
    event = ws.event("ws_connect.json", "doomedAAAAAAAAA=")

    response = ws.client.lambda_.invoke("ws_connect", event)

    assert response.payload["statusCode"] == 503


def test_store_failure_on_a_frame_is_answered_with_an_error(ws: Harness) -> None:
    connection = ws.connect()
    aws.dynamodb().delete_table(TableName=ws.svc.settings.connections_table)

    answer = ws.ask(connection, {"type": "ping"})

    assert answer[0]["code"] == "store_unavailable"
