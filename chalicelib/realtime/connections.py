"""WebSocket connections and their subscriptions, kept in DynamoDB.

Items of the connections table, each expiring with API Gateway's two-hour
limit on a connection:

* ``pk = c#<connection id>, sk = c``: the connection. Until it authenticates
  it carries ``pa`` and its deadline ``dl`` (the sparse ``by_deadline``
  index); afterwards the key's id ``kid`` (the sparse ``by_key`` index), the
  secret's hash ``kh``, owner, scopes and tier.
* ``pk = c#<connection id>, sk = s#<channel>``: a subscription, with its topic
  ``tp`` (the ``by_topic`` index a broadcast pages through).
* ``pk = sk = endpoint``: the ``@connections`` endpoint learned from the
  WebSocket events, for broadcasts where none is configured.

A connection's items share its partition, so removing it is one query and
one batch delete, however it ended.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import logs
from chalicelib.admission.gateway import Principal
from chalicelib.clock import Clock
from chalicelib.dynamo import from_item, to_item
from chalicelib.errors import StoreUnavailable
from chalicelib.policy import Scope, Tier
from chalicelib.realtime.frames import Channel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

# API Gateway closes every WebSocket connection after two hours.
MAX_CONNECTION_SECONDS = 7_200
TOPIC_INDEX = "by_topic"
KEY_INDEX = "by_key"
DEADLINE_INDEX = "by_deadline"
AWAITING_AUTHENTICATION = "auth"
CONNECTION = "c"
ENDPOINT_KEY = "endpoint"
PAGE_SIZE = 500
BATCH_WRITE_LIMIT = 25


@dataclass(frozen=True)
class Connection:
    """One WebSocket connection, authenticated or still within its deadline."""

    connection_id: str
    connected_at: int
    expires_at: int
    source_ip: str
    deadline: int | None = None
    key_id: str | None = None
    secret_hash: str | None = None
    owner_id: str = ""
    scopes: frozenset[Scope] = frozenset()
    tier: Tier | None = None

    @property
    def authenticated(self) -> bool:
        return self.key_id is not None

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN in self.scopes


class ConnectionStore:
    """Reads and writes connections and subscriptions."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Clock) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def open(self, connection_id: str, source_ip: str, deadline_seconds: int) -> None:
        """Record a new connection that must authenticate within the deadline."""
        now = int(self._clock.now())
        item = {
            "pk": _pk(connection_id),
            "sk": CONNECTION,
            "cid": connection_id,
            "ca": now,
            "ttl": now + MAX_CONNECTION_SECONDS,
            "ip": source_ip,
            "pa": AWAITING_AUTHENTICATION,
            "dl": now + deadline_seconds,
        }
        self._call("put_item", TableName=self._table, Item=to_item(item))

    def get(self, connection_id: str) -> Connection | None:
        """Return the connection, or None once it is gone."""
        response = self._call(
            "get_item",
            TableName=self._table,
            Key=_key(connection_id, CONNECTION),
            ConsistentRead=True,
        )
        raw = response.get("Item")
        return _connection(from_item(raw)) if raw else None

    def authenticate(
        self, connection_id: str, principal: Principal, secret_hash: str
    ) -> bool:
        """Bind the connection to a key; False if it closed meanwhile."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(connection_id, CONNECTION),
                UpdateExpression=(
                    "SET kid = :kid, kh = :kh, ow = :ow, sc = :sc, tr = :tr"
                    " REMOVE pa, dl"
                ),
                # Still connected, and not already bound to a key.
                ConditionExpression="attribute_exists(pk) AND attribute_exists(pa)",
                ExpressionAttributeValues=to_item(
                    {
                        ":kid": principal.key_id,
                        ":kh": secret_hash,
                        ":ow": principal.owner_id,
                        ":sc": {s.value for s in principal.scopes},
                        ":tr": principal.tier.value,
                    }
                ),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise unavailable(exc) from exc
        except BotoCoreError as exc:
            raise unavailable(exc) from exc
        return True

    def subscribe(self, connection: Connection, topics: dict[Channel, str]) -> None:
        """Subscribe the connection to each channel's topic (idempotent)."""
        puts = [
            {
                "PutRequest": {
                    "Item": to_item(
                        {
                            "pk": _pk(connection.connection_id),
                            "sk": _subscription(channel),
                            "cid": connection.connection_id,
                            "tp": topic,
                            "ttl": connection.expires_at,
                        }
                    )
                }
            }
            for channel, topic in topics.items()
        ]
        self._batch_write(puts)

    def unsubscribe(self, connection_id: str, channels: list[Channel]) -> None:
        """Remove the connection's subscriptions to ``channels``."""
        deletes = [
            {"DeleteRequest": {"Key": _key(connection_id, _subscription(channel))}}
            for channel in channels
        ]
        self._batch_write(deletes)

    def subscribers(
        self, topic: str, page_size: int = PAGE_SIZE
    ) -> Iterator[list[str]]:
        """Yield the topic's subscribed connection ids, one index page at a time."""
        yield from self._pages(TOPIC_INDEX, "tp = :v", {":v": {"S": topic}}, page_size)

    def of_key(self, key_id: str) -> list[str]:
        """Return the ids of the key's connections."""
        pages = self._pages(KEY_INDEX, "kid = :v", {":v": {"S": key_id}}, PAGE_SIZE)
        return [cid for page in pages for cid in page]

    def overdue(self) -> list[str]:
        """Return the connections whose authentication deadline has passed."""
        values = to_item(
            {":v": AWAITING_AUTHENTICATION, ":now": int(self._clock.now())}
        )
        pages = self._pages(DEADLINE_INDEX, "pa = :v AND dl < :now", values, PAGE_SIZE)
        return [cid for page in pages for cid in page]

    def remove(self, connection_id: str) -> Connection | None:
        """Delete the connection and its subscriptions; return what it was."""
        response = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _pk(connection_id)}},
            ConsistentRead=True,
        )
        items = [from_item(i) for i in response.get("Items", [])]
        deletes = [
            {"DeleteRequest": {"Key": _key(connection_id, str(item["sk"]))}}
            for item in items
        ]
        self._batch_write(deletes)
        meta = next((i for i in items if i["sk"] == CONNECTION), None)
        return _connection(meta) if meta else None

    def remember_endpoint(self, url: str) -> None:
        """Record the ``@connections`` endpoint the WebSocket API answers at."""
        item = {"pk": ENDPOINT_KEY, "sk": ENDPOINT_KEY, "url": url}
        self._call("put_item", TableName=self._table, Item=to_item(item))

    def endpoint(self) -> str | None:
        """Return the recorded ``@connections`` endpoint, if any."""
        response = self._call(
            "get_item",
            TableName=self._table,
            Key={"pk": {"S": ENDPOINT_KEY}, "sk": {"S": ENDPOINT_KEY}},
        )
        item = response.get("Item")
        return str(item["url"]["S"]) if item else None

    def _pages(
        self, index: str, condition: str, values: dict[str, Any], page_size: int
    ) -> Iterator[list[str]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ProjectionExpression": "cid",
            "Limit": page_size,
        }
        while True:
            response = self._call("query", **kwargs)
            page = [item["cid"]["S"] for item in response.get("Items", [])]
            if page:
                yield page
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            pending = {self._table: requests[start : start + BATCH_WRITE_LIMIT]}
            # DynamoDB may leave some requests unprocessed under load; resend
            # those few (botocore already backs off on throttling).
            for _ in range(3):
                response = self._call("batch_write_item", RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
            else:
                raise StoreUnavailable("the connection store is throttling; retry")

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise unavailable(exc) from exc


def _pk(connection_id: str) -> str:
    return f"c#{connection_id}"


def _subscription(channel: Channel) -> str:
    return f"s#{channel.value}"


def _key(connection_id: str, sort_key: str) -> dict[str, Any]:
    return {"pk": {"S": _pk(connection_id)}, "sk": {"S": sort_key}}


def _connection(item: dict[str, Any]) -> Connection:
    return Connection(
        connection_id=str(item["cid"]),
        connected_at=int(item["ca"]),
        expires_at=int(item["ttl"]),
        source_ip=str(item.get("ip", "")),
        deadline=int(item["dl"]) if "dl" in item else None,
        key_id=str(item["kid"]) if "kid" in item else None,
        secret_hash=str(item["kh"]) if "kh" in item else None,
        owner_id=str(item.get("ow", "")),
        scopes=frozenset(Scope(s) for s in item.get("sc", ())),
        tier=Tier(str(item["tr"])) if "tr" in item else None,
    )


def unavailable(exc: Exception, store: str = "connection store") -> StoreUnavailable:
    """Log a store failure by its error code and return the error to raise."""
    code = (
        exc.response.get("Error", {}).get("Code")
        if isinstance(exc, ClientError)
        else type(exc).__name__
    )
    logs.line(logger, "store_error", logging.WARNING, store=store, error=code)
    return StoreUnavailable(f"the {store} is unavailable")
