"""Webhook fixtures: the roles wired for tests, receivers and a queue pump.

SQS is moto's, in process. Delivery is driven the way Lambda's event source
mapping drives it: :class:`local.sqs.QueueConsumer` receives a batch with
ReceiveMessage and calls the app's ``deliver_webhooks`` handler with the SQS
event built from it. ``DelaySeconds`` is honoured by waiting: moto keeps a
delayed message invisible in real time, so tests use a compressed schedule
(whole seconds) and the system clock. Tests that need another clock or a
wait SQS cannot express (more than 900 s) call the deliverer directly.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.clock import Clock, SystemClock
from chalicelib.config import load_settings, server_secret
from chalicelib.policy import Scope, Tier
from chalicelib.webhooks.deliveries import DeliveryStore
from chalicelib.webhooks.delivery import Deliverer
from chalicelib.webhooks.endpoints import EndpointStore
from chalicelib.webhooks.queue import DeliveryQueue
from chalicelib.webhooks.schedule import Schedule
from chalicelib.webhooks.ssrf import (
    AddressPolicy,
    IPAddress,
    Resolver,
    UrlRefused,
    system_resolver,
)
from chalicelib.webhooks.transport import Transport
from chalicelib.webhooks.wiring import Webhooks
from local.sqs import QueueConsumer, lambda_context
from tests.functional.conftest import make_key
from tests.functional.webhooks.receiver import Receiver

FAST = Schedule((0, 1, 1))


def install(
    svc: services_module.Services,
    schedule: Schedule = FAST,
    clock: Clock | None = None,
    resolver: Resolver = system_resolver,
    sqs: Any = None,
    **settings: str,
) -> Webhooks:
    """Rebuild the webhook roles of ``svc`` with test collaborators."""
    environ = {**os.environ, "JUPITER_WEBHOOK_ALLOW_LOOPBACK": "true", **settings}
    config = load_settings(environ)
    built = Webhooks.from_settings(
        config,
        aws.dynamodb(),
        sqs or aws.sqs(),
        clock or SystemClock(),
        server_secret(config),
        resolver=resolver,
        schedule=schedule,
    )
    # The dispatcher holds ``svc.sinks`` itself: swap the sink in place.
    svc.sinks[:] = [s for s in svc.sinks if s is not svc.webhooks.sink]
    svc.sinks.append(built.sink)
    svc.webhooks = built
    return built


def fake_dns(answers: dict[str, list[str]]) -> Resolver:
    """A resolver that answers from ``answers`` and resolves nothing else."""

    def resolve(host: str, port: int) -> list[IPAddress]:
        if host not in answers:
            raise UrlRefused(f"the host {host!r} does not resolve")
        return [ipaddress.ip_address(a) for a in answers[host]]

    return resolve


def build_deliverer(
    env: dict[str, str],
    schedule: Schedule = FAST,
    clock: Clock | None = None,
    queue: DeliveryQueue | None = None,
    deliveries: DeliveryStore | None = None,
    resolver: Resolver = system_resolver,
    disable_after_seconds: int = 5 * 86_400,
) -> Deliverer:
    """Build a delivery handler with any collaborator replaced."""
    client = aws.dynamodb()
    return Deliverer(
        EndpointStore(client, env["JUPITER_WEBHOOKS_TABLE"]),
        deliveries or DeliveryStore(client, env["JUPITER_WEBHOOK_DELIVERIES_TABLE"]),
        queue
        or DeliveryQueue(
            aws.sqs(), env["JUPITER_WEBHOOK_QUEUE_URL"], env["JUPITER_WEBHOOK_DLQ_URL"]
        ),
        AddressPolicy(allow_http=True, allow_loopback=True, resolver=resolver),
        Transport(5.0),
        schedule,
        clock or SystemClock(),
        5.0,
        disable_after_seconds,
    )


@pytest.fixture
def hooks(svc: services_module.Services) -> Webhooks:
    return install(svc)


@pytest.fixture
def key(svc: services_module.Services) -> dict[str, str]:
    """Headers of a plain (non-admin) key of org_a, with room for many calls."""
    return make_key(svc, [Scope.READ_THREATS], Tier.ENTERPRISE, owner="org_a")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def consumer(aws_env: dict[str, str]) -> QueueConsumer:
    from app import app

    return QueueConsumer(
        sqs=aws.sqs(),
        queue_url=aws_env["JUPITER_WEBHOOK_QUEUE_URL"],
        handler=app.handler_map["deliver_webhooks"],
        context=lambda_context("deliver_webhooks"),
    )


def pump(
    consumer: QueueConsumer, until: Callable[[], bool], timeout: float = 30.0
) -> None:
    """Poll the queue and run the handler until ``until()`` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError("the queue did not get there in time")
        if not consumer.poll_once():
            time.sleep(0.05)


def call(
    client: Client,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Make one API call; return the status and the JSON body."""
    send = getattr(client.http, method.lower())
    extra = {"Content-Type": "application/json"} if body is not None else {}
    kwargs: dict[str, Any] = {"headers": {**headers, **extra}}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    response = send(path, **kwargs)
    return response.status_code, json.loads(response.body or b"{}")


def register(
    client: Client,
    headers: dict[str, str],
    url: str,
    events: list[str] | None = None,
) -> dict[str, Any]:
    """Register an endpoint through the API; return the created endpoint."""
    status, body = call(
        client,
        "POST",
        "/api/webhooks",
        headers,
        {"url": url, "events": events or ["*"]},
    )
    assert status == 201, body
    return body
