"""The webhook sink of the event dispatcher: one queued delivery per endpoint.

For each domain event the dispatcher hands over, the sink finds the enabled
endpoints of the event's owner (``data["owner_id"]``) that subscribe to its
type, and for each one

1. records the delivery with a conditional put (its id is derived from the
   event and the endpoint, so a re-dispatched event finds it);
2. puts the first attempt on the delivery queue;
3. notes on the delivery that its message is queued.

A delivery already noted as queued is skipped, so a re-dispatched event does
not queue it twice. A delivery recorded but not noted (the process died
between 1 and 3) is queued again: that may queue it twice, never zero times,
and the copies carry the same delivery, hence the same ``webhook-id``. If the
sink fails part-way, the dispatcher keeps the event pending and calls again.
"""

from __future__ import annotations

import json
import logging

from chalicelib import logs
from chalicelib.clock import Clock
from chalicelib.events.outbox import DomainEvent
from chalicelib.webhooks.deliveries import (
    PENDING,
    Delivery,
    DeliveryStore,
    delivery_id_for,
)
from chalicelib.webhooks.endpoints import Endpoint, EndpointStore
from chalicelib.webhooks.queue import DeliveryMessage, DeliveryQueue
from chalicelib.webhooks.storage import millis

logger = logging.getLogger(__name__)


class WebhookSink:
    """Turns domain events into queued webhook deliveries."""

    name = "webhooks"

    def __init__(
        self,
        endpoints: EndpointStore,
        deliveries: DeliveryStore,
        queue: DeliveryQueue,
        clock: Clock,
    ) -> None:
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._queue = queue
        self._clock = clock

    def deliver(self, event: DomainEvent) -> None:
        """Queue ``event`` for every endpoint of its owner that subscribes to it."""
        owner_id = event.data.get("owner_id")
        if not isinstance(owner_id, str):
            logs.line(logger, "webhook_no_owner", logging.DEBUG)
            return
        for endpoint in self._endpoints.subscribed(owner_id, event.event_type):
            self.enqueue(event, endpoint)

    def enqueue(self, event: DomainEvent, endpoint: Endpoint) -> Delivery:
        """Record and queue the delivery of ``event`` to ``endpoint``, once."""
        now_ms = millis(self._clock.now())
        fresh = _delivery(event, endpoint, now_ms)
        existing = self._deliveries.create(fresh)
        if existing is not None and existing.enqueued_at is not None:
            logs.line(
                logger,
                "webhook_queued",
                webhook_id=endpoint.webhook_id,
                delivery_id=fresh.delivery_id,
                result="already_queued",
            )
            return existing
        delivery = existing or fresh
        self.queue_next(delivery, now_ms)
        return delivery

    def queue_next(self, delivery: Delivery, now_ms: int) -> None:
        """Queue the delivery's next attempt now and note that it is queued.

        The message carries the correlation id bound now (a replay's request,
        or the event being dispatched), else the one the delivery recorded.
        """
        message = DeliveryMessage(
            webhook_id=delivery.webhook_id,
            delivery_id=delivery.delivery_id,
            attempt=delivery.next_attempt,
            step=delivery.step,
            due_ms=now_ms,
            event_id=delivery.event_id,
            correlation_id=logs.correlation_id() or delivery.correlation_id,
        )
        self._queue.send(message)
        self._deliveries.mark_enqueued(
            delivery.webhook_id, delivery.delivery_id, now_ms
        )
        logs.line(
            logger,
            "webhook_queued",
            correlation_id=message.correlation_id,
            event_id=delivery.event_id,
            webhook_id=delivery.webhook_id,
            delivery_id=delivery.delivery_id,
            attempt=message.attempt,
            result="queued",
        )


def _delivery(event: DomainEvent, endpoint: Endpoint, now_ms: int) -> Delivery:
    return Delivery(
        webhook_id=endpoint.webhook_id,
        delivery_id=delivery_id_for(event.event_id, endpoint.webhook_id),
        owner_id=endpoint.owner_id,
        event_id=event.event_id,
        event_type=event.event_type,
        # Serialized once: every attempt sends these exact bytes.
        payload=json.dumps(event.body(), separators=(",", ":")),
        status=PENDING,
        attempts=0,
        next_attempt=1,
        step=0,
        created_at=now_ms,
        updated_at=now_ms,
        next_attempt_at=now_ms,
        correlation_id=event.correlation_id,
    )
