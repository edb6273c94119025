"""The fan-out of a request's event names the request; it is traced and counted."""

from __future__ import annotations

import pytest

from chalicelib.policy import Scope, Tier
from tests.functional.conftest import make_key
from tests.functional.realtime.conftest import Harness
from tests.support.observe import (
    captured_logs,
    emf_documents,
    lines,
    metric_values,
    traced,
)

THREAT = {"type": "malware", "severity": "high", "target": "payments-db-01"}


def test_the_post_request_id_is_the_correlation_id_of_its_fan_out(
    ws: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    writer = make_key(ws.svc, [Scope.WRITE_THREATS], Tier.ENTERPRISE, owner="org_a")
    reader = ws.session(make_key(ws.svc, [Scope.READ_THREATS]), ["threats"])

    with captured_logs(caplog):
        ws.rest("POST", "/api/threats", writer, THREAT)
        ws.dispatch()

    (access,) = [
        line
        for line in lines(caplog, "request")
        if (line["method"], line["path"]) == ("POST", "/api/threats")
    ]
    (update,) = ws.management.take(reader)
    (fanout,) = lines(caplog, "fanout")
    assert fanout["correlation_id"] == access["request_id"]
    assert fanout["event_id"] == update["event_id"]
    assert (fanout["topic"], fanout["recipients"], fanout["delivered"]) == (
        "threats",
        1,
        1,
    )


def test_a_fan_out_is_traced_and_counted_with_its_size(ws: Harness) -> None:
    readers = [
        ws.session(make_key(ws.svc, [Scope.READ_ANALYTICS]), ["system"])
        for _ in range(3)
    ]
    ws.management.vanish(readers[0])
    ws.management.throttled.add(readers[1])

    with traced() as recorder, emf_documents() as documents:
        ws.schedule("system_status")

    assert recorder.names() == ["realtime.fanout"]
    assert recorder.opened[0].annotations["topic"] == "system"
    # Each post ran on a pool thread inside the broadcast's subsegment.
    assert len(recorder.carried) == 3
    assert all(entity is recorder.opened[0] for _, entity in recorder.carried)
    assert all(thread.startswith("fanout") for thread, _ in recorder.carried)
    # A schedule is no request: its own fresh correlation id.
    assert recorder.opened[0].annotations["correlation_id"].startswith("cor_")
    (document,) = documents
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stage"]]
    assert document["Fanouts"] == 1
    assert document["FanoutRecipients"] == 3
    assert (document["FanoutDelivered"], document["FanoutGone"]) == (1, 1)
    assert document["FanoutFailed"] == 1
    assert metric_values(documents, "FanoutRecipients") == [3]


def test_each_broadcast_of_a_dispatch_run_is_one_recipients_value(
    ws: Harness,
) -> None:
    writer = make_key(ws.svc, [Scope.WRITE_THREATS], Tier.ENTERPRISE, owner="org_a")
    ws.session(make_key(ws.svc, [Scope.READ_THREATS]), ["threats"])
    ws.session(make_key(ws.svc, [Scope.READ_THREATS]), ["threats"])
    for target in ("db-1", "db-2"):
        ws.rest("POST", "/api/threats", writer, {**THREAT, "target": target})

    with emf_documents() as documents:
        ws.dispatch()

    (document,) = documents
    assert document["Fanouts"] == 2
    assert document["FanoutRecipients"] == [2, 2]
    assert document["FanoutDelivered"] == 4


def test_websocket_frames_carry_the_gateway_request_id(
    ws: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with captured_logs(caplog):
        connection = ws.connect()
        ws.send(connection, {"type": "ping"})

    (connected,) = lines(caplog, "ws_connected")
    (answered,) = lines(caplog, "ws_message")
    for line in (connected, answered):
        assert line["connection_id"] == connection
        assert line["correlation_id"].startswith("req_")
