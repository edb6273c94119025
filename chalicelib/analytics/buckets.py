"""Time buckets of the counters, and the window each analytics period reads.

A period is read at one granularity: ``1h`` in minutes, ``24h`` in hours,
``7d`` and ``30d`` in days. Its window is every bucket from the one holding
``now - period`` to the one holding ``now``, so it covers the whole period
and at most one bucket more; answers state the window they counted.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

MINUTE = 60
HOUR = 3_600
DAY = 86_400


class Granularity(NamedTuple):
    """A bucket size, its code in item keys, and how long its items live."""

    name: str
    code: str
    seconds: int
    retention: int

    def start(self, at: float) -> int:
        """Return the start of the bucket holding ``at``."""
        return int(at // self.seconds) * self.seconds


BY_MINUTE = Granularity("minute", "m", MINUTE, 2 * DAY)
BY_HOUR = Granularity("hour", "h", HOUR, 35 * DAY)
BY_DAY = Granularity("day", "d", DAY, 400 * DAY)
GRANULARITIES = (BY_MINUTE, BY_HOUR, BY_DAY)


class Period(StrEnum):
    """A period analytics and stats can be asked about."""

    HOUR = "1h"
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def seconds(self) -> int:
        return {"1h": HOUR, "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}[self.value]

    @property
    def granularity(self) -> Granularity:
        return {"1h": BY_MINUTE, "24h": BY_HOUR}.get(self.value, BY_DAY)


class Window(NamedTuple):
    """The buckets one answer counts."""

    granularity: Granularity
    starts: tuple[int, ...]
    end: float

    @property
    def start(self) -> int:
        return self.starts[0]


def window(
    period: Period, now: float, granularity: Granularity | None = None
) -> Window:
    """Return the buckets covering ``period`` up to ``now``."""
    size = granularity or period.granularity
    first, last = size.start(now - period.seconds), size.start(now)
    return Window(size, tuple(range(first, last + 1, size.seconds)), now)


def key(family: str, granularity: Granularity, start: int) -> str:
    """Return the aggregates item key of one bucket."""
    return f"{family}#{granularity.code}#{start}"


def live(at: float, now: float) -> tuple[Granularity, ...]:
    """Return the granularities some window may still read a bucket of ``at`` in.

    A threat reported with an old detection time need not touch minute
    buckets no window will read again.
    """
    reach = {BY_MINUTE: HOUR + MINUTE, BY_HOUR: DAY + HOUR, BY_DAY: BY_DAY.retention}
    return tuple(g for g in GRANULARITIES if at >= now - reach[g])
