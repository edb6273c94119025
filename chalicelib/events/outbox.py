"""The event outbox: domain events written in the same transaction as their cause.

An event is a row of the events table. Writers add it to the
``TransactWriteItems`` that makes the change, so a crash can never separate a
change from its event. Dispatchers (webhooks, WebSocket fan-out) read pending
rows later.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from chalicelib import logs
from chalicelib.clock import iso
from chalicelib.dynamo import to_item

PENDING = "pending"


@dataclass(frozen=True)
class DomainEvent:
    """One thing that happened, as webhooks and streams will describe it.

    ``correlation_id`` ties the event to what caused it, for logs and traces
    (never part of the public body). Left empty it is the one bound now (the
    request's, or the event's being dispatched, which caused this one), else
    ``request_id``, else a fresh one.
    """

    event_type: str
    data: dict[str, Any]
    occurred_at: float
    event_id: str = field(default_factory=lambda: "evt_" + secrets.token_hex(12))
    request_id: str | None = None
    correlation_id: str = ""

    def __post_init__(self) -> None:
        if not self.correlation_id:
            chosen = (
                logs.correlation_id() or self.request_id or logs.new_correlation_id()
            )
            # Frozen: the one assignment, while the event is being built.
            object.__setattr__(self, "correlation_id", chosen)

    @classmethod
    def once(
        cls, event_type: str, identity: str, data: dict[str, Any], occurred_at: float
    ) -> DomainEvent:
        """Build an event whose id is fixed by ``identity``, so it is recorded once."""
        digest = hashlib.sha256(f"{event_type}|{identity}".encode()).hexdigest()[:24]
        return cls(event_type, data, occurred_at, event_id="evt_" + digest)

    def body(self) -> dict[str, Any]:
        """Return the public wire form: event_type, event_id, timestamp, data."""
        return {
            "event_type": self.event_type,
            "event_id": self.event_id,
            "timestamp": iso(self.occurred_at),
            "data": self.data,
        }


def put_event(table: str, event: DomainEvent) -> Any:
    """Return the transaction item that records ``event`` exactly once."""
    values = {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "timestamp": iso(event.occurred_at),
        "occurred_at": int(event.occurred_at * 1000),
        "data": json.dumps(event.data, separators=(",", ":"), sort_keys=True),
        "dispatch": PENDING,
        "request_id": event.request_id,
        "correlation_id": event.correlation_id,
        # The owner whose event log (GET /api/events) lists it, if any.
        "owner_id": _owner(event),
    }
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(values),
            "ConditionExpression": "attribute_not_exists(event_id)",
        }
    }


def _owner(event: DomainEvent) -> str | None:
    owner = event.data.get("owner_id")
    return owner if isinstance(owner, str) and owner else None
