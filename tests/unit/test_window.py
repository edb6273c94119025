"""The limiter's windows: ring of 61 minutes, slots, month, resets, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.admission.window import (
    RING,
    WindowUse,
    burst_slot_of,
    day_of,
    hour_buckets,
    hour_use,
    initial_counters,
    minute_of,
    month_of,
    month_start,
    retry_after,
    slot_use,
    usage,
)
from chalicelib.policy import TierLimits

LIMITS = TierLimits(
    per_hour=5, burst=3, per_day=10, bytes_per_month=1000, connections=1
)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def item_with_minutes(
    counts: dict[int, int], newest: int, **extra: Any
) -> dict[str, Any]:
    """A key item whose hour ring holds ``counts`` (minute -> count)."""
    item = initial_counters(LIMITS, newest * 60)
    item["hm"] = {str(minute % RING): count for minute, count in counts.items()}
    item["ht"] = sum(counts.values())
    item["hw"] = newest
    item.update(extra)
    return item


def test_slot_numbers_are_floors_of_epoch_seconds() -> None:
    now = at("2026-11-30T10:59:59.900")
    assert minute_of(now) == int(now) // 60
    assert burst_slot_of(now) == int(now) // 10
    assert day_of(now) == int(now) // 86_400


@pytest.mark.parametrize(
    ("moment", "start", "next_start"),
    [
        ("2026-11-30T10:59:59", "2026-11-01T00:00:00", "2026-12-01T00:00:00"),
        ("2026-12-31T23:59:59", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),
        ("2028-02-29T12:00:00", "2028-02-01T00:00:00", "2028-03-01T00:00:00"),
    ],
)
def test_month_numbers_map_back_to_utc_calendar_months(
    moment: str, start: str, next_start: str
) -> None:
    month = month_of(at(moment))
    assert month_start(month) == at(start)
    assert month_start(month + 1) == at(next_start)


def test_initial_counters_carry_the_limits_and_empty_windows() -> None:
    now = at("2026-11-30T10:59:59")
    counters = initial_counters(LIMITS, now)
    assert (counters["lh"], counters["lb"], counters["ld"], counters["lm"]) == (
        5,
        3,
        10,
        1000,
    )
    assert counters["hw"] == minute_of(now)
    assert counters["ht"] == counters["bc"] == counters["dc"] == counters["mb"] == 0
    assert counters["hm"] == {}
    assert usage(counters, now).refusing() == []


def test_ring_index_maps_back_to_the_minute_inside_the_window() -> None:
    newest = 29_933_340  # a minute whose ring index is not zero
    counts = {newest: 1, newest - 1: 2, newest - 60: 3, newest - 30: 4}
    assert hour_buckets(item_with_minutes(counts, newest)) == counts


def test_hour_counts_the_current_minute_and_the_sixty_before() -> None:
    newest = 29_933_340
    item = item_with_minutes({newest - 60: 2, newest: 1}, newest)
    assert hour_use(item, newest * 60).used == 3
    # One minute later the oldest minute has left the window.
    assert hour_use(item, (newest + 1) * 60).used == 1
    assert hour_use(item, (newest + 61) * 60).used == 0


def test_hour_with_a_clock_behind_the_item_counts_the_items_minute() -> None:
    newest = 29_933_340
    item = item_with_minutes({newest - 60: 2, newest: 3}, newest)
    assert hour_use(item, (newest - 5) * 60).used == 5


def test_full_hour_resets_when_the_oldest_minute_leaves() -> None:
    newest = 29_933_340
    item = item_with_minutes({newest - 50: 2, newest - 10: 3}, newest)
    hour = hour_use(item, newest * 60 + 30)
    assert hour.full
    assert hour.reset_at == (newest - 50 + 61) * 60


def test_full_hour_resets_only_once_enough_minutes_have_left() -> None:
    newest = 29_933_340
    # Six counted against five: the first minute leaving still leaves five.
    item = item_with_minutes({newest - 50: 1, newest - 40: 1, newest: 4}, newest)
    hour = hour_use(item, newest * 60)
    assert hour.used == 6
    assert hour.reset_at == (newest - 40 + 61) * 60


def test_empty_hour_resets_at_the_next_minute() -> None:
    now = at("2026-11-30T10:59:59")
    item = initial_counters(LIMITS, now)
    assert hour_use(item, now).reset_at == (minute_of(now) + 1) * 60


def test_slot_counts_only_in_its_own_slot() -> None:
    assert slot_use("burst", 7, 3, 3, 7, 10) == WindowUse("burst", 3, 3, 10, 80.0)
    assert slot_use("burst", 6, 3, 3, 7, 10).used == 0


def test_slot_ahead_of_the_clock_counts_as_the_current_slot() -> None:
    # Another process with a clock a little ahead moved the slot on; the
    # admission write counts into that slot, so the diagnosis must too.
    window = slot_use("burst", 8, 3, 3, 7, 10)
    assert window.full
    assert window.reset_at == 90.0


def test_usage_reports_every_window_and_the_month_only_this_month() -> None:
    now = at("2026-11-30T10:59:59")
    item = initial_counters(LIMITS, now)
    item.update(bc=3, dc=4, mb=900, mr=40)
    windows = usage(item, now)
    assert [w.name for w in windows.refusing()] == ["burst"]
    assert windows.day.used == 4
    assert windows.month_bytes.used == 900
    assert windows.month_bytes.reset_at == at("2026-12-01T00:00:00")
    assert windows.month_requests == 40
    next_month = usage(item, at("2026-12-01T00:00:01"))
    assert next_month.month_bytes.used == next_month.month_requests == 0


def test_month_bytes_at_the_quota_refuse() -> None:
    now = at("2026-11-30T10:59:59")
    item = initial_counters(LIMITS, now)
    item["mb"] = 1000
    assert [w.name for w in usage(item, now).refusing()] == ["month"]


def test_binding_window_is_the_request_window_with_least_room() -> None:
    now = at("2026-11-30T10:59:59")
    item = initial_counters(LIMITS, now)
    item.update(bc=1, dc=9, mb=999)
    assert usage(item, now).binding().name == "day"


def test_retry_after_waits_for_the_last_refusing_window_in_whole_seconds() -> None:
    hour = WindowUse("hour", 5, 5, 3600, 1000.2)
    burst = WindowUse("burst", 3, 3, 10, 990.0)
    assert retry_after([hour, burst], 900.5) == 100
    assert retry_after([burst], 989.9) == 1
    # A reset already due still asks for one second, never zero.
    assert retry_after([burst], 995.0) == 1
