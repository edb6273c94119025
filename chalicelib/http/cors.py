"""CORS: grant the configured origins, and no other, the right to call the API."""

from __future__ import annotations

ALLOWED_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = (
    "Content-Type, X-API-Key-ID, X-API-Key-Secret, Idempotency-Key, X-Request-Id"
)
EXPOSED_HEADERS = (
    "RateLimit, RateLimit-Policy, X-RateLimit-Limit, X-RateLimit-Remaining, "
    "X-RateLimit-Reset, Retry-After, X-Request-Id, Idempotency-Replayed"
)
PREFLIGHT_MAX_AGE = "600"


def grant(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """Return the CORS headers for a request from ``origin`` (none if refused)."""
    headers = {"Vary": "Origin"}
    if origin and origin.rstrip("/") in allowed:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return headers


def preflight(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """Return the headers answering a preflight from ``origin``."""
    headers = grant(origin, allowed)
    if "Access-Control-Allow-Origin" in headers:
        headers.update(
            {
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            }
        )
    return headers
