"""CORS: the configured origins get a grant, every other origin none."""

from __future__ import annotations

from chalicelib.http.cors import grant, preflight

ALLOWED = ("https://app.example", "http://localhost:3000")


def test_allowed_origin_is_granted_and_may_read_the_rate_limit_headers() -> None:
    headers = grant("https://app.example", ALLOWED)
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    exposed = {h.strip() for h in headers["Access-Control-Expose-Headers"].split(",")}
    assert {
        "RateLimit",
        "RateLimit-Policy",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "Retry-After",
        "X-Request-Id",
    } <= exposed
    assert headers["Vary"] == "Origin"


def test_trailing_slash_on_the_origin_is_tolerated() -> None:
    assert "Access-Control-Allow-Origin" in grant("https://app.example/", ALLOWED)


def test_other_or_missing_origins_get_no_grant() -> None:
    for origin in (
        "https://evil.example",
        "https://app.example.evil.example",
        "http://app.example",
        "null",
        "",
        None,
    ):
        headers = grant(origin, ALLOWED)
        assert "Access-Control-Allow-Origin" not in headers, origin
        assert headers == {"Vary": "Origin"}


def test_preflight_allows_both_key_headers_and_the_methods() -> None:
    headers = preflight("http://localhost:3000", ALLOWED)
    allowed = {
        h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"x-api-key-id", "x-api-key-secret", "content-type"} <= allowed
    methods = {m.strip() for m in headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST", "DELETE", "OPTIONS"} <= methods
    assert int(headers["Access-Control-Max-Age"]) > 0


def test_preflight_from_another_origin_grants_nothing() -> None:
    assert preflight("https://evil.example", ALLOWED) == {"Vary": "Origin"}
