"""The event outbox: one event per committed change, and the dispatcher.

Fault injection: a store that refuses the transaction leaves neither change
nor event, and a dispatcher that dies after a sink leaves the event pending
for the next run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.events.dispatcher import (
    MAX_ATTEMPTS,
    Dispatcher,
    dispatch_stream,
    sweep,
)
from chalicelib.events.outbox import DomainEvent
from chalicelib.policy import Scope, Tier
from tests.functional.conftest import make_key
from tests.functional.domain.conftest import Api, body, threat_body


def _events(svc: services_module.Services) -> list[dict[str, Any]]:
    client = aws.dynamodb()
    items = client.scan(TableName=svc.settings.events_table)["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def _domain_events(svc: services_module.Services) -> list[dict[str, Any]]:
    return [e for e in _events(svc) if e["event_type"].startswith(("threat.", "vr."))]


class RecordingSink:
    """Keeps each event it is given (idempotent per event_id)."""

    def __init__(self) -> None:
        self.events: dict[str, DomainEvent] = {}
        self.calls = 0

    def deliver(self, event: DomainEvent) -> None:
        self.calls += 1
        self.events[event.event_id] = event


class FailingSink:
    def deliver(self, event: DomainEvent) -> None:
        raise ConnectionError("receiver down")


class Crash(BaseException):
    """The process dying: nothing after it runs."""


class CrashingSink:
    def deliver(self, event: DomainEvent) -> None:
        raise Crash


def test_every_committed_change_yields_exactly_one_event(
    api: Api, writer: dict[str, str], domain_svc: services_module.Services
) -> None:
    sessions = make_key(
        domain_svc, [Scope.WRITE_VR_SESSIONS], Tier.BASIC, owner="org_vr"
    )
    threats = [body(api.post("/api/threats", writer, threat_body())) for _ in range(4)]
    for threat in threats[:2]:
        api.post(f"/api/threats/{threat['threat_id']}/resolve", writer)
    # A refused change (already resolved) records nothing.
    api.post(f"/api/threats/{threats[0]['threat_id']}/resolve", writer)
    session = body(
        api.post(
            "/api/vr/sessions", sessions, {"user_id": "u", "environment": "training"}
        )
    )
    api.post(f"/api/vr/sessions/{session['session_id']}/end", sessions)

    events = _domain_events(domain_svc)
    kinds = sorted(e["event_type"] for e in events)
    assert kinds == sorted(
        ["threat.detected"] * 4
        + ["threat.resolved"] * 2
        + ["vr.session.started", "vr.session.ended"]
    )
    detected = {
        json.loads(e["data"])["threat"]["threat_id"]
        for e in events
        if e["event_type"] == "threat.detected"
    }
    assert detected == {t["threat_id"] for t in threats}
    assert all(e["dispatch"] == "pending" for e in events)


class RefusingClient:
    """A DynamoDB client whose transactions fail, as if the store went away."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def transact_write_items(self, **kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "InternalServerError", "Message": "injected"}},
            "TransactWriteItems",
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_failed_write_leaves_neither_change_nor_event(
    api: Api, writer: dict[str, str], domain_svc: services_module.Services
) -> None:
    existing = body(api.post("/api/threats", writer, threat_body()))
    before = _events(domain_svc)
    refusing = RefusingClient(aws.dynamodb())
    domain_svc.threats._client = refusing  # type: ignore[assignment]

    created = api.post("/api/threats", writer, threat_body(severity="critical"))
    resolved = api.post(f"/api/threats/{existing['threat_id']}/resolve", writer)

    assert created.status_code == resolved.status_code == 503
    assert _events(domain_svc) == before
    listed = body(api.get("/api/threats", writer))["threats"]
    assert [t["threat_id"] for t in listed] == [existing["threat_id"]]
    assert listed[0]["status"] == "active"
    count = body(api.get("/api/analytics/threat_count?period=1h", writer))
    assert count["value"] == 1


def test_a_cancelled_transaction_writes_no_part_of_it(
    domain_svc: services_module.Services,
) -> None:
    # The event's condition fails (its id exists): the threat and the
    # counters in the same transaction must not be written either.
    client = aws.dynamodb()
    from chalicelib.events.outbox import put_event
    from chalicelib.transactions import Cancelled, commit

    event = DomainEvent("threat.detected", {}, domain_svc.clock.now())
    commit(client, [put_event(domain_svc.settings.events_table, event)])
    threat = {
        "Put": {
            "TableName": domain_svc.settings.threats_table,
            "Item": {"threat_id": {"S": "thr_" + "a" * 24}},
        }
    }
    with pytest.raises(Cancelled):
        commit(client, [threat, put_event(domain_svc.settings.events_table, event)])
    found = client.get_item(
        TableName=domain_svc.settings.threats_table,
        Key={"threat_id": {"S": "thr_" + "a" * 24}},
    )
    assert "Item" not in found


