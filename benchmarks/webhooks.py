"""Webhooks: deliveries per second through the pipeline, against a bare loop.

In one process, under moto (SQS and DynamoDB in memory), to a receiver on
127.0.0.1 that answers 204 with keep-alive:

1. Pipeline: ``deliveries`` events go through the webhook sink (one queued
   delivery each, not timed), then the queue is drained the way Lambda's
   event source mapping would (``local.sqs.QueueConsumer``: ReceiveMessage in
   batches of 10, the app's ``deliver_webhooks`` handler, DeleteMessageBatch)
   until the receiver has every one. Each delivery claims its attempt,
   re-reads its endpoint, vets the URL, signs, POSTs and records the attempt.
2. Bare loop: the same bodies, signed the same way, POSTed one after another
   with the same transport to the same vetted address: no queue, no store.

The ratio of the two rates is what the delivery guarantees cost on this
machine. Read it as a floor: moto's TransactWriteItems deep-copies every
table to be able to roll back, so under moto each recorded attempt costs more
as the store grows (DynamoDB's cost does not). Against SQS and DynamoDB over a
network the store calls would weigh more per call, and so would a real
receiver's answer in the bare loop.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchmarks.harness import sandbox
from benchmarks.report import Report
from chalicelib import aws
from chalicelib.events.outbox import DomainEvent
from chalicelib.webhooks.endpoints import Endpoint
from chalicelib.webhooks.signing import new_secret, signed_headers
from chalicelib.webhooks.ssrf import AddressPolicy
from chalicelib.webhooks.transport import Transport

DELIVERIES = 200
OWNER = "org_bench"


def run(deliveries: int = DELIVERIES) -> Report:
    """Deliver ``deliveries`` events both ways; report both rates and the ratio."""
    with sandbox(), _receiver() as receiver:
        os.environ["JUPITER_WEBHOOK_ALLOW_LOOPBACK"] = "true"
        from app import app
        from chalicelib.services import services
        from local.sqs import QueueConsumer, lambda_context

        hooks = services().webhooks
        endpoint = _endpoint(hooks, receiver.url)
        bodies = _enqueue(hooks, endpoint, deliveries)
        consumer = QueueConsumer(
            sqs=aws.sqs(),
            queue_url=os.environ["JUPITER_WEBHOOK_QUEUE_URL"],
            handler=app.handler_map["deliver_webhooks"],
            batch_size=10,
            context=lambda_context("deliver_webhooks"),
        )
        with (
            _counting(aws.dynamodb(), "dynamodb") as store,
            _counting(aws.sqs(), "sqs") as queue,
        ):
            pipeline = _timed(lambda: _drain(consumer, receiver, deliveries))
        bare = _timed(lambda: _bare_loop(endpoint, bodies))
    figures = _figures(deliveries, pipeline, bare, store, queue)
    return Report(
        name="webhooks",
        title="Webhook deliveries to a local receiver (moto, in-process)",
        columns=("measure", "value", "detail"),
        rows=_rows(figures),
        figures=figures,
    )


class _Receiver:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.count = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@contextmanager
def _receiver() -> Iterator[_Receiver]:
    holder: list[_Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            with holder[0].lock:
                holder[0].count += 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder.append(_Receiver(server))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


def _endpoint(hooks: Any, url: str) -> Endpoint:
    now_ms = int(time.time() * 1000)
    endpoint = Endpoint(
        webhook_id="wh_bench" + secrets.token_hex(4),
        owner_id=OWNER,
        url=url,
        events=("*",),
        enabled=True,
        created_at=now_ms,
        updated_at=now_ms,
        secret=new_secret(),
    )
    hooks.endpoints.create(endpoint)
    return endpoint


def _enqueue(hooks: Any, endpoint: Endpoint, count: int) -> list[bytes]:
    bodies = []
    for index in range(count):
        data = {"owner_id": OWNER, "threat_id": f"thr_{index}", "severity": "high"}
        event = DomainEvent("threat.detected", data, time.time())
        bodies.append(hooks.sink.enqueue(event, endpoint).payload.encode())
    return bodies


def _drain(consumer: Any, receiver: _Receiver, expected: int) -> None:
    deadline = time.monotonic() + 300
    while receiver.count < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {receiver.count} of {expected} delivered")
        if not consumer.poll_once():
            time.sleep(0.01)


def _bare_loop(endpoint: Endpoint, bodies: list[bytes]) -> None:
    assert endpoint.secret is not None
    dial = AddressPolicy(True, True).vet(endpoint.url)
    transport = Transport(15.0)
    for index, body in enumerate(bodies):
        headers = signed_headers(
            f"evt_{index}", int(time.time()), body, [endpoint.secret]
        )
        reply = transport.post(dial, headers, body)
        if not reply.succeeded:
            raise RuntimeError(f"bare POST failed: {reply.error}")
    transport.close()


def _timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@contextmanager
def _counting(client: Any, service: str) -> Iterator[Counter[str]]:
    """Count the client's calls by name, and (under "seconds") time spent in them."""
    counts: Counter[str] = Counter()
    started: list[float] = []

    def before(model: Any, **_: Any) -> None:
        counts[model.name] += 1
        started.append(time.perf_counter())

    def after(**_: Any) -> None:
        if started:
            spent[0] += time.perf_counter() - started.pop()

    spent = [0.0]
    events = client.meta.events
    events.register(f"before-call.{service}", before)
    events.register(f"after-call.{service}", after)
    try:
        yield counts
    finally:
        events.unregister(f"before-call.{service}", before)
        events.unregister(f"after-call.{service}", after)
        counts["seconds"] = spent[0]  # type: ignore[assignment]


