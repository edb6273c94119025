"""The local stack's queue polls: an unreachable queue is logged once, not per poll."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from local.sqs import (
    IDLE_SECONDS,
    UNREACHABLE_BACKOFF_SECONDS,
    Poller,
    QueueConsumer,
)


class FlakyQueue:
    """An SQS client whose first ``down`` receives fail to connect."""

    def __init__(self, down: int, messages: int = 0) -> None:
        self.down = down
        self.messages = messages
        self.deleted: list[Any] = []

    def receive_message(self, **_: Any) -> dict[str, Any]:
        if self.down:
            self.down -= 1
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        batch = [
            {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": "{}"}
            for i in range(self.messages)
        ]
        self.messages = 0
        return {"Messages": batch}

    def delete_message_batch(self, **arguments: Any) -> None:
        self.deleted.append(arguments)

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:1:q"}}


async def _invoke(function: Callable[[], int]) -> int:
    return function()


def _polls(poller: Poller, consumer: QueueConsumer, count: int) -> list[float]:
    async def run() -> list[float]:
        return [await poller.poll(_invoke, consumer) for _ in range(count)]

    return asyncio.run(run())


def test_an_outage_is_logged_once_with_backoff_then_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = QueueConsumer(FlakyQueue(down=6), "http://q", lambda e, c: None)
    poller = Poller("deliver_webhooks")

    with caplog.at_level(logging.INFO, logger="local.sqs"):
        waits = _polls(poller, consumer, 7)

    assert waits[:6] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert max(waits) == UNREACHABLE_BACKOFF_SECONDS
    assert waits[6] == IDLE_SECONDS
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "the deliver_webhooks queue is unreachable (EndpointConnectionError)",
        "the deliver_webhooks queue is reachable again after 6 failed polls",
    ]
    assert all(r.exc_info is None for r in caplog.records)


def test_a_handler_that_raises_is_logged_every_time_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("handler bug")

    queue = FlakyQueue(down=0, messages=2)
    consumer = QueueConsumer(queue, "http://q", broken)

    with caplog.at_level(logging.INFO, logger="local.sqs"):
        (wait,) = _polls(Poller("deliver_webhooks"), consumer, 1)

    assert wait == IDLE_SECONDS
    (record,) = caplog.records
    assert record.getMessage() == "the deliver_webhooks consumer raised"
    assert record.exc_info is not None
    assert queue.deleted == []  # the batch is left for redelivery


def test_a_batch_handled_polls_again_at_once() -> None:
    handled: list[int] = []
    queue = FlakyQueue(down=0, messages=3)
    consumer = QueueConsumer(
        queue, "http://q", lambda event, context: handled.append(len(event["Records"]))
    )

    assert _polls(Poller("deliver_webhooks"), consumer, 2) == [0.0, IDLE_SECONDS]
    assert handled == [3]
    assert len(queue.deleted) == 1
