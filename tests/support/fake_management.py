"""A stand-in for boto3's ``apigatewaymanagementapi`` client.

moto's implementation never raises ``GoneException``; this one does, for any
connection that is not open, as API Gateway does. It records every frame
posted, so tests read what each client would have received.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from botocore.exceptions import ClientError


def client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": code},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class FakeManagementClient:
    """Open connections, frames posted to them, and connections closed."""

    def __init__(self) -> None:
        self.open: set[str] = set()
        self.received: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.closed: list[str] = []
        self.throttled: set[str] = set()
        # Posts to these connections raise the error given (an endpoint that
        # is down, a 500), whether or not the connection is open.
        self.failing: dict[str, Exception] = {}
        self.calls: dict[str, int] = defaultdict(int)

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> None:  # noqa: N803
        self.calls["post_to_connection"] += 1
        if ConnectionId in self.failing:
            raise self.failing[ConnectionId]
        self._require_open(ConnectionId, "PostToConnection")
        if ConnectionId in self.throttled:
            raise client_error("LimitExceededException", 429, "PostToConnection")
        self.received[ConnectionId].append(json.loads(Data))

    def get_connection(self, ConnectionId: str) -> dict[str, Any]:  # noqa: N803
        self.calls["get_connection"] += 1
        self._require_open(ConnectionId, "GetConnection")
        return {"Identity": {"SourceIp": "203.0.113.7"}}

    def delete_connection(self, ConnectionId: str) -> None:  # noqa: N803
        self.calls["delete_connection"] += 1
        self._require_open(ConnectionId, "DeleteConnection")
        self.open.discard(ConnectionId)
        self.closed.append(ConnectionId)

    def vanish(self, connection_id: str) -> None:
        """Drop a client without telling anyone (no $disconnect)."""
        self.open.discard(connection_id)

    def take(self, connection_id: str) -> list[dict[str, Any]]:
        """Return and forget the frames a connection received so far."""
        frames = self.received.pop(connection_id, [])
        return frames

    def _require_open(self, connection_id: str, operation: str) -> None:
        if connection_id not in self.open:
            raise client_error("GoneException", 410, operation)
