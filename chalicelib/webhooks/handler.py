"""The delivery Lambda's entry: an SQS batch in, one attempt per message."""

from __future__ import annotations

from chalice.app import SQSEvent

from chalicelib.services import services
from chalicelib.webhooks.delivery import handle_batch


def deliver_sqs_event(event: SQSEvent) -> None:
    """Handle an SQS event (from Lambda, or the local stack's queue poller)."""
    records = ((str(r.to_dict().get("messageId", "")), r.body) for r in event)
    handle_batch(services().webhooks.deliverer, records)
