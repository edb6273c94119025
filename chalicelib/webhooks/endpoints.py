"""The webhooks table: endpoints, their secrets and their health."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.dynamo import Expression, from_item, to_item
from chalicelib.webhooks.storage import ConditionFailed, call

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

OWNER_INDEX = "by_owner"
ALL_EVENTS = "*"


@dataclass(frozen=True)
class Endpoint:
    """One registered webhook endpoint (times in epoch milliseconds)."""

    webhook_id: str
    owner_id: str
    url: str
    events: tuple[str, ...]
    enabled: bool
    created_at: int
    updated_at: int
    description: str | None = None
    disabled_reason: str | None = None
    disabled_at: int | None = None
    failing_since: int | None = None
    secret: str | None = None
    previous_secret: str | None = None
    previous_until: int | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Endpoint:
        values = from_item(item)
        return cls(
            webhook_id=values["webhook_id"],
            owner_id=values["owner_id"],
            url=values["url"],
            events=tuple(values["events"]),
            enabled=bool(values["enabled"]),
            created_at=values["created_at"],
            updated_at=values["updated_at"],
            description=values.get("description"),
            disabled_reason=values.get("disabled_reason"),
            disabled_at=values.get("disabled_at"),
            failing_since=values.get("failing_since"),
            secret=values.get("secret"),
            previous_secret=values.get("prev_secret"),
            previous_until=values.get("prev_until"),
        )

    def subscribes(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events

    def secrets_in_force(self, now_ms: int) -> list[str]:
        """Return the secrets that sign now: the current one, and the previous
        one while its rotation overlap lasts."""
        assert self.secret is not None
        in_force = [self.secret]
        if self.previous_secret and (self.previous_until or 0) > now_ms:
            in_force.append(self.previous_secret)
        return in_force


class EndpointStore:
    """Reads and writes endpoints in the webhooks table."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def create(self, endpoint: Endpoint) -> None:
        """Store a new endpoint."""
        values = {
            "webhook_id": endpoint.webhook_id,
            "owner_id": endpoint.owner_id,
            "url": endpoint.url,
            "events": list(endpoint.events),
            "enabled": endpoint.enabled,
            "created_at": endpoint.created_at,
            "updated_at": endpoint.updated_at,
            "description": endpoint.description,
            "secret": endpoint.secret,
        }
        call(
            self._client.put_item,
            TableName=self._table,
            Item=to_item(values),
            ConditionExpression="attribute_not_exists(webhook_id)",
        )

    def get(self, webhook_id: str) -> Endpoint | None:
        """Return the endpoint, read consistently, or None."""
        response = call(
            self._client.get_item,
            TableName=self._table,
            Key={"webhook_id": {"S": webhook_id}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Endpoint.from_item(item) if item else None

    def page(
        self, owner_id: str, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[Endpoint], dict[str, Any] | None]:
        """Return one page of an owner's endpoints (newest first) and where it ends."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "owner_id = :o",
            "ExpressionAttributeValues": {":o": {"S": owner_id}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = to_item(start)
        response = call(self._client.query, **kwargs)
        endpoints = [Endpoint.from_item(i) for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return endpoints, from_item(last) if last else None

    def subscribed(self, owner_id: str, event_type: str) -> Iterator[Endpoint]:
        """Yield the owner's enabled endpoints that subscribe to ``event_type``."""
        start: dict[str, Any] | None = None
        while True:
            endpoints, start = self.page(owner_id, 100, start)
            for endpoint in endpoints:
                if endpoint.enabled and endpoint.subscribes(event_type):
                    yield endpoint
            if start is None:
                return

    def update(
        self,
        webhook_id: str,
        sets: dict[str, Any],
        removes: tuple[str, ...] = (),
        condition: tuple[str, Any] | None = None,
    ) -> Endpoint:
        """Change an existing endpoint; return it as it is now.

        ``condition`` is an optional (attribute, expected value) pair.
        """
        expression = Expression()
        for attribute, value in sets.items():
            expression.sets.append(
                f"{expression.name(attribute)} = {expression.value(value)}"
            )
        expression.removes.extend(expression.name(a) for a in removes)
        # The endpoint must still exist: an update never recreates it.
        expression.conditions.append("attribute_exists(webhook_id)")
        if condition is not None:
            attribute, expected = condition
            name, value = expression.name(attribute), expression.value(expected)
            expression.conditions.append(f"{name} = {value}")
        response = call(
            self._client.update_item,
            TableName=self._table,
            Key={"webhook_id": {"S": webhook_id}},
            ReturnValues="ALL_NEW",
            **expression.update_kwargs(),
        )
        return Endpoint.from_item(response["Attributes"])

    def delete(self, webhook_id: str) -> Endpoint | None:
        """Delete an endpoint; return it as it was, or None if it was absent."""
        response = call(
            self._client.delete_item,
            TableName=self._table,
            Key={"webhook_id": {"S": webhook_id}},
            ReturnValues="ALL_OLD",
        )
        item = response.get("Attributes")
        return Endpoint.from_item(item) if item else None

    def disable(self, webhook_id: str, reason: str, now_ms: int) -> bool:
        """Disable an enabled endpoint with a reason; False if it already was."""
        try:
            self.update(
                webhook_id,
                {"enabled": False, "disabled_reason": reason, "disabled_at": now_ms},
                condition=("enabled", True),
            )
        except ConditionFailed:
            return False
        return True

    def note_failure(self, webhook_id: str, now_ms: int) -> int:
        """Record a failed attempt; return when the current run of failures began."""
        response = call(
            self._client.update_item,
            TableName=self._table,
            Key={"webhook_id": {"S": webhook_id}},
            UpdateExpression="SET failing_since = if_not_exists(failing_since, :now)",
            ConditionExpression="attribute_exists(webhook_id)",
            ExpressionAttributeValues={":now": {"N": str(now_ms)}},
            # ALL_NEW, not UPDATED_NEW: an unchanged value may be left out.
            ReturnValues="ALL_NEW",
        )
        return int(response["Attributes"]["failing_since"]["N"])

    def note_success(self, webhook_id: str) -> None:
        """End the current run of failures."""
        try:
            call(
                self._client.update_item,
                TableName=self._table,
                Key={"webhook_id": {"S": webhook_id}},
                UpdateExpression="REMOVE failing_since",
                ConditionExpression="attribute_exists(webhook_id)",
            )
        except ConditionFailed:
            return
