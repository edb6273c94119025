"""The limiter property of tests/unit/test_limiter_property.py, over moto.

Fewer examples (moto costs milliseconds a write), but moto's own evaluator of
the expressions, so the fast fake and the real request agree.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.keys.credentials import new_key_id
from tests.support.limiter_model import Limits, Processes, drive, store_key
from tests.unit.test_limiter_property import START, arrivals, limits, timeline


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
@given(limits=limits, offset=st.integers(0, 2 * 86_400_000), steps=arrivals)
def test_gateway_over_moto_admits_exactly_what_the_windows_allow(
    svc: services_module.Services,
    limits: Limits,
    offset: int,
    steps: list[tuple[int, int]],
) -> None:
    client = aws.dynamodb()
    table = svc.settings.keys_table
    calls: list[str] = []

    def count(**_: object) -> None:
        calls.append("UpdateItem")

    client.meta.events.register("before-call.dynamodb.UpdateItem", count)
    try:
        key_id = new_key_id()
        clock = FixedClock(START + offset / 1000)
        store_key(client, limits, clock.now(), table, key_id)
        processes = Processes(client, clock, lambda: len(calls), table)
        drive(processes, limits, timeline(offset, steps), key_id)
    finally:
        client.meta.events.unregister("before-call.dynamodb.UpdateItem", count)
