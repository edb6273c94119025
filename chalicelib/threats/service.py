"""Threats: each change is one transaction with its event and its counters.

Reporting a threat writes the threat, its ``threat.detected`` event, the
counters of the buckets it falls in and the feed's catalog of months in one
``TransactWriteItems``; resolving writes the new state, ``threat.resolved``
and the resolution counters the same way. So no counter and no event can
drift from the threats they describe.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.analytics import counters
from chalicelib.analytics.buckets import DAY
from chalicelib.clock import Clock
from chalicelib.dynamo import from_item, to_item
from chalicelib.errors import (
    AlreadyDone,
    NotFound,
    StoreUnavailable,
    ValidationFailed,
)
from chalicelib.events.outbox import DomainEvent, put_event
from chalicelib.threats import listing
from chalicelib.threats.models import (
    CreateThreatRequest,
    ListThreatsQuery,
    ResolveThreatRequest,
    Severity,
    Threat,
    ThreatList,
    ThreatStatus,
    ThreatType,
)
from chalicelib.transactions import Cancelled, commit

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

FAMILY = "thr"
MAX_AGE_SECONDS = 365 * DAY
MAX_AHEAD_SECONDS = 300


@dataclass(frozen=True)
class Origin:
    """Who asked for a change: the key's owner and the request, for events."""

    owner_id: str
    request_id: str | None = None


