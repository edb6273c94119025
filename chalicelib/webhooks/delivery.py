"""The delivery handler: one signed attempt per queue message.

For each message the handler

1. holds it back (re-queues it with the next hop's delay) if its attempt is
   not due yet: SQS delays at most 900 s, longer waits are chained;
2. claims the attempt with a conditional write (see deliveries.py), which
   drops stale copies, delivers nothing twice after a recorded success, and
   lets only one handler send at a time;
3. checks the endpoint (it may have been deleted or disabled) and vets its URL
   again, on the address it will dial (ssrf.py);
4. signs and POSTs, with the event id as ``webhook-id`` on every attempt;
5. records the attempt and moves the delivery on: a 2xx ends it; a 410
   disables the endpoint; anything else queues the next attempt with the
   schedule's delay, or after the last one puts the message on the
   dead-letter queue and marks the delivery failed. An endpoint whose
   attempts have all failed for the configured span is disabled, with the
   reason shown to its owner.

The next attempt is queued before the attempt is recorded: a crash between
the two can cause a duplicate attempt (same ``webhook-id``), never a lost one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace

from chalicelib import logs, metrics, tracing
from chalicelib.clock import Clock
from chalicelib.webhooks.deliveries import (
    FAILED,
    PENDING,
    SUCCEEDED,
    Attempt,
    Delivery,
    DeliveryStore,
    Outcome,
    Unclaimable,
)
from chalicelib.webhooks.endpoints import Endpoint, EndpointStore
from chalicelib.webhooks.queue import DeliveryMessage, DeliveryQueue, MalformedMessage
from chalicelib.webhooks.schedule import DUE_TOLERANCE_SECONDS, Schedule, hop
from chalicelib.webhooks.signing import signed_headers
from chalicelib.webhooks.ssrf import AddressPolicy, UrlRefused
from chalicelib.webhooks.storage import ConditionFailed, millis, stamp
from chalicelib.webhooks.transport import Reply, Transport

logger = logging.getLogger(__name__)

# The lease outlasts the attempt's timeout by this much, for the writes around it.
LEASE_MARGIN_MS = 5_000
# How long to hold back a message whose attempt is not recorded as due yet.
EARLY_DEFER_SECONDS = 2
GONE = 410


class BatchFailed(RuntimeError):
    """Raised after a batch in which some messages could not be handled, so
    that SQS delivers them again (handled ones are then dropped as done)."""


@dataclass(frozen=True)
class Handled:
    """What became of one message, for the log line."""

    result: str
    attempt: Attempt | None = None


class Deliverer:
    """Handles delivery messages."""

    def __init__(
        self,
        endpoints: EndpointStore,
        deliveries: DeliveryStore,
        queue: DeliveryQueue,
        policy: AddressPolicy,
        transport: Transport,
        schedule: Schedule,
        clock: Clock,
        timeout_seconds: float,
        disable_after_seconds: int,
    ) -> None:
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._queue = queue
        self._policy = policy
        self._transport = transport
        self._schedule = schedule
        self._clock = clock
        self._lease_ms = int(timeout_seconds * 1000) + LEASE_MARGIN_MS
        self._disable_after_ms = disable_after_seconds * 1000

    def handle(self, message: DeliveryMessage) -> Handled:
        """Run the attempt ``message`` stands for, if it is still due."""
        now_ms = millis(self._clock.now())
        early_by = (message.due_ms - now_ms) / 1000
        if early_by > DUE_TOLERANCE_SECONDS:
            self._queue.send(message, hop(early_by))
            return Handled("held")
        try:
            delivery = self._deliveries.claim(
                message.webhook_id,
                message.delivery_id,
                message.attempt,
                now_ms,
                self._lease_ms,
            )
        except Unclaimable as why:
            return self._unclaimable(message, why, now_ms)
        return self._attempt(message, delivery)

    def _unclaimable(
        self, message: DeliveryMessage, why: Unclaimable, now_ms: int
    ) -> Handled:
        if why.reason == "early":
            self._queue.send(message, EARLY_DEFER_SECONDS)
        elif why.reason == "leased":
            assert why.delivery is not None and why.delivery.lease is not None
            self._queue.send(message, hop((why.delivery.lease - now_ms) / 1000 + 1))
        return Handled(why.reason)

    def _attempt(self, message: DeliveryMessage, delivery: Delivery) -> Handled:
        endpoint = self._endpoints.get(delivery.webhook_id)
        if endpoint is None or not endpoint.enabled:
            reason = _unavailable(endpoint)
            return self._refuse(message, delivery, reason)
        try:
            dial = self._policy.vet(endpoint.url)
        except UrlRefused as refused:
            return self._refuse(message, delivery, f"refused: {refused}")
        now_ms = millis(self._clock.now())
        body = delivery.payload.encode()
        headers = signed_headers(
            delivery.event_id, now_ms // 1000, body, endpoint.secrets_in_force(now_ms)
        )
        reply = self._transport.post(dial, headers, body)
        if reply.succeeded:
            return self._succeed(message, delivery, endpoint, reply, now_ms)
        if reply.status_code == GONE:
            return self._gone(message, delivery, reply, now_ms)
        return self._retry_or_fail(message, delivery, reply, now_ms)

    def _succeed(
        self,
        message: DeliveryMessage,
        delivery: Delivery,
        endpoint: Endpoint,
        reply: Reply,
        now_ms: int,
    ) -> Handled:
        attempt = _attempt_of(message, delivery, now_ms, "succeeded", reply)
        handled = self._record(delivery, attempt, Outcome(SUCCEEDED, message.step))
        if endpoint.failing_since is not None:
            self._endpoints.note_success(endpoint.webhook_id)
        return handled

    def _gone(
        self, message: DeliveryMessage, delivery: Delivery, reply: Reply, now_ms: int
    ) -> Handled:
        reason = "the receiver answered 410 Gone"
        self._endpoints.disable(delivery.webhook_id, reason, now_ms)
        attempt = _attempt_of(message, delivery, now_ms, "failed", reply)
        attempt = replace(attempt, error=f"{reason}; endpoint disabled")
        return self._record(delivery, attempt, Outcome(FAILED, message.step))

    def _retry_or_fail(
        self, message: DeliveryMessage, delivery: Delivery, reply: Reply, now_ms: int
    ) -> Handled:
        attempt = _attempt_of(message, delivery, now_ms, "failed", reply)
        disabled = self._disable_if_failing_too_long(delivery.webhook_id, now_ms)
        if disabled:
            attempt = replace(attempt, error=disabled)
            return self._record(delivery, attempt, Outcome(FAILED, message.step))
        step = message.step + 1
        if step >= self._schedule.attempts:
            self._queue.dead_letter(message, attempt.error or "failed")
            return self._record(delivery, attempt, Outcome(FAILED, message.step))
        wait = self._schedule.wait_before(step)
        due_ms = now_ms + int(wait * 1000)
        # The same delivery, event and correlation id, one attempt on.
        following = replace(
            message, attempt=message.attempt + 1, step=step, due_ms=due_ms
        )
        self._queue.send(following, hop(wait))
        attempt = replace(attempt, next_attempt_at=due_ms)
        return self._record(delivery, attempt, Outcome(PENDING, step, due_ms))

    def _disable_if_failing_too_long(self, webhook_id: str, now_ms: int) -> str | None:
        try:
            since = self._endpoints.note_failure(webhook_id, now_ms)
        except ConditionFailed:
            return None  # deleted meanwhile; the next attempt will find out
        if now_ms - since < self._disable_after_ms:
            return None
        span = _span(self._disable_after_ms // 1000)
        reason = f"every attempt failed for {span}, since {stamp(since)}"
        self._endpoints.disable(webhook_id, reason, now_ms)
        return f"endpoint disabled: {reason}"

    def _refuse(
        self, message: DeliveryMessage, delivery: Delivery, reason: str
    ) -> Handled:
        now_ms = millis(self._clock.now())
        attempt = Attempt(
            delivery_id=delivery.delivery_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            attempt=message.attempt,
            attempted_at=now_ms,
            outcome="refused",
            error=reason,
        )
        return self._record(delivery, attempt, Outcome(FAILED, message.step))

    def _record(
        self, delivery: Delivery, attempt: Attempt, outcome: Outcome
    ) -> Handled:
        try:
            self._deliveries.record(
                delivery, attempt, outcome, millis(self._clock.now())
            )
        except ConditionFailed:
            # Our lease ran out and another handler took the attempt over.
            logs.line(
                logger, "webhook_lease_lost", logging.WARNING, attempt=attempt.attempt
            )
            return Handled("lease_lost", attempt)
        result = "refused" if attempt.outcome == "refused" else outcome.status
        return Handled(result, attempt)


def _span(seconds: int) -> str:
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def _unavailable(endpoint: Endpoint | None) -> str:
    if endpoint is None:
        return "the endpoint was deleted"
    return f"the endpoint is disabled: {endpoint.disabled_reason or 'by its owner'}"


def _attempt_of(
    message: DeliveryMessage,
    delivery: Delivery,
    now_ms: int,
    outcome: str,
    reply: Reply,
) -> Attempt:
    return Attempt(
        delivery_id=delivery.delivery_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        attempt=message.attempt,
        attempted_at=now_ms,
        outcome=outcome,
        status_code=reply.status_code,
        latency_ms=reply.latency_ms,
        error=reply.error,
        excerpt=reply.excerpt,
    )


def handle_batch(deliverer: Deliverer, records: Iterable[tuple[str, str]]) -> None:
    """Handle every (message id, body) of an SQS batch; raise BatchFailed at
    the end if any could not be handled, so SQS delivers them again.

    The batch's metrics are one scope: a document per outcome seen.
    """
    with metrics.scope():
        failed, handled = _handle_all(deliverer, records)
    if failed:
        raise BatchFailed(f"{failed} of {handled} delivery messages failed")


def _handle_all(
    deliverer: Deliverer, records: Iterable[tuple[str, str]]
) -> tuple[int, int]:
    failed = handled = 0
    for message_id, body in records:
        handled += 1
        try:
            message = DeliveryMessage.from_json(body)
        except MalformedMessage:
            # A message that can never be handled is dropped, not retried.
            logs.line(
                logger, "webhook_message_dropped", logging.ERROR, message_id=message_id
            )
            metrics.count("DeliveryMessages", Result="malformed")
            continue
        with logs.bound(
            correlation_id=message.correlation_id,
            event_id=message.event_id,
            webhook_id=message.webhook_id,
            delivery_id=message.delivery_id,
        ):
            failed += not _handle_one(deliverer, message_id, message)
    return failed, handled


def _handle_one(
    deliverer: Deliverer, message_id: str, message: DeliveryMessage
) -> bool:
    """Handle one message; tell whether it may be deleted from the queue."""
    try:
        with tracing.subsegment(
            "webhook.delivery",
            correlation_id=message.correlation_id,
            webhook_id=message.webhook_id,
            delivery_id=message.delivery_id,
            attempt=message.attempt,
        ):
            outcome = deliverer.handle(message)
    except Exception:
        # Whatever went wrong, the message must come back: the batch is
        # failed at the end, after the other messages had their turn.
        logs.line(
            logger,
            "webhook_attempt",
            logging.ERROR,
            exc_info=True,
            message_id=message_id,
            attempt=message.attempt,
            result="error",
        )
        metrics.count("DeliveryMessages", Result="error")
        return False
    _log(message_id, message, outcome)
    _count(outcome)
    return True


def _count(handled: Handled) -> None:
    # pending after an attempt means another one is queued: a retry.
    result = "retried" if handled.result == PENDING else handled.result
    metrics.count("DeliveryMessages", Result=result)
    if handled.attempt is not None:
        metrics.count("DeliveryAttempts", Outcome=handled.attempt.outcome)


def _log(message_id: str, message: DeliveryMessage, handled: Handled) -> None:
    attempt = handled.attempt
    logs.line(
        logger,
        "webhook_attempt",
        message_id=message_id,
        attempt=message.attempt,
        result=handled.result,
        status_code=attempt.status_code if attempt else None,
        latency_ms=attempt.latency_ms if attempt else None,
        error=attempt.error if attempt else None,
    )
