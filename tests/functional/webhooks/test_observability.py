"""One request id, followed from ``POST /api/threats`` to its webhook delivery.

The REST request's id is the correlation id of the event it records, of the
event's dispatch, of the queue messages of its delivery (every retry hop
included) and of each attempt's log line; the attempts are traced and
counted in EMF.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.events.outbox import DomainEvent
from chalicelib.policy import Scope, Tier
from chalicelib.webhooks.delivery import handle_batch
from chalicelib.webhooks.queue import DeliveryMessage
from local.sqs import QueueConsumer
from tests.functional.conftest import make_key
from tests.functional.webhooks.conftest import pump, register
from tests.functional.webhooks.receiver import Receiver
from tests.support.observe import (
    captured_logs,
    emf_documents,
    lines,
    metric_values,
    traced,
)

THREAT = {"type": "malware", "severity": "high", "target": "payments-db-01"}


@pytest.fixture
def writer(svc: services_module.Services) -> dict[str, str]:
    return make_key(
        svc, [Scope.READ_THREATS, Scope.WRITE_THREATS], Tier.ENTERPRISE, owner="org_a"
    )


def post_threat(client: Client, headers: dict[str, str]) -> Any:
    response = client.http.post(
        "/api/threats",
        headers={**headers, "Content-Type": "application/json"},
        body=json.dumps(THREAT),
    )
    assert response.status_code == 201, response.body
    return response


def test_the_post_request_id_is_the_correlation_id_of_its_webhook_delivery(
    client: Client,
    svc: services_module.Services,
    hooks: object,
    consumer: QueueConsumer,
    writer: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The first attempt fails, so the id must also survive the retry hop.
    receiver = Receiver(answers=[500]).start()
    try:
        endpoint = register(client, writer, receiver.url, ["threat.detected"])
        with captured_logs(caplog):
            post_threat(client, writer)
            (access,) = [
                line
                for line in lines(caplog, "request")
                if (line["method"], line["path"]) == ("POST", "/api/threats")
            ]
            svc.dispatcher.dispatch_pending()
            pump(consumer, lambda: len(receiver.received) == 2)
    finally:
        receiver.stop()

    request_id = access["request_id"]
    assert request_id.startswith("req_")
    event_id = json.loads(receiver.received[0].body)["event_id"]
    attempts = lines(caplog, "webhook_attempt")
    assert [a["result"] for a in attempts] == ["pending", "succeeded"]
    for attempt in attempts:
        assert attempt["correlation_id"] == request_id
        assert attempt["event_id"] == event_id
        assert attempt["webhook_id"] == endpoint["webhook_id"]
        assert attempt["delivery_id"].startswith("dlv_")
    (dispatched,) = [
        d for d in lines(caplog, "event_dispatch") if d["event_id"] == event_id
    ]
    assert (dispatched["correlation_id"], dispatched["result"]) == (request_id, "ok")
    (queued,) = lines(caplog, "webhook_queued")
    assert queued["correlation_id"] == request_id
    # Each line also names the Lambda invocation that wrote it.
    assert access["aws_request_id"]
    for attempt in attempts:
        assert attempt["aws_request_id"] == consumer.context.aws_request_id
    assert consumer.context.aws_request_id != access["aws_request_id"]
    # The public body is unchanged: the correlation id is not in it.
    assert set(json.loads(receiver.received[0].body)) == {
        "event_type",
        "event_id",
        "timestamp",
        "data",
    }


def test_a_delivery_attempt_is_traced_and_counted_by_outcome(
    svc: services_module.Services,
    hooks: Any,
    consumer: QueueConsumer,
    client: Client,
    writer: dict[str, str],
) -> None:
    receiver = Receiver(answers=[500]).start()
    try:
        register(client, writer, receiver.url)
        event = DomainEvent("threat.detected", {"owner_id": "org_a"}, 1.0)
        hooks.sink.deliver(event)
        with traced() as recorder, emf_documents() as documents:
            pump(consumer, lambda: len(receiver.received) == 2)
    finally:
        receiver.stop()

    assert recorder.names() == ["webhook.delivery", "webhook.delivery"]
    first = recorder.opened[0].annotations
    assert first["correlation_id"] == event.correlation_id
    assert first["attempt"] == 1
    retried, succeeded = [d for d in documents if "DeliveryMessages" in d]
    assert (retried["Result"], retried["DeliveryMessages"]) == ("retried", 1)
    assert (succeeded["Result"], succeeded["DeliveryMessages"]) == ("succeeded", 1)
    attempts = [d for d in documents if "DeliveryAttempts" in d]
    assert [(d["Outcome"], d["DeliveryAttempts"]) for d in attempts] == [
        ("failed", 1),
        ("succeeded", 1),
    ]
    for document in attempts:
        aws = document["_aws"]["CloudWatchMetrics"][0]
        assert aws["Namespace"] == "JupiterAPI"
        assert aws["Dimensions"] == [["Stage"], ["Stage", "Outcome"]]
        assert document["Stage"] == "local"
    assert sum(metric_values(documents, "DeliveryAttempts")) == 2


def test_a_batch_writes_one_metrics_document_per_outcome(
    aws_env: dict[str, str],
    svc: services_module.Services,
    hooks: Any,
    client: Client,
    writer: dict[str, str],
) -> None:
    receiver = Receiver().start()
    try:
        register(client, writer, receiver.url)
        for _ in range(3):
            hooks.sink.deliver(DomainEvent("threat.detected", {"owner_id": "org_a"}, 1))
        queued = aws.sqs().receive_message(
            QueueUrl=aws_env["JUPITER_WEBHOOK_QUEUE_URL"], MaxNumberOfMessages=10
        )["Messages"]
        assert len(queued) == 3
        with emf_documents() as documents:
            handle_batch(hooks.deliverer, ((m["MessageId"], m["Body"]) for m in queued))
    finally:
        receiver.stop()

    assert len(receiver.received) == 3
    assert [(d.get("Result"), d.get("Outcome")) for d in documents] == [
        ("succeeded", None),
        (None, "succeeded"),
    ]
    assert metric_values(documents, "DeliveryMessages") == [3]
    assert metric_values(documents, "DeliveryAttempts") == [3]


def test_a_retry_hop_and_the_dead_letter_keep_the_correlation_id(
    aws_env: dict[str, str],
    svc: services_module.Services,
    hooks: Any,
    consumer: QueueConsumer,
    client: Client,
    writer: dict[str, str],
) -> None:
    receiver = Receiver(default=500).start()
    try:
        register(client, writer, receiver.url)
        event = DomainEvent("threat.detected", {"owner_id": "org_a"}, 1.0)
        hooks.sink.deliver(event)
        pump(consumer, lambda: len(receiver.received) == 3)
        pump(consumer, lambda: consumer.poll_once() == 0)
    finally:
        receiver.stop()

    response = aws.sqs().receive_message(QueueUrl=aws_env["JUPITER_WEBHOOK_DLQ_URL"])
    (dead,) = [json.loads(m["Body"]) for m in response["Messages"]]
    assert dead["correlation_id"] == event.correlation_id
    assert dead["event_id"] == event.event_id
    assert DeliveryMessage.from_json(json.dumps(dead)).attempt == 3
