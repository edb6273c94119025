"""VR sessions, isolated per owner; each change is one transaction with its event.

Starting a session writes it, its ``vr.session.started`` event and the
session counters (the owner's and the global ones) together; ending it does
the same with ``vr.session.ended``. A key that is not ADMIN sees only its
owner's sessions: another owner's session answers 404, as if absent.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import cursors
from chalicelib.admission.gateway import Principal
from chalicelib.analytics import counters
from chalicelib.clock import Clock
from chalicelib.dynamo import from_item, to_item
from chalicelib.errors import (
    AlreadyDone,
    InvalidCursor,
    NotFound,
    StoreUnavailable,
    ValidationFailed,
)
from chalicelib.events.outbox import DomainEvent, put_event
from chalicelib.sessions.models import (
    CreateSessionRequest,
    Environment,
    ListSessionsQuery,
    Session,
    SessionConfig,
    SessionList,
    SessionStatus,
)
from chalicelib.threats.service import iso_ms
from chalicelib.transactions import Cancelled, commit

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

OWNER_INDEX = "by_owner"
ALL_OWNERS = "*"
MAX_QUERIES = 4
FILTERED_PAGE = 200
_ID = re.compile(r"^vrs_[0-9a-f]{24}$")
_POSITION = re.compile(r"^\d{13}#vrs_[0-9a-f]{24}$")


def family(owner_id: str) -> str:
    """Return the counter family of one owner's sessions (``*``: everyone's)."""
    return f"vr#{owner_id}"


class SessionService:
    """Starts, reads, lists and ends VR sessions."""

    def __init__(
        self,
        client: DynamoDBClient,
        sessions_table: str,
        threats_table: str,
        events_table: str,
        aggregates_table: str,
        clock: Clock,
        cursor_secret: str,
    ) -> None:
        self._client = client
        self._table = sessions_table
        self._threats = threats_table
        self._events = events_table
        self._aggregates = aggregates_table
        self._clock = clock
        self._secret = cursor_secret

    def start(
        self, key: Principal, request: CreateSessionRequest, request_id: str
    ) -> Session:
        """Open a session for the key's owner and record its event."""
        if request.config.threat_id is not None:
            self._require_threat(request.config.threat_id)
        now = self._clock.now()
        session_id = "vrs_" + secrets.token_hex(12)
        created_ms = int(now * 1000)
        item = {
            "session_id": session_id,
            "owner_id": key.owner_id,
            "ck": f"{created_ms:013d}#{session_id}",
            "user_id": request.user_id,
            "environment": request.environment.value,
            "config": request.config.model_dump(mode="json", exclude_none=True),
            "status": SessionStatus.ACTIVE.value,
            "created_ms": created_ms,
            "key_id": key.key_id,
        }
        session = to_session(item)
        increments = {"n": 1, f"env:{request.environment.value}": 1}
        put = {
            "Put": {
                "TableName": self._table,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(session_id)",
            }
        }
        event = _event("vr.session.started", session, now, request_id)
        self._commit(
            [
                put,
                put_event(self._events, event),
                *self._bumps(key.owner_id, now, increments),
            ]
        )
        return session

    def get(self, key: Principal, session_id: str) -> Session:
        """Return a session the key may see, or raise NotFound."""
        return to_session(self._visible(key, session_id))

    def end(self, key: Principal, session_id: str, request_id: str) -> Session:
        """End an active session and record its event and duration."""
        return self._end(self._visible(key, session_id), request_id)

    def end_for_key(
        self, key_id: str, owner_id: str, request_id: str | None = None
    ) -> list[Session]:
        """End every active session ``key_id`` started (its key was revoked).

        Reads the owner's sessions through the owner index, keeping only the
        key's active ones; a session that ends meanwhile is skipped, so a
        second call ends nothing more.
        """
        ended = []
        for item in self._active_of_key(key_id, owner_id):
            try:
                ended.append(self._end(item, request_id or "key.revoked"))
            except AlreadyDone:
                continue
        return ended

    def _active_of_key(self, key_id: str, owner_id: str) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "#o = :o",
            "FilterExpression": "#k = :k AND #st = :active",
            "ExpressionAttributeNames": {
                "#o": "owner_id",
                "#k": "key_id",
                "#st": "status",
            },
            "ExpressionAttributeValues": {
                ":o": {"S": owner_id},
                ":k": {"S": key_id},
                ":active": {"S": SessionStatus.ACTIVE.value},
            },
        }
        items: list[dict[str, Any]] = []
        while True:
            response = self._call(self._client.query, **kwargs)
            items.extend(from_item(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _end(self, item: dict[str, Any], request_id: str) -> Session:
        session_id = str(item["session_id"])
        if item["status"] == SessionStatus.ENDED.value:
            raise AlreadyDone(
                f"session {session_id} has already ended", "session_already_ended"
            )
        now = self._clock.now()
        ended_ms = int(now * 1000)
        duration = max(0, round((ended_ms - int(item["created_ms"])) / 1000))
        item.update(status=SessionStatus.ENDED.value, ended_ms=ended_ms)
        session = to_session(item)
        update = {
            "Update": {
                "TableName": self._table,
                "Key": {"session_id": {"S": session_id}},
                "UpdateExpression": "SET #st = :ended, ended_ms = :at",
                # Only an active session ends, once.
                "ConditionExpression": "#st = :active",
                "ExpressionAttributeNames": {"#st": "status"},
                "ExpressionAttributeValues": {
                    ":ended": {"S": SessionStatus.ENDED.value},
                    ":active": {"S": SessionStatus.ACTIVE.value},
                    ":at": {"N": str(ended_ms)},
                },
            }
        }
        event = _event("vr.session.ended", session, now, request_id)
        increments = {"end": 1, "dur": duration}
        try:
            self._commit(
                [
                    update,
                    put_event(self._events, event),
                    *self._bumps(str(item["owner_id"]), now, increments),
                ]
            )
        except Cancelled as exc:
            if exc.failed(0):
                raise AlreadyDone(
                    f"session {session_id} ended meanwhile", "session_already_ended"
                ) from exc
            raise
        return session

    def list_sessions(self, key: Principal, query: ListSessionsQuery) -> SessionList:
        """List one owner's sessions, newest first; non-admins see their own."""
        owner = query.owner_id or key.owner_id
        if owner != key.owner_id and not key.is_admin:
            return SessionList(sessions=[])
        scope = "sessions|" + "|".join(
            str(v or "")
            for v in (owner, query.status, query.environment, query.user_id)
        )
        upper = self._start(query.cursor, scope)
        filters = {
            name: str(value)
            for name, value in (
                ("status", query.status),
                ("environment", query.environment),
                ("user_id", query.user_id),
            )
            if value is not None
        }
        items: list[dict[str, Any]] = []
        for _ in range(MAX_QUERIES):
            need = query.limit - len(items)
            size = max(need * 3, FILTERED_PAGE) if filters else need + 1
            page, upper = self._query(owner, upper, filters, size)
            items.extend(page[:need])
            if len(page) > need:
                upper = str(page[need - 1]["ck"])
                break
            if upper is None or len(items) == query.limit:
                break
        cursor = cursors.encode({"k": upper}, scope, self._secret) if upper else None
        return SessionList(sessions=[to_session(i) for i in items], next_cursor=cursor)

    def _query(
        self,
        owner: str,
        upper: str | None,
        filters: dict[str, str],
        size: int,
    ) -> tuple[list[dict[str, Any]], str | None]:
        names = {"#o": "owner_id"}
        values: dict[str, Any] = {":o": {"S": owner}}
        condition = "#o = :o"
        if upper is not None:
            condition += " AND #k < :k"
            names["#k"] = "ck"
            values[":k"] = {"S": upper}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
            "Limit": size,
        }
        if filters:
            clauses = []
            for i, (attribute, value) in enumerate(sorted(filters.items())):
                names[f"#f{i}"] = attribute
                values[f":f{i}"] = {"S": value}
                clauses.append(f"#f{i} = :f{i}")
            kwargs["FilterExpression"] = " AND ".join(clauses)
        kwargs.update(ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        response = self._call(self._client.query, **kwargs)
        last = response.get("LastEvaluatedKey")
        items = [from_item(i) for i in response.get("Items", [])]
        return items, (last["ck"]["S"] if last else None)

    def _start(self, cursor: str | None, scope: str) -> str | None:
        if cursor is None:
            return None
        upper = cursors.decode(cursor, scope, self._secret).get("k")
        if not isinstance(upper, str) or not _POSITION.match(upper):
            raise InvalidCursor("the cursor is not valid")
        return upper

    def _bumps(
        self, owner_id: str, now: float, increments: dict[str, int]
    ) -> list[dict[str, Any]]:
        return [
            *counters.bump_buckets(
                self._aggregates, family(owner_id), now, now, increments
            ),
            *counters.bump_buckets(
                self._aggregates, family(ALL_OWNERS), now, now, increments
            ),
        ]

    def _visible(self, key: Principal, session_id: str) -> dict[str, Any]:
        item = (
            self._get(self._table, "session_id", session_id)
            if _ID.match(session_id)
            else None
        )
        if item is None or (not key.is_admin and item["owner_id"] != key.owner_id):
            raise NotFound(f"no session {session_id!r} visible to this key")
        return item

    def _require_threat(self, threat_id: str) -> None:
        if self._get(self._threats, "threat_id", threat_id) is None:
            message = f"no threat {threat_id}"
            raise ValidationFailed(
                f"invalid body: body.config.threat_id: {message}",
                [{"field": "body.config.threat_id", "message": message}],
            )

    def _get(self, table: str, name: str, value: str) -> dict[str, Any] | None:
        response = self._call(
            self._client.get_item,
            TableName=table,
            Key={name: {"S": value}},
            ConsistentRead=True,
        )
        raw = response.get("Item")
        return from_item(raw) if raw else None

    def _commit(self, items: list[dict[str, Any]]) -> None:
        try:
            commit(self._client, items)
        except Cancelled as exc:
            if exc.failed(1):
                raise StoreUnavailable("the change clashed; retry") from exc
            raise

    def _call(self, operation: Any, **kwargs: Any) -> Any:
        try:
            return operation(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable("the session store is unavailable") from exc


def _event(
    event_type: str, session: Session, now: float, request_id: str
) -> DomainEvent:
    data = {"session": session.model_dump(mode="json"), "owner_id": session.owner_id}
    return DomainEvent(event_type, data, now, request_id=request_id)


def to_session(item: dict[str, Any]) -> Session:
    """Build the public view of a session item."""
    ended = item.get("ended_ms")
    created = int(item["created_ms"])
    return Session(
        session_id=str(item["session_id"]),
        owner_id=str(item["owner_id"]),
        user_id=str(item["user_id"]),
        environment=Environment(str(item["environment"])),
        config=SessionConfig.model_validate(item.get("config") or {}),
        status=SessionStatus(str(item["status"])),
        join_url=f"jupiter://session/{item['session_id']}",
        created_at=iso_ms(created),
        ended_at=iso_ms(int(ended)) if ended is not None else None,
        duration_seconds=(
            max(0, round((int(ended) - created) / 1000)) if ended is not None else None
        ),
    )
