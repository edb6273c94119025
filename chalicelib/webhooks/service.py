"""Webhook management: endpoints, secrets, the attempt log, tests and replays.

A key manages its own owner's endpoints; an ADMIN key sees every owner's.
An endpoint another owner holds is answered as not found, so ids of other
owners' endpoints cannot be probed.
"""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib import cursors
from chalicelib.clock import Clock
from chalicelib.errors import Conflict, EscalationDenied, NotFound, ValidationFailed
from chalicelib.events.outbox import DomainEvent
from chalicelib.keys.service import Actor
from chalicelib.webhooks.deliveries import Attempt, Delivery, DeliveryStore
from chalicelib.webhooks.endpoints import Endpoint, EndpointStore
from chalicelib.webhooks.models import (
    TEST_EVENT,
    AttemptList,
    AttemptView,
    CreateWebhookRequest,
    DeliveryView,
    ListAttemptsQuery,
    ListWebhooksQuery,
    ReplayFailedRequest,
    ReplayReport,
    UpdateWebhookRequest,
    WebhookList,
    WebhookView,
    WebhookWithSecret,
)
from chalicelib.webhooks.signing import new_secret
from chalicelib.webhooks.sink import WebhookSink
from chalicelib.webhooks.ssrf import AddressPolicy, UrlRefused
from chalicelib.webhooks.storage import ConditionFailed, millis, stamp

ROTATION_OVERLAP_MS = 86_400_000
OWNER_DISABLED = "disabled by its owner"


class WebhookService:
    """Manages endpoints and their deliveries on behalf of a key."""

    def __init__(
        self,
        endpoints: EndpointStore,
        deliveries: DeliveryStore,
        sink: WebhookSink,
        policy: AddressPolicy,
        clock: Clock,
        cursor_secret: str,
    ) -> None:
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._sink = sink
        self._policy = policy
        self._clock = clock
        self._cursor_secret = cursor_secret

    def create(self, actor: Actor, request: CreateWebhookRequest) -> WebhookWithSecret:
        """Register an endpoint; its secret is returned this once."""
        owner_id = request.owner_id or actor.owner_id
        if owner_id != actor.owner_id and not actor.is_admin:
            raise EscalationDenied(
                "a non-admin key may only manage its own owner's webhooks"
            )
        self._vet(request.url)
        now_ms = millis(self._clock.now())
        endpoint = Endpoint(
            webhook_id="wh_" + secrets.token_hex(12),
            owner_id=owner_id,
            url=request.url,
            events=tuple(request.events),
            enabled=True,
            created_at=now_ms,
            updated_at=now_ms,
            description=request.description,
            secret=new_secret(),
        )
        self._endpoints.create(endpoint)
        return _with_secret(endpoint)

    def list_webhooks(self, actor: Actor, query: ListWebhooksQuery) -> WebhookList:
        """List one owner's endpoints, newest first."""
        owner_id = query.owner_id or actor.owner_id
        if owner_id != actor.owner_id and not actor.is_admin:
            return WebhookList(webhooks=[])
        scope = f"webhooks|{owner_id}"
        start = self._position(query.cursor, scope)
        endpoints, last = self._endpoints.page(owner_id, query.limit, start)
        return WebhookList(
            webhooks=[_view(e) for e in endpoints],
            next_cursor=self._cursor(last, scope),
        )

    def get(self, actor: Actor, webhook_id: str) -> WebhookView:
        return _view(self._visible(actor, webhook_id))

    def update(
        self, actor: Actor, webhook_id: str, request: UpdateWebhookRequest
    ) -> WebhookView:
        """Change an endpoint's URL, events, description or enabled state."""
        self._visible(actor, webhook_id)
        now_ms = millis(self._clock.now())
        sets: dict[str, Any] = {"updated_at": now_ms}
        removes: list[str] = []
        if request.url is not None:
            self._vet(request.url)
            sets["url"] = request.url
        if request.events is not None:
            sets["events"] = list(request.events)
        if "description" in request.model_fields_set:
            if request.description is None:
                removes.append("description")
            else:
                sets["description"] = request.description
        if request.enabled is True:
            sets["enabled"] = True
            removes.extend(("disabled_reason", "disabled_at", "failing_since"))
        elif request.enabled is False:
            sets.update(enabled=False, disabled_reason=OWNER_DISABLED)
            sets["disabled_at"] = now_ms
        try:
            endpoint = self._endpoints.update(webhook_id, sets, tuple(removes))
        except ConditionFailed:
            raise NotFound(f"no webhook {webhook_id!r} visible to this key") from None
        return _view(endpoint)

    def delete(self, actor: Actor, webhook_id: str) -> WebhookView:
        """Delete an endpoint; its queued attempts are refused when they run."""
        endpoint = self._visible(actor, webhook_id)
        self._endpoints.delete(webhook_id)
        return _view(endpoint)

    def rotate_secret(self, actor: Actor, webhook_id: str) -> WebhookWithSecret:
        """Give an endpoint a new secret; the old one also signs for 24 hours."""
        current = self._visible(actor, webhook_id)
        now_ms = millis(self._clock.now())
        secret = new_secret()
        try:
            endpoint = self._endpoints.update(
                webhook_id,
                {
                    "secret": secret,
                    "prev_secret": current.secret,
                    "prev_until": now_ms + ROTATION_OVERLAP_MS,
                    "updated_at": now_ms,
                },
                # Fails if another rotation got there first.
                condition=("secret", current.secret),
            )
        except ConditionFailed:
            raise Conflict("the secret was rotated meanwhile; retry") from None
        return _with_secret(endpoint)

    def send_test(self, actor: Actor, webhook_id: str) -> DeliveryView:
        """Queue a ``webhook.test`` event for one endpoint."""
        endpoint = self._enabled(actor, webhook_id)
        data = {
            "webhook_id": endpoint.webhook_id,
            "owner_id": endpoint.owner_id,
            "message": "This is a test event from Jupiter.",
        }
        event = DomainEvent(TEST_EVENT, data, self._clock.now())
        return _delivery_view(self._sink.enqueue(event, endpoint))

    def attempts(
        self, actor: Actor, webhook_id: str, query: ListAttemptsQuery
    ) -> AttemptList:
        """Return the endpoint's attempt log, newest first."""
        self._visible(actor, webhook_id)
        scope = f"attempts|{webhook_id}"
        start = self._position(query.cursor, scope)
        attempts, last = self._deliveries.attempts_page(webhook_id, query.limit, start)
        return AttemptList(
            attempts=[_attempt_view(a) for a in attempts],
            next_cursor=self._cursor(last, scope),
        )

    def delivery(self, actor: Actor, webhook_id: str, delivery_id: str) -> DeliveryView:
        """Return one delivery's state."""
        self._visible(actor, webhook_id)
        delivery = self._deliveries.get(webhook_id, delivery_id)
        if delivery is None:
            raise NotFound(f"no delivery {delivery_id!r} for webhook {webhook_id!r}")
        return _delivery_view(delivery)

    def replay(self, actor: Actor, webhook_id: str, delivery_id: str) -> DeliveryView:
        """Send a finished delivery again, with a new round of attempts."""
        self._enabled(actor, webhook_id)
        now_ms = millis(self._clock.now())
        try:
            delivery = self._deliveries.reopen(webhook_id, delivery_id, now_ms)
        except ConditionFailed:
            if self._deliveries.get(webhook_id, delivery_id) is None:
                raise NotFound(f"no delivery {delivery_id!r}") from None
            raise Conflict(f"delivery {delivery_id!r} is still in progress") from None
        self._sink.queue_next(delivery, now_ms)
        return _delivery_view(delivery)

    def replay_failed(
        self, actor: Actor, webhook_id: str, request: ReplayFailedRequest
    ) -> ReplayReport:
        """Replay the endpoint's failed deliveries created since a time."""
        self._enabled(actor, webhook_id)
        since_ms = millis(request.since.timestamp())
        ids, more = self._deliveries.failed_since(webhook_id, since_ms, request.limit)
        replayed = []
        now_ms = millis(self._clock.now())
        for delivery_id in ids:
            try:
                delivery = self._deliveries.reopen(webhook_id, delivery_id, now_ms)
            except ConditionFailed:
                continue  # replayed meanwhile, or the index lags
            self._sink.queue_next(delivery, now_ms)
            replayed.append(delivery_id)
        return ReplayReport(replayed=len(replayed), delivery_ids=replayed, more=more)

    def _visible(self, actor: Actor, webhook_id: str) -> Endpoint:
        endpoint = self._endpoints.get(webhook_id)
        if endpoint is None or (
            endpoint.owner_id != actor.owner_id and not actor.is_admin
        ):
            raise NotFound(f"no webhook {webhook_id!r} visible to this key")
        return endpoint

    def _enabled(self, actor: Actor, webhook_id: str) -> Endpoint:
        endpoint = self._visible(actor, webhook_id)
        if not endpoint.enabled:
            raise Conflict(
                f"webhook {webhook_id!r} is disabled ({endpoint.disabled_reason});"
                " enable it with PATCH first"
            )
        return endpoint

    def _vet(self, url: str) -> None:
        try:
            self._policy.vet(url)
        except UrlRefused as refused:
            raise ValidationFailed(
                f"invalid body: body.url: {refused}",
                [{"field": "body.url", "message": str(refused)}],
            ) from None

    def _position(self, cursor: str | None, scope: str) -> dict[str, Any] | None:
        if not cursor:
            return None
        return cursors.decode(cursor, scope, self._cursor_secret)

    def _cursor(self, last: dict[str, Any] | None, scope: str) -> str | None:
        return cursors.encode(last, scope, self._cursor_secret) if last else None


