"""Property: the real gateway, over any arrivals, admits exactly what the limits allow.

The store is a small in-memory evaluator of the very ``UpdateItem`` requests the
gateway sends (tests/support/fake_dynamodb.py); a slower run of the same
property over moto lives in tests/functional/test_limiter_over_moto.py.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.clock import FixedClock
from tests.support.fake_dynamodb import FakeDynamoDB
from tests.support.limiter_model import Limits, Processes, drive, store_key

START = 1_796_000_000.0  # 2026-11-30T00:53:20Z

limits = st.builds(
    Limits,
    per_hour=st.integers(1, 8),
    burst=st.integers(1, 5),
    per_day=st.integers(2, 40),
)
# Gaps in milliseconds: bursts, seconds to a minute or so, long pauses that
# carry the window across minutes, hours and days, and pauses of about an hour
# that land on the minute where the oldest counted minute leaves the window.
gaps = st.one_of(
    st.integers(0, 3_000),
    st.integers(0, 12_000),
    st.integers(3_000, 90_000),
    st.integers(90_000, 4_000_000),
    st.integers(3_540_000, 3_720_000),
    st.sampled_from([10_000, 60_000, 3_600_000, 3_660_000, 86_400_000]),
)
# Mostly one warm process, sometimes a second one with its own (stale) belief,
# sometimes a cold restart of the first.
processes = st.sampled_from([0, 0, 0, 1, 1, -1])
arrivals = st.lists(st.tuples(gaps, processes), min_size=1, max_size=60)


def timeline(start_ms: int, steps: list[tuple[int, int]]) -> list[tuple[float, int]]:
    at, result = start_ms, []
    for gap, process in steps:
        at += gap
        result.append((START + at / 1000, process))
    return result


@settings(
    max_examples=800,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(limits=limits, offset=st.integers(0, 2 * 86_400_000), steps=arrivals)
def test_gateway_admits_exactly_what_the_windows_allow(
    limits: Limits, offset: int, steps: list[tuple[int, int]]
) -> None:
    store = FakeDynamoDB()
    clock = FixedClock(START + offset / 1000)
    store_key(store, limits, clock.now())
    processes_ = Processes(store, clock, lambda: len(store.calls))
    drive(processes_, limits, timeline(offset, steps))
