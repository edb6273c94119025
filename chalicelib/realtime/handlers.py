"""Adapt API Gateway's WebSocket and schedule events to the realtime service.

``app.py`` registers these on the root app: ``$connect``, ``$default`` (every
frame; the service dispatches on its ``type``), ``$disconnect``, and the two
schedules. The event shapes are API Gateway's: ``requestContext`` carries
``connectionId``, ``routeKey``, ``eventType``, ``domainName``, ``stage`` and
``identity.sourceIp``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from chalicelib.errors import JupiterError
from chalicelib.realtime.fanout import FanoutReport
from chalicelib.services import services

logger = logging.getLogger(__name__)

ACCEPTED = {"statusCode": 200}


def connect(event: dict[str, Any]) -> dict[str, Any]:
    """Accept a connection and start its authentication deadline."""
    context = event["requestContext"]
    try:
        services().realtime.connect(context["connectionId"], _source_ip(context))
    except JupiterError as error:
        # A non-2xx answer to $connect makes API Gateway refuse the handshake.
        logger.warning("refused a WebSocket connection: %s", error.code)
        return {"statusCode": error.status, "body": error.code}
    _log(context, "connected")
    return ACCEPTED


def message(event: dict[str, Any]) -> dict[str, Any]:
    """Answer one frame."""
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
        logger.warning("could not answer a WebSocket frame: %s", error.code)
        return {"statusCode": error.status}
    outcome.log()
    return ACCEPTED


def disconnect(event: dict[str, Any]) -> dict[str, Any]:
    """Forget a closed connection and free its slot."""
    context = event["requestContext"]
    try:
        services().realtime.drop(context["connectionId"])
    except JupiterError as error:
        # The TTL removes the records and the slot is reclaimed by the next
        # claim's liveness check, so nothing is stuck for long.
        logger.warning("could not forget a WebSocket connection: %s", error.code)
    _log(context, "disconnected")
    return ACCEPTED


def publish_status() -> FanoutReport:
    """Broadcast ``system_status`` (every minute in AWS)."""
    return services().realtime.publish_status()


def sweep() -> int:
    """Close the connections that missed their authentication deadline."""
    realtime = services().realtime
    return realtime.sweep(realtime.endpoints.known())


def _source_ip(context: dict[str, Any]) -> str:
    return str(context.get("identity", {}).get("sourceIp") or "unknown")


def _log(context: dict[str, Any], what: str) -> None:
    record = {
        "event": "ws_" + what,
        "connection_id": context["connectionId"],
        "route": context.get("routeKey"),
        "source_ip": _source_ip(context),
    }
    logger.info("%s", json.dumps(record, separators=(",", ":")))
