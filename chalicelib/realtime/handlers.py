"""Adapt API Gateway's WebSocket and schedule events to the realtime service.

``app.py`` registers these on the root app: ``$connect``, ``$default`` (every
frame; the service dispatches on its ``type``), ``$disconnect``, and the two
schedules. The event shapes are API Gateway's: ``requestContext`` carries
``connectionId``, ``routeKey``, ``eventType``, ``domainName``, ``stage`` and
``identity.sourceIp``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from chalicelib import logs, metrics
from chalicelib.errors import JupiterError
from chalicelib.realtime.fanout import FanoutReport
from chalicelib.services import services

logger = logging.getLogger(__name__)

ACCEPTED = {"statusCode": 200}


@contextlib.contextmanager
def _invocation(context: dict[str, Any]) -> Iterator[None]:
    """Bind the invocation's ids to its log lines and hold its metrics."""
    with (
        logs.bound(
            correlation_id=_correlation_id(context),
            connection_id=context.get("connectionId"),
        ),
        metrics.scope(),
    ):
        yield


def _correlation_id(context: dict[str, Any]) -> str:
    # API Gateway's id of this WebSocket request, spelt as REST request ids are.
    gateway_id = context.get("requestId")
    if isinstance(gateway_id, str) and 8 <= len(gateway_id) <= 64:
        return "req_" + "".join(c for c in gateway_id if c.isalnum() or c == "-")
    return logs.new_correlation_id()


def connect(event: dict[str, Any]) -> dict[str, Any]:
    """Accept a connection and start its authentication deadline."""
    with _invocation(event["requestContext"]):
        return _connect(event["requestContext"])


def _connect(context: dict[str, Any]) -> dict[str, Any]:
    try:
        services().realtime.connect(context["connectionId"], _source_ip(context))
    except JupiterError as error:
        # A non-2xx answer to $connect makes API Gateway refuse the handshake.
        logs.line(logger, "ws_refused", logging.WARNING, code=error.code)
        return {"statusCode": error.status, "body": error.code}
    _log(context, "connected")
    return ACCEPTED


def message(event: dict[str, Any]) -> dict[str, Any]:
    """Answer one frame."""
    with _invocation(event["requestContext"]):
        return _message(event)


def _message(event: dict[str, Any]) -> dict[str, Any]:
    context = event["requestContext"]
    realtime = services().realtime
    api = realtime.endpoints.for_event(context["domainName"], context["stage"])
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = ""  # A binary frame is not JSON: answered as malformed.
    try:
        outcome = realtime.receive(
            api, context["connectionId"], body, _source_ip(context)
        )
    except JupiterError as error:
        # Only the store can fail here; API Gateway ignores the status, so
        # the client hears nothing back but the connection stays usable.
        logs.line(logger, "ws_unanswered", logging.WARNING, code=error.code)
        return {"statusCode": error.status}
    outcome.log()
    return ACCEPTED


def disconnect(event: dict[str, Any]) -> dict[str, Any]:
    """Forget a closed connection and free its slot."""
    with _invocation(event["requestContext"]):
        return _disconnect(event["requestContext"])


def _disconnect(context: dict[str, Any]) -> dict[str, Any]:
    try:
        services().realtime.drop(context["connectionId"])
    except JupiterError as error:
        # The TTL removes the records and the slot is reclaimed by the next
        # claim's liveness check, so nothing is stuck for long.
        logs.line(logger, "ws_not_forgotten", logging.WARNING, code=error.code)
    _log(context, "disconnected")
    return ACCEPTED


def publish_status() -> FanoutReport:
    """Broadcast ``system_status`` (every minute in AWS)."""
    with logs.bound(correlation_id=logs.new_correlation_id()), metrics.scope():
        return services().realtime.publish_status()


def sweep() -> int:
    """Close the connections that missed their authentication deadline."""
    realtime = services().realtime
    return realtime.sweep(realtime.endpoints.known())


def _source_ip(context: dict[str, Any]) -> str:
    return str(context.get("identity", {}).get("sourceIp") or "unknown")


def _log(context: dict[str, Any], what: str) -> None:
    logs.line(
        logger,
        "ws_" + what,
        route=context.get("routeKey"),
        source_ip=_source_ip(context),
    )
