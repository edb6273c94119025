"""Rate-limit headers: the IETF draft fields and the X-RateLimit trio."""

from __future__ import annotations

from chalicelib.admission.window import Usage, WindowUse
from chalicelib.http.ratelimit_headers import rate_limit_headers

NOW = 1_796_000_000.0


def usage(hour_used: int = 10, burst_used: int = 2, day_used: int = 50) -> Usage:
    return Usage(
        hour=WindowUse("hour", 100, hour_used, 3600, NOW + 1800.5),
        burst=WindowUse("burst", 20, burst_used, 10, NOW + 4),
        day=WindowUse("day", 1000, day_used, 86_400, NOW + 40_000),
        month_bytes=WindowUse("month", 10**9, 0, 2_592_000, NOW + 10**6),
        month_requests=0,
    )


def test_policy_lists_every_request_window_with_quota_and_width() -> None:
    headers = rate_limit_headers(usage(), NOW)
    assert headers["RateLimit-Policy"] == (
        '"hour";q=100;w=3600, "burst";q=20;w=10, "day";q=1000;w=86400'
    )


def test_state_gives_remaining_and_whole_seconds_to_reset() -> None:
    headers = rate_limit_headers(usage(), NOW)
    assert headers["RateLimit"] == (
        '"hour";r=90;t=1801, "burst";r=18;t=4, "day";r=950;t=40000'
    )


def test_x_headers_describe_the_window_with_least_room() -> None:
    headers = rate_limit_headers(usage(hour_used=99), NOW)
    assert headers["X-RateLimit-Limit"] == "100"
    assert headers["X-RateLimit-Remaining"] == "1"
    assert headers["X-RateLimit-Reset"] == str(int(NOW + 1801))


def test_full_window_reports_zero_remaining_never_negative() -> None:
    headers = rate_limit_headers(usage(burst_used=25), NOW)
    assert headers["X-RateLimit-Remaining"] == "0"
    assert '"burst";r=0;' in headers["RateLimit"]


def test_reset_in_the_past_reports_zero_seconds() -> None:
    headers = rate_limit_headers(usage(), NOW + 5)
    assert '"burst";r=18;t=0' in headers["RateLimit"]
