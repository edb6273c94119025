"""The API Gateway ``@connections`` API: post to, inspect and close connections.

The service uses its own ``apigatewaymanagementapi`` client rather than
``app.websocket_api``, which Chalice configures only inside WebSocket
handlers: broadcasts also run from the outbox dispatcher and the schedule.
``GoneException`` (410) means the client is no longer connected; it is the
only answer that ever leads to removing a connection.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import logs

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi.client import (
        ApiGatewayManagementApiClient,
    )

logger = logging.getLogger(__name__)

GONE = "GoneException"


class DeliveryFailed(Exception):
    """Raised when a post fails for a reason other than the client being gone
    (throttling, a network error); the connection is kept."""


class ManagementApi:
    """Talks to one WebSocket API's ``@connections`` endpoint."""

    def __init__(self, client: ApiGatewayManagementApiClient | Any) -> None:
        self._client = client

    def post(self, connection_id: str, data: str) -> bool:
        """Send one frame; return False if the connection is gone."""
        try:
            self._client.post_to_connection(
                ConnectionId=connection_id, Data=data.encode()
            )
        except ClientError as exc:
            if _code(exc) == GONE:
                return False
            raise DeliveryFailed(_code(exc)) from exc
        except BotoCoreError as exc:
            raise DeliveryFailed(type(exc).__name__) from exc
        return True

    def alive(self, connection_id: str) -> bool:
        """Tell whether the connection is still open.

        Only a ``GoneException`` answers no: when the API cannot be asked, the
        connection is presumed alive, so a slot is never freed on a guess.
        """
        try:
            self._client.get_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if _code(exc) == GONE:
                return False
            _warn("connection_check_failed", _code(exc))
        except BotoCoreError as exc:
            _warn("connection_check_failed", type(exc).__name__)
        return True

    def close(self, connection_id: str) -> None:
        """Close the connection; one already gone is fine."""
        try:
            self._client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if _code(exc) != GONE:
                _warn("connection_close_failed", _code(exc))
        except BotoCoreError as exc:
            _warn("connection_close_failed", type(exc).__name__)


def _warn(event: str, error: str) -> None:
    logs.line(logger, event, logging.WARNING, error=error)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))
