"""Delivery end to end: event -> sink -> SQS (moto) -> handler -> local receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import standardwebhooks
import svix.webhooks
from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.events.outbox import DomainEvent
from chalicelib.webhooks.deliveries import DeliveryStore, delivery_id_for
from chalicelib.webhooks.queue import DeliveryMessage, DeliveryQueue
from chalicelib.webhooks.schedule import Schedule
from chalicelib.webhooks.wiring import Webhooks
from local.sqs import QueueConsumer
from tests.functional.webhooks.conftest import (
    build_deliverer,
    call,
    install,
    pump,
    register,
)
from tests.functional.webhooks.receiver import Receiver

EVENT_TYPES = [
    "threat.detected",
    "threat.resolved",
    "vr.session.started",
    "vr.session.ended",
    "quota.warning",
    "quota.exceeded",
]


def event(event_type: str = "threat.detected", owner: str = "org_a") -> DomainEvent:
    data = {"owner_id": owner, "threat_id": "thr_1", "severity": "high"}
    return DomainEvent(event_type, data, time.time())


def standard_verifier(secret: str) -> Any:
    def verify(body: bytes, headers: dict[str, str]) -> bool:
        try:
            standardwebhooks.Webhook(secret).verify(body, headers)
        except standardwebhooks.WebhookVerificationError:
            return False
        return True

    return verify


def svix_verifier(secret: str) -> Any:
    def verify(body: bytes, headers: dict[str, str]) -> bool:
        try:
            svix.webhooks.Webhook(secret).verify(body, headers)
        except svix.webhooks.WebhookVerificationError:
            return False
        return True

    return verify


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for receiver in started:
        receiver.stop()


def start(receivers: list[Receiver], **options: Any) -> Receiver:
    receiver = Receiver(**options).start()
    receivers.append(receiver)
    return receiver


def attempts(client: Client, headers: dict[str, str], webhook_id: str) -> list[Any]:
    status, log = call(client, "GET", f"/api/webhooks/{webhook_id}/deliveries", headers)
    assert status == 200
    return list(log["attempts"])


def delivery(
    client: Client, headers: dict[str, str], webhook_id: str, delivery_id: str
) -> dict[str, Any]:
    path = f"/api/webhooks/{webhook_id}/deliveries/{delivery_id}"
    status, body = call(client, "GET", path, headers)
    assert status == 200
    return body


def dead_letters(env: dict[str, str]) -> list[dict[str, Any]]:
    response = aws.sqs().receive_message(
        QueueUrl=env["JUPITER_WEBHOOK_DLQ_URL"], MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def test_standardwebhooks_and_svix_receivers_verify_every_delivery(
    client: Client,
    key: dict[str, str],
    hooks: Webhooks,
    consumer: QueueConsumer,
    receivers: list[Receiver],
) -> None:
    standard, svix_receiver = start(receivers), start(receivers)
    first = register(client, key, standard.url)
    second = register(client, key, svix_receiver.url, EVENT_TYPES)
    standard.verifier = standard_verifier(first["secret"])
    svix_receiver.verifier = svix_verifier(second["secret"])

    sent = [event(t) for t in EVENT_TYPES]
    for each in sent:
        hooks.sink.deliver(each)
    pump(consumer, lambda: len(standard.received) + len(svix_receiver.received) == 12)

    for receiver in (standard, svix_receiver):
        assert [r.answered for r in receiver.received] == [204] * 6
        bodies = [json.loads(r.body) for r in receiver.received]
        assert {b["event_id"] for b in bodies} == {e.event_id for e in sent}
        for request, body in zip(receiver.received, bodies, strict=True):
            assert set(body) == {"event_type", "event_id", "timestamp", "data"}
            assert request.headers["webhook-id"] == body["event_id"]
            assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
            assert request.headers["content-type"] == "application/json"
            assert body["data"]["owner_id"] == "org_a"


def test_an_event_reaches_only_its_owners_subscribed_enabled_endpoints(
    client: Client,
    key: dict[str, str],
    admin_headers: dict[str, str],
    hooks: Webhooks,
    consumer: QueueConsumer,
    receivers: list[Receiver],
) -> None:
    subscribed, other_type, disabled, other_owner = (start(receivers) for _ in "abcd")
    register(client, key, subscribed.url, ["threat.detected"])
    register(client, key, other_type.url, ["quota.warning"])
    off = register(client, key, disabled.url, ["*"])
    call(client, "PATCH", f"/api/webhooks/{off['webhook_id']}", key, {"enabled": False})
    body = {"url": other_owner.url, "events": ["*"], "owner_id": "org_b"}
    assert call(client, "POST", "/api/webhooks", admin_headers, body)[0] == 201

    hooks.sink.deliver(event("threat.detected"))
    hooks.sink.deliver(DomainEvent("threat.detected", {"no": "owner"}, time.time()))
    pump(consumer, lambda: len(subscribed.received) == 1)
    pump(consumer, lambda: consumer.poll_once() == 0)
    assert not other_type.received and not disabled.received
    assert not other_owner.received


def test_fail_twice_then_succeed_is_three_attempts_with_one_webhook_id(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    consumer: QueueConsumer,
    receivers: list[Receiver],
) -> None:
    schedule = Schedule((0, 1, 2, 4))
    hooks = install(svc, schedule=schedule)
    receiver = start(receivers, answers=[500, 503])
    endpoint = register(client, key, receiver.url)
    receiver.verifier = standard_verifier(endpoint["secret"])

    hooks.sink.deliver(event())
    pump(consumer, lambda: len(receiver.received) == 3)

    assert [r.answered for r in receiver.received] == [500, 503, 204]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    times = [r.at for r in receiver.received]
    # Spaced by the schedule: at least 1 s, then 2 s (each next attempt is
    # queued after the previous one was answered); polling and a loaded
    # machine can only add to that.
    assert 0.95 <= times[1] - times[0] < 6
    assert 1.95 <= times[2] - times[1] < 7
    log = attempts(client, key, endpoint["webhook_id"])
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in log] == [
        (3, "succeeded", 204),
        (2, "failed", 503),
        (1, "failed", 500),
    ]
    assert log[0]["next_attempt_at"] is None
    assert log[1]["next_attempt_at"] is not None
    assert log[2]["error"] == "receiver answered 500"
    state = delivery(client, key, endpoint["webhook_id"], log[0]["delivery_id"])
    assert state["status"] == "succeeded"
    assert state["attempts"] == 3

    base = f"/api/webhooks/{endpoint['webhook_id']}/deliveries"
    status, page = call(client, "GET", f"{base}?limit=2", key)
    assert [a["attempt"] for a in page["attempts"]] == [3, 2]
    status, rest = call(client, "GET", f"{base}?cursor={page['next_cursor']}", key)
    assert [a["attempt"] for a in rest["attempts"]] == [1]
    assert rest["next_cursor"] is None
    # A cursor is bound to its endpoint's log.
    other = register(client, key, receiver.url)["webhook_id"]
    path = f"/api/webhooks/{other}/deliveries?cursor={page['next_cursor']}"
    status, problem = call(client, "GET", path, key)
    assert (status, problem["code"]) == (400, "invalid_cursor")


def test_always_failing_ends_in_the_dlq_then_replay_delivers(
    client: Client,
    key: dict[str, str],
    aws_env: dict[str, str],
    hooks: Webhooks,
    consumer: QueueConsumer,
    receivers: list[Receiver],
) -> None:
    receiver = start(receivers, default=500)
    endpoint = register(client, key, receiver.url)
    webhook_id = endpoint["webhook_id"]
    hooks.sink.deliver(event())
    pump(consumer, lambda: len(receiver.received) == 3)
    pump(consumer, lambda: consumer.poll_once() == 0)

    (dead,) = dead_letters(aws_env)
    assert dead["webhook_id"] == webhook_id
    assert dead["attempt"] == 3
    assert dead["reason"] == "receiver answered 500"
    state = delivery(client, key, webhook_id, dead["delivery_id"])
    assert state["status"] == "failed"
    assert state["attempts"] == 3
    assert state["last_status_code"] == 500

    receiver.default = 204
    path = f"/api/webhooks/{webhook_id}/deliveries/{dead['delivery_id']}/replay"
    status, replayed = call(client, "POST", path, key)
    assert (status, replayed["status"]) == (202, "pending")
    assert replayed["status"] == "pending"
    pump(consumer, lambda: len(receiver.received) == 4)
    assert receiver.received[-1].answered == 204
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    pump(consumer, lambda: consumer.poll_once() == 0)
    state = delivery(client, key, webhook_id, dead["delivery_id"])
    assert state["status"] == "succeeded"
    assert state["attempts"] == 4


def test_replay_since_redelivers_every_failure_after_recovery(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    consumer: QueueConsumer,
    receivers: list[Receiver],
) -> None:
    hooks = install(svc, schedule=Schedule((0,)))
    receiver = start(receivers, default=503)
    endpoint = register(client, key, receiver.url)
    before = time.time()
    sent = [event(), event("quota.warning")]
    for each in sent:
        hooks.sink.deliver(each)
    pump(consumer, lambda: len(receiver.received) == 2)
    pump(consumer, lambda: consumer.poll_once() == 0)

    receiver.default = 200
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(before - 1))
    path = f"/api/webhooks/{endpoint['webhook_id']}/replay"
    status, report = call(client, "POST", path, key, {"since": since})
    assert status == 202
    assert report["replayed"] == 2
    assert report["more"] is False
    pump(consumer, lambda: len(receiver.received) == 4)
    redelivered = {json.loads(r.body)["event_id"] for r in receiver.received[2:]}
    assert redelivered == {e.event_id for e in sent}
    pump(consumer, lambda: consumer.poll_once() == 0)
    status, again = call(client, "POST", path, key, {"since": since})
    assert again["replayed"] == 0


def test_a_receiver_answering_410_disables_its_endpoint(
    client: Client,
    key: dict[str, str],
    hooks: Webhooks,
    consumer: QueueConsumer,
    receivers: list[Receiver],
) -> None:
    receiver = start(receivers, default=410)
    endpoint = register(client, key, receiver.url)
    hooks.sink.deliver(event())
    pump(consumer, lambda: len(receiver.received) == 1)
    pump(consumer, lambda: consumer.poll_once() == 0)

    path = f"/api/webhooks/{endpoint['webhook_id']}"
    status, state = call(client, "GET", path, key)
    assert state["enabled"] is False
    assert state["disabled_reason"] == "the receiver answered 410 Gone"
    (attempt,) = attempts(client, key, endpoint["webhook_id"])
    assert attempt["outcome"] == "failed"
    assert "endpoint disabled" in attempt["error"]
    hooks.sink.deliver(event())
    pump(consumer, lambda: consumer.poll_once() == 0)
    assert len(receiver.received) == 1
    status, _problem = call(client, "POST", f"{path}/test", key)
    assert status == 409


def test_an_endpoint_failing_for_the_whole_span_is_disabled_with_its_reason(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    consumer: QueueConsumer,
    receivers: list[Receiver],
) -> None:
    clock = FixedClock(time.time())
    hooks = install(
        svc,
        schedule=Schedule((0, 0, 0, 0)),
        clock=clock,
        JUPITER_WEBHOOK_DISABLE_AFTER_SECONDS="120",
    )
    receiver = start(receivers, default=500)
    endpoint = register(client, key, receiver.url)
    path = f"/api/webhooks/{endpoint['webhook_id']}"
    hooks.sink.deliver(event())
    pump(consumer, lambda: len(receiver.received) == 1)
    status, state = call(client, "GET", path, key)
    assert state["enabled"] is True
    assert state["failing_since"] is not None

    clock.advance(121)
    pump(consumer, lambda: len(receiver.received) == 2)
    pump(consumer, lambda: consumer.poll_once() == 0)
    status, state = call(client, "GET", path, key)
    assert status == 200
    assert state["enabled"] is False
    assert state["disabled_reason"].startswith("every attempt failed for 2 minutes")
    log = attempts(client, key, endpoint["webhook_id"])
    assert log[0]["error"].startswith("endpoint disabled")
    assert len(receiver.received) == 2  # no third attempt

    _status, enabled = call(client, "PATCH", path, key, {"enabled": True})
    assert enabled["enabled"] is True
    assert enabled["failing_since"] is None


def test_a_success_ends_the_run_of_failures(
    client: Client,
    key: dict[str, str],
    hooks: Webhooks,
    consumer: QueueConsumer,
    receivers: list[Receiver],
) -> None:
    receiver = start(receivers, answers=[500])
    endpoint = register(client, key, receiver.url)
    hooks.sink.deliver(event())
    pump(consumer, lambda: len(receiver.received) == 2)
    pump(consumer, lambda: consumer.poll_once() == 0)
    _status, state = call(client, "GET", f"/api/webhooks/{endpoint['webhook_id']}", key)
    assert state["failing_since"] is None


def test_a_redirect_is_recorded_as_a_failure_and_never_followed(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    consumer: QueueConsumer,
    receivers: list[Receiver],
) -> None:
    hooks = install(svc, schedule=Schedule((0,)))
    target = start(receivers)
    receiver = start(receivers, default=307, location=target.url)
    endpoint = register(client, key, receiver.url)
    hooks.sink.deliver(event())
    pump(consumer, lambda: len(receiver.received) == 1)
    pump(consumer, lambda: consumer.poll_once() == 0)
    (attempt,) = attempts(client, key, endpoint["webhook_id"])
    assert attempt["status_code"] == 307
    assert attempt["error"].startswith("redirect to ")
    assert "not followed" in attempt["error"]
    assert target.received == []


def test_a_deleted_endpoint_is_not_called(
    client: Client,
    key: dict[str, str],
    aws_env: dict[str, str],
    hooks: Webhooks,
    consumer: QueueConsumer,
    receivers: list[Receiver],
) -> None:
    receiver = start(receivers)
    endpoint = register(client, key, receiver.url)
    queued = event()
    hooks.sink.deliver(queued)
    call(client, "DELETE", f"/api/webhooks/{endpoint['webhook_id']}", key)
    pump(consumer, lambda: consumer.poll_once() == 0, timeout=5)
    assert receiver.received == []
    store = DeliveryStore(aws.dynamodb(), aws_env["JUPITER_WEBHOOK_DELIVERIES_TABLE"])
    delivery_id = delivery_id_for(queued.event_id, endpoint["webhook_id"])
    stored = store.get(endpoint["webhook_id"], delivery_id)
    assert stored is not None
    assert stored.status == "failed"
    assert stored.last_error == "the endpoint was deleted"


class RecordingQueue(DeliveryQueue):
    """Keeps what would be queued, so waits longer than SQS allows can be
    played through with a moved clock."""

    def __init__(self, real: DeliveryQueue) -> None:
        self.__dict__.update(real.__dict__)
        self.sent: list[tuple[DeliveryMessage, int]] = []

    def send(self, message: DeliveryMessage, delay_seconds: int = 0) -> None:
        self.sent.append((message, delay_seconds))


def test_a_wait_longer_than_900_s_is_a_chain_of_sqs_hops(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    aws_env: dict[str, str],
    receivers: list[Receiver],
) -> None:
    clock = FixedClock(time.time())
    hooks = install(svc, clock=clock)
    queue = RecordingQueue(hooks.queue)
    deliverer = build_deliverer(
        aws_env, schedule=Schedule((0, 2_000)), clock=clock, queue=queue
    )
    receiver = start(receivers, answers=[500])
    endpoint = register(client, key, receiver.url)
    target = hooks.endpoints.get(endpoint["webhook_id"])
    assert target is not None
    queued = hooks.sink.enqueue(event(), target)
    first = DeliveryMessage(target.webhook_id, queued.delivery_id, 1, 0, 0)

    assert deliverer.handle(first).result == "pending"
    (retry, delay), *_ = queue.sent
    assert (retry.attempt, retry.step, delay) == (2, 1, 900)
    assert retry.due_ms == int(clock.at * 1000) + 2_000_000
    for moved, hop_delay in ((900, 900), (900, 200)):
        clock.advance(moved)
        assert deliverer.handle(retry).result == "held"
        assert queue.sent[-1] == (retry, hop_delay)
    assert len(receiver.received) == 1
    clock.advance(200)
    assert deliverer.handle(retry).result == "succeeded"
    assert [r.answered for r in receiver.received] == [500, 204]


def test_a_pending_delivery_long_overdue_can_be_replayed(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    aws_env: dict[str, str],
    consumer: QueueConsumer,
    receivers: list[Receiver],
) -> None:
    clock = FixedClock(time.time())
    hooks = install(svc, clock=clock)
    receiver = start(receivers)
    endpoint = register(client, key, receiver.url)
    lost = event()
    hooks.sink.deliver(lost)
    aws.sqs().purge_queue(QueueUrl=aws_env["JUPITER_WEBHOOK_QUEUE_URL"])  # lost
    delivery_id = delivery_id_for(lost.event_id, endpoint["webhook_id"])
    path = f"/api/webhooks/{endpoint['webhook_id']}/deliveries/{delivery_id}/replay"
    assert call(client, "POST", path, key)[0] == 409  # still plausibly in flight

    clock.advance(16 * 60)
    status, replayed = call(client, "POST", path, key)
    assert (status, replayed["status"]) == (202, "pending")
    pump(consumer, lambda: len(receiver.received) == 1)
    assert json.loads(receiver.received[0].body)["event_id"] == lost.event_id
