"""Faults around webhook delivery: SQS down at dispatch, a receiver that hangs.

Each test injects the fault, checks what the service did about it, and then
checks that nothing was lost: the event reaches the receiver exactly once
more after the fault ends, with the same ``webhook-id``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.dynamo import from_item
from chalicelib.policy import Scope, Tier
from chalicelib.webhooks.deliveries import delivery_id_for
from local.sqs import QueueConsumer
from tests.functional.conftest import make_key
from tests.functional.webhooks.conftest import call, install, pump, register
from tests.functional.webhooks.receiver import Receiver

THREAT = {"type": "malware", "severity": "high", "target": "payments-db-01"}


class FlakySqs:
    """The real SQS client, except that ``send_message`` fails while ``down``."""

    def __init__(self, inner: Any, error: Exception) -> None:
        self._inner = inner
        self._error = error
        self.down = False
        self.refused = 0

    def send_message(self, **kwargs: Any) -> Any:
        if self.down:
            self.refused += 1
            raise self._error
        return self._inner.send_message(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


SQS_FAULTS: dict[str, Exception] = {
    "endpoint-unreachable": EndpointConnectionError(
        endpoint_url="https://sqs.us-east-1.amazonaws.com"
    ),
    "service-unavailable": ClientError(
        {
            "Error": {"Code": "ServiceUnavailable", "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": 503},
        },
        "SendMessage",
    ),
}


def event_rows(svc: services_module.Services, event_type: str) -> list[Any]:
    items = aws.dynamodb().scan(TableName=svc.settings.events_table)["Items"]
    rows = [from_item(item) for item in items]
    return [row for row in rows if row["event_type"] == event_type]


def report_threat(client: Client, svc: services_module.Services) -> dict[str, Any]:
    """Report a threat of org_a through the API; return its pending event row."""
    reporter = make_key(svc, [Scope.WRITE_THREATS], Tier.ENTERPRISE, owner="org_a")
    status, threat = call(client, "POST", "/api/threats", reporter, THREAT)
    assert status == 201, threat
    (row,) = event_rows(svc, "threat.detected")
    assert row["dispatch"] == "pending"
    return row


@pytest.mark.parametrize("fault", list(SQS_FAULTS))
def test_sqs_down_at_dispatch_keeps_the_event_pending_then_delivers_it_once(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    consumer: QueueConsumer,
    receiver: Receiver,
    fault: str,
) -> None:
    sqs = FlakySqs(aws.sqs(), SQS_FAULTS[fault])
    hooks = install(svc, sqs=sqs)
    endpoint = register(client, key, receiver.url, ["threat.detected"])
    row = report_threat(client, svc)
    event_id = row["event_id"]

    sqs.down = True
    for attempt in (1, 2):
        report = svc.dispatcher.dispatch_pending()
        assert (report.delivered, report.failed) == (0, 1)
        (kept,) = event_rows(svc, "threat.detected")
        assert kept["dispatch"] == "pending"
        assert kept["attempts"] == attempt
        assert kept["last_error"] == "StoreUnavailable"
    assert sqs.refused == 2
    # The delivery is on record, not yet queued: the next dispatch queues it.
    recorded = hooks.deliveries.get(
        endpoint["webhook_id"], delivery_id_for(event_id, endpoint["webhook_id"])
    )
    assert recorded is not None and recorded.enqueued_at is None
    assert consumer.poll_once() == 0
    assert receiver.received == []

    sqs.down = False
    report = svc.dispatcher.dispatch_pending()
    assert (report.delivered, report.failed) == (1, 0)
    (dispatched,) = event_rows(svc, "threat.detected")
    assert "dispatch" not in dispatched
    pump(consumer, lambda: len(receiver.received) == 1)
    pump(consumer, lambda: consumer.poll_once() == 0)
    assert svc.dispatcher.dispatch_pending().delivered == 0

    (delivered,) = receiver.received
    assert delivered.headers["webhook-id"] == event_id
    assert json.loads(delivered.body)["event_id"] == event_id
    path = f"/api/webhooks/{endpoint['webhook_id']}/deliveries"
    _status, log = call(client, "GET", path, key)
    assert [(a["attempt"], a["outcome"]) for a in log["attempts"]] == [(1, "succeeded")]


def test_a_receiver_that_hangs_times_out_and_the_retry_delivers(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    consumer: QueueConsumer,
) -> None:
    install(svc, JUPITER_WEBHOOK_TIMEOUT_SECONDS="1")
    receiver = Receiver(hang=1, default=200).start()
    try:
        endpoint = register(client, key, receiver.url, ["threat.detected"])
        event_id = report_threat(client, svc)["event_id"]
        assert svc.dispatcher.dispatch_pending().delivered == 1

        # Attempt 1 is accepted and never answered; attempt 2 is due 1 s after
        # it timed out (the compressed schedule) and is answered 200.
        pump(consumer, lambda: len(receiver.received) == 2, timeout=60)
        pump(consumer, lambda: consumer.poll_once() == 0)
    finally:
        receiver.stop()

    hung, answered = receiver.received
    assert (hung.answered, answered.answered) == (0, 200)
    assert hung.headers["webhook-id"] == answered.headers["webhook-id"] == event_id
    assert hung.body == answered.body
    # The timeout bounds the first attempt; the retry waits out the schedule.
    assert answered.at - hung.at >= 1.8
    path = f"/api/webhooks/{endpoint['webhook_id']}/deliveries"
    _status, log = call(client, "GET", path, key)
    attempts = log["attempts"]
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in attempts] == [
        (2, "succeeded", 200),
        (1, "failed", None),
    ]
    assert attempts[1]["error"] == "timed out"
    assert attempts[1]["next_attempt_at"] is not None
    state_path = f"{path}/{attempts[0]['delivery_id']}"
    _status, state = call(client, "GET", state_path, key)
    assert (state["status"], state["attempts"]) == ("succeeded", 2)
