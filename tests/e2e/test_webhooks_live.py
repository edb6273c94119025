"""Webhooks through the live local stack: the same SQS handler Lambda would run.

A stack of its own, started with ``JUPITER_WEBHOOK_ALLOW_LOOPBACK=true`` so it
may call a receiver on 127.0.0.1 (and says so in its log). A threat reported
over HTTP goes through the outbox poller, the webhook sink, the delivery queue
on the serialized moto server and the stack's SQS consumer to the receiver,
which verifies the signature with the ``standardwebhooks`` library.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import standardwebhooks

from tests.e2e.conftest import LocalStack, create_key, key_headers
from tests.functional.webhooks.receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]


class LoopbackStack(LocalStack):
    """The local stack, allowed to deliver webhooks to loopback receivers."""

    def _environment(self) -> dict[str, str]:
        return {**super()._environment(), "JUPITER_WEBHOOK_ALLOW_LOOPBACK": "true"}


@pytest.fixture(scope="module")
def loopback_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LoopbackStack(tmp_path_factory.mktemp("webhooks") / "state")
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the stack")
        time.sleep(0.1)


def test_a_reported_threat_is_delivered_and_verifies(
    loopback_stack: LocalStack, receiver: Receiver, tmp_path: Path
) -> None:
    stack = loopback_stack
    key = create_key(
        stack, ["READ_THREATS", "WRITE_THREATS"], tier="ENTERPRISE", owner="org_wh"
    )
    headers = key_headers(key)
    created = requests.post(
        stack.url("/api/webhooks"),
        json={"url": receiver.url, "events": ["threat.detected"]},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]

    threat = {"type": "phishing", "severity": "medium", "target": "mail-01"}
    reported = requests.post(
        stack.url("/api/threats"), json=threat, headers=headers, timeout=10
    )
    assert reported.status_code == 201, reported.text
    wait_for(lambda: len(receiver.received) >= 1)

    (request,) = receiver.received
    body = standardwebhooks.Webhook(secret).verify(request.body, request.headers)
    assert body["event_type"] == "threat.detected"
    assert body["data"]["threat"]["target"] == "mail-01"
    assert "loopback addresses are allowed" in stack.log()


def test_the_test_event_and_its_attempt_log_over_http(
    loopback_stack: LocalStack, receiver: Receiver
) -> None:
    stack = loopback_stack
    headers = key_headers(
        create_key(stack, ["READ_THREATS"], tier="ENTERPRISE", owner="org_wh2")
    )
    receiver.answers = [500]
    created = requests.post(
        stack.url("/api/webhooks"),
        json={"url": receiver.url, "events": ["*"]},
        headers=headers,
        timeout=10,
    ).json()
    base = stack.url(f"/api/webhooks/{created['webhook_id']}")
    sent = requests.post(f"{base}/test", headers=headers, timeout=10)
    assert sent.status_code == 202, sent.text
    # The local stage's compressed schedule retries after about a second.
    wait_for(lambda: len(receiver.received) >= 2)

    def logged() -> list[dict[str, object]]:
        log = requests.get(f"{base}/deliveries", headers=headers, timeout=10)
        return list(log.json()["attempts"])

    wait_for(lambda: len(logged()) == 2)
    assert [(a["attempt"], a["status_code"]) for a in logged()] == [(2, 204), (1, 500)]
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {json.loads(receiver.received[0].body)["event_id"]}
