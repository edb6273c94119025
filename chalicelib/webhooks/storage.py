"""What the webhook stores share: store errors and millisecond timestamps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, overload

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import StoreUnavailable

CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELLED = "TransactionCanceledException"


class ConditionFailed(Exception):
    """Raised when a conditional write finds the item not as expected.

    ``item`` is the item as it was (``ALL_OLD``), or None when it is absent
    or the write did not ask for it.
    """

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("condition failed")
        self.item = item


def call(operation: Callable[..., Any], **kwargs: Any) -> Any:
    """Run one DynamoDB or SQS call; raise ConditionFailed or StoreUnavailable."""
    try:
        return operation(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") in (CONDITION_FAILED, TRANSACTION_CANCELLED):
            item: Any = exc.response.get("Item")
            raise ConditionFailed(item) from exc
        raise StoreUnavailable(
            f"the webhook store failed: {error.get('Code')}"
        ) from exc
    except BotoCoreError as exc:
        raise StoreUnavailable("the webhook store is unreachable") from exc


def millis(seconds: float) -> int:
    """Return an epoch time in whole milliseconds, as the webhook tables keep it."""
    return int(seconds * 1000)


@overload
def stamp(ms: int) -> str: ...
@overload
def stamp(ms: None) -> None: ...
@overload
def stamp(ms: int | None) -> str | None: ...
def stamp(ms: int | None) -> str | None:
    """Format epoch milliseconds as an RFC 3339 UTC time (None stays None)."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
