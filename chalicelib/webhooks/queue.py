"""The delivery queue and its dead-letter queue: one message per attempt.

A message names a delivery and the attempt it is for, and the time that
attempt is due. It carries no body and no secret: the delivery item holds
the body, and the endpoint its secrets, as they are when the attempt runs.
It also names the event and the correlation id of what caused it, for the log
lines and traces of the attempt; every later hop of the delivery copies them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.webhooks.storage import call

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class MalformedMessage(ValueError):
    """Raised when a queue message is not a delivery message."""


@dataclass(frozen=True)
class DeliveryMessage:
    """One attempt of one delivery, as queued."""

    webhook_id: str
    delivery_id: str
    attempt: int
    step: int
    due_ms: int
    event_id: str | None = None
    correlation_id: str | None = None

    def to_json(self) -> str:
        values = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps(values, separators=(",", ":"))

    @classmethod
    def from_json(cls, body: str) -> DeliveryMessage:
        try:
            values = json.loads(body)
            return cls(
                webhook_id=str(values["webhook_id"]),
                delivery_id=str(values["delivery_id"]),
                attempt=int(values["attempt"]),
                step=int(values["step"]),
                due_ms=int(values["due_ms"]),
                # Absent from messages queued before they were carried.
                event_id=_optional(values.get("event_id")),
                correlation_id=_optional(values.get("correlation_id")),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise MalformedMessage(f"not a delivery message: {body[:100]!r}") from exc


def _optional(value: Any) -> str | None:
    return str(value) if value is not None else None


class DeliveryQueue:
    """Puts attempts on the delivery queue and spent deliveries on the DLQ."""

    def __init__(self, client: SQSClient, queue_url: str, dlq_url: str) -> None:
        self._client = client
        self._queue_url = queue_url
        self._dlq_url = dlq_url

    def send(self, message: DeliveryMessage, delay_seconds: int = 0) -> None:
        """Queue ``message``, visible after ``delay_seconds`` (0 to 900)."""
        call(
            self._client.send_message,
            QueueUrl=self._queue_url,
            MessageBody=message.to_json(),
            DelaySeconds=delay_seconds,
        )

    def dead_letter(self, message: DeliveryMessage, reason: str) -> None:
        """Put a delivery that used its last attempt on the dead-letter queue."""
        body: dict[str, Any] = {**asdict(message), "reason": reason}
        call(
            self._client.send_message,
            QueueUrl=self._dlq_url,
            MessageBody=json.dumps(body, separators=(",", ":")),
        )