def test_dispatcher_delivers_each_pending_event_and_marks_it(
    api: Api, writer: dict[str, str], domain_svc: services_module.Services
) -> None:
    for _ in range(3):
        api.post("/api/threats", writer, threat_body())
    sink = RecordingSink()
    domain_svc.sinks.append(sink)

    report = domain_svc.dispatcher.dispatch_pending()

    assert report.delivered == 3
    assert {e.event_type for e in sink.events.values()} == {"threat.detected"}
    assert all("dispatch" not in e for e in _domain_events(domain_svc))
    assert domain_svc.dispatcher.dispatch_pending().delivered == 0


def test_dispatcher_dying_after_a_sink_redelivers_the_event(
    api: Api, writer: dict[str, str], domain_svc: services_module.Services
) -> None:
    api.post("/api/threats", writer, threat_body())
    first = RecordingSink()
    client = aws.dynamodb()
    table = domain_svc.settings.events_table
    dying = Dispatcher(client, table, domain_svc.clock, [first, CrashingSink()])

    with pytest.raises(Crash):
        dying.dispatch_pending()

    assert first.calls == 1
    assert all(e["dispatch"] == "pending" for e in _domain_events(domain_svc))
    again = RecordingSink()
    healthy = Dispatcher(client, table, domain_svc.clock, [first, again])
    assert healthy.dispatch_pending().delivered == 1
    assert first.calls == 2  # at least once: the first sink saw it twice
    assert set(again.events) == set(first.events)


def test_failing_sink_keeps_the_event_pending_then_parks_it(
    api: Api, writer: dict[str, str], domain_svc: services_module.Services
) -> None:
    api.post("/api/threats", writer, threat_body())
    recorder = RecordingSink()
    dispatcher = Dispatcher(
        aws.dynamodb(),
        domain_svc.settings.events_table,
        domain_svc.clock,
        [recorder, FailingSink()],
    )
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = dispatcher.dispatch_pending()
        assert report.failed == 1
        (event,) = _domain_events(domain_svc)
        assert int(event["attempts"]) == attempt
    assert event["dispatch"] == "failed"
    assert event["last_error"] == "ConnectionError"
    assert dispatcher.dispatch_pending().failed == 0


def test_sweep_and_stream_handler_use_the_registered_sinks(
    api: Api, writer: dict[str, str], domain_svc: services_module.Services
) -> None:
    sink = RecordingSink()
    domain_svc.sinks.append(sink)
    api.post("/api/threats", writer, threat_body())
    client = aws.dynamodb()
    (row,) = [
        item
        for item in client.scan(TableName=domain_svc.settings.events_table)["Items"]
        if item["event_type"]["S"] == "threat.detected"
    ]
    assert dispatch_stream([row]).delivered == 1
    assert len(sink.events) == 1
    # The same stream record again (a redelivered batch) is not dispatched twice.
    marked = client.get_item(
        TableName=domain_svc.settings.events_table, Key={"event_id": row["event_id"]}
    )["Item"]
    assert dispatch_stream([marked]).delivered == 0
    api.post("/api/threats", writer, threat_body())
    # With a stream configured, the sweep leaves fresh events to it.
    assert domain_svc.settings.events_stream_arn
    assert sweep().delivered == 0
    domain_svc.clock.advance(61)  # type: ignore[attr-defined]
    assert sweep().delivered == 1
    assert len(sink.events) == 2


class FailingUpdates:
    """Delegates to the real client, but every UpdateItem fails."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def update_item(self, **kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "InternalServerError", "Message": "injected"}},
            "UpdateItem",
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_failure_after_the_write_leaves_change_and_event_together(
    api: Api, writer: dict[str, str], domain_svc: services_module.Services
) -> None:
    # The threat's transaction commits, then storing the idempotent response
    # fails: the client sees a 503, but the change and its one event stand.
    store = domain_svc.idempotency._store
    store.client = FailingUpdates(aws.dynamodb())  # type: ignore[assignment]
    response = api.post(
        "/api/threats", writer, threat_body(), {"Idempotency-Key": "after-write"}
    )
    assert response.status_code == 503
    (threat,) = body(api.get("/api/threats", writer))["threats"]
    detected = [
        json.loads(e["data"])["threat"]["threat_id"]
        for e in _domain_events(domain_svc)
        if e["event_type"] == "threat.detected"
    ]
    assert detected == [threat["threat_id"]]
