"""The webhook-deliveries table: each delivery's state and its attempt log.

A delivery is one event for one endpoint. Its item (``sk = d#<delivery_id>``)
holds the exact body every attempt sends and the state that makes delivery
idempotent:

- ``next``: the attempt number the one valid queue message carries. Older
  messages (SQS delivers at least once) are stale and dropped;
- ``lease``: set by the conditional write that claims an attempt, so two
  copies of one message never send at the same time;
- ``status``: ``pending`` until an attempt succeeds or the last one fails.
  Once ``succeeded`` is recorded, nothing sends the delivery again unless an
  owner replays it.

Each attempt adds an item (``sk = a#<time ms>#<delivery_id>#<attempt>``) in
the same transaction that moves the delivery on, so the log and the state
never disagree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.dynamo import Expression, from_item, to_item
from chalicelib.webhooks.storage import ConditionFailed, call

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
FAILED_INDEX = "failed"
RETENTION_MS = 30 * 86_400 * 1000
# A pending attempt this far past its due time has lost its message: SQS would
# have shown it again after the queue's 600 s visibility timeout.
OVERDUE_MS = 15 * 60 * 1000

_DELIVERY = "d#"
_ATTEMPT = "a#"


def delivery_id_for(event_id: str, webhook_id: str) -> str:
    """Return the delivery id of an event for an endpoint: the same every time."""
    digest = hashlib.sha256(f"{event_id}|{webhook_id}".encode()).hexdigest()
    return "dlv_" + digest[:24]


@dataclass(frozen=True)
class Delivery:
    """One event's delivery to one endpoint (times in epoch milliseconds)."""

    webhook_id: str
    delivery_id: str
    owner_id: str
    event_id: str
    event_type: str
    payload: str
    status: str
    attempts: int
    next_attempt: int
    step: int
    created_at: int
    updated_at: int
    next_attempt_at: int | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    enqueued_at: int | None = None
    lease: int | None = None
    # What caused the event, for the attempts' log lines (absent on old items).
    correlation_id: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Delivery:
        values = from_item(item)
        return cls(
            webhook_id=values["webhook_id"],
            delivery_id=values["delivery_id"],
            owner_id=values["owner_id"],
            event_id=values["event_id"],
            event_type=values["event_type"],
            payload=values["payload"],
            status=values["status"],
            attempts=values["attempts"],
            next_attempt=values["next"],
            step=values["step"],
            created_at=values["created_at"],
            updated_at=values["updated_at"],
            next_attempt_at=values.get("next_attempt_at"),
            last_status_code=values.get("last_status_code"),
            last_error=values.get("last_error"),
            enqueued_at=values.get("eq"),
            lease=values.get("lease"),
            correlation_id=values.get("cid"),
        )


@dataclass(frozen=True)
class Attempt:
    """One attempt of one delivery, as logged."""

    delivery_id: str
    event_id: str
    event_type: str
    attempt: int
    attempted_at: int
    outcome: str
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    excerpt: str | None = None
    next_attempt_at: int | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Attempt:
        values = from_item(item)
        return cls(
            delivery_id=values["delivery_id"],
            event_id=values["event_id"],
            event_type=values["event_type"],
            attempt=values["attempt"],
            attempted_at=values["at"],
            outcome=values["outcome"],
            status_code=values.get("status_code"),
            latency_ms=values.get("latency_ms"),
            error=values.get("error"),
            excerpt=values.get("excerpt"),
            next_attempt_at=values.get("next_attempt_at"),
        )


