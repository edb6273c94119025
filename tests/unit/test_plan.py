"""The limiter half of the admission write, applied by the in-memory store."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.admission.plan import add_limiter
from chalicelib.admission.window import (
    RING,
    burst_slot_of,
    day_of,
    hour_use,
    initial_counters,
    minute_of,
    month_of,
)
from chalicelib.dynamo import Expression, from_item, to_item
from chalicelib.policy import TierLimits
from tests.support.fake_dynamodb import FakeDynamoDB

LIMITS = TierLimits(
    per_hour=5, burst=3, per_day=10, bytes_per_month=1000, connections=1
)
NOW = 1_796_000_000.0 + 25  # 25 s into a minute, 5 s into a burst slot
KEY = "jptr_" + "k" * 24


def stored(**changes: Any) -> dict[str, Any]:
    item = {"key_id": KEY, **initial_counters(LIMITS, NOW), **changes}
    return item


def write(item: dict[str, Any], believed: dict[str, Any] | None, now: float) -> Any:
    """Apply the limiter write to ``item``; return the new item or the error."""
    store = FakeDynamoDB()
    store.put_item(TableName="keys", Item=to_item(item))
    expr = Expression()
    add_limiter(expr, believed, now)
    try:
        response = store.update_item(
            TableName="keys",
            Key={"key_id": {"S": KEY}},
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            **expr.update_kwargs(),
        )
    except ClientError as error:
        return error
    return from_item(response["Attributes"])


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"[#:]\w+", text))


def ring(counts: dict[int, int]) -> dict[str, int]:
    return {str(minute % RING): count for minute, count in counts.items()}


MINUTE = minute_of(NOW)


@pytest.mark.parametrize(
    ("believed", "now"),
    [
        (None, NOW),
        (stored(), NOW),
        (stored(), NOW + 60),
        (stored(hm=ring({MINUTE: 2}), ht=2), NOW + 30 * 60),
        (stored(), NOW + 2 * 3600),
        (stored(), NOW + 40 * 86_400),
    ],
    ids=["cold", "same-minute", "next-minute", "roll", "ring-passed", "next-month"],
)
def test_every_declared_placeholder_is_used(
    believed: dict[str, Any] | None, now: float
) -> None:
    # DynamoDB rejects a write that declares a name or value it never uses.
    expr = Expression()
    add_limiter(expr, believed, now)
    kwargs = expr.update_kwargs()
    used = placeholders(kwargs["UpdateExpression"] + kwargs["ConditionExpression"])
    assert used == set(expr.names) | set(expr.values)


def test_same_minute_counts_every_window_with_a_commutative_add() -> None:
    item = stored(hm=ring({MINUTE: 2}), ht=2, bc=1, dc=4, mr=7)
    after = write(item, item, NOW)
    assert (after["ht"], after["hm"], after["bc"], after["dc"], after["mr"]) == (
        3,
        ring({MINUTE: 3}),
        2,
        5,
        8,
    )


def test_same_minute_write_succeeds_whatever_the_belief_says_about_counts() -> None:
    # The counts are not pinned, only the slots: concurrent writers never clash.
    actual = stored(hm=ring({MINUTE: 4}), ht=4)
    after = write(actual, stored(), NOW)
    assert after["ht"] == 5


def test_full_hour_fails_the_condition() -> None:
    item = stored(hm=ring({MINUTE: 5}), ht=5)
    error = write(item, item, NOW)
    assert isinstance(error, ClientError)
    assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert from_item(error.response["Item"])["ht"] == 5


def test_new_minute_drops_exactly_the_minutes_that_left_the_window() -> None:
    counts = {MINUTE - 59: 1, MINUTE - 30: 2, MINUTE: 2}
    item = stored(hm=ring(counts), ht=5)
    # Two minutes later, minute - 59 is 61 minutes old: it leaves.
    now = NOW + 120
    after = write(item, item, now)
    assert after["hw"] == MINUTE + 2
    assert after["ht"] == 5  # 5 - 1 leaving + 1 new
    assert after["hm"] == ring({MINUTE - 30: 2, MINUTE: 2, MINUTE + 2: 1})
    assert hour_use(after, now).used == after["ht"]


def test_new_minute_overwrites_the_ring_slot_of_the_minute_61_earlier() -> None:
    counts = {MINUTE - 60: 3, MINUTE: 1}
    item = stored(hm=ring(counts), ht=4)
    after = write(item, item, NOW + 60)
    # Minute - 60 and minute + 1 share a ring slot: the slot now holds 1.
    assert after["hm"] == ring({MINUTE: 1, MINUTE + 1: 1})
    assert after["ht"] == 2


def test_new_minute_refuses_when_the_remaining_minutes_hold_the_limit() -> None:
    counts = {MINUTE - 59: 1, MINUTE - 30: 4, MINUTE: 1}
    item = stored(hm=ring(counts), ht=6, lh=6)
    assert isinstance(write(item, item, NOW + 60), ClientError)
    # A minute later minute - 59 also leaves, and there is room again.
    assert write(item, item, NOW + 120)["ht"] == 6 - 1 + 1


def test_new_minute_pins_the_believed_newest_minute() -> None:
    item = stored(hm=ring({MINUTE: 1}), ht=1)
    moved = stored(hw=MINUTE + 1, hm=ring({MINUTE: 1, MINUTE + 1: 1}), ht=2)
    # The belief still has the old minute, but another process rolled it.
    error = write(moved, item, NOW + 60)
    assert isinstance(error, ClientError)
    assert from_item(error.response["Item"])["hw"] == MINUTE + 1


def test_window_an_hour_idle_starts_afresh() -> None:
    item = stored(hm=ring({MINUTE: 5}), ht=5)
    now = NOW + 61 * 60
    after = write(item, item, now)
    assert (after["ht"], after["hm"], after["hw"]) == (
        1,
        ring({MINUTE + 61: 1}),
        MINUTE + 61,
    )


def test_new_slots_reset_burst_day_and_month() -> None:
    item = stored(bc=3, dc=10, mb=1000, mr=50)
    now = NOW + 40 * 86_400
    after = write(item, item, now)
    assert (after["bs"], after["bc"]) == (burst_slot_of(now), 1)
    assert (after["ds"], after["dc"]) == (day_of(now), 1)
    assert (after["ms"], after["mb"], after["mr"]) == (month_of(now), 0, 1)


def test_a_slot_rolled_by_another_writer_is_not_reset_twice() -> None:
    now = NOW + 10
    item = stored()
    moved = stored(bs=burst_slot_of(now), bc=3)
    # The belief saw the old slot; the slot already moved and is full.
    assert isinstance(write(moved, item, now), ClientError)


def test_full_burst_and_day_and_month_fail_the_condition() -> None:
    for full in ({"bc": 3}, {"dc": 10}, {"mb": 1000}):
        item = stored(**full)
        assert isinstance(write(item, item, NOW), ClientError), full


def test_cold_write_pins_the_current_slots() -> None:
    # With no belief, the write insists the item is at the current slots;
    # an older item fails and teaches the process its state.
    old = stored(hw=MINUTE - 1)
    assert isinstance(write(old, None, NOW), ClientError)
    assert write(stored(), None, NOW)["ht"] == 1


def test_clock_behind_the_item_counts_into_the_items_slots() -> None:
    ahead = stored(hw=MINUTE + 1, bs=burst_slot_of(NOW) + 1)
    after = write(ahead, ahead, NOW)
    assert (after["hw"], after["ht"]) == (MINUTE + 1, 1)
    assert (after["bs"], after["bc"]) == (burst_slot_of(NOW) + 1, 1)