class ThreatService:
    """Reports, reads, lists and resolves threats."""

    def __init__(
        self,
        client: DynamoDBClient,
        threats_table: str,
        events_table: str,
        aggregates_table: str,
        clock: Clock,
        cursor_secret: str,
    ) -> None:
        self._client = client
        self._table = threats_table
        self._events = events_table
        self._aggregates = aggregates_table
        self._clock = clock
        self._lister = listing.Lister(
            client, threats_table, aggregates_table, cursor_secret
        )

    def report(self, request: CreateThreatRequest, origin: Origin) -> Threat:
        """Record a new active threat and its ``threat.detected`` event."""
        now = self._clock.now()
        detected = _detected(request, now)
        item = new_item(request, detected, now, origin.owner_id)
        threat = to_threat(item)
        event = _event("threat.detected", threat, origin, now)
        put = {
            "Put": {
                "TableName": self._table,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(threat_id)",
            }
        }
        self._commit(
            [
                put,
                put_event(self._events, event),
                listing.catalog_update(self._aggregates, str(item["tp"])),
                *counters.bump_buckets(
                    self._aggregates, FAMILY, detected, now, detection_counts(item)
                ),
            ]
        )
        return threat

    def get(self, threat_id: str) -> Threat:
        """Return one threat, or raise NotFound."""
        return to_threat(self._load(threat_id))

    def resolve(
        self, threat_id: str, request: ResolveThreatRequest, origin: Origin
    ) -> Threat:
        """Mark an active threat resolved; record the event and time to resolve."""
        item = self._load(threat_id)
        if item["status"] == ThreatStatus.RESOLVED.value:
            raise AlreadyDone(
                f"threat {threat_id} is already resolved", "threat_already_resolved"
            )
        now = self._clock.now()
        resolved_ms = int(now * 1000)
        mark_resolved(item, resolved_ms, request.resolution)
        threat = to_threat(item)
        increments = resolution_counts(item)
        try:
            self._commit(
                [
                    self._resolution(threat_id, item),
                    put_event(
                        self._events, _event("threat.resolved", threat, origin, now)
                    ),
                    *counters.bump_buckets(
                        self._aggregates, FAMILY, now, now, increments
                    ),
                ]
            )
        except Cancelled as exc:
            if exc.failed(0):
                raise AlreadyDone(
                    f"threat {threat_id} was resolved meanwhile",
                    "threat_already_resolved",
                ) from exc
            raise
        return threat

    def list_threats(self, query: ListThreatsQuery) -> ThreatList:
        """List threats newest first, filtered, one page per call."""
        page = self._lister.page(query)
        return ThreatList(
            threats=[to_threat(i) for i in page.items], next_cursor=page.cursor
        )

    def latest(self, limit: int) -> list[dict[str, Any]]:
        """Return up to ``limit`` newest threats in their public form (realtime)."""
        page = self.list_threats(ListThreatsQuery(limit=max(1, min(limit, 100))))
        return [t.model_dump(mode="json") for t in page.threats]

    def _resolution(self, threat_id: str, item: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":resolved": {"S": ThreatStatus.RESOLVED.value},
            ":active": {"S": ThreatStatus.ACTIVE.value},
            ":at": {"N": str(item["resolved_ms"])},
            ":xp": {"S": str(item["xp"])},
        }
        expression = "SET #st = :resolved, resolved_ms = :at, xp = :xp"
        if item.get("resolution") is not None:
            expression += ", resolution = :note"
            values[":note"] = {"S": str(item["resolution"])}
        return {
            "Update": {
                "TableName": self._table,
                "Key": {"threat_id": {"S": threat_id}},
                "UpdateExpression": expression,
                # Only an active threat can be resolved, once.
                "ConditionExpression": "#st = :active",
                "ExpressionAttributeNames": {"#st": "status"},
                "ExpressionAttributeValues": values,
            }
        }

    def _load(self, threat_id: str) -> dict[str, Any]:
        if not listing.valid_id(threat_id):
            raise NotFound(f"no threat {threat_id!r}")
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key={"threat_id": {"S": threat_id}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable("the threat store is unavailable") from exc
        raw = response.get("Item")
        if raw is None:
            raise NotFound(f"no threat {threat_id!r}")
        return from_item(raw)

    def _commit(self, items: list[dict[str, Any]]) -> None:
        try:
            commit(self._client, items)
        except Cancelled as exc:
            if exc.failed(1):
                # The event id is random; a clash means a retried write.
                raise StoreUnavailable("the change clashed; retry") from exc
            raise


def new_item(
    request: CreateThreatRequest, detected: float, now: float, owner_id: str
) -> dict[str, Any]:
    """Return the stored item of a newly reported threat."""
    threat_id = "thr_" + secrets.token_hex(12)
    return {
        "threat_id": threat_id,
        "type": request.type.value,
        "severity": request.severity.value,
        "status": ThreatStatus.ACTIVE.value,
        "source_ip": request.source_ip,
        "target": request.target,
        "description": request.description,
        "indicators": request.indicators,
        "detected_ms": int(detected * 1000),
        "created_ms": int(now * 1000),
        "owner_id": owner_id,
        **listing.index_keys(threat_id, request, int(detected * 1000)),
    }


def mark_resolved(item: dict[str, Any], resolved_ms: int, note: str | None) -> None:
    """Move a threat item to resolved, in every index too."""
    item.update(
        status=ThreatStatus.RESOLVED.value,
        resolved_ms=resolved_ms,
        resolution=note,
        xp=f"{ThreatStatus.RESOLVED.value}#{item['tp']}",
    )


def detection_counts(item: dict[str, Any]) -> dict[str, int]:
    """Return what a detection adds to its buckets' counters."""
    return {"n": 1, f"sev:{item['severity']}": 1, f"type:{item['type']}": 1}


def resolution_counts(item: dict[str, Any]) -> dict[str, int]:
    """Return what a resolution adds to its buckets' counters."""
    seconds = round((int(item["resolved_ms"]) - int(item["detected_ms"])) / 1000)
    return {"res": 1, "ttr": max(0, seconds), f"rsev:{item['severity']}": 1}


def _detected(request: CreateThreatRequest, now: float) -> float:
    if request.detected_at is None:
        return now
    detected = request.detected_at.timestamp()
    if not now - MAX_AGE_SECONDS <= detected <= now + MAX_AHEAD_SECONDS:
        message = "must be within the last 365 days and at most 5 minutes ahead"
        raise ValidationFailed(
            f"invalid body: body.detected_at {message}",
            [{"field": "body.detected_at", "message": message}],
        )
    return detected


def _event(event_type: str, threat: Threat, origin: Origin, now: float) -> DomainEvent:
    data = {"threat": threat.model_dump(mode="json"), "owner_id": origin.owner_id}
    return DomainEvent(event_type, data, now, request_id=origin.request_id)


def iso_ms(milliseconds: int) -> str:
    """Format epoch milliseconds as RFC 3339 UTC with millisecond precision."""
    moment = datetime.fromtimestamp(milliseconds / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_threat(item: dict[str, Any]) -> Threat:
    """Build the public view of a threat item."""
    resolved = item.get("resolved_ms")
    return Threat(
        threat_id=str(item["threat_id"]),
        type=ThreatType(str(item["type"])),
        severity=Severity(str(item["severity"])),
        status=ThreatStatus(str(item["status"])),
        source_ip=item.get("source_ip"),
        target=str(item["target"]),
        description=str(item.get("description", "")),
        indicators=[str(i) for i in item.get("indicators", [])],
        detected_at=iso_ms(int(item["detected_ms"])),
        resolved_at=iso_ms(int(resolved)) if resolved is not None else None,
        resolution=item.get("resolution"),
        created_at=iso_ms(int(item["created_ms"])),
    )
