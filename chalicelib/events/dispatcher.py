"""The outbox's consumer: hand each pending event to every sink, at least once.

Events wait in the events table with ``dispatch = "pending"`` (the sparse
``by_dispatch`` index, oldest first). The dispatcher reads a bounded batch,
hands each event to every registered :class:`EventSink` in turn, and only
when all of them succeeded marks it dispatched (``REMOVE dispatch``, on the
condition that it is still pending). A process that dies part-way leaves the
event pending, so the next run delivers it again: delivery is at least once,
and sinks must be idempotent per ``event_id``.

An event whose sinks keep failing is retried on every run up to
``MAX_ATTEMPTS`` times, then parked with ``dispatch = "failed"`` (still in
the index, under its own partition) so it cannot hold up the rest forever.

In AWS the events table's stream calls :func:`dispatch_stream` for each new
event, and a one-minute schedule calls :func:`sweep` for whatever the stream
handler could not deliver; the local stack calls :meth:`Dispatcher.
dispatch_pending` in a loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import logs, metrics
from chalicelib.clock import Clock
from chalicelib.dynamo import from_item
from chalicelib.events.outbox import PENDING, DomainEvent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

DISPATCH_INDEX = "by_dispatch"
FAILED = "failed"
BATCH_SIZE = 25
MAX_ATTEMPTS = 10
# Dispatched events stay readable for a month, then expire.
RETENTION_SECONDS = 30 * 86_400
# Where a stream delivers events, the sweep leaves fresh ones to it.
STREAM_GRACE_SECONDS = 60


class EventSink(Protocol):
    """Anything that takes domain events: webhooks, WebSocket fan-out.

    ``deliver`` raises to say the event was not delivered; it may be called
    again for the same ``event_id`` and must then do nothing new.
    """

    def deliver(self, event: DomainEvent) -> None: ...


@dataclass
class DispatchReport:
    """What one run did."""

    delivered: int = 0
    failed: int = 0

    def add(self, other: DispatchReport) -> None:
        self.delivered += other.delivered
        self.failed += other.failed


def event_from_row(row: dict[str, Any]) -> DomainEvent:
    """Rebuild a domain event from its (plain) events-table row."""
    return DomainEvent(
        event_type=str(row["event_type"]),
        data=json.loads(str(row["data"])),
        occurred_at=int(row["occurred_at"]) / 1000,
        event_id=str(row["event_id"]),
        request_id=row.get("request_id"),
        # Rows written before events carried one: derived, so stable.
        correlation_id=str(
            row.get("correlation_id") or row.get("request_id") or _legacy(row)
        ),
    )


def _legacy(row: dict[str, Any]) -> str:
    return "cor_" + str(row["event_id"]).removeprefix("evt_")


class Dispatcher:
    """Delivers pending events to the registered sinks."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        clock: Clock,
        sinks: Sequence[EventSink],
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock
        # Held by reference: sinks registered later take part too.
        self._sinks = sinks
        self._batch_size = batch_size

    def dispatch_pending(self, older_than: float = 0.0) -> DispatchReport:
        """Deliver one batch of pending events, oldest first."""
        cutoff = int((self._clock.now() - older_than) * 1000)
        try:
            response = self._client.query(
                TableName=self._table,
                IndexName=DISPATCH_INDEX,
                KeyConditionExpression="#d = :pending AND occurred_at <= :cutoff",
                ExpressionAttributeNames={"#d": "dispatch"},
                ExpressionAttributeValues={
                    ":pending": {"S": PENDING},
                    ":cutoff": {"N": str(cutoff)},
                },
                ScanIndexForward=True,
                Limit=self._batch_size,
            )
        except (ClientError, BotoCoreError) as exc:
            logs.line(
                logger, "events_unreadable", logging.WARNING, error=type(exc).__name__
            )
            return DispatchReport()
        rows = [from_item(i) for i in response.get("Items", [])]
        return self.dispatch_rows(rows)

    def dispatch_rows(self, rows: list[dict[str, Any]]) -> DispatchReport:
        """Deliver the given pending event rows (one metrics document per run)."""
        report = DispatchReport()
        with metrics.scope():
            for row in rows:
                if row.get("dispatch") != PENDING:
                    continue
                event = event_from_row(row)
                with logs.bound(
                    correlation_id=event.correlation_id, event_id=event.event_id
                ):
                    delivered = self._deliver(event, int(row.get("attempts", 0)))
                report.delivered += delivered
                report.failed += not delivered
        return report

    def _deliver(self, event: DomainEvent, attempts: int) -> bool:
        for sink in self._sinks:
            try:
                sink.deliver(event)
            except Exception as exc:
                logs.line(
                    logger,
                    "event_dispatch",
                    logging.WARNING,
                    event_type=event.event_type,
                    result="failed",
                    sink=type(sink).__name__,
                    error=type(exc).__name__,
                    attempts=attempts + 1,
                )
                self._record_failure(event, attempts + 1, exc)
                return False
        self._mark_dispatched(event)
        logs.line(logger, "event_dispatch", event_type=event.event_type, result="ok")
        return True

    def _mark_dispatched(self, event: DomainEvent) -> None:
        now = self._clock.now()
        self._update(
            event,
            "REMOVE #d SET dispatched_at = :now, #ttl = :ttl",
            {
                ":now": {"N": str(int(now * 1000))},
                ":ttl": {"N": str(int(now) + RETENTION_SECONDS)},
            },
        )

    def _record_failure(
        self, event: DomainEvent, attempts: int, exc: Exception
    ) -> None:
        values: dict[str, Any] = {
            ":error": {"S": type(exc).__name__[:100]},
            ":one": {"N": "1"},
        }
        expression = "SET last_error = :error ADD attempts :one"
        if attempts >= MAX_ATTEMPTS:
            logs.line(logger, "event_parked", logging.ERROR, attempts=attempts)
            expression = "SET last_error = :error, #d = :failed ADD attempts :one"
            values[":failed"] = {"S": FAILED}
        self._update(event, expression, values)

    def _update(
        self, event: DomainEvent, expression: str, values: dict[str, Any]
    ) -> None:
        names = {"#d": "dispatch"}
        if "#ttl" in expression:
            names["#ttl"] = "ttl"
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"event_id": {"S": event.event_id}},
                UpdateExpression=expression,
                # Another dispatcher may have finished it meanwhile.
                ConditionExpression="#d = :pending",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":pending": {"S": PENDING}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                logs.line(
                    logger,
                    "event_update_failed",
                    logging.WARNING,
                    error=exc.response["Error"]["Code"],
                )
        except BotoCoreError as exc:
            logs.line(
                logger,
                "event_update_failed",
                logging.WARNING,
                error=type(exc).__name__,
            )


def sweep() -> DispatchReport:
    """Deliver pending events: the schedule's handler (and the local stack's)."""
    from chalicelib.services import services

    built = services()
    grace = STREAM_GRACE_SECONDS if built.settings.events_stream_arn else 0.0
    return built.dispatcher.dispatch_pending(older_than=grace)


def dispatch_stream(records: list[dict[str, Any]]) -> DispatchReport:
    """Deliver the new events of a DynamoDB stream batch (``NewImage`` rows).

    Failures are left pending for the sweep rather than raised, so one bad
    event cannot block the stream's shard.
    """
    from chalicelib.services import services

    rows = [from_item(image) for image in records]
    return services().dispatcher.dispatch_rows(rows)
