"""Each topic's sequence numbers and recent frames, for ordering and resume.

The frames table holds, per topic, a counter item at ``seq = 0`` (``last``,
the newest sequence number given out) and the frames themselves under their
sequence numbers. Numbering is an atomic ``ADD``, so concurrent broadcasters
never share a number; the frame is stored right after with a TTL of
:data:`RESUME_WINDOW_SECONDS`.

A frame caused by a domain event is numbered once per topic, however often
the outbox hands the event over (delivery is at least once): a marker item
``tp = event:<event id>:<topic>`` is written in the same transaction as the
frame and keeps its number, and is stamped ``done`` once the fan-out has
finished. A redelivered event finds the marker: if the fan-out finished it is
skipped, otherwise it is posted again under the same number, so clients can
drop duplicates by ``(channel, seq)``. Two dispatchers racing on the same
event can leave one unused number, never two frames for one event.

A resume reads ``since + 1 .. last`` (at most the last
:data:`RESUME_MAX_FRAMES`) in one ascending, paged query. DynamoDB deletes
expired items lazily, so frames past their TTL are dropped here and reported
as a gap rather than replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.clock import Clock
from chalicelib.realtime.connections import unavailable
from chalicelib.realtime.frames import RESUME_MAX_FRAMES, RESUME_WINDOW_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

COUNTER_SEQ = 0
# A redelivered event is recognised for a day; the outbox gives up sooner.
MARKER_SECONDS = 86_400


class Entry(NamedTuple):
    """A numbered frame; ``fresh`` is False for an event numbered before, and
    ``done`` tells that its fan-out already finished."""

    seq: int
    body: str
    fresh: bool = True
    done: bool = False


@dataclass(frozen=True)
class Replay:
    """The frames a client missed, oldest first, and whether none is lost."""

    frames: list[str]
    latest: int
    complete: bool


class FrameJournal:
    """Numbers, keeps and replays frames per topic."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Clock) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def append(
        self, topic: str, render: Callable[[int], str], event_id: str | None = None
    ) -> Entry:
        """Number the next frame, render it with its seq and keep it.

        With an ``event_id``, an event already numbered on this topic keeps
        its number and is not stored again.
        """
        if event_id is not None:
            known = self._marker(topic, event_id)
            if known is not None:
                return known._replace(body=render(known.seq))
        response = self._call(
            "update_item",
            TableName=self._table,
            Key=_key(topic, COUNTER_SEQ),
            UpdateExpression="ADD #last :one",
            ExpressionAttributeNames={"#last": "last"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        seq = int(response["Attributes"]["last"]["N"])
        body = render(seq)
        now = int(self._clock.now())
        frame = {
            **_key(topic, seq),
            "body": {"S": body},
            "ttl": {"N": str(now + RESUME_WINDOW_SECONDS)},
        }
        if event_id is None:
            self._call("put_item", TableName=self._table, Item=frame)
            return Entry(seq, body)
        if not self._put_with_marker(topic, event_id, frame, seq, now):
            known = self._marker(topic, event_id)
            assert known is not None
            return known._replace(body=render(known.seq))
        return Entry(seq, body)

    def finish(self, topic: str, event_id: str) -> None:
        """Record that the event's frame reached every subscriber on the topic."""
        self._call(
            "update_item",
            TableName=self._table,
            Key=_key(_marker_topic(topic, event_id), COUNTER_SEQ),
            UpdateExpression="SET done = :yes",
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )

    def _put_with_marker(
        self, topic: str, event_id: str, frame: dict[str, Any], seq: int, now: int
    ) -> bool:
        marker = {
            **_key(_marker_topic(topic, event_id), COUNTER_SEQ),
            "frame_seq": {"N": str(seq)},
            "ttl": {"N": str(now + MARKER_SECONDS)},
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": frame}},
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": marker,
                            "ConditionExpression": "attribute_not_exists(tp)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise unavailable(exc, "frame journal") from exc
        except BotoCoreError as exc:
            raise unavailable(exc, "frame journal") from exc
        return True

    def _marker(self, topic: str, event_id: str) -> Entry | None:
        response = self._call(
            "get_item",
            TableName=self._table,
            Key=_key(_marker_topic(topic, event_id), COUNTER_SEQ),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        done = bool(item.get("done", {}).get("BOOL", False))
        return Entry(int(item["frame_seq"]["N"]), "", fresh=False, done=done)

    def latest(self, topic: str) -> int:
        """Return the topic's newest sequence number (0 before any frame)."""
        response = self._call(
            "get_item",
            TableName=self._table,
            Key=_key(topic, COUNTER_SEQ),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return int(item["last"]["N"]) if item else 0

    def since(self, topic: str, since: int) -> Replay:
        """Return the frames after ``since`` that are still kept, in order."""
        latest = self.latest(topic)
        if since >= latest:
            return Replay([], latest, complete=since == latest)
        first = max(since + 1, latest - RESUME_MAX_FRAMES + 1)
        now = self._clock.now()
        frames: list[str] = []
        complete = first == since + 1
        for item in self._range(topic, first, latest):
            if int(item["ttl"]["N"]) <= now:
                complete = False
                continue
            frames.append(item["body"]["S"])
        return Replay(frames, latest, complete)

    def _range(self, topic: str, first: int, last: int) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tp = :tp AND seq BETWEEN :a AND :b",
            "ExpressionAttributeValues": {
                ":tp": {"S": topic},
                ":a": {"N": str(first)},
                ":b": {"N": str(last)},
            },
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            response = self._call("query", **kwargs)
            items.extend(response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return items
            kwargs["ExclusiveStartKey"] = last_key

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise unavailable(exc, "frame journal") from exc


def _key(topic: str, seq: int) -> dict[str, Any]:
    return {"tp": {"S": topic}, "seq": {"N": str(seq)}}


def _marker_topic(topic: str, event_id: str) -> str:
    return f"event:{event_id}:{topic}"