class Unclaimable(Exception):
    """Raised when an attempt may not run now; ``reason`` says why.

    missing: no such delivery; done: it succeeded or failed; stale: a later
    attempt is already due; early: this attempt is not recorded as due yet;
    leased: another handler is sending it right now.
    """

    def __init__(self, reason: str, delivery: Delivery | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delivery = delivery


@dataclass(frozen=True)
class Outcome:
    """How an attempt moves its delivery on."""

    status: str  # the delivery's status afterwards
    step: int  # the schedule step of the next attempt
    next_attempt_at: int | None = None


class DeliveryStore:
    """Reads and writes deliveries and attempts with conditional writes."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def create(self, delivery: Delivery) -> Delivery | None:
        """Record a new delivery; return the existing one instead if there is one."""
        values = {
            "webhook_id": delivery.webhook_id,
            "sk": _DELIVERY + delivery.delivery_id,
            "delivery_id": delivery.delivery_id,
            "owner_id": delivery.owner_id,
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "payload": delivery.payload,
            "status": delivery.status,
            "attempts": delivery.attempts,
            "next": delivery.next_attempt,
            "step": delivery.step,
            "created_at": delivery.created_at,
            "updated_at": delivery.updated_at,
            "next_attempt_at": delivery.next_attempt_at,
            "cid": delivery.correlation_id,
            "ttl": (delivery.created_at + RETENTION_MS) // 1000,
        }
        try:
            call(
                self._client.put_item,
                TableName=self._table,
                Item=to_item(values),
                ConditionExpression="attribute_not_exists(sk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as existing:
            if existing.item is None:
                return self.get(delivery.webhook_id, delivery.delivery_id)
            return Delivery.from_item(existing.item)
        return None

    def mark_enqueued(self, webhook_id: str, delivery_id: str, now_ms: int) -> None:
        """Note that the delivery's message is on the queue."""
        call(
            self._client.update_item,
            TableName=self._table,
            Key=_key(webhook_id, delivery_id),
            UpdateExpression="SET #eq = :now",
            ExpressionAttributeNames={"#eq": "eq"},
            ExpressionAttributeValues={":now": {"N": str(now_ms)}},
        )

    def get(self, webhook_id: str, delivery_id: str) -> Delivery | None:
        """Return the delivery, read consistently, or None."""
        response = call(
            self._client.get_item,
            TableName=self._table,
            Key=_key(webhook_id, delivery_id),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Delivery.from_item(item) if item else None

    def claim(
        self,
        webhook_id: str,
        delivery_id: str,
        attempt: int,
        now_ms: int,
        lease_ms: int,
    ) -> Delivery:
        """Take the lease on ``attempt``; raise :class:`Unclaimable` if not allowed."""
        expression = Expression()
        status, number = expression.name("status"), expression.name("next")
        lease = expression.name("lease")
        expression.sets.append(f"{lease} = {expression.value(now_ms + lease_ms)}")
        # Only a pending delivery whose current attempt is this one...
        expression.conditions.append(f"{status} = {expression.value(PENDING)}")
        expression.conditions.append(f"{number} = {expression.value(attempt)}")
        # ...and that no other handler holds right now.
        now = expression.value(now_ms)
        expression.conditions.append(
            f"attribute_not_exists({lease}) OR {lease} < {now}"
        )
        try:
            response = call(
                self._client.update_item,
                TableName=self._table,
                Key=_key(webhook_id, delivery_id),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **expression.update_kwargs(),
            )
        except ConditionFailed as failed:
            raise _unclaimable(failed.item, attempt) from None
        return Delivery.from_item(response["Attributes"])

    def record(
        self, delivery: Delivery, attempt: Attempt, outcome: Outcome, now_ms: int
    ) -> None:
        """Log ``attempt`` and move the delivery on, if this handler still holds it.

        Raises :class:`ConditionFailed` when the lease was lost meanwhile.
        """
        expression = Expression()
        changes: dict[str, Any] = {
            "status": outcome.status,
            "attempts": attempt.attempt,
            "next": attempt.attempt + 1,
            "step": outcome.step,
            "updated_at": now_ms,
            "next_attempt_at": outcome.next_attempt_at,
            "last_status_code": attempt.status_code,
            "last_error": attempt.error,
            # Only failed deliveries carry ``fa``: the sparse index of replays.
            "fa": delivery.created_at if outcome.status == FAILED else None,
            "lease": None,
        }
        for attribute, value in changes.items():
            name = expression.name(attribute)
            if value is None:
                expression.removes.append(name)
            else:
                expression.sets.append(f"{name} = {expression.value(value)}")
        # Still ours: pending, at this attempt, under the lease we took.
        expression.conditions.append(
            f"{expression.name('status')} = {expression.value(PENDING)}"
        )
        expression.conditions.append(
            f"{expression.name('next')} = {expression.value(attempt.attempt)}"
        )
        expression.conditions.append(
            f"{expression.name('lease')} = {expression.value(delivery.lease)}"
        )
        update = {
            "Update": {
                "TableName": self._table,
                "Key": _key(delivery.webhook_id, delivery.delivery_id),
                **expression.update_kwargs(),
            }
        }
        put = {
            "Put": {"TableName": self._table, "Item": _attempt_item(delivery, attempt)}
        }
        call(self._client.transact_write_items, TransactItems=[update, put])

    def reopen(self, webhook_id: str, delivery_id: str, now_ms: int) -> Delivery:
        """Start a new round of attempts (a replay); raise ConditionFailed if the
        delivery is absent or still in flight."""
        response = call(
            self._client.update_item,
            TableName=self._table,
            Key=_key(webhook_id, delivery_id),
            UpdateExpression=(
                "SET #s = :pending, #n = #a + :one, #st = :zero,"
                " #u = :now, #na = :now REMOVE #fa, #eq, #l"
            ),
            # Finished deliveries may be replayed; so may a pending one whose
            # message never reached the queue (no ``eq``) or is long overdue
            # (lost with a local queue); one in flight may not.
            ConditionExpression=(
                "#s IN (:failed, :succeeded) OR (#s = :pending AND"
                " attribute_exists(sk) AND"
                " (attribute_not_exists(#eq) OR #na < :stale))"
            ),
            ExpressionAttributeNames={
                "#s": "status",
                "#n": "next",
                "#a": "attempts",
                "#st": "step",
                "#u": "updated_at",
                "#na": "next_attempt_at",
                "#fa": "fa",
                "#eq": "eq",
                "#l": "lease",
            },
            ExpressionAttributeValues={
                ":pending": {"S": PENDING},
                ":failed": {"S": FAILED},
                ":succeeded": {"S": SUCCEEDED},
                ":one": {"N": "1"},
                ":zero": {"N": "0"},
                ":now": {"N": str(now_ms)},
                ":stale": {"N": str(now_ms - OVERDUE_MS)},
            },
            ReturnValues="ALL_NEW",
        )
        return Delivery.from_item(response["Attributes"])

    def attempts_page(
        self, webhook_id: str, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[Attempt], dict[str, Any] | None]:
        """Return one page of an endpoint's attempts, newest first."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "webhook_id = :w AND begins_with(sk, :a)",
            "ExpressionAttributeValues": {
                ":w": {"S": webhook_id},
                ":a": {"S": _ATTEMPT},
            },
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = to_item(start)
        response = call(self._client.query, **kwargs)
        attempts = [Attempt.from_item(i) for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return attempts, from_item(last) if last else None

    def failed_since(
        self, webhook_id: str, since_ms: int, limit: int
    ) -> tuple[list[str], bool]:
        """Return the ids of failed deliveries created since ``since_ms``, oldest
        first, and whether more remain."""
        response = call(
            self._client.query,
            TableName=self._table,
            IndexName=FAILED_INDEX,
            KeyConditionExpression="webhook_id = :w AND fa >= :since",
            ExpressionAttributeValues={
                ":w": {"S": webhook_id},
                ":since": {"N": str(since_ms)},
            },
            Limit=limit,
        )
        ids = [i["sk"]["S"].removeprefix(_DELIVERY) for i in response.get("Items", [])]
        return ids, "LastEvaluatedKey" in response


def _key(webhook_id: str, delivery_id: str) -> dict[str, Any]:
    return {"webhook_id": {"S": webhook_id}, "sk": {"S": _DELIVERY + delivery_id}}


def _attempt_item(delivery: Delivery, attempt: Attempt) -> dict[str, Any]:
    # Time first, so a query in descending order reads the newest attempts first.
    sk = f"{_ATTEMPT}{attempt.attempted_at:013d}#{delivery.delivery_id}"
    sk += f"#{attempt.attempt:03d}"
    return to_item(
        {
            "webhook_id": delivery.webhook_id,
            "sk": sk,
            "delivery_id": delivery.delivery_id,
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "attempt": attempt.attempt,
            "at": attempt.attempted_at,
            "outcome": attempt.outcome,
            "status_code": attempt.status_code,
            "latency_ms": attempt.latency_ms,
            "error": attempt.error,
            "excerpt": attempt.excerpt or None,
            "next_attempt_at": attempt.next_attempt_at,
            "ttl": (attempt.attempted_at + RETENTION_MS) // 1000,
        }
    )


def _unclaimable(item: dict[str, Any] | None, attempt: int) -> Unclaimable:
    if item is None:
        return Unclaimable("missing", None)
    delivery = Delivery.from_item(item)
    if delivery.status != PENDING:
        return Unclaimable("done", delivery)
    if delivery.next_attempt > attempt:
        return Unclaimable("stale", delivery)
    if delivery.next_attempt < attempt:
        return Unclaimable("early", delivery)
    return Unclaimable("leased", delivery)
