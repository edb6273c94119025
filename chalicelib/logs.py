"""Structured log lines, and the ids that follow a request through the system.

Every structured line is one JSON object, written by :func:`line` as the
message of a standard ``logging`` record: ``{"event": ..., <bound ids>,
<fields>}``. The ids bound with :func:`bound` (a request's ``correlation_id``,
or an event's, a delivery's, a webhook's) go into every line written while
they are bound. They live in a context variable, so the threads of the local
server and of the fan-out pool each keep their own.

The correlation id is the REST request's id (``req_…``, the ``request_id`` of
problem documents and ``X-Request-Id``) for everything the request causes:
its domain events, their dispatch, the webhook deliveries and their retries,
and the WebSocket fan-out. Work no request caused (a schedule, a command)
gets a fresh ``cor_…`` id.

Fields are never secrets: callers pass ids, counts and outcomes only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_bound: ContextVar[Mapping[str, Any]] = ContextVar("log_fields", default=_EMPTY)


def new_correlation_id() -> str:
    """Return a fresh correlation id, for work that no request caused."""
    return "cor_" + secrets.token_hex(12)


def correlation_id() -> str | None:
    """Return the correlation id bound now, if any."""
    value = _bound.get().get("correlation_id")
    return value if isinstance(value, str) else None


def current() -> dict[str, Any]:
    """Return a copy of the fields bound now."""
    return dict(_bound.get())


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (``None`` values left out) to every line written inside."""
    added = {name: value for name, value in fields.items() if value is not None}
    token = _bound.set(MappingProxyType({**_bound.get(), **added}))
    try:
        yield
    finally:
        _bound.reset(token)


class _Json:
    """A line's fields, serialized only if a handler formats the record."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __str__(self) -> str:
        return json.dumps(self.fields, separators=(",", ":"), default=str)


def line(
    logger: logging.Logger,
    event: str,
    level: int = logging.INFO,
    *,
    exc_info: bool = False,
    **fields: Any,
) -> None:
    """Write one structured line: the event, the bound ids, then ``fields``.

    ``exc_info`` adds the exception being handled, as ``logging`` does.
    """
    if not logger.isEnabledFor(level):
        return
    record = {"event": event, **_bound.get(), **fields}
    logger.log(level, "%s", _Json(record), exc_info=exc_info, stacklevel=2)
