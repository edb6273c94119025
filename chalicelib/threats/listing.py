"""Newest-first listing of the threat feed with a bounded number of reads.

Threats are indexed by UTC month, newest first within each month (see the
ThreatsTable indexes in infrastructure/template.yaml). A filter on type,
severity or status picks the index keyed by that value, so the listing reads
matching threats only; any further filter is a ``FilterExpression`` on pages
of bounded size. A page reads the catalog of months that hold threats (one
``GetItem``) and then at most ``MAX_QUERIES`` pages of the index, walking
back month by month; if that does not fill the page it returns what it has
and a cursor, so no request reads more than a fixed number of items,
whatever the size of the feed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import cursors
from chalicelib.dynamo import from_item
from chalicelib.errors import InvalidCursor, StoreUnavailable
from chalicelib.threats.models import (
    CreateThreatRequest,
    ListThreatsQuery,
    ThreatStatus,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

CATALOG_KEY = "thr#catalog"
MAX_QUERIES = 6
# Items one filtered query may evaluate: enough to fill most pages, few
# enough that a request stays cheap when the filter matches rarely.
FILTERED_PAGE = 200
_ID = re.compile(r"^thr_[0-9a-f]{24}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_POSITION = re.compile(r"^\d{13}#thr_[0-9a-f]{24}$")


def valid_id(threat_id: str) -> bool:
    return bool(_ID.match(threat_id))


def month_of(milliseconds: int) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, UTC).strftime("%Y-%m")


def index_keys(
    threat_id: str, request: CreateThreatRequest, detected_ms: int
) -> dict[str, str]:
    """Return the attributes that place a new threat in every index."""
    month = month_of(detected_ms)
    return {
        "tp": month,
        "tk": f"{detected_ms:013d}#{threat_id}",
        "sp": f"{request.severity.value}#{month}",
        "yp": f"{request.type.value}#{month}",
        "xp": f"{ThreatStatus.ACTIVE.value}#{month}",
    }


def catalog_update(table: str, month: str) -> dict[str, Any]:
    """Return the transaction item adding ``month`` to the feed's catalog."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": CATALOG_KEY}},
            "UpdateExpression": "ADD months :m",
            "ExpressionAttributeValues": {":m": {"SS": [month]}},
        }
    }


@dataclass(frozen=True)
class Plan:
    """Which index a query reads and what it still filters."""

    index: str
    partition_attribute: str
    partition_prefix: str
    filters: dict[str, str]

    def partition(self, month: str) -> str:
        return self.partition_prefix + month


@dataclass(frozen=True)
class Page:
    """Threat items of one page and the cursor to the next, if any."""

    items: list[dict[str, Any]]
    cursor: str | None


def plan(query: ListThreatsQuery) -> Plan:
    """Pick the index whose key matches the most selective filter."""
    wanted = {
        name: value.value
        for name, value in (
            ("type", query.type),
            ("severity", query.severity),
            ("status", query.status),
        )
        if value is not None
    }
    for name, index, attribute in (
        ("type", "by_type", "yp"),
        ("severity", "by_severity", "sp"),
        ("status", "by_status", "xp"),
    ):
        if name in wanted:
            rest = {k: v for k, v in wanted.items() if k != name}
            return Plan(index, attribute, f"{wanted[name]}#", rest)
    return Plan("by_time", "tp", "", {})


