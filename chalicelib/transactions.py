"""Commit one ``TransactWriteItems``: a change, its event and its counters.

DynamoDB cancels a transaction that touches an item another transaction is
changing at that moment (``TransactionConflict``). The counters every change
bumps are such shared items, so a conflict is retried a few times with
jittered backoff; a failed condition is the caller's to explain.
"""

from __future__ import annotations

import logging
import random
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import logs
from chalicelib.errors import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

ATTEMPTS = 5
_RETRYABLE = frozenset({"None", "TransactionConflict", "ThrottlingError"})


class Cancelled(Exception):
    """Raised when a condition of the transaction failed; nothing was written.

    ``reasons`` holds one cancellation code per transaction item, in order.
    """

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        """Tell whether item ``index`` is the one whose condition failed."""
        return (
            index < len(self.reasons)
            and self.reasons[index] == "ConditionalCheckFailed"
        )


def commit(client: DynamoDBClient, items: list[dict[str, Any]]) -> None:
    """Write ``items`` atomically; raise Cancelled or StoreUnavailable."""
    for attempt in range(ATTEMPTS):
        try:
            client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            return
        except ClientError as exc:
            reasons = _reasons(exc)
            if "ConditionalCheckFailed" in reasons:
                raise Cancelled(reasons) from exc
            if not _retryable(exc, reasons) or attempt == ATTEMPTS - 1:
                code = exc.response.get("Error", {}).get("Code")
                logs.line(
                    logger,
                    "transaction_failed",
                    logging.WARNING,
                    error=code,
                    reasons=reasons,
                )
                raise StoreUnavailable("the store is unavailable; retry") from exc
        except BotoCoreError as exc:
            logs.line(
                logger, "transaction_failed", logging.WARNING, error=type(exc).__name__
            )
            raise StoreUnavailable("the store is unreachable; retry") from exc
        # Full jitter: concurrent writers of one counter spread out.
        time.sleep(random.uniform(0, 0.025 * 2**attempt))  # noqa: S311


def _reasons(exc: ClientError) -> list[str]:
    raw: Any = exc.response.get("CancellationReasons", [])
    return [str(r.get("Code", "None")) for r in raw]


def _retryable(exc: ClientError, reasons: list[str]) -> bool:
    code = exc.response.get("Error", {}).get("Code")
    if code == "TransactionCanceledException":
        return bool(reasons) and set(reasons) <= _RETRYABLE
    return code in {"TransactionConflictException", "TransactionInProgressException"}
