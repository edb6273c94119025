"""The limiter's windows: pure arithmetic over a key's counter attributes.

A key item carries four windows, each under short attribute names so the item
stays well under 1 KB (one write unit):

* the sliding hour, at one-minute granularity: ``hm`` maps ``minute % 61`` to
  the count admitted in that minute, ``hw`` is the newest minute counted and
  ``ht`` the total of the 61 minutes ``hw - 60 .. hw``. A request at minute
  ``s`` is admitted only if the minutes ``s - 60 .. s`` hold fewer than the
  limit, so every 3,600 s interval (which touches at most 61 minutes) admits at
  most the limit;
* the burst window, ``bs``/``bc``: a count per fixed 10-second slot;
* the day, ``ds``/``dc``: a count per UTC day;
* the month, ``ms``/``mb``/``mr``: response bytes and requests per UTC month.

Limits live on the item too (``lh``, ``lb``, ``ld``, ``lm``) so a condition can
compare counter and limit without the caller knowing the key's tier.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, NamedTuple

from chalicelib.policy import TierLimits

MINUTE = 60
BURST_SECONDS = 10
DAY = 86_400
RING = 61  # the current minute and the 60 before it


def minute_of(now: float) -> int:
    return int(now // MINUTE)


def burst_slot_of(now: float) -> int:
    return int(now // BURST_SECONDS)


def day_of(now: float) -> int:
    return int(now // DAY)


def month_of(now: float) -> int:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.year * 12 + moment.month - 1


def month_start(month: int) -> float:
    return datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC).timestamp()


def initial_counters(limits: TierLimits, now: float) -> dict[str, Any]:
    """Return the counter and limit attributes of a new key item."""
    return {
        "lh": limits.per_hour,
        "lb": limits.burst,
        "ld": limits.per_day,
        "lm": limits.bytes_per_month,
        "hw": minute_of(now),
        "ht": 0,
        "hm": {},
        "bs": burst_slot_of(now),
        "bc": 0,
        "ds": day_of(now),
        "dc": 0,
        "ms": month_of(now),
        "mb": 0,
        "mr": 0,
    }


class WindowUse(NamedTuple):
    """How full one window is at a given instant."""

    name: str
    limit: int
    used: int
    window_seconds: int
    reset_at: float  # when the window next frees room (or rolls over)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def full(self) -> bool:
        return self.used >= self.limit


class Usage(NamedTuple):
    """The four windows of a key at one instant, as seen from its item."""

    hour: WindowUse
    burst: WindowUse
    day: WindowUse
    month_bytes: WindowUse
    month_requests: int

    @property
    def windows(self) -> tuple[WindowUse, ...]:
        return (self.hour, self.burst, self.day, self.month_bytes)

    def refusing(self) -> list[WindowUse]:
        """Return the windows that would refuse one more request."""
        return [w for w in self.windows if w.full]

    def binding(self) -> WindowUse:
        """Return the request window with the least room (for the headers)."""
        return min((self.hour, self.burst, self.day), key=lambda w: w.remaining)


def hour_buckets(item: dict[str, Any]) -> dict[int, int]:
    """Map each minute counted in ``hm`` to its count."""
    newest = int(item["hw"])
    buckets = {}
    for index, count in item.get("hm", {}).items():
        # The unique minute in hw-60..hw whose ring index is ``index``.
        minute = newest - ((newest - int(index)) % RING)
        buckets[minute] = int(count)
    return buckets


def hour_use(item: dict[str, Any], now: float) -> WindowUse:
    """Return the sliding hour's use at ``now``."""
    current = max(minute_of(now), int(item["hw"]))
    buckets = {m: c for m, c in hour_buckets(item).items() if m >= current - 60}
    used = sum(buckets.values())
    limit = int(item["lh"])
    return WindowUse(
        "hour", limit, used, 3600, _hour_reset(buckets, used, limit, current)
    )


def _hour_reset(buckets: dict[int, int], used: int, limit: int, current: int) -> float:
    """Return when the window next has room (or its oldest minute leaves)."""
    remaining = used
    for minute in sorted(buckets):
        remaining -= buckets[minute]
        # ``minute`` leaves the window when the window's newest minute is
        # minute + 61, that is at the start of that minute.
        if remaining < limit:
            return float((minute + RING) * MINUTE)
    return float((current + 1) * MINUTE)


def slot_use(
    name: str, slot: int, count: int, limit: int, current: int, seconds: int
) -> WindowUse:
    """Return a fixed slot's use; ``current`` is the slot the request falls in.

    A clock behind the item's slot (another process's clock ran ahead) counts
    into the item's slot, as the admission write does, so a refusal and its
    diagnosis always agree.
    """
    current = max(current, slot)
    used = count if slot == current else 0
    return WindowUse(name, limit, used, seconds, float((current + 1) * seconds))


def usage(item: dict[str, Any], now: float) -> Usage:
    """Compute every window's use at ``now`` from a key item."""
    # As for the other windows, a clock behind the item counts into its month.
    month = max(month_of(now), int(item["ms"]))
    same_month = int(item["ms"]) == month
    return Usage(
        hour=hour_use(item, now),
        burst=slot_use(
            "burst",
            int(item["bs"]),
            int(item["bc"]),
            int(item["lb"]),
            burst_slot_of(now),
            BURST_SECONDS,
        ),
        day=slot_use(
            "day", int(item["ds"]), int(item["dc"]), int(item["ld"]), day_of(now), DAY
        ),
        month_bytes=WindowUse(
            "month",
            int(item["lm"]),
            int(item["mb"]) if same_month else 0,
            int(month_start(month + 1) - month_start(month)),
            month_start(month + 1),
        ),
        month_requests=int(item["mr"]) if same_month else 0,
    )


def retry_after(refusing: list[WindowUse], now: float) -> int:
    """Return the whole seconds until every refusing window has room."""
    wait = max(w.reset_at for w in refusing) - now
    return max(1, math.ceil(wait))
