"""Key management: create, list, revoke and rotate, each with an audit record.

Every change is one ``TransactWriteItems`` holding the key write and its audit
record, so the trail never misses an action and never records one that did not
happen.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import cursors
from chalicelib.admission.window import initial_counters
from chalicelib.clock import Clock, iso
from chalicelib.dynamo import from_item, to_item
from chalicelib.errors import (
    EscalationDenied,
    NotFound,
    StoreUnavailable,
    ValidationFailed,
)
from chalicelib.events.outbox import DomainEvent, put_event
from chalicelib.keys.credentials import (
    display_prefix,
    hash_secret,
    new_key_id,
    new_secret,
)
from chalicelib.keys.models import (
    CreateKeyRequest,
    KeyList,
    KeyView,
    KeyWithSecret,
    ListKeysQuery,
)
from chalicelib.policy import TIER_LIMITS, Scope, Tier

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

OWNER_INDEX = "by_owner"
AUDIT_RETENTION_SECONDS = 400 * 86_400


@dataclass(frozen=True)
class Actor:
    """Who performs a key action, and from where (for authorization and audit)."""

    key_id: str
    owner_id: str
    scopes: frozenset[Scope]
    tier: Tier
    source_ip: str
    user_agent: str
    request_id: str

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN in self.scopes


class KeyService:
    """Manages keys in the keys table and records each action in the audit table."""

    def __init__(
        self,
        client: DynamoDBClient,
        keys_table: str,
        audit_table: str,
        clock: Clock,
        cursor_secret: str,
        events_table: str | None = None,
    ) -> None:
        self._client = client
        self._keys_table = keys_table
        self._audit_table = audit_table
        self._clock = clock
        self._cursor_secret = cursor_secret
        # With an events table, a revocation records ``key.revoked`` in the
        # outbox, in the same transaction: the realtime service closes the
        # key's WebSocket connections and its VR sessions end.
        self._events_table = events_table

    def create(self, actor: Actor, request: CreateKeyRequest) -> KeyWithSecret:
        """Create a key; a non-admin actor may not grant more than it holds."""
        _forbid_escalation(
            actor, request.owner_id, set(request.permissions), request.tier
        )
        return self.create_unchecked(request, created_by=actor.key_id, actor=actor)

    def create_unchecked(
        self, request: CreateKeyRequest, created_by: str, actor: Actor | None = None
    ) -> KeyWithSecret:
        """Create a key without an acting key (bootstrap and operator commands)."""
        now = self._clock.now()
        _expiry_ahead(request, now)
        key_id, secret = new_key_id(), new_secret()
        item: dict[str, Any] = {
            "key_id": key_id,
            "sh": hash_secret(secret),
            "st": "active",
            "sc": {s.value for s in request.permissions},
            "tr": request.tier.value,
            "ow": request.owner_id,
            "nm": request.name,
            "pf": display_prefix(secret),
            "ca": int(now),
            "cb": created_by,
            **initial_counters(TIER_LIMITS[request.tier], now),
        }
        if request.expires_at is not None:
            item["ex"] = int(request.expires_at.timestamp())
        if request.ip_allowlist:
            item["ip"] = request.ip_allowlist
        put = {
            "Put": {
                "TableName": self._keys_table,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(key_id)",
            }
        }
        self._transact(put, self._audit(actor, created_by, "key.created", key_id, now))
        return KeyWithSecret(**_view(item).model_dump(), key_secret=secret)

    def list_keys(self, actor: Actor, query: ListKeysQuery) -> KeyList:
        """List one owner's keys, newest first; non-admins see only their owner's."""
        owner = query.owner_id or actor.owner_id
        if owner != actor.owner_id and not actor.is_admin:
            return KeyList(keys=[])
        kwargs: dict[str, Any] = {
            "TableName": self._keys_table,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "ow = :o",
            "ExpressionAttributeValues": {":o": {"S": owner}},
            "ScanIndexForward": False,
            "Limit": query.limit,
        }
        scope = f"keys|{owner}"
        if query.cursor:
            start = cursors.decode(query.cursor, scope, self._cursor_secret)
            kwargs["ExclusiveStartKey"] = to_item(start)
        response = self._call(self._client.query, **kwargs)
        items = [from_item(i) for i in response.get("Items", [])]
        self._add_last_used(items)
        last = response.get("LastEvaluatedKey")
        next_cursor = (
            cursors.encode(from_item(last), scope, self._cursor_secret)
            if last
            else None
        )
        return KeyList(keys=[_view(i) for i in items], next_cursor=next_cursor)

    def revoke(self, actor: Actor, key_id: str) -> KeyView:
        """Revoke a key at once; its next request anywhere is refused."""
        item = self._visible(actor, key_id)
        now = self._clock.now()
        update = self._update(
            key_id,
            "SET st = :revoked, ra = :now",
            {":revoked": {"S": "revoked"}, ":now": {"N": str(int(now))}},
        )
        audit = self._audit(actor, actor.key_id, "key.revoked", key_id, now)
        self._transact(update, audit, *self._revocation_event(item, actor, now))
        item.update(st="revoked", ra=int(now))
        return _view(item)

    def rotate(self, actor: Actor, key_id: str, grace_seconds: int) -> KeyWithSecret:
        """Give a key a new secret; the old one works for ``grace_seconds`` more."""
        item = self._visible(actor, key_id)
        now = self._clock.now()
        secret = new_secret()
        values = {
            ":new": {"S": hash_secret(secret)},
            ":pf": {"S": display_prefix(secret)},
            ":active": {"S": "active"},
        }
        if grace_seconds > 0:
            expression = "SET ph = sh, pe = :pe, sh = :new, pf = :pf"
            values[":pe"] = {"N": str(int(now) + grace_seconds)}
        else:
            expression = "SET sh = :new, pf = :pf REMOVE ph, pe"
        update = self._update(key_id, expression, values, "st = :active")
        detail = {"grace_period_seconds": grace_seconds}
        audit = self._audit(actor, actor.key_id, "key.rotated", key_id, now, detail)
        self._transact(update, audit)
        item.update(sh=hash_secret(secret), pf=display_prefix(secret))
        valid_until = iso(now + grace_seconds) if grace_seconds else None
        return KeyWithSecret(
            **_view(item).model_dump(),
            key_secret=secret,
            previous_secret_valid_until=valid_until,
        )

    def _revocation_event(
        self, item: dict[str, Any], actor: Actor, now: float
    ) -> list[dict[str, Any]]:
        if self._events_table is None:
            return []
        data = {"key_id": str(item["key_id"]), "owner_id": str(item["ow"])}
        event = DomainEvent("key.revoked", data, now, request_id=actor.request_id)
        return [put_event(self._events_table, event)]

    def _visible(self, actor: Actor, key_id: str) -> dict[str, Any]:
        response = self._call(
            self._client.get_item,
            TableName=self._keys_table,
            Key={"key_id": {"S": key_id}},
            ConsistentRead=True,
        )
        raw = response.get("Item")
        item = from_item(raw) if raw else None
        if item is None or (not actor.is_admin and item["ow"] != actor.owner_id):
            raise NotFound(f"no key {key_id!r} visible to this key")
        if item["st"] != "active":
            raise NotFound(f"key {key_id!r} is already revoked")
        scopes = {Scope(s) for s in item["sc"]}
        _forbid_escalation(actor, str(item["ow"]), scopes, Tier(str(item["tr"])))
        return item

    def _update(
        self,
        key_id: str,
        expression: str,
        values: dict[str, Any],
        condition: str = "attribute_exists(key_id)",
    ) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._keys_table,
                "Key": {"key_id": {"S": key_id}},
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }

    def _audit(
        self,
        actor: Actor | None,
        actor_key_id: str,
        action: str,
        key_id: str,
        now: float,
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        record = {
            "key_id": key_id,
            "at": f"{iso(now)}#{secrets.token_hex(4)}",
            "action": action,
            "actor_key_id": actor_key_id,
            "actor_owner_id": actor.owner_id if actor else None,
            "source_ip": actor.source_ip if actor else None,
            "user_agent": actor.user_agent if actor else None,
            "request_id": actor.request_id if actor else None,
            "detail": detail,
            "ttl": int(now) + AUDIT_RETENTION_SECONDS,
        }
        return {"Put": {"TableName": self._audit_table, "Item": to_item(record)}}

    def _transact(self, *items: dict[str, Any]) -> None:
        try:
            self._client.transact_write_items(TransactItems=list(items))  # type: ignore[arg-type]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise NotFound("the key changed or vanished meanwhile; retry") from exc
            raise StoreUnavailable("the key store is unavailable") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable("the key store is unreachable") from exc

    def _call(self, operation: Any, **kwargs: Any) -> Any:
        try:
            return operation(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable("the key store is unavailable") from exc

    def _add_last_used(self, items: list[dict[str, Any]]) -> None:
        # The owner index leaves out ``lu`` so that admission's write of it
        # never costs an index write; fetch it for this page only.
        if not items:
            return
        response = self._call(
            self._client.batch_get_item,
            RequestItems={
                self._keys_table: {
                    "Keys": [{"key_id": {"S": str(i["key_id"])}} for i in items],
                    "ProjectionExpression": "key_id, lu",
                }
            },
        )
        used = {
            r["key_id"]["S"]: int(r["lu"]["N"])
            for r in response["Responses"].get(self._keys_table, [])
            if "lu" in r
        }
        for item in items:
            if item["key_id"] in used:
                item["lu"] = used[item["key_id"]]


def _expiry_ahead(request: CreateKeyRequest, now: float) -> None:
    if request.expires_at is not None and request.expires_at.timestamp() <= now:
        field = "body.expires_at"
        raise ValidationFailed(
            f"invalid body: {field}",
            [{"field": field, "message": "must be in the future"}],
        )


def _forbid_escalation(
    actor: Actor, owner_id: str, scopes: set[Scope], tier: Tier
) -> None:
    if actor.is_admin:
        return
    if owner_id != actor.owner_id:
        raise EscalationDenied("a non-admin key may only manage its own owner's keys")
    extra = scopes - actor.scopes
    if extra:
        names = ", ".join(sorted(s.value for s in extra))
        raise EscalationDenied(f"a key cannot grant scopes it does not hold: {names}")
    if tier.rank > actor.tier.rank:
        raise EscalationDenied(
            f"a {actor.tier.value} key cannot grant the {tier.value} tier"
        )


def _view(item: dict[str, Any]) -> KeyView:
    return KeyView(
        key_id=str(item["key_id"]),
        name=str(item["nm"]),
        owner_id=str(item["ow"]),
        permissions=sorted(Scope(s) for s in item["sc"]),
        tier=Tier(str(item["tr"])),
        status=str(item["st"]),
        secret_prefix=str(item["pf"]),
        created_at=iso(int(item["ca"])),
        expires_at=iso(int(item["ex"])) if "ex" in item else None,
        revoked_at=iso(int(item["ra"])) if "ra" in item else None,
        last_used_at=iso(int(item["lu"])) if "lu" in item else None,
        ip_allowlist=list(item["ip"]) if "ip" in item else None,
    )