def _view(endpoint: Endpoint) -> WebhookView:
    return WebhookView(
        webhook_id=endpoint.webhook_id,
        owner_id=endpoint.owner_id,
        url=endpoint.url,
        events=list(endpoint.events),
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        disabled_at=stamp(endpoint.disabled_at),
        failing_since=stamp(endpoint.failing_since),
        created_at=stamp(endpoint.created_at),
        updated_at=stamp(endpoint.updated_at),
        previous_secret_valid_until=stamp(endpoint.previous_until),
    )


def _with_secret(endpoint: Endpoint) -> WebhookWithSecret:
    assert endpoint.secret is not None
    return WebhookWithSecret(**_view(endpoint).model_dump(), secret=endpoint.secret)


def _delivery_view(delivery: Delivery) -> DeliveryView:
    return DeliveryView(
        delivery_id=delivery.delivery_id,
        webhook_id=delivery.webhook_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        created_at=stamp(delivery.created_at),
        updated_at=stamp(delivery.updated_at),
        next_attempt_at=stamp(delivery.next_attempt_at),
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
    )


def _attempt_view(attempt: Attempt) -> AttemptView:
    return AttemptView(
        delivery_id=attempt.delivery_id,
        event_id=attempt.event_id,
        event_type=attempt.event_type,
        attempt=attempt.attempt,
        attempted_at=stamp(attempt.attempted_at),
        outcome=attempt.outcome,
        status_code=attempt.status_code,
        latency_ms=attempt.latency_ms,
        error=attempt.error,
        response_excerpt=attempt.excerpt,
        next_attempt_at=stamp(attempt.next_attempt_at),
    )
