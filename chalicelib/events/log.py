"""``GET /api/events``: the recent domain events of the caller's owner.

Events carrying an owner (``data.owner_id``) are indexed by owner and time
(the events table's ``by_owner`` index), so a page is one ``Query`` (at most
``MAX_QUERIES`` when a type filter skips events), newest first.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field

from chalicelib import cursors
from chalicelib.admission.gateway import Principal
from chalicelib.dynamo import from_item, to_item
from chalicelib.errors import InvalidCursor, StoreUnavailable
from chalicelib.keys.models import OWNER_PATTERN, StrictModel
from chalicelib.models import Model

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

OWNER_INDEX = "by_owner"
MAX_QUERIES = 3


class ListEventsQuery(StrictModel):
    """Query of ``GET /api/events``."""

    owner_id: str | None = Field(
        default=None,
        pattern=OWNER_PATTERN,
        description="ADMIN keys may read another owner's events.",
    )
    event_type: str | None = Field(
        default=None, pattern=r"^[a-z][a-z._]{0,63}$", examples=["threat.detected"]
    )
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2_048)


class EventView(Model):
    """A domain event, as webhooks deliver it."""

    event_id: str
    event_type: str
    timestamp: str
    data: dict[str, Any]


class EventList(Model):
    """Response of ``GET /api/events``: newest first."""

    events: list[EventView]
    next_cursor: str | None = None


class EventLog:
    """Reads an owner's events from the events table."""

    def __init__(self, client: DynamoDBClient, table: str, cursor_secret: str) -> None:
        self._client = client
        self._table = table
        self._secret = cursor_secret

    def recent(self, key: Principal, query: ListEventsQuery) -> EventList:
        """List the owner's events; non-admins see only their own owner's."""
        owner = query.owner_id or key.owner_id
        if owner != key.owner_id and not key.is_admin:
            return EventList(events=[])
        scope = f"events|{owner}|{query.event_type or ''}"
        start = self._start(query.cursor, scope)
        events: list[EventView] = []
        for _ in range(MAX_QUERIES):
            items, start = self._query(owner, query, start, query.limit - len(events))
            events.extend(_view(i) for i in items)
            if start is None or len(events) >= query.limit:
                break
        cursor = cursors.encode(start, scope, self._secret) if start else None
        return EventList(events=events, next_cursor=cursor)

    def _query(
        self,
        owner: str,
        query: ListEventsQuery,
        start: dict[str, Any] | None,
        need: int,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "owner_id = :o",
            "ExpressionAttributeValues": {":o": {"S": owner}},
            "ScanIndexForward": False,
            "Limit": need,
        }
        if query.event_type:
            kwargs["FilterExpression"] = "event_type = :t"
            kwargs["ExpressionAttributeValues"][":t"] = {"S": query.event_type}
        if start is not None:
            kwargs["ExclusiveStartKey"] = to_item(start)
        try:
            response = self._client.query(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable("the event store is unavailable") from exc
        last = response.get("LastEvaluatedKey")
        items = [from_item(i) for i in response.get("Items", [])]
        return items, (from_item(last) if last else None)

    def _start(self, cursor: str | None, scope: str) -> dict[str, Any] | None:
        if cursor is None:
            return None
        position = cursors.decode(cursor, scope, self._secret)
        if set(position) != {"event_id", "owner_id", "occurred_at"}:
            raise InvalidCursor("the cursor is not valid")
        return position


def _view(item: dict[str, Any]) -> EventView:
    return EventView(
        event_id=str(item["event_id"]),
        event_type=str(item["event_type"]),
        timestamp=str(item["timestamp"]),
        data=json.loads(str(item["data"])),
    )
