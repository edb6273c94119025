"""Build the limiter half of the admission write from what the process believes.

The write must succeed in one round trip when the belief is right, and fail
(returning the true item) when it is stale. Each window therefore takes one of
two shapes, chosen from the believed item:

* *same slot*: the window's slot is the current one. The update is a
  commutative increment and the condition is ``slot = current AND count <
  limit``; concurrent writers never conflict with each other.
* *new slot*: the window moved on since the believed item. The update resets
  the counter, and the condition pins the slot the belief saw, so of two
  writers rolling the window at once exactly one succeeds; the other learns
  the new state from ``ALL_OLD`` and retries as *same slot*.

The hour rolls the same way, dropping from its total only the minutes that
left the window. Those minutes are older than the believed ``hw``, so no
writer can have changed them since: pinning ``hw`` is enough to make the
believed counts exact.
"""

from __future__ import annotations

from typing import Any

from chalicelib.admission.window import (
    RING,
    burst_slot_of,
    day_of,
    hour_buckets,
    minute_of,
    month_of,
)
from chalicelib.dynamo import Expression


def add_limiter(expr: Expression, believed: dict[str, Any] | None, now: float) -> None:
    """Add the counting updates and limit conditions for one request."""
    _add_hour(expr, believed, now)
    _add_slot(expr, believed, "bs", "bc", "lb", burst_slot_of(now))
    _add_slot(expr, believed, "ds", "dc", "ld", day_of(now))
    _add_month(expr, believed, now)


def _add_hour(expr: Expression, believed: dict[str, Any] | None, now: float) -> None:
    current = minute_of(now)
    if believed is not None:
        # A clock behind the item's newest minute counts into that minute.
        current = max(current, int(believed["hw"]))
    if believed is None or int(believed["hw"]) == current:
        # Placeholders are made only on the branch that uses them: DynamoDB
        # rejects a write that declares a value its expressions never use.
        hw, ht, hm = expr.name("hw"), expr.name("ht"), expr.name("hm")
        one = expr.value(1)
        slot = expr.name(str(current % RING))
        expr.conditions.append(f"{hw} = {expr.value(current)}")
        # The hour is full when the 61 counted minutes hold the limit.
        expr.conditions.append(f"{ht} < {expr.name('lh')}")
        expr.sets.append(f"{ht} = {ht} + {one}")
        expr.sets.append(
            f"{hm}.{slot} = if_not_exists({hm}.{slot}, {expr.value(0)}) + {one}"
        )
        return
    _add_hour_roll(expr, believed, current)


def _add_hour_roll(expr: Expression, believed: dict[str, Any], current: int) -> None:
    hw, ht, hm = expr.name("hw"), expr.name("ht"), expr.name("hm")
    one = expr.value(1)
    previous = int(believed["hw"])
    # Only a writer that saw the same newest minute may roll the window.
    expr.conditions.append(f"{hw} = {expr.value(previous)}")
    expr.sets.append(f"{hw} = {expr.value(current)}")
    if current - previous >= RING:
        # Every counted minute left the window: start afresh.
        expr.sets.append(f"{hm} = {expr.value({str(current % RING): 1})}")
        expr.sets.append(f"{ht} = {one}")
        return
    leaving = [m for m in hour_buckets(believed) if m <= current - RING]
    dropped = sum(hour_buckets(believed)[m] for m in leaving)
    limit = int(believed["lh"])
    # Room once the leaving minutes are dropped: ht - dropped < limit.
    expr.conditions.append(f"{ht} < {expr.value(limit + dropped)}")
    expr.sets.append(f"{ht} = {ht} + {expr.value(1 - dropped)}")
    current_index = str(current % RING)
    expr.sets.append(f"{hm}.{expr.name(current_index)} = {one}")
    for minute in leaving:
        index = str(minute % RING)
        if index != current_index:
            expr.removes.append(f"{hm}.{expr.name(index)}")


def _add_slot(
    expr: Expression,
    believed: dict[str, Any] | None,
    slot_attr: str,
    count_attr: str,
    limit_attr: str,
    current: int,
) -> None:
    slot, count = expr.name(slot_attr), expr.name(count_attr)
    if believed is not None:
        current = max(current, int(believed[slot_attr]))
    if believed is None or int(believed[slot_attr]) == current:
        expr.conditions.append(f"{slot} = {expr.value(current)}")
        expr.conditions.append(f"{count} < {expr.name(limit_attr)}")
        expr.sets.append(f"{count} = {count} + {expr.value(1)}")
        return
    # A new slot: whoever moves the slot first resets the count.
    expr.conditions.append(f"{slot} < {expr.value(current)}")
    expr.sets.append(f"{slot} = {expr.value(current)}")
    expr.sets.append(f"{count} = {expr.value(1)}")


def _add_month(expr: Expression, believed: dict[str, Any] | None, now: float) -> None:
    ms, mb, mr = expr.name("ms"), expr.name("mb"), expr.name("mr")
    current = month_of(now)
    if believed is not None:
        current = max(current, int(believed["ms"]))
    if believed is None or int(believed["ms"]) == current:
        expr.conditions.append(f"{ms} = {expr.value(current)}")
        # Data quota: refuse once the month's response bytes reach the limit.
        expr.conditions.append(f"{mb} < {expr.name('lm')}")
        expr.sets.append(f"{mr} = {mr} + {expr.value(1)}")
        return
    expr.conditions.append(f"{ms} < {expr.value(current)}")
    expr.sets.append(f"{ms} = {expr.value(current)}")
    expr.sets.append(f"{mb} = {expr.value(0)}")
    expr.sets.append(f"{mr} = {expr.value(1)}")
