"""Burst, day and monthly data windows refuse with their code and true wait;
quota events are recorded once per month per key, even after a lost attempt."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.admission.gateway import Gateway
from chalicelib.admission.ip_guard import IpGuard
from chalicelib.admission.quota import DataMeter
from chalicelib.clock import FixedClock
from chalicelib.policy import Scope
from tests.functional.admission.conftest import (
    at,
    body,
    key_item,
    problem,
    set_limits,
)
from tests.functional.conftest import make_key


@pytest.fixture
def key(core: services_module.Services, clock: FixedClock) -> dict[str, str]:
    clock.at = at("2026-11-30T12:00:01")
    return make_key(core, [Scope.READ_THREATS])


def key_id(headers: dict[str, str]) -> str:
    return headers["X-API-Key-ID"]


def quota_events(svc: services_module.Services, key: str) -> list[dict[str, Any]]:
    rows = aws.dynamodb().scan(TableName=svc.settings.events_table)["Items"]
    found = []
    for row in rows:
        data = json.loads(row["data"]["S"])
        if row["event_type"]["S"].startswith("quota.") and data["key_id"] == key:
            found.append({"type": row["event_type"]["S"], **data})
    return sorted(found, key=lambda e: (e["month"], e["type"]))


def test_burst_refuses_until_the_next_ten_second_slot(
    http: Client, core: services_module.Services, clock: FixedClock, key: dict[str, str]
) -> None:
    set_limits(core, key_id(key), burst=3)
    clock.at = at("2026-11-30T12:00:11.5")
    for _ in range(3):
        assert http.http.get("/api/usage", headers=key).status_code == 200
    refused = http.http.get("/api/usage", headers=key)
    document = problem(refused, 429, "rate_limit_exceeded")
    assert "burst" in document["detail"]
    assert refused.headers["Retry-After"] == "9"  # 12:00:20 - 12:00:11.5, rounded up
    assert '"burst";r=0;t=9' in refused.headers["RateLimit"]
    clock.at = at("2026-11-30T12:00:20")
    assert http.http.get("/api/usage", headers=key).status_code == 200


def test_day_cap_refuses_until_midnight_utc(
    http: Client, core: services_module.Services, clock: FixedClock, key: dict[str, str]
) -> None:
    set_limits(core, key_id(key), per_day=3)
    for moment in ("2026-11-30T12:00:01", "2026-11-30T16:00:00", "2026-11-30T20:00"):
        clock.at = at(moment)
        assert http.http.get("/api/usage", headers=key).status_code == 200
    clock.at = at("2026-11-30T23:59:30")
    refused = http.http.get("/api/usage", headers=key)
    assert "day" in problem(refused, 429, "rate_limit_exceeded")["detail"]
    assert refused.headers["Retry-After"] == "30"
    clock.at = at("2026-12-01T00:00:00")
    admitted = http.http.get("/api/usage", headers=key)
    assert admitted.status_code == 200
    assert body(admitted)["requests_today"]["used"] == 1


def test_response_bytes_are_counted_against_the_month(
    http: Client, core: services_module.Services, key: dict[str, str]
) -> None:
    first = http.http.get("/api/usage", headers=key)
    second = http.http.get("/api/usage", headers=key)
    assert key_item(core, key_id(key))["mb"] == len(first.body) + len(second.body)
    assert body(second)["bytes_this_month"]["used"] == len(first.body)


def test_used_up_month_refuses_with_quota_exceeded_until_the_next_month(
    http: Client, core: services_module.Services, clock: FixedClock, key: dict[str, str]
) -> None:
    set_limits(core, key_id(key), bytes=1000)
    core.meter.record(key_id(key), 1000)
    refused = http.http.get("/api/usage", headers=key)
    document = problem(refused, 429, "quota_exceeded")
    # 2026-12-01T00:00:00 is 43,199 s after 12:00:01.
    assert refused.headers["Retry-After"] == "43199"
    assert document["retry_after"] == 43199
    clock.at = at("2026-12-01T00:00:00")
    admitted = http.http.get("/api/usage", headers=key)
    assert admitted.status_code == 200
    assert body(admitted)["bytes_this_month"]["used"] == 0


def test_quota_events_are_recorded_once_per_month_at_80_and_100_percent(
    core: services_module.Services, clock: FixedClock, key: dict[str, str]
) -> None:
    set_limits(core, key_id(key), bytes=1000)
    core.meter.record(key_id(key), 799)
    assert quota_events(core, key_id(key)) == []
    core.meter.record(key_id(key), 1)
    core.meter.record(key_id(key), 50)
    assert [e["type"] for e in quota_events(core, key_id(key))] == ["quota.warning"]
    core.meter.record(key_id(key), 150)
    core.meter.record(key_id(key), 10)
    events = quota_events(core, key_id(key))
    assert [e["type"] for e in events] == ["quota.exceeded", "quota.warning"]
    exceeded = events[0]
    assert (exceeded["month"], exceeded["bytes_limit"]) == ("2026-11", 1000)
    assert exceeded["bytes_used"] == 1000
    assert exceeded["owner_id"] == "org_test"

    # A new month starts afresh: its own events, once each.
    clock.at = at("2026-12-02T08:00:00")
    core.gateway.admit(_credentials(key), None)
    core.meter.record(key_id(key), 900)
    core.meter.record(key_id(key), 900)
    months = [(e["month"], e["type"]) for e in quota_events(core, key_id(key))]
    assert months == [
        ("2026-11", "quota.exceeded"),
        ("2026-11", "quota.warning"),
        ("2026-12", "quota.exceeded"),
        ("2026-12", "quota.warning"),
    ]


def _credentials(headers: dict[str, str]) -> Any:
    from chalicelib.admission.gateway import Credentials

    return Credentials(headers["X-API-Key-ID"], headers["X-API-Key-Secret"], "10.0.0.1")


class LosingClient:
    """The real client, except that the next ``lose`` transactions fail."""

    def __init__(self, client: Any, lose: int) -> None:
        self._client = client
        self.lose = lose

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self.lose > 0:
            self.lose -= 1
            error: Any = {"Error": {"Code": "InternalServerError", "Message": "lost"}}
            raise ClientError(error, "TransactWriteItems")
        return self._client.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def losing(core: services_module.Services, lose: int) -> services_module.Services:
    """The services, with quota events going through a client that loses some."""
    client = LosingClient(aws.dynamodb(), lose)
    config = core.settings
    meter = DataMeter(client, config.keys_table, config.events_table, core.clock)
    guard = IpGuard(aws.dynamodb(), config.ip_guard_table, core.clock)
    gateway = Gateway(
        aws.dynamodb(),
        config.keys_table,
        core.clock,
        guard,
        on_quota_refused=meter.raise_events,
    )
    return core.replacing(meter=meter, gateway=gateway)


def test_warning_lost_at_80_percent_is_recorded_by_the_next_byte_write(
    core: services_module.Services, key: dict[str, str]
) -> None:
    set_limits(core, key_id(key), bytes=1000)
    flaky = losing(core, lose=1)
    flaky.meter.record(key_id(key), 850)
    assert quota_events(core, key_id(key)) == []
    flaky.meter.record(key_id(key), 10)
    assert [e["type"] for e in quota_events(core, key_id(key))] == ["quota.warning"]


def test_events_lost_when_the_quota_ran_out_are_recorded_on_the_refusal(
    http: Client, core: services_module.Services, key: dict[str, str]
) -> None:
    set_limits(core, key_id(key), bytes=1000)
    flaky = losing(core, lose=2)
    flaky.meter.record(key_id(key), 1200)
    assert quota_events(core, key_id(key)) == []
    with services_module.override(flaky):
        problem(http.http.get("/api/usage", headers=key), 429, "quota_exceeded")
        problem(http.http.get("/api/usage", headers=key), 429, "quota_exceeded")
    types = [e["type"] for e in quota_events(core, key_id(key))]
    assert types == ["quota.exceeded", "quota.warning"]


def test_used_up_month_is_reported_and_recorded_even_when_another_window_is_full(
    http: Client, core: services_module.Services, key: dict[str, str]
) -> None:
    set_limits(core, key_id(key), bytes=1000, burst=1)
    flaky = losing(core, lose=2)
    with services_module.override(flaky):
        assert http.http.get("/api/usage", headers=key).status_code == 200
        flaky.meter.record(key_id(key), 1000)
        refused = http.http.get("/api/usage", headers=key)
    problem(refused, 429, "quota_exceeded")
    assert refused.headers["Retry-After"] == "43199"
    types = [e["type"] for e in quota_events(core, key_id(key))]
    assert types == ["quota.exceeded", "quota.warning"]
