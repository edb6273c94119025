"""RFC 9457 problem documents for every error, Chalice's own included."""

from __future__ import annotations

import json
import logging
from typing import Any

from chalice.app import Response
from pydantic import Field

from chalicelib import logs
from chalicelib.errors import JupiterError
from chalicelib.models import Model

logger = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://docs.jupiter.example/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

# Chalice answers some requests before any view runs (unknown method, media
# type); these map its error codes onto ours.
_CHALICE_CODES = {
    "MethodNotAllowedError": ("method_not_allowed", "Method not allowed"),
    "UnsupportedMediaType": ("unsupported_media_type", "Unsupported media type"),
    "BadRequestError": ("bad_request", "Bad request"),
    "BadRequest": ("bad_request", "Bad request"),
    "NotFoundError": ("not_found", "Not found"),
    "RequestTimeoutError": ("request_timeout", "Request timeout"),
    "ConflictError": ("conflict", "Conflict"),
    "TooManyRequestsError": ("rate_limit_exceeded", "Too many requests"),
    "UnprocessableEntityError": ("validation_error", "Validation failed"),
    "ForbiddenError": ("forbidden", "Forbidden"),
    "UnauthorizedError": ("invalid_api_key", "Authentication failed"),
    "ChaliceViewError": ("internal_error", "Internal server error"),
    "InternalServerError": ("internal_error", "Internal server error"),
}


class FieldError(Model):
    """One invalid field of a request."""

    field: str = Field(description="Dotted location, for example body.permissions.0")
    message: str


class Problem(Model):
    """An RFC 9457 problem document, as every error is answered."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code.")
    request_id: str
    errors: list[FieldError] | None = None
    retry_after: int | None = None


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    request_id: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """Build a problem response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    body.update(extra or {})
    all_headers: dict[str, Any] = {
        "Content-Type": PROBLEM_CONTENT_TYPE,
        **(headers or {}),
    }
    return Response(body=json.dumps(body), status_code=status, headers=all_headers)


def from_error(error: JupiterError, request_id: str) -> Response:
    """Turn a service error into its problem response.

    A detail that is not for clients is logged, under the request id the
    client is given, and the client is told where to look.
    """
    detail = error.detail
    if not error.public:
        logs.line(logger, error.code, logging.ERROR, detail=error.detail)
        detail = f"{error.title}: its operators can look up this request id."
    return problem_response(
        error.status,
        error.code,
        error.title,
        detail,
        request_id,
        error.headers,
        error.extra,
    )


def from_chalice(response: Response, request_id: str) -> Response:
    """Rewrite an error answered by Chalice itself as a problem document."""
    body = response.body if isinstance(response.body, dict) else {}
    chalice_code = str(body.get("Code", ""))
    code, title = _CHALICE_CODES.get(chalice_code, ("error", "Error"))
    if response.status_code >= 500:
        # Chalice's message for an unhandled error is generic; keep it so.
        code, title = "internal_error", "Internal server error"
    detail = str(body.get("Message") or title)
    headers = {
        k: str(v) for k, v in response.headers.items() if k.lower() != "content-type"
    }
    return problem_response(
        response.status_code, code, title, detail, request_id, headers
    )


def is_problem(response: Response) -> bool:
    headers = {k.lower(): str(v) for k, v in response.headers.items()}
    return headers.get("content-type", "").startswith(PROBLEM_CONTENT_TYPE)
