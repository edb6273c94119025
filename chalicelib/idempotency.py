"""``Idempotency-Key`` on every POST, on Powertools for AWS Lambda's utility.

Powertools' idempotency handler does what the contract needs: it claims the
key with a conditional ``PutItem`` *before* the work runs, so a concurrent
duplicate finds the claim and is refused (409 ``idempotency_in_progress``)
instead of doing the work twice; it stores a hash of the request and refuses
a reuse with another body or path (409 ``idempotency_conflict``); it replays
the stored response; it deletes the claim when the work raises, so a failed
request may be retried; and it reads the existing record from the failed
condition (``ReturnValuesOnConditionCheckFailure``) at no extra read. It
wraps any function, so it fits a Chalice view as well as a Lambda handler.

Records live in the idempotency table for 24 hours, keyed by the key owner
and the client's key, so two owners never see each other's responses. A claim
whose request died expires after ``IN_FLIGHT_MS``: API Gateway gives up on a
request after 29 s, so by then nobody is waiting for it. Only successful (2xx)
responses are stored: an error leaves nothing behind and may be retried.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalice.app import Response

from chalicelib import logs
from chalicelib.errors import (
    IdempotencyConflict,
    IdempotencyInProgress,
    InvalidIdempotencyKey,
    StoreUnavailable,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotency-Replayed"
RETENTION_SECONDS = 86_400
IN_FLIGHT_MS = 30_000
MAX_KEY_LENGTH = 255


class _RequestBudget:
    """Stands in for the Lambda context: how long a claim may stay in flight."""

    def get_remaining_time_in_millis(self) -> int:
        return IN_FLIGHT_MS


class _NotStored(Exception):
    """Carries an unsuccessful response out, so its claim is released."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def check_key(value: str) -> str:
    """Return a valid Idempotency-Key or raise InvalidIdempotencyKey."""
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in value):
        raise InvalidIdempotencyKey(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )
    return value


def fingerprint(method: str, path: str, body: bytes) -> dict[str, str]:
    """Return what a reuse of a key must match: method, path and body.

    A JSON body is compared in canonical form, so key order and whitespace do
    not make two equal bodies differ.
    """
    try:
        canonical = json.dumps(
            json.loads(body or b"null"), sort_keys=True, separators=(",", ":")
        ).encode()
    except (ValueError, RecursionError):
        # Not JSON (a route that takes no body ignores it): compare the bytes.
        canonical = body
    return {
        "method": method,
        "path": path,
        "body": hashlib.sha256(canonical).hexdigest(),
    }


class IdempotencyGuard:
    """Runs a POST at most once per (owner, Idempotency-Key) for 24 hours."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    # Powertools is imported on first use, not with this module: its
    # idempotency utility costs a cold start about 20 ms, and only a POST that
    # carries an Idempotency-Key needs it.

    @cached_property
    def _store(self) -> Any:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
        )

        return DynamoDBPersistenceLayer(
            table_name=self._table, boto3_client=self._client
        )

    @cached_property
    def _config(self) -> Any:
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

        # Powertools types these as its own LambdaContext and hook protocol;
        # it only calls ``get_remaining_time_in_millis`` and the hook.
        budget: Any = _RequestBudget()
        hook: Any = _mark_replayed
        return IdempotencyConfig(
            event_key_jmespath="key",
            payload_validation_jmespath="request",
            expires_after_seconds=RETENTION_SECONDS,
            lambda_context=budget,
            response_hook=hook,
        )

    def run(
        self,
        owner: str,
        key: str,
        request: dict[str, str],
        work: Callable[[], Response],
    ) -> Response:
        """Answer with ``work()``, or with its stored answer for a reused key."""
        payload = {"key": f"{owner}|{check_key(key)}", "request": request}
        try:
            stored = self._once(work)(payload=payload)
        except _NotStored as unsuccessful:
            return unsuccessful.response
        except Exception as exc:
            _translate(exc)
            raise
        return _thaw(stored)

    def _once(self, work: Callable[[], Response]) -> Callable[..., Any]:
        from aws_lambda_powertools.utilities.idempotency import idempotent_function

        def once(payload: dict[str, Any]) -> dict[str, Any]:
            response = work()
            if not 200 <= response.status_code < 300:
                raise _NotStored(response)
            return _freeze(response)

        guarded: Callable[..., Any] = idempotent_function(
            once,
            data_keyword_argument="payload",
            persistence_store=self._store,
            config=self._config,
            key_prefix="jupiter-api",
        )
        return guarded


def _translate(exc: Exception) -> None:
    """Raise the service error for a Powertools idempotency error."""
    from aws_lambda_powertools.utilities.idempotency import exceptions as errors

    if isinstance(exc, errors.IdempotencyValidationError):
        raise IdempotencyConflict(
            f"this {HEADER} was used with another request; use a new key"
        ) from exc
    if isinstance(exc, errors.IdempotencyAlreadyInProgressError):
        raise IdempotencyInProgress(
            f"a request with this {HEADER} is still in progress; retry shortly"
        ) from exc
    if isinstance(
        exc,
        errors.IdempotencyPersistenceLayerError
        | errors.IdempotencyInconsistentStateError,
    ):
        logs.line(
            logger,
            "idempotency_store_failed",
            logging.WARNING,
            error=type(exc).__name__,
        )
        raise StoreUnavailable("the idempotency store is unavailable") from exc


def _freeze(response: Response) -> dict[str, Any]:
    body = response.body
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    elif not isinstance(body, str):
        body = json.dumps(body)
    return {
        "status": response.status_code,
        "headers": {k: str(v) for k, v in response.headers.items()},
        "body": body,
    }


def _thaw(stored: dict[str, Any]) -> Response:
    return Response(
        body=stored["body"],
        status_code=int(stored["status"]),
        headers=dict(stored["headers"]),
    )


def _mark_replayed(response: Any, record: Any) -> Any:
    response["headers"][REPLAYED_HEADER] = "true"
    return response
