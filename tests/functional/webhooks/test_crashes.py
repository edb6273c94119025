"""Crash injection: nothing is lost, and every duplicate carries the same webhook-id.

Crashes are injected with subclasses of the real collaborators that raise at
the chosen point (a process dying there leaves the same state behind).
Redelivery after a crash is what SQS does once the visibility timeout ends;
the tests shorten that timeout to one second and move the service clock past
the attempt's lease.
"""

from __future__ import annotations

import json
import time

import pytest
from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.events.outbox import DomainEvent
from chalicelib.webhooks.deliveries import (
    SUCCEEDED,
    Attempt,
    Delivery,
    DeliveryStore,
    Outcome,
)
from chalicelib.webhooks.delivery import BatchFailed
from chalicelib.webhooks.queue import DeliveryMessage, DeliveryQueue
from chalicelib.webhooks.sink import WebhookSink
from chalicelib.webhooks.wiring import Webhooks
from local.sqs import QueueConsumer
from tests.functional.conftest import make_key
from tests.functional.webhooks.conftest import (
    build_deliverer,
    call,
    install,
    pump,
    register,
)
from tests.functional.webhooks.receiver import Receiver


class Crash(RuntimeError):
    """The injected failure."""


class CrashBeforeRecordingSuccess(DeliveryStore):
    """Dies once, after the POST, when about to record its success."""

    crashed = False

    def record(
        self, delivery: Delivery, attempt: Attempt, outcome: Outcome, now_ms: int
    ) -> None:
        if outcome.status == SUCCEEDED and not self.crashed:
            self.crashed = True
            raise Crash("died after the POST")
        super().record(delivery, attempt, outcome, now_ms)


class QueueDyingOnSend(DeliveryQueue):
    """Fails on the n-th send (1-based), then works again."""

    def __init__(self, real: DeliveryQueue, fail_on: int) -> None:
        self.__dict__.update(real.__dict__)
        self.sends = 0
        self.fail_on = fail_on

    def send(self, message: DeliveryMessage, delay_seconds: int = 0) -> None:
        self.sends += 1
        if self.sends == self.fail_on:
            raise Crash("died while queueing")
        super().send(message, delay_seconds)


class StoreDyingBeforeMarking(DeliveryStore):
    """Dies once between queueing a delivery and noting that it is queued."""

    crashed = False

    def mark_enqueued(self, webhook_id: str, delivery_id: str, now_ms: int) -> None:
        if not self.crashed:
            self.crashed = True
            raise Crash("died after queueing")
        super().mark_enqueued(webhook_id, delivery_id, now_ms)


def short_visibility(env: dict[str, str]) -> None:
    aws.sqs().set_queue_attributes(
        QueueUrl=env["JUPITER_WEBHOOK_QUEUE_URL"],
        Attributes={"VisibilityTimeout": "1"},
    )


def test_a_handler_dying_after_the_post_sends_again_with_the_same_webhook_id(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    aws_env: dict[str, str],
    consumer: QueueConsumer,
    receiver: Receiver,
) -> None:
    clock = FixedClock(time.time())
    hooks = install(svc, clock=clock)
    store = CrashBeforeRecordingSuccess(
        aws.dynamodb(), aws_env["JUPITER_WEBHOOK_DELIVERIES_TABLE"]
    )
    hooks.deliverer = build_deliverer(aws_env, clock=clock, deliveries=store)
    short_visibility(aws_env)
    endpoint = register(client, key, receiver.url)
    sent = DomainEvent("threat.detected", {"owner_id": "org_a"}, clock.now())
    hooks.sink.deliver(sent)

    with pytest.raises(BatchFailed):
        consumer.poll_once()
    assert len(receiver.received) == 1
    time.sleep(1.1)  # the visibility timeout ends: SQS delivers it again
    clock.advance(60)  # and the dead handler's lease has run out
    pump(consumer, lambda: len(receiver.received) == 2)

    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.headers["webhook-id"] == sent.event_id
    assert first.body == second.body
    path = f"/api/webhooks/{endpoint['webhook_id']}/deliveries"
    _status, log = call(client, "GET", path, key)
    assert [a["outcome"] for a in log["attempts"]] == ["succeeded"]


def test_a_copy_of_a_message_after_recorded_success_sends_nothing(
    client: Client,
    key: dict[str, str],
    hooks: Webhooks,
    aws_env: dict[str, str],
    consumer: QueueConsumer,
    receiver: Receiver,
) -> None:
    endpoint = register(client, key, receiver.url)
    sent = DomainEvent("threat.detected", {"owner_id": "org_a"}, time.time())
    target = hooks.endpoints.get(endpoint["webhook_id"])
    assert target is not None
    delivery = hooks.sink.enqueue(sent, target)
    pump(consumer, lambda: len(receiver.received) == 1)
    # SQS is at least once: the same message may arrive again, even much later.
    copy = DeliveryMessage(endpoint["webhook_id"], delivery.delivery_id, 1, 0, 0)
    for _ in range(2):
        aws.sqs().send_message(
            QueueUrl=aws_env["JUPITER_WEBHOOK_QUEUE_URL"], MessageBody=copy.to_json()
        )
    pump(consumer, lambda: consumer.poll_once() == 0)
    assert len(receiver.received) == 1


