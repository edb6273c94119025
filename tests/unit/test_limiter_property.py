"""Property: the real gateway, over any arrivals, admits exactly what the limits allow.

The store is a small in-memory evaluator of the very ``UpdateItem`` requests the
gateway sends (tests/support/fake_dynamodb.py); a slower run of the same
property over moto lives in tests/functional/test_limiter_over_moto.py.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chalicelib.clock import FixedClock
from tests.support.fake_dynamodb import FakeDynamoDB
from tests.support.limiter_model import Limits, Model, Processes, drive, store_key

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


# The issue asks for at least 500 generated sequences; hypothesis may stop
# early when it exhausts the search space or discards too much, so the tests
# count the distinct sequences they actually ran.
AT_LEAST = 500
PROPERTY_SETTINGS = settings(
    max_examples=800,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Burst and day out of reach: every refusal must come from the sliding hour.
hour_only = st.builds(
    Limits,
    per_hour=st.integers(1, 8),
    burst=st.just(10_000),
    per_day=st.just(100_000),
)


def run(limits: Limits, offset: int, steps: list[tuple[int, int]]) -> Model:
    store = FakeDynamoDB()
    clock = FixedClock(START + offset / 1000)
    store_key(store, limits, clock.now())
    processes_ = Processes(store, clock, lambda: len(store.calls))
    return drive(processes_, limits, timeline(offset, steps))


def label(model: Model) -> None:
    """Name what a sequence exercised, for ``--hypothesis-show-statistics``."""
    event("refused" if model.refused else "never refused")
    if model.admitted and model.admitted[-1] - model.admitted[0] > 3600:
        event("admissions span more than an hour")


def test_gateway_admits_exactly_what_the_windows_allow() -> None:
    """Every decision and Retry-After matches the model of all three windows."""
    seen: set[str] = set()

    @PROPERTY_SETTINGS
    @given(limits=limits, offset=st.integers(0, 2 * 86_400_000), steps=arrivals)
    def windows(limits: Limits, offset: int, steps: list[tuple[int, int]]) -> None:
        seen.add(repr((limits, offset, steps)))
        label(run(limits, offset, steps))

    windows()
    assert len(seen) >= AT_LEAST


def test_sliding_hour_never_exceeds_and_refuses_only_when_full() -> None:
    """With only the hour in reach: no closed 3,600 s interval admits more than
    the limit, and each refusal finds the 61 one-minute buckets full."""
    seen: set[str] = set()

    @PROPERTY_SETTINGS
    @given(limits=hour_only, offset=st.integers(0, 2 * 86_400_000), steps=arrivals)
    def hour(limits: Limits, offset: int, steps: list[tuple[int, int]]) -> None:
        seen.add(repr((limits, offset, steps)))
        model = run(limits, offset, steps)
        assert model.most_in_any_hour() <= limits.per_hour
        for at, in_buckets in model.refused:
            assert in_buckets >= limits.per_hour, f"refused at {at} with room"
        label(model)

    hour()
    assert len(seen) >= AT_LEAST
