"""Counter items: bumped inside a change's transaction, read by key in batches.

A counter item holds flat number attributes (``n``, ``sev:high``...) so one
``ADD`` creates or increments each of them. Reads use ``BatchGetItem`` over
the window's keys, at most 100 a call, so the number of calls depends on the
period only, never on how much data there is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import logs
from chalicelib.analytics import buckets
from chalicelib.errors import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

BATCH = 100
# BatchGetItem may leave keys unprocessed under load; retry them a bounded
# number of times, then fail rather than answer with a partial count.
UNPROCESSED_ROUNDS = 3


def bump(table: str, key: str, increments: dict[str, int], ttl: int) -> dict[str, Any]:
    """Return the transaction item adding ``increments`` to counter ``key``."""
    names = {"#ttl": "ttl"}
    values: dict[str, Any] = {":ttl": {"N": str(ttl)}}
    adds = []
    for index, (attribute, amount) in enumerate(sorted(increments.items())):
        names[f"#a{index}"] = attribute
        values[f":a{index}"] = {"N": str(amount)}
        adds.append(f"#a{index} :a{index}")
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": key}},
            "UpdateExpression": "SET #ttl = :ttl ADD " + ", ".join(adds),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def bump_buckets(
    table: str, family: str, at: float, now: float, increments: dict[str, int]
) -> list[dict[str, Any]]:
    """Return the items adding ``increments`` to every live bucket of ``at``."""
    items = []
    for granularity in buckets.live(at, now):
        start = granularity.start(at)
        ttl = start + granularity.seconds + granularity.retention
        items.append(
            bump(table, buckets.key(family, granularity, start), increments, ttl)
        )
    return items


def read(
    client: DynamoDBClient,
    table: str,
    keys: Iterable[str],
    attributes: list[str] | None = None,
) -> dict[str, dict[str, int]]:
    """Return the counters of each existing key (absent keys count zero)."""
    wanted = list(dict.fromkeys(keys))
    found: dict[str, dict[str, int]] = {}
    for offset in range(0, len(wanted), BATCH):
        chunk = wanted[offset : offset + BATCH]
        found.update(_read_chunk(client, table, chunk, attributes))
    return found


def _read_chunk(
    client: DynamoDBClient,
    table: str,
    chunk: list[str],
    attributes: list[str] | None,
) -> dict[str, dict[str, int]]:
    request: dict[str, Any] = {"Keys": [{"pk": {"S": k}} for k in chunk]}
    if attributes is not None:
        names = {f"#p{i}": a for i, a in enumerate(["pk", *attributes])}
        request["ProjectionExpression"] = ", ".join(names)
        request["ExpressionAttributeNames"] = names
    found: dict[str, dict[str, int]] = {}
    pending: Any = {table: request}
    for round_ in range(UNPROCESSED_ROUNDS):
        response = _batch_get(client, pending)
        for item in response.get("Responses", {}).get(table, []):
            found[item["pk"]["S"]] = _numbers(item)
        pending = response.get("UnprocessedKeys") or {}
        if not pending:
            return found
        time.sleep(0.05 * 2**round_)
    raise StoreUnavailable("the analytics store is busy; retry")


def _batch_get(client: DynamoDBClient, request: Any) -> Any:
    try:
        return client.batch_get_item(RequestItems=request)
    except (ClientError, BotoCoreError) as exc:
        logs.line(
            logger, "counter_read_failed", logging.WARNING, error=type(exc).__name__
        )
        raise StoreUnavailable("the analytics store is unavailable") from exc


def _numbers(item: dict[str, Any]) -> dict[str, int]:
    return {name: int(value["N"]) for name, value in item.items() if "N" in value}


def total(items: Iterable[dict[str, int]], attribute: str) -> int:
    """Sum one attribute over counter items."""
    return sum(item.get(attribute, 0) for item in items)


def by_prefix(items: Iterable[dict[str, int]], prefix: str) -> dict[str, int]:
    """Sum every ``prefix<name>`` attribute over counter items, by name."""
    result: dict[str, int] = {}
    for item in items:
        for attribute, amount in item.items():
            if attribute.startswith(prefix):
                name = attribute[len(prefix) :]
                result[name] = result.get(name, 0) + amount
    return result