def test_a_second_handler_waits_while_the_first_holds_the_lease(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    aws_env: dict[str, str],
    receiver: Receiver,
) -> None:
    clock = FixedClock(time.time())
    hooks = install(svc, clock=clock)
    endpoint = register(client, key, receiver.url)
    sent = DomainEvent("threat.detected", {"owner_id": "org_a"}, clock.now())
    target = hooks.endpoints.get(endpoint["webhook_id"])
    assert target is not None
    delivery = hooks.sink.enqueue(sent, target)
    store = DeliveryStore(aws.dynamodb(), aws_env["JUPITER_WEBHOOK_DELIVERIES_TABLE"])
    # The first handler claims the attempt (and, say, is still sending).
    store.claim(
        endpoint["webhook_id"], delivery.delivery_id, 1, int(clock.at * 1000), 20_000
    )
    message = DeliveryMessage(endpoint["webhook_id"], delivery.delivery_id, 1, 0, 0)
    handled = hooks.deliverer.handle(message)
    assert handled.result == "leased"
    assert receiver.received == []
    clock.advance(30)
    assert hooks.deliverer.handle(message).result == "succeeded"
    assert len(receiver.received) == 1


def test_a_sink_dying_mid_batch_loses_nothing_when_the_event_is_dispatched_again(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    aws_env: dict[str, str],
    consumer: QueueConsumer,
) -> None:
    hooks = install(svc)
    receivers = [Receiver().start() for _ in range(3)]
    try:
        for receiver in receivers:
            register(client, key, receiver.url)
        dying = WebhookSink(
            hooks.endpoints,
            hooks.deliveries,
            QueueDyingOnSend(hooks.queue, fail_on=2),
            svc.clock,
        )
        sent = DomainEvent("vr.session.started", {"owner_id": "org_a"}, time.time())
        with pytest.raises(Crash):
            dying.deliver(sent)
        hooks.sink.deliver(sent)  # the dispatcher calls again: the event is pending
        hooks.sink.deliver(sent)  # and once more, as at-least-once allows
        pump(consumer, lambda: all(len(r.received) == 1 for r in receivers))
        pump(consumer, lambda: consumer.poll_once() == 0)
        assert [len(r.received) for r in receivers] == [1, 1, 1]
    finally:
        for receiver in receivers:
            receiver.stop()


def test_a_sink_dying_after_queueing_duplicates_but_sends_once(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    aws_env: dict[str, str],
    consumer: QueueConsumer,
    receiver: Receiver,
) -> None:
    hooks = install(svc)
    register(client, key, receiver.url)
    dying = WebhookSink(
        hooks.endpoints,
        StoreDyingBeforeMarking(
            aws.dynamodb(), aws_env["JUPITER_WEBHOOK_DELIVERIES_TABLE"]
        ),
        hooks.queue,
        svc.clock,
    )
    sent = DomainEvent("vr.session.ended", {"owner_id": "org_a"}, time.time())
    with pytest.raises(Crash):
        dying.deliver(sent)
    hooks.sink.deliver(sent)  # queues the delivery a second time
    depth = aws.sqs().get_queue_attributes(
        QueueUrl=aws_env["JUPITER_WEBHOOK_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "2"
    pump(consumer, lambda: consumer.poll_once() == 0 and len(receiver.received) >= 1)
    assert len(receiver.received) == 1
    assert json.loads(receiver.received[0].body)["event_id"] == sent.event_id


def test_a_threat_reported_through_the_api_reaches_the_webhook_via_the_dispatcher(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    consumer: QueueConsumer,
    receiver: Receiver,
) -> None:
    from chalicelib.policy import Scope, Tier

    hooks = install(svc)
    register(client, key, receiver.url, ["threat.detected"])
    reporter = make_key(svc, [Scope.WRITE_THREATS], Tier.ENTERPRISE, owner="org_a")
    body = {"type": "malware", "severity": "high", "target": "payments-db-01"}
    status, threat = call(client, "POST", "/api/threats", reporter, body)
    assert status == 201, threat

    assert svc.dispatcher.dispatch_pending().delivered >= 1
    pump(consumer, lambda: len(receiver.received) == 1)
    delivered = json.loads(receiver.received[0].body)
    assert delivered["event_type"] == "threat.detected"
    assert delivered["data"]["owner_id"] == "org_a"
    assert hooks.sink is svc.sinks[-1]


def test_the_dispatcher_retries_an_event_whose_webhook_sink_failed(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    consumer: QueueConsumer,
) -> None:
    from chalicelib.policy import Scope, Tier

    hooks = install(svc)
    receivers = [Receiver().start() for _ in range(2)]
    try:
        for receiver in receivers:
            register(client, key, receiver.url)
        dying = WebhookSink(
            hooks.endpoints,
            hooks.deliveries,
            QueueDyingOnSend(hooks.queue, fail_on=2),
            svc.clock,
        )
        svc.sinks[svc.sinks.index(hooks.sink)] = dying
        reporter = make_key(svc, [Scope.WRITE_THREATS], Tier.ENTERPRISE, owner="org_a")
        body = {"type": "ddos", "severity": "critical", "target": "edge-01"}
        assert call(client, "POST", "/api/threats", reporter, body)[0] == 201

        first = svc.dispatcher.dispatch_pending()
        assert (first.delivered, first.failed) == (0, 1)
        second = svc.dispatcher.dispatch_pending()
        assert (second.delivered, second.failed) == (1, 0)
        pump(consumer, lambda: all(len(r.received) == 1 for r in receivers))
        pump(consumer, lambda: consumer.poll_once() == 0)
        assert [len(r.received) for r in receivers] == [1, 1]
    finally:
        for receiver in receivers:
            receiver.stop()
