"""The service's error tree; every class carries its HTTP status and code.

::

    JupiterError                      500 internal_error
    ├── ConfigurationError            500 configuration_error
    ├── BadRequest                    400 bad_request
    │   ├── MalformedJSON             400 malformed_json
    │   ├── ValidationFailed          400 validation_error
    │   ├── InvalidCursor             400 invalid_cursor
    │   ├── InvalidIdempotencyKey     400 invalid_idempotency_key
    │   └── UnknownFrameType          400 unknown_frame_type
    ├── AuthenticationFailed          401 (code per reason)
    ├── PermissionDenied              403 insufficient_permissions
    │   └── EscalationDenied          403 privilege_escalation
    ├── NotFound                      404 not_found
    ├── MethodNotAllowed              405 method_not_allowed
    ├── Conflict                      409 conflict
    │   ├── IdempotencyConflict       409 idempotency_conflict
    │   ├── IdempotencyInProgress     409 idempotency_in_progress
    │   └── AlreadyDone               409 (code per resource)
    ├── PayloadTooLarge               413 payload_too_large
    ├── UnsupportedMediaType          415 unsupported_media_type
    ├── RateLimited                   429 rate_limit_exceeded / quota_exceeded
    ├── TooManyConnections            429 connection_limit_exceeded
    └── StoreUnavailable              503 store_unavailable
"""

from __future__ import annotations

from typing import Any


class JupiterError(Exception):
    """Base of every error the service turns into a problem document."""

    status = 500
    code = "internal_error"
    title = "Internal server error"
    # Whether the detail may go to the client; if not, it goes to the log only.
    public = True

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}


class ConfigurationError(JupiterError):
    """Raised when a setting is missing or invalid; names the variable."""

    code = "configuration_error"
    title = "Service misconfigured"
    # It names the service's variables and resources: for its operators only.
    public = False


class BadRequest(JupiterError):
    """Raised for a request the service cannot understand."""

    status = 400
    code = "bad_request"
    title = "Bad request"


class MalformedJSON(BadRequest):
    """Raised when a body is not a single valid UTF-8 JSON document."""

    code = "malformed_json"
    title = "Malformed JSON"


class ValidationFailed(BadRequest):
    """Raised when a body or query fails validation; lists each bad field."""

    code = "validation_error"
    title = "Validation failed"

    def __init__(self, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail, errors=errors)


class InvalidCursor(BadRequest):
    """Raised when a pagination cursor is forged, altered or expired."""

    code = "invalid_cursor"
    title = "Invalid cursor"


class InvalidIdempotencyKey(BadRequest):
    """Raised when an Idempotency-Key header is empty, too long or not
    printable ASCII."""

    code = "invalid_idempotency_key"
    title = "Invalid idempotency key"


class UnknownFrameType(BadRequest):
    """Raised when a WebSocket frame has no type, or one the service lacks."""

    code = "unknown_frame_type"
    title = "Unknown frame type"


class AuthenticationFailed(JupiterError):
    """Raised when a key is missing, unknown, wrong, revoked, expired or
    used from an address outside its allowlist."""

    status = 401
    code = "invalid_api_key"
    title = "Authentication failed"

    def __init__(self, detail: str, code: str = "invalid_api_key") -> None:
        super().__init__(detail)
        self.code = code


class PermissionDenied(JupiterError):
    """Raised when a valid key lacks the scope a route needs."""

    status = 403
    code = "insufficient_permissions"
    title = "Insufficient permissions"


class EscalationDenied(PermissionDenied):
    """Raised when a key tries to grant more than it holds."""

    code = "privilege_escalation"
    title = "Privilege escalation refused"


class NotFound(JupiterError):
    """Raised when a resource or route does not exist (or is not visible)."""

    status = 404
    code = "not_found"
    title = "Not found"


class MethodNotAllowed(JupiterError):
    """Raised when a route exists but not for this method."""

    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"


class Conflict(JupiterError):
    """Raised when a request conflicts with the current state."""

    status = 409
    code = "conflict"
    title = "Conflict"


class IdempotencyConflict(Conflict):
    """Raised when an Idempotency-Key is reused with another body or path."""

    code = "idempotency_conflict"
    title = "Idempotency key reused"


class IdempotencyInProgress(Conflict):
    """Raised when a request with the same Idempotency-Key is still running."""

    code = "idempotency_in_progress"
    title = "Request in progress"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after)


class AlreadyDone(Conflict):
    """Raised when a one-way transition (resolve, end) was already made."""

    title = "Already done"

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.code = code


class PayloadTooLarge(JupiterError):
    """Raised when a request body exceeds the configured maximum."""

    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaType(JupiterError):
    """Raised when a body is sent with a content type other than JSON."""

    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class RateLimited(JupiterError):
    """Raised when a limit refuses the request; carries the true wait."""

    status = 429
    code = "rate_limit_exceeded"
    title = "Too many requests"

    def __init__(
        self,
        detail: str,
        retry_after: int,
        code: str | None = None,
        limit: str | None = None,
    ) -> None:
        super().__init__(detail, retry_after=retry_after)
        if code is not None:
            self.code = code
        self.retry_after = retry_after
        # Which limit refused (a window's name), for metrics; else the code.
        self.limit = limit or self.code
        # The refused key's windows, when known, for the rate-limit headers.
        self.usage: Any = None
        self.headers["Retry-After"] = str(retry_after)


class TooManyConnections(JupiterError):
    """Raised when a key already holds as many WebSocket connections as its
    tier allows; closing one frees its slot."""

    status = 429
    code = "connection_limit_exceeded"
    title = "Too many connections"


class StoreUnavailable(JupiterError):
    """Raised when DynamoDB cannot be reached or throttles; the service
    fails closed and asks the client to retry."""

    status = 503
    code = "store_unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after)