class Lister:
    """Reads pages of the feed."""

    def __init__(
        self,
        client: DynamoDBClient,
        threats_table: str,
        aggregates_table: str,
        cursor_secret: str,
    ) -> None:
        self._client = client
        self._table = threats_table
        self._aggregates = aggregates_table
        self._secret = cursor_secret

    def page(self, query: ListThreatsQuery) -> Page:
        """Return one page of threats for ``query``."""
        scope = _scope(query)
        since_ms = int(query.since.timestamp() * 1000) if query.since else None
        month, upper = self._start(query.cursor, scope)
        months = self._months(month, since_ms)
        walk = _Walk(plan(query), query.limit, since_ms)
        for queries in range(MAX_QUERIES):
            if not months:
                return Page(walk.items, None)
            done, upper = walk.take(self._query(walk, months[0], upper), months[0])
            if done or upper is None:
                months.pop(0)
            if done:
                break
            if queries == MAX_QUERIES - 1 or not months:
                break
        return Page(walk.items, self._cursor(months, upper, walk, scope))

    def _cursor(
        self, months: list[str], upper: str | None, walk: _Walk, scope: str
    ) -> str | None:
        if walk.full and walk.boundary is not None:
            position = walk.boundary
        elif months:
            position = {"m": months[0], "k": upper}
        else:
            return None
        return cursors.encode(position, scope, self._secret)

    def _start(self, cursor: str | None, scope: str) -> tuple[str | None, str | None]:
        if cursor is None:
            return None, None
        position = cursors.decode(cursor, scope, self._secret)
        month, upper = position.get("m"), position.get("k")
        if not isinstance(month, str) or not _MONTH.match(month):
            raise InvalidCursor("the cursor is not valid")
        if upper is not None and (
            not isinstance(upper, str) or not _POSITION.match(upper)
        ):
            raise InvalidCursor("the cursor is not valid")
        return month, upper

    def _months(self, below: str | None, since_ms: int | None) -> list[str]:
        response = self._call(
            self._client.get_item,
            TableName=self._aggregates,
            Key={"pk": {"S": CATALOG_KEY}},
            ProjectionExpression="months",
        )
        months = sorted(response.get("Item", {}).get("months", {}).get("SS", []))
        floor = month_of(since_ms) if since_ms is not None else ""
        return [
            m for m in reversed(months) if m >= floor and (below is None or m <= below)
        ]

    def _query(self, walk: _Walk, month: str, upper: str | None) -> _Result:
        plan_ = walk.plan
        names = {"#p": plan_.partition_attribute, "#k": "tk"}
        values: dict[str, Any] = {":p": {"S": plan_.partition(month)}}
        condition = "#p = :p"
        lower = (
            f"{walk.since_ms:013d}"
            if walk.since_ms is not None and month_of(walk.since_ms) == month
            else None
        )
        if lower is not None and upper is not None:
            # BETWEEN is inclusive: the item at ``upper`` is dropped below.
            condition += " AND #k BETWEEN :lo AND :hi"
            values.update({":lo": {"S": lower}, ":hi": {"S": upper}})
        elif upper is not None:
            condition += " AND #k < :hi"
            values[":hi"] = {"S": upper}
        elif lower is not None:
            condition += " AND #k >= :lo"
            values[":lo"] = {"S": lower}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": plan_.index,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
            "Limit": walk.fetch_size(),
        }
        if plan_.filters:
            clauses = []
            for i, (attribute, value) in enumerate(sorted(plan_.filters.items())):
                names[f"#f{i}"] = attribute
                values[f":f{i}"] = {"S": value}
                clauses.append(f"#f{i} = :f{i}")
            kwargs["FilterExpression"] = " AND ".join(clauses)
        if "#k" not in condition:
            # DynamoDB refuses a placeholder the expressions do not use.
            del names["#k"]
        kwargs["ExpressionAttributeNames"] = names
        kwargs["ExpressionAttributeValues"] = values
        response = self._call(self._client.query, **kwargs)
        items = [from_item(i) for i in response.get("Items", [])]
        if upper is not None:
            items = [i for i in items if i["tk"] < upper]
        last = response.get("LastEvaluatedKey")
        return _Result(items, last["tk"]["S"] if last else None)

    def _call(self, operation: Any, **kwargs: Any) -> Any:
        try:
            return operation(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable("the threat store is unavailable") from exc


@dataclass(frozen=True)
class _Result:
    items: list[dict[str, Any]]
    last_key: str | None


class _Walk:
    """The page being filled, across months and queries."""

    def __init__(self, plan_: Plan, limit: int, since_ms: int | None) -> None:
        self.plan = plan_
        self.limit = limit
        self.since_ms = since_ms
        self.items: list[dict[str, Any]] = []
        self.boundary: dict[str, Any] | None = None

    @property
    def full(self) -> bool:
        return len(self.items) >= self.limit

    def fetch_size(self) -> int:
        need = self.limit - len(self.items)
        # One more than needed tells, without another call, whether the
        # month goes on after this page.
        return max(need * 3, FILTERED_PAGE) if self.plan.filters else need + 1

    def take(self, result: _Result, month: str) -> tuple[bool, str | None]:
        """Add a query's items; return (page full, where the month goes on)."""
        need = self.limit - len(self.items)
        taken = result.items[:need]
        self.items.extend(taken)
        if not self.full:
            return False, result.last_key
        cut = len(taken) < len(result.items)
        if cut or result.last_key is not None:
            last = str(taken[-1]["tk"]) if cut else result.last_key
            self.boundary = {"m": month, "k": last}
        return True, None


def _scope(query: ListThreatsQuery) -> str:
    since = int(query.since.timestamp() * 1000) if query.since else ""
    parts = (query.type, query.severity, query.status)
    return "threats|" + "|".join(p.value if p else "" for p in parts) + f"|{since}"
