"""An emulation of API Gateway's WebSocket API on the local server's port.

Clients connect to ``ws://127.0.0.1:$JUPITER_API_PORT/ws``. Each connection
gets an API Gateway-style id, and the very same Chalice handlers run with
API Gateway-shaped events: ``$connect`` before the handshake completes (a
non-2xx answer refuses it), ``$default`` for every frame, in order, and
``$disconnect`` once the socket is closed, whichever side closed it.

The ``@connections`` management API that the service's own client is pointed
at (``JUPITER_WS_MANAGEMENT_ENDPOINT``, set here to ``http://host:port/ws``)
is served on the same path: ``POST``, ``GET`` and ``DELETE
/ws/@connections/{connection_id}``, answering ``410 GoneException`` for a
connection that is not open, as API Gateway does.

The schedules that go with it (``system_status``, ``ws_sweep``) run from
``local.schedule``, like every other ``@app.schedule`` handler.

Fault injection for tests: a client that sends ``X-Emulate-Lost-Disconnect:
true`` on its handshake gets no ``$disconnect`` when it goes, the way API
Gateway's best-effort ``$disconnect`` is sometimes lost.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from local.server import LocalServer, source_ip

logger = logging.getLogger("local.websocket")

PATH = "/ws"
# API Gateway's limit on a WebSocket message (frames of 32 KB, reassembled).
MAX_MESSAGE_BYTES = 128 * 1024
LOST_DISCONNECT_HEADER = "X-Emulate-Lost-Disconnect"


@dataclass
class LocalConnection:
    """One open socket and what ``GetConnection`` reports about it."""

    connection_id: str
    socket: web.WebSocketResponse
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active_at: float = field(default_factory=time.time)
    lose_disconnect: bool = False


class WebSocketEmulation:
    """A local stand-in for an API Gateway WebSocket API and its schedules."""

    def __init__(self, path: str = PATH) -> None:
        self.path = path
        self.connections: dict[str, LocalConnection] = {}
        self._server: LocalServer | None = None

    def install(self, server: LocalServer) -> None:
        """Add the ``/ws`` and ``@connections`` routes."""
        self._server = server
        endpoint = f"http://{server.host}:{server.port}{self.path}"
        os.environ.setdefault("JUPITER_WS_MANAGEMENT_ENDPOINT", endpoint)
        router = server.web_app.router
        router.add_get(self.path, self._connect)
        management = self.path + "/@connections/{connection_id}"
        router.add_post(management, self._post)
        router.add_get(management, self._get)
        router.add_delete(management, self._delete)

    @property
    def server(self) -> LocalServer:
        assert self._server is not None, "install the emulation first"
        return self._server

    # The WebSocket API.

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        connection_id = _connection_id()
        event = self._event(request, connection_id, "$connect", "CONNECT")
        result = await self._run("$connect", event)
        status = int(result.get("statusCode", 200))
        if not 200 <= status < 300:
            return web.Response(status=status, text=str(result.get("body") or ""))
        socket = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES)
        await socket.prepare(request)
        connection = LocalConnection(
            connection_id,
            socket,
            source_ip(request),
            request.headers.get("User-Agent", ""),
            lose_disconnect=request.headers.get(LOST_DISCONNECT_HEADER) == "true",
        )
        self.connections[connection_id] = connection
        try:
            await self._receive(request, connection)
        finally:
            event = self._event(request, connection_id, "$disconnect", "DISCONNECT")
            event["requestContext"]["disconnectStatusCode"] = socket.close_code
            self.connections.pop(connection_id, None)
            if not connection.lose_disconnect:
                await self._run("$disconnect", event)
        return socket

    async def _receive(self, request: web.Request, connection: LocalConnection) -> None:
        # One frame at a time: each waits for its handler, as a client sees
        # its frames answered in order.
        async for message in connection.socket:
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            connection.last_active_at = time.time()
            event = self._event(
                request, connection.connection_id, "$default", "MESSAGE"
            )
            if message.type == WSMsgType.TEXT:
                event["body"] = message.data
            else:
                event["body"] = base64.b64encode(message.data).decode("ascii")
                event["isBase64Encoded"] = True
            await self._run("$default", event)

    async def _run(self, route_key: str, event: dict[str, Any]) -> dict[str, Any]:
        name = self.server.app.websocket_handlers[route_key].name
        handler = self.server.app.handler_map[name]
        context = self.server.lambda_context(name)
        try:
            result = await self.server.invoke(handler, event, context)
        except Exception:
            # A Lambda that raises makes API Gateway answer 500 / drop the
            # frame; the emulation logs it and carries on the same way.
            logger.exception("the %s handler raised", route_key)
            return {"statusCode": 500}
        return dict(result or {"statusCode": 200})

    def _event(
        self, request: web.Request, connection_id: str, route_key: str, kind: str
    ) -> dict[str, Any]:
        now = time.time()
        connection = self.connections.get(connection_id)
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": kind,
            "messageDirection": "IN",
            "stage": self.server.stage,
            "domainName": request.host,
            "apiId": "local",
            "connectionId": connection_id,
            "connectedAt": int((connection.connected_at if connection else now) * 1000),
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(now * 1000),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "identity": {
                "sourceIp": source_ip(request),
                "userAgent": request.headers.get("User-Agent"),
            },
        }
        event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
        if kind == "CONNECT":
            event["headers"] = dict(request.headers)
            event["queryStringParameters"] = dict(request.query) or None
        if kind == "MESSAGE":
            context["messageId"] = secrets.token_urlsafe(12)
        return event

    # The @connections management API.

    async def _post(self, request: web.Request) -> web.Response:
        connection = self._open(request)
        if connection is None:
            return _gone()
        data = await request.read()
        if len(data) > MAX_MESSAGE_BYTES:
            return _error(413, "PayloadTooLargeException", "message too large")
        try:
            await connection.socket.send_str(data.decode("utf-8"))
        except (ConnectionError, RuntimeError):
            return _gone()
        connection.last_active_at = time.time()
        return web.Response(status=200)

    async def _get(self, request: web.Request) -> web.Response:
        connection = self._open(request)
        if connection is None:
            return _gone()
        body = {
            "ConnectedAt": _iso(connection.connected_at),
            "LastActiveAt": _iso(connection.last_active_at),
            "Identity": {
                "SourceIp": connection.source_ip,
                "UserAgent": connection.user_agent,
            },
        }
        return web.json_response(body)

    async def _delete(self, request: web.Request) -> web.Response:
        connection = self._open(request)
        if connection is None:
            return _gone()
        # Closing ends the receive loop, which then runs $disconnect.
        await connection.socket.close(code=1000, message=b"closed by the service")
        return web.Response(status=204)

    def _open(self, request: web.Request) -> LocalConnection | None:
        connection = self.connections.get(request.match_info["connection_id"])
        if connection is None or connection.socket.closed:
            return None
        return connection


def _connection_id() -> str:
    # API Gateway's ids are 16 base64 characters ending in "=".
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode("ascii")


def _gone() -> web.Response:
    return _error(410, "GoneException", "the connection is not open")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"message": message}),
        content_type="application/json",
        headers={"x-amzn-ErrorType": code},
    )


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