def _figures(
    deliveries: int,
    pipeline: float,
    bare: float,
    store: Counter[str],
    queue: Counter[str],
) -> dict[str, Any]:
    in_aws = float(store.pop("seconds", 0)) + float(queue.pop("seconds", 0))
    pipeline_rate, bare_rate = deliveries / pipeline, deliveries / bare
    outside = deliveries / max(pipeline - in_aws, 1e-9)
    return {
        "deliveries": deliveries,
        "pipeline": {"seconds": round(pipeline, 3), "per_second": pipeline_rate},
        "bare_loop": {"seconds": round(bare, 3), "per_second": bare_rate},
        "ratio": round(pipeline_rate / bare_rate, 4),
        "seconds_in_store_and_queue_calls": round(in_aws, 3),
        "pipeline_without_store_and_queue": {
            "per_second": outside,
            "ratio": round(outside / bare_rate, 4),
        },
        "dynamodb_calls_per_delivery": round(sum(store.values()) / deliveries, 2),
        "dynamodb_calls": dict(store),
        "sqs_calls": dict(queue),
    }


def _rows(figures: dict[str, Any]) -> list[tuple[str, ...]]:
    pipeline, bare = figures["pipeline"], figures["bare_loop"]
    calls = ", ".join(f"{k} {v}" for k, v in sorted(figures["dynamodb_calls"].items()))
    sqs = ", ".join(f"{k} {v}" for k, v in sorted(figures["sqs_calls"].items()))
    return [
        (
            "pipeline deliveries/s",
            f"{pipeline['per_second']:.1f}",
            f"{figures['deliveries']} via SQS + handler + store",
        ),
        (
            "bare signed POSTs/s",
            f"{bare['per_second']:.1f}",
            "same bodies, signer and transport, no queue or store",
        ),
        ("ratio (pipeline / bare)", f"{figures['ratio']:.3f}", "same run"),
        (
            "time in DynamoDB + SQS calls",
            f"{figures['seconds_in_store_and_queue_calls']:.2f} s",
            f"of {pipeline['seconds']:.2f} s (moto, in-process)",
        ),
        (
            "ratio without that time",
            f"{figures['pipeline_without_store_and_queue']['ratio']:.3f}",
            "handler, signing, vetting and POST only",
        ),
        (
            "DynamoDB calls per delivery",
            f"{figures['dynamodb_calls_per_delivery']}",
            calls,
        ),
        ("SQS calls", str(sum(figures["sqs_calls"].values())), sqs),
    ]
