"""Request and response models of the webhook endpoints, and the event types."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from chalicelib.keys.models import OWNER_PATTERN
from chalicelib.models import Model

EventType = Literal[
    "threat.detected",
    "threat.resolved",
    "vr.session.started",
    "vr.session.ended",
    "quota.warning",
    "quota.exceeded",
]
# What an endpoint may subscribe to; "*" means every event type.
Subscription = Literal[
    "threat.detected",
    "threat.resolved",
    "vr.session.started",
    "vr.session.ended",
    "quota.warning",
    "quota.exceeded",
    "*",
]
TEST_EVENT = "webhook.test"
DeliveryStatus = Literal["pending", "succeeded", "failed"]
AttemptOutcome = Literal["succeeded", "failed", "refused"]


class StrictModel(Model):
    """Base for request bodies: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _unique(value: list[Subscription]) -> list[Subscription]:
    return sorted(set(value))


class CreateWebhookRequest(StrictModel):
    """Body of ``POST /api/webhooks``."""

    url: str = Field(
        min_length=8,
        max_length=2048,
        description="https URL that receives the events (http only locally).",
        examples=["https://hooks.example.com/jupiter"],
    )
    events: list[Subscription] = Field(
        min_length=1,
        max_length=7,
        description='Event types to deliver; "*" subscribes to all.',
        examples=[["threat.detected", "threat.resolved"]],
    )
    description: str | None = Field(default=None, max_length=256)
    owner_id: str | None = Field(
        default=None,
        pattern=OWNER_PATTERN,
        description="Owner of the endpoint (ADMIN only); defaults to the key's.",
    )

    @field_validator("events")
    @classmethod
    def _events_unique(cls, value: list[Subscription]) -> list[Subscription]:
        return _unique(value)


class UpdateWebhookRequest(StrictModel):
    """Body of ``PATCH /api/webhooks/{webhook_id}``: only the fields given change."""

    url: str | None = Field(default=None, min_length=8, max_length=2048)
    events: list[Subscription] | None = Field(default=None, min_length=1, max_length=7)
    description: str | None = Field(default=None, max_length=256)
    enabled: bool | None = Field(
        default=None, description="true re-enables an endpoint and clears its reason."
    )

    @field_validator("events")
    @classmethod
    def _events_unique(
        cls, value: list[Subscription] | None
    ) -> list[Subscription] | None:
        return None if value is None else _unique(value)


class ListWebhooksQuery(StrictModel):
    """Query of ``GET /api/webhooks``."""

    owner_id: str | None = Field(default=None, pattern=OWNER_PATTERN)
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)


class ListAttemptsQuery(StrictModel):
    """Query of ``GET /api/webhooks/{webhook_id}/deliveries``."""

    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)


class ReplayFailedRequest(StrictModel):
    """Body of ``POST /api/webhooks/{webhook_id}/replay``."""

    since: datetime = Field(
        description="Replay failed deliveries created at or after this RFC 3339 time."
    )
    limit: int = Field(default=100, ge=1, le=1000)

    @field_validator("since")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must include a time zone, for example 2027-01-01T00:00Z")
        return value


class WebhookView(Model):
    """An endpoint as listed: never its secret."""

    webhook_id: str
    owner_id: str
    url: str
    events: list[Subscription]
    description: str | None = None
    enabled: bool
    disabled_reason: str | None = Field(
        default=None, description="Why the endpoint was disabled, when it is."
    )
    disabled_at: str | None = None
    failing_since: str | None = Field(
        default=None, description="Start of the current run of failed attempts."
    )
    created_at: str
    updated_at: str
    previous_secret_valid_until: str | None = Field(
        default=None, description="Until then the previous secret signs too."
    )


class WebhookWithSecret(WebhookView):
    """An endpoint as created or rotated: the only time its secret is shown."""

    secret: str = Field(description="whsec_… signing secret; shown once, store it.")


class WebhookList(Model):
    """Response of ``GET /api/webhooks``."""

    webhooks: list[WebhookView]
    next_cursor: str | None = None


class AttemptView(Model):
    """One attempt of one delivery, as the attempt log shows it."""

    delivery_id: str
    event_id: str
    event_type: str
    attempt: int = Field(description="1 for the first attempt of the delivery.")
    attempted_at: str
    outcome: AttemptOutcome
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    next_attempt_at: str | None = Field(
        default=None, description="When the next attempt is due, if one is."
    )


class AttemptList(Model):
    """Response of ``GET /api/webhooks/{webhook_id}/deliveries``, newest first."""

    attempts: list[AttemptView]
    next_cursor: str | None = None


class DeliveryView(Model):
    """One event's delivery to one endpoint."""

    delivery_id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int = Field(description="Attempts made so far.")
    created_at: str
    updated_at: str
    next_attempt_at: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None


class ReplayReport(Model):
    """Response of ``POST /api/webhooks/{webhook_id}/replay``."""

    replayed: int
    delivery_ids: list[str]
    more: bool = Field(description="true when more failures remain; call again.")
