"""API request counters: one ``UpdateItem`` per request, on its hour's item.

The edge calls :meth:`RequestMeter.record` once a response is built. The
write adds 1 to the hour's total and to the counters of the request's
operation, status class, tier, key and latency bucket, all attributes of one
item, so it is a single write unit and never conflicts (``ADD`` commutes).
Counts are exact; latency percentiles are the upper bounds of fixed
histogram buckets.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import logs
from chalicelib.analytics import buckets, counters
from chalicelib.clock import Clock

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

FAMILY = "req"
# Upper bounds of the latency histogram, in milliseconds.
LATENCY_BOUNDS = (5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000)
OVERFLOW = "inf"


def latency_bucket(milliseconds: float) -> str:
    """Return the label of the histogram bucket holding ``milliseconds``."""
    for bound in LATENCY_BOUNDS:
        if milliseconds <= bound:
            return str(bound)
    return OVERFLOW


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def percentile(histogram: dict[str, int], fraction: float) -> float | None:
    """Return the bucket bound below which ``fraction`` of requests fell.

    None when there were no requests or the rank lies above the last bound.
    """
    count = sum(histogram.values())
    if count == 0:
        return None
    rank = max(1, math.ceil(fraction * count))
    seen = 0
    for label in [*map(str, LATENCY_BOUNDS), OVERFLOW]:
        seen += histogram.get(label, 0)
        if seen >= rank:
            return None if label == OVERFLOW else float(label)
    return None


class RequestMeter:
    """Counts each request in its hour's aggregate item."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Clock) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def record(
        self,
        operation: str,
        status: int,
        latency_ms: float,
        key_id: str | None,
        tier: str | None,
    ) -> None:
        """Count one request; a failure is logged, never raised to the client."""
        start = buckets.BY_HOUR.start(self._clock.now())
        increments = {
            "n": 1,
            f"e:{operation}": 1,
            f"s:{status_class(status)}": 1,
            f"t:{tier or 'none'}": 1,
            f"l:{latency_bucket(latency_ms)}": 1,
            "lat": round(latency_ms),
        }
        if key_id is not None:
            increments[f"k:{key_id}"] = 1
        ttl = start + buckets.BY_HOUR.seconds + buckets.BY_HOUR.retention
        update = counters.bump(
            self._table, buckets.key(FAMILY, buckets.BY_HOUR, start), increments, ttl
        )["Update"]
        try:
            self._client.update_item(**update)
        except (ClientError, BotoCoreError) as exc:
            logs.line(
                logger, "request_uncounted", logging.WARNING, error=type(exc).__name__
            )
