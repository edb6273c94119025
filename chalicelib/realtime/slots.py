"""Connection slots: how many WebSocket connections a key holds, capped by tier.

A plain counter drifts when a client vanishes without a ``$disconnect``
(API Gateway delivers it on a best-effort basis), and a drifted counter locks
the key out. So the key's slot item holds the connections themselves, each
with its expiry: ``ls`` maps connection id to the epoch second at which API
Gateway will have closed it, and ``v`` is a version number.

A claim reads the item, drops the expired holders, and, only when the key is
at its limit, asks the management API whether each holder is still connected
(``GetConnection``; gone means gone). It then writes the pruned map with
itself added, conditioned on the version it read, so two claims racing for
the last slot cannot both win: one write fails and that claim starts over
from the new item. A release removes one holder and moves the version on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.clock import Clock
from chalicelib.dynamo import from_item, to_item
from chalicelib.errors import StoreUnavailable, TooManyConnections
from chalicelib.realtime.connections import unavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

SLOTS = "slots"
MAX_ATTEMPTS = 5


class ConnectionSlots:
    """Claims and releases a key's connection slots."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Clock) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def claim(
        self,
        key_id: str,
        connection_id: str,
        limit: int,
        expires_at: int,
        alive: Callable[[str], bool],
    ) -> int:
        """Take a slot for the connection; return how many the key now holds.

        Raises :class:`TooManyConnections` when every slot is held by a live
        connection.
        """
        for _ in range(MAX_ATTEMPTS):
            holders, version = self._read(key_id)
            now = self._clock.now()
            live = {c: e for c, e in holders.items() if e > now and c != connection_id}
            if len(live) >= limit:
                live = {c: e for c, e in live.items() if alive(c)}
            if len(live) >= limit:
                raise TooManyConnections(
                    f"this key already holds {len(live)} WebSocket connection(s),"
                    f" the most its tier allows ({limit}); close one first"
                )
            live[connection_id] = expires_at
            if self._write(key_id, live, version):
                return len(live)
        raise StoreUnavailable("connection slots are contended; retry shortly")

    def release(self, key_id: str, connection_id: str) -> None:
        """Free the connection's slot, if it holds one."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(key_id),
                UpdateExpression="REMOVE ls.#c SET v = v + :one",
                # Only a holder is removed; moving the version makes a claim
                # that read the old map retry instead of writing it back.
                ConditionExpression="attribute_exists(ls.#c)",
                ExpressionAttributeNames={"#c": connection_id},
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return
            raise unavailable(exc) from exc
        except BotoCoreError as exc:
            raise unavailable(exc) from exc

    def holders(self, key_id: str) -> dict[str, int]:
        """Return the connections holding the key's slots, with their expiry."""
        return self._read(key_id)[0]

    def _read(self, key_id: str) -> tuple[dict[str, int], int]:
        try:
            response = self._client.get_item(
                TableName=self._table, Key=_key(key_id), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise unavailable(exc) from exc
        raw = response.get("Item")
        if not raw:
            return {}, 0
        item = from_item(raw)
        return {str(c): int(e) for c, e in item.get("ls", {}).items()}, int(item["v"])

    def _write(self, key_id: str, holders: dict[str, int], version: int) -> bool:
        item = {
            "pk": f"k#{key_id}",
            "sk": SLOTS,
            "ls": holders,
            "v": version + 1,
            # The item outlives its last holder by nothing: when every holder
            # has expired, the whole item may go.
            "ttl": max(holders.values()),
        }
        kwargs: dict[str, Any] = {"TableName": self._table, "Item": to_item(item)}
        # The map is exactly what this claim read: no claim or release since.
        if version == 0:
            kwargs["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            kwargs["ConditionExpression"] = "v = :v"
            kwargs["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
        try:
            self._client.put_item(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise unavailable(exc) from exc
        except BotoCoreError as exc:
            raise unavailable(exc) from exc
        return True


def _key(key_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"k#{key_id}"}, "sk": {"S": SLOTS}}
