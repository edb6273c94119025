"""SQS event sources for the local stack: what Lambda's event source mapping does.

A :class:`QueueConsumer` receives a batch from a queue, hands it to a Lambda
handler as an SQS event (``Records`` with ``messageId``, ``receiptHandle``,
``body``, ``attributes``, ``eventSourceARN``...), deletes the batch when the
handler returns, and leaves it for redelivery after the visibility timeout
when the handler raises, exactly as the mapping does without
``ReportBatchItemFailures``. It polls briefly (no long polling): the local
moto server handles one request at a time, so a long poll would stall every
other client.

:class:`SqsEventSources` installs one consumer per queue as a background
task of :class:`local.server.LocalServer`, running the handler on the
server's Lambda pool. Tests drive a :class:`QueueConsumer` directly.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from chalice.local import LambdaContext

if TYPE_CHECKING:
    from local.server import LocalServer

logger = logging.getLogger("local.sqs")

MAX_BATCH = 10
IDLE_SECONDS = 0.25
# While the queue cannot be reached, polls back off up to this.
UNREACHABLE_BACKOFF_SECONDS = 5.0

Handler = Callable[[dict[str, Any], Any], Any]


class QueueUnreachable(Exception):
    """Raised when a poll cannot reach the queue (the store is down)."""


@dataclass
class QueueConsumer:
    """Polls one queue and invokes one handler per batch."""

    sqs: Any
    queue_url: str
    handler: Handler
    batch_size: int = 5
    context: Any = None
    region: str = field(
        default_factory=lambda: os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    )
    _arn: str | None = None

    def poll_once(self) -> int:
        """Receive one batch, invoke the handler; return how many messages came."""
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(self.batch_size, MAX_BATCH),
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnreachable(type(exc).__name__) from exc
        messages = response.get("Messages", [])
        if not messages:
            return 0
        self.handler(self.event(messages), self.context)
        # Only reached when the handler returned: a raise leaves the batch to
        # reappear after the visibility timeout.
        self.sqs.delete_message_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages)
            ],
        )
        return len(messages)

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """Build the SQS event Lambda would pass for ``messages``."""
        return {"Records": [self._record(m) for m in messages]}

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": self.region,
        }

    @property
    def arn(self) -> str:
        if self._arn is None:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
            )
            self._arn = str(attributes["Attributes"]["QueueArn"])
        return self._arn


@dataclass(frozen=True)
class QueueBinding:
    """A queue (by the environment variable holding its URL) and its handler."""

    url_variable: str
    handler_name: str
    batch_size: int = 5


# The app's SQS handlers, as Chalice deploys them with event source mappings.
BINDINGS = (QueueBinding("JUPITER_WEBHOOK_QUEUE_URL", "deliver_webhooks"),)


class SqsEventSources:
    """A local.server extension: consume each bound queue in the background."""

    def __init__(self, bindings: tuple[QueueBinding, ...] = BINDINGS) -> None:
        self.bindings = bindings

    def install(self, server: LocalServer) -> None:
        for binding in self.bindings:
            server.add_task(f"sqs:{binding.handler_name}", self._task(server, binding))
        if os.environ.get("JUPITER_WEBHOOK_ALLOW_LOOPBACK", "").lower() == "true":
            logger.warning(
                "webhook deliveries to loopback addresses are allowed "
                "(JUPITER_WEBHOOK_ALLOW_LOOPBACK=true)"
            )

    def _task(self, server: LocalServer, binding: QueueBinding) -> Any:
        async def run() -> None:
            import boto3

            consumer = QueueConsumer(
                sqs=boto3.session.Session().client("sqs"),
                queue_url=os.environ[binding.url_variable],
                handler=server.app.handler_map[binding.handler_name],
                batch_size=binding.batch_size,
                context=server.lambda_context(binding.handler_name),
            )
            poller = Poller(binding.handler_name)
            while True:
                await asyncio.sleep(await poller.poll(server.invoke, consumer))

        return run


@dataclass
class Poller:
    """One consumer's polls: how long to wait after each, and what to log.

    A handler that raises is logged with its traceback every time. A queue
    that cannot be reached (the moto server restarting) is logged once when
    polls start failing and once when they succeed again, and polled less
    often meanwhile, rather than a traceback four times a second.
    """

    name: str
    failures: int = 0

    async def poll(
        self, invoke: Callable[[Callable[[], int]], Any], consumer: QueueConsumer
    ) -> float:
        """Poll once through ``invoke``; return the seconds to wait before the next."""
        try:
            received = await invoke(consumer.poll_once)
        except QueueUnreachable as exc:
            if not self.failures:
                logger.warning("the %s queue is unreachable (%s)", self.name, exc)
            self.failures += 1
            return min(IDLE_SECONDS * 2**self.failures, UNREACHABLE_BACKOFF_SECONDS)
        except Exception:
            logger.exception("the %s consumer raised", self.name)
            received = 0
        if self.failures:
            logger.info(
                "the %s queue is reachable again after %d failed polls",
                self.name,
                self.failures,
            )
            self.failures = 0
        return 0.0 if received else IDLE_SECONDS


def lambda_context(name: str) -> LambdaContext:
    """Return a Lambda context for handlers invoked outside the local server."""
    return LambdaContext(name, 1024, 60_000)
