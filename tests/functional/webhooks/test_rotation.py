"""Secret rotation: for 24 hours both secrets sign; after that only the new one."""

from __future__ import annotations

import time

import pytest
import standardwebhooks
import svix.webhooks
from chalice.test import Client

from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.events.outbox import DomainEvent
from local.sqs import QueueConsumer
from tests.functional.webhooks.conftest import call, install, pump, register
from tests.functional.webhooks.receiver import Received, Receiver

HOUR = 3_600.0


def verifies(secret: str, received: Received) -> bool:
    body, headers = received.body, received.headers
    results = []
    for library in (standardwebhooks.Webhook, svix.webhooks.Webhook):
        try:
            library(secret).verify(body, headers)
            results.append(True)
        except standardwebhooks.WebhookVerificationError:
            results.append(False)
    assert results[0] == results[1], "the two libraries disagree"
    return results[0]


@pytest.mark.parametrize(
    ("rotated_hours_ago", "signatures", "old_verifies"),
    [(1.0, 2, True), (23.9, 2, True), (24.1, 1, False)],
)
def test_both_secrets_sign_during_the_overlap_and_only_the_new_one_after(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    consumer: QueueConsumer,
    rotated_hours_ago: float,
    signatures: int,
    old_verifies: bool,
) -> None:
    clock = FixedClock(time.time() - rotated_hours_ago * HOUR)
    hooks = install(svc, clock=clock)
    receiver = Receiver().start()
    try:
        created = register(client, key, receiver.url)
        path = f"/api/webhooks/{created['webhook_id']}/rotate-secret"
        status, rotated = call(client, "POST", path, key)
        assert status == 200
        clock.at = time.time()  # the receivers check the timestamp against now
        hooks.sink.deliver(DomainEvent("threat.resolved", {"owner_id": "org_a"}, 0.0))
        pump(consumer, lambda: len(receiver.received) == 1)
    finally:
        receiver.stop()

    (request,) = receiver.received
    assert len(request.headers["webhook-signature"].split(" ")) == signatures
    assert verifies(rotated["secret"], request)
    assert verifies(created["secret"], request) is old_verifies
