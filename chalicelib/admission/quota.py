"""The monthly data quota: count response bytes and raise quota events once.

Bytes are known only after the response is built, so they are added by a
second small write. When that write carries the month across 80 % or 100 %
of the quota, a transaction stamps the key's month flag and records the event
together, so the event is recorded once per month per key and never lost: a
process that dies before the transaction leaves the flag unset, and the next
write for that key (or the admission that refuses it) records it instead.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import logs
from chalicelib.admission.window import month_of
from chalicelib.clock import Clock
from chalicelib.dynamo import from_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

# (fraction of the quota, event type, attribute holding the month it was sent)
THRESHOLDS = ((1.0, "quota.exceeded", "qx"), (0.8, "quota.warning", "qw"))


class DataMeter:
    """Adds response bytes to a key's month and records quota events."""

    def __init__(
        self, client: DynamoDBClient, keys_table: str, events_table: str, clock: Clock
    ) -> None:
        self._client = client
        self._keys_table = keys_table
        self._events_table = events_table
        self._clock = clock

    def record(self, key_id: str, size: int, request_id: str | None = None) -> None:
        """Count ``size`` response bytes for the key's current month."""
        now = self._clock.now()
        try:
            response = self._client.update_item(
                TableName=self._keys_table,
                Key={"key_id": {"S": key_id}},
                UpdateExpression="SET mb = mb + :n",
                # Admission already moved the item to this month.
                ConditionExpression="ms = :m",
                ExpressionAttributeValues={
                    ":n": {"N": str(size)},
                    ":m": {"N": str(month_of(now))},
                },
                ReturnValues="ALL_NEW",
            )
        except (ClientError, BotoCoreError) as exc:
            code = (
                exc.response["Error"]["Code"]
                if isinstance(exc, ClientError)
                else type(exc).__name__
            )
            if code != "ConditionalCheckFailedException":
                logs.line(
                    logger,
                    "response_bytes_uncounted",
                    logging.WARNING,
                    key_id=key_id,
                    bytes=size,
                    error=code,
                )
            return
        self.raise_events(from_item(response["Attributes"]), request_id)

    def raise_events(self, item: dict[str, Any], request_id: str | None = None) -> None:
        """Record each quota event the item has crossed and not yet recorded."""
        now = self._clock.now()
        month = month_of(now)
        if int(item.get("ms", -1)) != month:
            return
        for fraction, event_type, flag in THRESHOLDS:
            crossed = int(item["mb"]) >= fraction * int(item["lm"])
            if crossed and int(item.get(flag, -1)) != month:
                self._record_once(item, event_type, flag, month, now, request_id)

    def _record_once(
        self,
        item: dict[str, Any],
        event_type: str,
        flag: str,
        month: int,
        now: float,
        request_id: str | None,
    ) -> None:
        # Imported here: a key crosses a threshold twice a month, and the
        # outbox is no part of an ordinary request's cold start.
        from chalicelib.events.outbox import DomainEvent, put_event

        label = datetime.fromtimestamp(now, UTC).strftime("%Y-%m")
        data = {
            "key_id": item["key_id"],
            "owner_id": item["ow"],
            "tier": item["tr"],
            "month": label,
            "bytes_used": int(item["mb"]),
            "bytes_limit": int(item["lm"]),
        }
        event = DomainEvent.once(event_type, f"{item['key_id']}|{month}", data, now)
        event = DomainEvent(event.event_type, data, now, event.event_id, request_id)
        try:
            flag_update: Any = {
                "Update": {
                    "TableName": self._keys_table,
                    "Key": {"key_id": {"S": str(item["key_id"])}},
                    "UpdateExpression": "SET #f = :m",
                    # Only the first writer this month records the event.
                    "ConditionExpression": "attribute_not_exists(#f) OR #f <> :m",
                    "ExpressionAttributeNames": {"#f": flag},
                    "ExpressionAttributeValues": {":m": {"N": str(month)}},
                }
            }
            self._client.transact_write_items(
                TransactItems=[flag_update, put_event(self._events_table, event)]
            )
        except ClientError as exc:
            # Cancelled by a condition means another writer recorded it first.
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                logs.line(
                    logger,
                    "quota_event_unrecorded",
                    logging.WARNING,
                    event_type=event_type,
                    error=exc.response["Error"]["Code"],
                )
            return
        except BotoCoreError as exc:
            # Left unrecorded, the flag stays unset: a later write records it.
            logs.line(
                logger,
                "quota_event_unrecorded",
                logging.WARNING,
                event_type=event_type,
                error=type(exc).__name__,
            )
            return
        logs.line(
            logger, "quota_event_recorded", event_type=event_type, key_id=item["key_id"]
        )
