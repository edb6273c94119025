"""The hour is a sliding window at one-minute granularity, over HTTP."""

from __future__ import annotations

from chalice.test import Client

from chalicelib import services as services_module
from chalicelib.admission.gateway import Credentials
from chalicelib.clock import FixedClock
from chalicelib.policy import Scope
from tests.functional.admission.conftest import at, body, problem, set_limits
from tests.functional.conftest import make_key


def fill_at(
    http: Client,
    core: services_module.Services,
    clock: FixedClock,
    moment: str,
    over_http: bool = False,
) -> dict[str, str]:
    """Spend a FREE key's 100 requests at ``moment`` (burst widened to allow it).

    Over HTTP, or straight through the gateway (the same admission, faster).
    """
    clock.at = at(moment)
    headers = make_key(core, [Scope.READ_THREATS])
    set_limits(core, headers["X-API-Key-ID"], burst=100)
    credentials = Credentials(
        headers["X-API-Key-ID"], headers["X-API-Key-Secret"], "127.0.0.1"
    )
    for _ in range(100):
        if over_http:
            assert http.http.get("/api/usage", headers=headers).status_code == 200
        else:
            core.gateway.admit(credentials, None)
    return headers


def test_hundred_requests_at_10_59_59_leave_no_room_at_11_00_01(
    http: Client, core: services_module.Services, clock: FixedClock
) -> None:
    headers = fill_at(http, core, clock, "2026-11-30T10:59:59", over_http=True)

    clock.at = at("2026-11-30T11:00:01")
    refused = http.http.get("/api/usage", headers=headers)
    document = problem(refused, 429, "rate_limit_exceeded")
    # Minute 10:59 leaves the window when minute 12:00 starts.
    assert refused.headers["Retry-After"] == "3599"
    assert document["retry_after"] == 3599
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Limit"] == "100"
    assert '"hour";r=0;t=3599' in refused.headers["RateLimit"]


def test_room_returns_exactly_when_minute_10_59_leaves_the_window(
    http: Client, core: services_module.Services, clock: FixedClock
) -> None:
    headers = fill_at(http, core, clock, "2026-11-30T10:59:59")

    clock.at = at("2026-11-30T11:59:59")
    refused = http.http.get("/api/usage", headers=headers)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"

    clock.at = at("2026-11-30T12:00:00")
    admitted = http.http.get("/api/usage", headers=headers)
    assert admitted.status_code == 200
    hour = body(admitted)["requests_this_hour"]
    assert (hour["used"], hour["remaining"]) == (1, 99)


def test_refused_requests_are_not_counted(
    http: Client, core: services_module.Services, clock: FixedClock
) -> None:
    headers = fill_at(http, core, clock, "2026-11-30T10:59:59")
    clock.at = at("2026-11-30T11:30:00")
    for _ in range(5):
        assert http.http.get("/api/usage", headers=headers).status_code == 429
    clock.at = at("2026-11-30T12:00:00")
    usage = body(http.http.get("/api/usage", headers=headers))
    assert usage["requests_this_hour"]["used"] == 1
    assert usage["requests_today"]["used"] == 101


def test_requests_spread_over_the_hour_free_room_minute_by_minute(
    http: Client, core: services_module.Services, clock: FixedClock
) -> None:
    clock.at = at("2026-11-30T10:00:30")
    headers = make_key(core, [Scope.READ_THREATS])
    set_limits(core, headers["X-API-Key-ID"], per_hour=3)
    for minute in ("10:00:30", "10:20:00", "10:40:00"):
        clock.at = at(f"2026-11-30T{minute}")
        assert http.http.get("/api/usage", headers=headers).status_code == 200

    clock.at = at("2026-11-30T11:00:59")
    refused = http.http.get("/api/usage", headers=headers)
    assert refused.status_code == 429
    # Minute 10:00 leaves at 11:01:00.
    assert refused.headers["Retry-After"] == "1"
    clock.at = at("2026-11-30T11:01:00")
    assert http.http.get("/api/usage", headers=headers).status_code == 200
    clock.at = at("2026-11-30T11:19:30")
    assert http.http.get("/api/usage", headers=headers).headers["Retry-After"] == "90"
