"""Browsers on the allowed origin may call the API and read the limits."""

from __future__ import annotations

from typing import Any

from chalice.test import Client

from tests.functional.admission.conftest import problem

ALLOWED = "http://allowed.example"  # JUPITER_API_CORS_ORIGINS in tests
REQUESTED_HEADERS = "x-api-key-id, x-api-key-secret, content-type"


def listed(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",")}


def preflight(http: Client, origin: str) -> Any:
    return http.http.request(
        "OPTIONS",
        "/api/keys",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": REQUESTED_HEADERS,
        },
        body=b"",
    )


def test_preflight_from_the_allowed_origin_is_granted_both_key_headers(
    http: Client,
) -> None:
    response = preflight(http, ALLOWED)
    assert response.status_code in (200, 204)
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == ALLOWED
    assert {"x-api-key-id", "x-api-key-secret", "content-type"} <= listed(
        headers["Access-Control-Allow-Headers"]
    )
    assert {"post", "get", "delete"} <= listed(headers["Access-Control-Allow-Methods"])


def test_request_from_the_allowed_origin_exposes_the_rate_limit_headers(
    http: Client, admin_headers: dict[str, str]
) -> None:
    response = http.http.get("/api/usage", headers={**admin_headers, "Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    exposed = listed(response.headers["Access-Control-Expose-Headers"])
    for name in (
        "RateLimit",
        "RateLimit-Policy",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "Retry-After",
    ):
        assert name.lower() in exposed
        if name != "Retry-After":
            assert name in response.headers


def test_errors_to_the_allowed_origin_are_readable_by_its_scripts(
    http: Client,
) -> None:
    response = http.http.get("/api/usage", headers={"Origin": ALLOWED})
    problem(response, 401, "invalid_api_key")
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_other_origins_get_no_grant(
    http: Client, admin_headers: dict[str, str]
) -> None:
    for origin in ("https://evil.example", "http://allowed.example.evil.example"):
        denied = preflight(http, origin)
        assert "Access-Control-Allow-Origin" not in denied.headers
        assert "Access-Control-Allow-Headers" not in denied.headers
        answered = http.http.get(
            "/api/usage", headers={**admin_headers, "Origin": origin}
        )
        assert answered.status_code == 200
        assert "Access-Control-Allow-Origin" not in answered.headers
