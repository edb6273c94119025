"""Structured log lines, and the ids that follow a request through the system.

Every structured line is one JSON object, written by :func:`line` as the
message of a standard ``logging`` record: ``{"event": ..., <bound ids>,
<fields>}``. The ids bound with :func:`bound` (a request's ``correlation_id``,
or an event's, a delivery's, a webhook's) go into every line written while
they are bound. They live in a context variable, so the threads of the local
server and of the fan-out pool each keep their own.

Every line written in a Lambda invocation also carries its ``aws_request_id``
(:func:`lambda_request_id`, registered on the app for every kind of event).

The correlation id is the REST request's id (``req_…``, the ``request_id`` of
problem documents and ``X-Request-Id``) for everything the request causes:
its domain events, their dispatch, the webhook deliveries and their retries,
and the WebSocket fan-out. Work no request caused (a schedule, a command)
gets a fresh ``cor_…`` id.

Fields are never secrets: callers pass ids, counts and outcomes only.

In Lambda, :func:`configure` writes the ``chalicelib`` lines to standard
output as bare JSON objects (level, logger, time, then the line), because
Lambda's own handler prefixes each message with text that keeps CloudWatch
Logs Insights from discovering the fields. Elsewhere (tests, the local stack)
records propagate to whatever handlers the process has.

This is the standard library's ``logging`` with a context variable rather
than Powertools' ``Logger``: the records stay ordinary ones (``caplog``, the
local stack's handlers), the arguments stay lazy, and it imports nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Any

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


def lambda_request_id(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware: bind the invocation's ``aws_request_id`` to its lines.

    The bare JSON lines carry no Lambda prefix (see :func:`configure`), so this
    is what joins a line to the START, END and REPORT lines of its invocation.
    An HTTP request holds the Lambda context as ``lambda_context``, every other
    event as ``context``.
    """
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    with bound(aws_request_id=getattr(context, "aws_request_id", None)):
        return get_response(event)


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


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object: a structured line as it is, any
    other record as ``{"event": "log", <bound ids>, "message": ...}``."""

    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        if isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], _Json):
            fields = dict(args[0].fields)
        else:
            fields = {"event": "log", **_bound.get(), "message": record.getMessage()}
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat()
        rendered = {
            "level": record.levelname,
            "logger": record.name,
            "time": stamp,
            **fields,
        }
        if record.exc_info:
            rendered["exception"] = self.formatException(record.exc_info)
        return json.dumps(rendered, separators=(",", ":"), default=str)


def configure(
    environ: Mapping[str, str] = os.environ, stream: IO[str] | None = None
) -> logging.Handler | None:
    """In Lambda, send ``chalicelib``'s lines to stdout as bare JSON; once.

    Returns the handler installed, or None when not in Lambda (or already
    installed).
    """
    target = logging.getLogger("chalicelib")
    installed = any(isinstance(h.formatter, JsonFormatter) for h in target.handlers)
    if not environ.get("AWS_LAMBDA_FUNCTION_NAME") or installed:
        return None
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    target.addHandler(handler)
    # Not also through Lambda's prefixed handler on the root logger.
    target.propagate = False
    return handler
