"""Broadcasts: domain events and the schedule to subscribers, with sequence
numbers, resume, stale connections and revocation."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

from chalicelib.events.outbox import DomainEvent
from chalicelib.policy import Scope, Tier
from chalicelib.realtime import journal
from chalicelib.realtime.management import ManagementApi
from chalicelib.realtime.service import Endpoints
from chalicelib.realtime.sink import RealtimeSink
from tests.functional.conftest import make_key
from tests.functional.realtime.conftest import Harness, StaticThreats
from tests.support.fake_management import client_error

THREAT = {"type": "malware", "severity": "high", "target": "payments-db-01"}
SESSION = {"user_id": "user_1", "environment": "training"}


def report_threat(ws: Harness, writer: dict[str, str], target: str = "db") -> Any:
    threat = ws.rest("POST", "/api/threats", writer, {**THREAT, "target": target})
    ws.dispatch()
    return threat


def of_type(frames: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in frames if f["type"] == kind]


@pytest.fixture
def writer(ws: Harness) -> dict[str, str]:
    return make_key(ws.svc, [Scope.WRITE_THREATS], Tier.ENTERPRISE, owner="org_feed")


def test_reported_threat_reaches_subscribers_as_threat_update(
    ws: Harness, writer: dict[str, str]
) -> None:
    reader = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), ["threats"])
    bystander = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), ["system"])

    threat = report_threat(ws, writer)

    (update,) = ws.management.take(reader)
    assert update["type"] == "threat_update"
    assert update["channel"] == "threats"
    assert update["seq"] == 1
    assert update["event_type"] == "threat.detected"
    assert update["event_id"].startswith("evt_")
    assert update["threat"] == threat
    assert ws.management.take(bystander) == []


def test_sequence_numbers_increase_by_one_per_channel(
    ws: Harness, writer: dict[str, str]
) -> None:
    reader = ws.session(
        make_key(ws.svc, [Scope.READ_THREATS], Tier.BASIC), ["threats", "system"]
    )

    report_threat(ws, writer, "a")
    ws.schedule("system_status")
    report_threat(ws, writer, "b")
    ws.schedule("system_status")

    frames = ws.management.take(reader)
    assert [(f["channel"], f["seq"]) for f in frames] == [
        ("threats", 1),
        ("system", 1),
        ("threats", 2),
        ("system", 2),
    ]


def test_resolving_a_threat_is_a_threat_update_too(
    ws: Harness, writer: dict[str, str]
) -> None:
    threat = report_threat(ws, writer)
    reader = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), ["threats"])

    ws.rest("POST", f"/api/threats/{threat['threat_id']}/resolve", writer, {})
    ws.dispatch()

    (update,) = ws.management.take(reader)
    assert update["event_type"] == "threat.resolved"
    assert update["threat"]["status"] == "resolved"
    assert update["seq"] == 2


def test_system_status_schedule_reaches_system_subscribers(ws: Harness) -> None:
    reader = ws.session(make_key(ws.svc, [Scope.READ_ANALYTICS]), ["system"])

    ws.schedule("system_status")

    (status,) = ws.management.take(reader)
    assert status["type"] == "system_status"
    assert status["channel"] == "system"
    assert status["status"] == "ok"
    assert status["stage"] == "local"


def test_gone_connection_is_pruned_and_the_others_still_receive(
    ws: Harness, writer: dict[str, str]
) -> None:
    readers = [
        ws.session(make_key(ws.svc, [Scope.READ_THREATS]), ["threats"])
        for _ in range(3)
    ]
    stale = readers[1]
    stale_key = ws.realtime.store.get(stale)
    assert stale_key is not None and stale_key.key_id is not None
    ws.management.vanish(stale)  # GoneException from now on, no $disconnect

    report_threat(ws, writer)

    assert len(ws.management.take(readers[0])) == 1
    assert len(ws.management.take(readers[2])) == 1
    assert ws.realtime.store.get(stale) is None
    assert ws.realtime.store.get(readers[0]) is not None
    assert ws.realtime.slots.holders(stale_key.key_id) == {}
    subscribers = [c for p in ws.realtime.store.subscribers("threats") for c in p]
    assert sorted(subscribers) == sorted([readers[0], readers[2]])


def test_throttled_post_is_counted_as_failed_and_the_connection_kept(
    ws: Harness,
) -> None:
    ok = ws.session(make_key(ws.svc, [Scope.READ_ANALYTICS]), ["system"])
    throttled = ws.session(make_key(ws.svc, [Scope.READ_ANALYTICS]), ["system"])
    ws.management.throttled.add(throttled)

    report = ws.realtime.publish_status()

    assert (report.delivered, report.failed, report.gone) == (1, 1, [])
    assert ws.realtime.store.get(throttled) is not None
    assert len(ws.management.take(ok)) == 1


MANAGEMENT_FAULTS = {
    "endpoint-unreachable": EndpointConnectionError(
        endpoint_url="https://abc123.execute-api.us-east-1.amazonaws.com"
    ),
    "connect-timeout": ConnectTimeoutError(
        endpoint_url="https://abc123.execute-api.us-east-1.amazonaws.com"
    ),
    "internal-server-error": client_error(
        "InternalServerErrorException", 500, "PostToConnection"
    ),
}


def test_management_api_down_mid_fan_out_keeps_the_others_served_and_the_frame(
    ws: Harness, writer: dict[str, str]
) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS], Tier.BASIC)
    healthy = [ws.session(headers, ["threats"]) for _ in range(2)]
    unlucky = {ws.session(headers, ["threats"]): e for e in MANAGEMENT_FAULTS.values()}
    ws.management.failing.update(unlucky)

    threat = report_threat(ws, writer)  # through the outbox; nothing raises

    for connection in healthy:
        (update,) = ws.management.take(connection)
        assert (update["seq"], update["threat"]) == (1, threat)
    for connection in unlucky:
        assert ws.management.take(connection) == []
        # Kept: a failed post is not a gone client.
        assert ws.realtime.store.get(connection) is not None
    subscribers = [c for p in ws.realtime.store.subscribers("threats") for c in p]
    assert sorted(subscribers) == sorted([*healthy, *unlucky])
    assert ws.svc.dispatcher.dispatch_pending().delivered == 0
    assert ws.management.take(healthy[0]) == []

    # The API is back: each connection that missed the frame resumes it.
    ws.management.failing.clear()
    for connection in unlucky:
        answer = ws.ask(
            connection,
            {"type": "subscribe", "channels": ["threats"], "since": {"threats": 0}},
        )
        (replayed,) = of_type(answer, "threat_update")
        assert (replayed["seq"], replayed["threat"]) == (1, threat)
        assert answer[-1]["complete"] is True


def test_redelivered_event_keeps_its_seq_and_is_not_posted_twice(
    ws: Harness,
) -> None:
    reader = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), ["threats"])
    sink = RealtimeSink(ws.realtime)
    event = DomainEvent("threat.detected", {"threat": {"threat_id": "thr_1"}}, 1.0)

    sink.deliver(event)
    sink.deliver(event)

    assert [f["seq"] for f in ws.management.take(reader)] == [1]
    assert ws.realtime.journal.latest("threats") == 1


def test_event_whose_fan_out_was_interrupted_is_posted_again_with_its_seq(
    ws: Harness,
) -> None:
    reader = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), ["threats"])
    event = DomainEvent("threat.detected", {"threat": {"threat_id": "thr_1"}}, 1.0)
    # A process numbered and stored the frame, then died before posting it.
    ws.realtime.journal.append("threats", lambda seq: "{}", event.event_id)

    RealtimeSink(ws.realtime).deliver(event)

    (update,) = ws.management.take(reader)
    assert update["seq"] == 1
    assert update["threat"] == {"threat_id": "thr_1"}


def test_events_that_are_not_realtime_business_are_ignored(ws: Harness) -> None:
    reader = ws.session(make_key(ws.svc, [Scope.ADMIN]), ["threats", "system"])

    RealtimeSink(ws.realtime).deliver(
        DomainEvent("quota.warning", {"owner_id": "org_a"}, 1.0)
    )

    assert ws.management.take(reader) == []


def test_vr_session_update_reaches_its_owner_and_admins_only(ws: Harness) -> None:
    scopes = [Scope.READ_VR_SESSIONS, Scope.WRITE_VR_SESSIONS]
    starter = make_key(ws.svc, scopes, Tier.BASIC, owner="org_a")
    colleague = ws.session(make_key(ws.svc, scopes, owner="org_a"), ["vr_sessions"])
    stranger = ws.session(make_key(ws.svc, scopes, owner="org_b"), ["vr_sessions"])
    admin = ws.session(
        make_key(ws.svc, [Scope.ADMIN], owner="org_ops"), ["vr_sessions"]
    )

    session = ws.rest("POST", "/api/vr/sessions", starter, SESSION)
    ws.dispatch()

    (update,) = ws.management.take(colleague)
    assert update["type"] == "vr_session_update"
    assert update["channel"] == "vr_sessions"
    assert update["session"]["session_id"] == session["session_id"]
    assert update["event_type"] == "vr.session.started"
    assert ws.management.take(stranger) == []
    (seen_by_admin,) = ws.management.take(admin)
    assert seen_by_admin["session"] == update["session"]


def test_resume_replays_missed_updates_in_order(
    ws: Harness, writer: dict[str, str]
) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS])
    first = ws.session(headers, ["threats"])
    report_threat(ws, writer, "seen")
    last_seen = ws.management.take(first)[-1]["seq"]
    ws.disconnect(first)
    missed = [report_threat(ws, writer, f"missed-{n}") for n in range(3)]

    again = ws.session(headers, [])
    answer = ws.ask(
        again,
        {"type": "subscribe", "channels": ["threats"], "since": {"threats": last_seen}},
    )

    assert answer[0] == {
        "type": "subscribed",
        "channels": ["threats"],
        "seq": {"threats": 4},
    }
    replayed = of_type(answer, "threat_update")
    assert [f["seq"] for f in replayed] == [2, 3, 4]
    assert [f["threat"]["threat_id"] for f in replayed] == [
        t["threat_id"] for t in missed
    ]
    assert answer[-1] == {
        "type": "resumed",
        "channel": "threats",
        "since": 1,
        "replayed": 3,
        "latest_seq": 4,
        "complete": True,
    }


def test_resume_after_the_window_reports_a_gap(
    ws: Harness, writer: dict[str, str]
) -> None:
    headers = make_key(ws.svc, [Scope.READ_THREATS])
    report_threat(ws, writer)
    ws.clock.advance(journal.RESUME_WINDOW_SECONDS + 1)

    again = ws.session(headers, [])
    answer = ws.ask(
        again, {"type": "subscribe", "channels": ["threats"], "since": {"threats": 0}}
    )

    assert of_type(answer, "threat_update") == []
    assert answer[-1]["complete"] is False


def test_resume_replays_at_most_the_newest_frames(
    ws: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "RESUME_MAX_FRAMES", 3)
    for n in range(5):
        ws.realtime.journal.append("system", lambda seq, n=n: f'{{"n": {n}}}')

    replay = ws.realtime.journal.since("system", 0)

    assert replay.frames == ['{"n": 2}', '{"n": 3}', '{"n": 4}']
    assert replay.complete is False
    assert ws.realtime.journal.since("system", 2).complete is True


def test_resume_since_the_latest_seq_replays_nothing(ws: Harness) -> None:
    ws.realtime.publish_status()
    connection = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), [])

    answer = ws.ask(
        connection,
        {"type": "subscribe", "channels": ["system"], "since": {"system": 1}},
    )

    assert answer[-1]["replayed"] == 0
    assert answer[-1]["complete"] is True


def test_stream_threats_sends_a_snapshot_then_live_updates(
    ws: Harness, writer: dict[str, str], threats: StaticThreats
) -> None:
    threats.threats = [{"threat_id": f"thr_{n}"} for n in range(5)]
    connection = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), [])

    answer = ws.ask(connection, {"type": "stream_threats", "limit": 2, "id": "s1"})

    assert answer == [
        {
            "type": "threat_snapshot",
            "reply_to": "s1",
            "channel": "threats",
            "seq": 0,
            "threats": [{"threat_id": "thr_0"}, {"threat_id": "thr_1"}],
        }
    ]
    report_threat(ws, writer)
    assert of_type(ws.management.take(connection), "threat_update")


def test_stream_threats_without_the_scope_is_refused_naming_the_channel(
    ws: Harness,
) -> None:
    connection = ws.session(make_key(ws.svc, [Scope.READ_VR_SESSIONS]), [])

    answer = ws.ask(connection, {"type": "stream_threats"})

    assert answer[0]["code"] == "insufficient_permissions"
    assert answer[0]["channel"] == "threats"


def test_unsubscribed_connection_no_longer_receives(
    ws: Harness, writer: dict[str, str]
) -> None:
    connection = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), ["threats"])
    ws.ask(connection, {"type": "unsubscribe", "channels": ["threats"]})

    report_threat(ws, writer)

    assert ws.management.take(connection) == []


def test_revoking_a_key_closes_its_connections(ws: Harness) -> None:
    admin = make_key(ws.svc, [Scope.ADMIN], Tier.ENTERPRISE, owner="org_admin")
    doomed = make_key(ws.svc, [Scope.READ_THREATS], Tier.BASIC)
    survivor = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), ["threats"])
    connections = [ws.session(doomed, ["threats"]) for _ in range(2)]

    ws.rest("DELETE", f"/api/keys/{doomed['X-API-Key-ID']}", admin)
    ws.dispatch()

    for connection in connections:
        assert ws.management.take(connection)[-1]["code"] == "api_key_revoked"
        assert connection in ws.management.closed
        assert ws.realtime.store.get(connection) is None
    assert survivor not in ws.management.closed
    assert ws.realtime.slots.holders(doomed["X-API-Key-ID"]) == {}


def test_broadcast_without_an_endpoint_is_kept_for_resume(ws: Harness) -> None:
    reader = ws.session(make_key(ws.svc, [Scope.READ_ANALYTICS]), ["system"])
    ws.realtime.endpoints = Endpoints(None, unreachable)

    report = ws.realtime.publish_status()

    assert report.recipients == 0
    assert ws.management.take(reader) == []
    assert len(ws.realtime.journal.since("system", 0).frames) == 1


def test_endpoint_learned_from_a_websocket_event_serves_broadcasts(
    ws: Harness,
) -> None:
    dialled: list[str] = []

    def connect(url: str) -> ManagementApi:
        dialled.append(url)
        return ManagementApi(ws.management)

    ws.realtime.endpoints = Endpoints(None, connect, ws.realtime.store)
    reader = ws.session(make_key(ws.svc, [Scope.READ_ANALYTICS]), ["system"])
    # Another container, which has seen no WebSocket event yet.
    ws.realtime.endpoints = Endpoints(None, connect, ws.realtime.store)

    ws.schedule("system_status")

    assert ws.management.take(reader)[0]["type"] == "system_status"
    assert set(dialled) == {"https://abc123.execute-api.us-east-1.amazonaws.com/local"}


def unreachable(url: str) -> ManagementApi:
    raise AssertionError(f"nothing should dial {url}")


def test_revoking_a_key_ends_its_vr_sessions_and_no_others(ws: Harness) -> None:
    admin = make_key(ws.svc, [Scope.ADMIN], Tier.ENTERPRISE, owner="org_admin")
    scopes = [Scope.WRITE_VR_SESSIONS, Scope.READ_VR_SESSIONS]
    doomed = make_key(ws.svc, scopes, Tier.BASIC, owner="org_vr")
    colleague = make_key(ws.svc, scopes, Tier.BASIC, owner="org_vr")
    watcher = ws.session(colleague, ["vr_sessions"])
    started = [ws.rest("POST", "/api/vr/sessions", doomed, SESSION) for _ in range(2)]
    kept = ws.rest("POST", "/api/vr/sessions", colleague, SESSION)
    ws.dispatch()
    ws.management.take(watcher)

    ws.rest("DELETE", f"/api/keys/{doomed['X-API-Key-ID']}", admin)
    ws.dispatch()  # key.revoked: the sessions end, recording their events
    ws.dispatch()  # vr.session.ended, to subscribers

    def status(session: dict[str, Any]) -> str:
        path = f"/api/vr/sessions/{session['session_id']}"
        return str(ws.rest("GET", path, admin)["status"])

    assert [status(s) for s in started] == ["ended", "ended"]
    assert status(kept) == "active"
    updates = of_type(ws.management.take(watcher), "vr_session_update")
    assert sorted(u["session"]["session_id"] for u in updates) == sorted(
        s["session_id"] for s in started
    )
    assert {u["event_type"] for u in updates} == {"vr.session.ended"}


def test_a_redelivered_revocation_ends_nothing_more(ws: Harness) -> None:
    scopes = [Scope.WRITE_VR_SESSIONS]
    doomed = make_key(ws.svc, scopes, Tier.BASIC, owner="org_vr")
    ws.rest("POST", "/api/vr/sessions", doomed, SESSION)
    key_id = doomed["X-API-Key-ID"]

    first = ws.svc.sessions.end_for_key(key_id, "org_vr")
    again = ws.svc.sessions.end_for_key(key_id, "org_vr")

    assert len(first) == 1
    assert again == []
