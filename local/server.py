"""An API Gateway emulation on aiohttp in front of the very same Chalice app.

Each HTTP request becomes a REST proxy event (payload format 1.0) and goes to
``app(event, context)``, the entry point Lambda calls, on a thread of a pool:
each thread plays one Lambda container. (The app allows this: the edge
middleware takes the request it is handed, never ``app.current_request``,
which every thread would share.) Unlike ``chalice local`` this passes the real
peer address as ``identity.sourceIp``, answers unknown paths with a problem
document, and can carry more than REST on the same port.

Later work adds, on the same aiohttp app and port, the WebSocket emulation at
``/ws`` and background tasks (the SQS consumer, the schedule) through
:meth:`LocalServer.install`; see :class:`Extension`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote

from aiohttp import web
from chalice.app import Chalice, Response, _matches_content_type
from chalice.local import LambdaContext, RouteMatcher
from multidict import CIMultiDict

from chalicelib.http.access_log import clean, log_request
from chalicelib.http.problems import problem_response

logger = logging.getLogger("local.server")

# API Gateway refuses bigger payloads itself, before any Lambda runs.
API_GATEWAY_MAX_BODY = 10 * 1024 * 1024
READ_CHUNK = 256 * 1024
LAMBDA_MEMORY_MB = 1024
LAMBDA_TIMEOUT_MS = 30_000
# Hop-by-hop and length headers are the HTTP server's business, not the app's.
_SERVER_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})

T = TypeVar("T")
TaskFactory = Callable[[], Coroutine[Any, Any, None]]


class Extension(Protocol):
    """Something that adds to the local stack beside the REST API.

    ``install`` runs before the server starts. It may add routes to
    ``server.web_app`` (for example ``/ws``; they take precedence over the
    REST catch-all, which is added last), register background tasks with
    ``server.add_task`` and run Lambda handlers with ``server.invoke``.
    """

    def install(self, server: LocalServer) -> None: ...


class RestGateway:
    """Turns HTTP requests into API Gateway REST proxy events for one app."""

    def __init__(self, app: Chalice, stage: str) -> None:
        self._app = app
        self._stage = stage
        self._matcher = RouteMatcher(list(app.routes))

    def event(
        self,
        request: web.Request,
        body: bytes,
        request_id: str,
    ) -> dict[str, Any] | None:
        """Build the proxy event, or return None when no resource matches."""
        raw_path = request.rel_url.raw_path
        try:
            match = self._matcher.match_route(raw_path)
        except ValueError:
            return None
        # RouteMatcher can leave captures of routes it tried before; keep only
        # this resource's parameters, decoded as API Gateway does.
        names = {p[1:-1] for p in match.route.split("/") if p.startswith("{")}
        path_parameters = {
            name: unquote(value)
            for name, value in match.captured.items()
            if name in names
        }
        headers = dict(request.headers.items())
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            multi_headers.setdefault(name, []).append(value)
        query = request.rel_url.query
        multi_query: dict[str, list[str]] = {}
        for name, value in query.items():
            multi_query.setdefault(name, []).append(value)
        text, encoded = self._body(request.headers.get("Content-Type", ""), body)
        now = time.time()
        return {
            "resource": match.route,
            "path": request.path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "local",
                "resourcePath": match.route,
                "httpMethod": request.method,
                "path": f"/{self._stage}{request.path}",
                "stage": self._stage,
                "requestId": request_id,
                "extendedRequestId": request_id,
                "requestTime": time.strftime(
                    "%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)
                ),
                "requestTimeEpoch": int(now * 1000),
                "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": request.host,
                "identity": {
                    "sourceIp": source_ip(request),
                    "userAgent": request.headers.get("User-Agent"),
                },
            },
            "body": text,
            "isBase64Encoded": encoded,
        }

    def _body(self, content_type: str, body: bytes) -> tuple[str | None, bool]:
        # API Gateway base64-encodes the binary media types the API declares
        # (Chalice declares ``app.api.binary_types``); bytes that are not
        # UTF-8 could not travel in a JSON event otherwise either.
        if not body:
            return None, False
        if content_type and _matches_content_type(
            content_type, self._app.api.binary_types
        ):
            return base64.b64encode(body).decode("ascii"), True
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            return base64.b64encode(body).decode("ascii"), True


class LocalServer:
    """The aiohttp server of the local stack: REST now, more via extensions."""

    def __init__(
        self,
        app: Chalice,
        host: str,
        port: int,
        stage: str = "local",
        workers: int = 8,
        max_body: int = API_GATEWAY_MAX_BODY,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.stage = stage
        self.max_body = max_body
        self.web_app = web.Application()
        self._gateway = RestGateway(app, stage)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="lambda")
        self._task_factories: list[tuple[str, TaskFactory]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None

    def install(self, extension: Extension) -> None:
        """Let ``extension`` add its routes and tasks (before :meth:`start`)."""
        if self._runner is not None:
            raise RuntimeError("install extensions before the server starts")
        extension.install(self)

    def add_task(self, name: str, factory: TaskFactory) -> None:
        """Run ``factory()`` while the server serves; it is cancelled on stop."""
        self._task_factories.append((name, factory))

    async def invoke(self, function: Callable[..., T], *args: Any) -> T:
        """Run a Lambda handler on the pool, as one container would."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, function, *args)

    def lambda_context(self, function: str = "api_handler") -> LambdaContext:
        name = f"{self.app.app_name}-{self.stage}"
        if function != "api_handler":
            name = f"{name}-{function}"
        return LambdaContext(name, LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT_MS)

    async def start(self) -> None:
        """Open the port, then start the background tasks."""
        # Added last, so the routes of extensions (``/ws``) match first.
        self.web_app.router.add_route("*", "/{path:.*}", self._rest)
        self._runner = web.AppRunner(
            self.web_app, access_log=None, handle_signals=False, shutdown_timeout=10
        )
        await self._runner.setup()
        # A deep backlog: a burst of concurrent clients must queue, not wait
        # for SYN retransmissions.
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        # The port actually bound, when 0 asked the system for a free one.
        self.port = int(self._runner.addresses[0][1])
        for name, factory in self._task_factories:
            task = asyncio.create_task(factory(), name=name)
            task.add_done_callback(_report_end)
            self._tasks.append(task)

    async def stop(self) -> None:
        """Stop the tasks, finish requests in flight, close the port and pool."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        gateway_id = str(uuid.uuid4())
        body = await read_body(request, self.max_body)
        if body is None:
            return self._refuse(
                request,
                started,
                gateway_id,
                413,
                "payload_too_large",
                "Payload too large",
                f"the body exceeds the gateway's limit of {self.max_body} bytes",
            )
        event = self._gateway.event(request, body, gateway_id)
        if event is None:
            return self._refuse(
                request,
                started,
                gateway_id,
                404,
                "not_found",
                "Not found",
                f"no route matches {request.method} {clean(request.path)}",
            )
        result = await self.invoke(self.app, event, self.lambda_context())
        return to_http(result)

    def _refuse(
        self,
        request: web.Request,
        started: float,
        gateway_id: str,
        status: int,
        code: str,
        title: str,
        detail: str,
    ) -> web.Response:
        """Answer as API Gateway does before any Lambda runs, as a problem."""
        request_id = "req_" + gateway_id
        response = problem_response(
            status, code, title, detail, request_id, {"X-Request-Id": request_id}
        )
        log_request(
            request_id=request_id,
            key_id=None,
            route=None,
            method=request.method,
            path=clean(request.path),
            status=status,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            source_ip=source_ip(request),
            user_agent=clean(request.headers.get("User-Agent")),
        )
        return to_http(_as_proxy_result(response))


def source_ip(request: web.Request) -> str:
    """Return the peer's address, as API Gateway's ``identity.sourceIp``."""
    return request.remote or "unknown"


async def read_body(request: web.Request, limit: int) -> bytes | None:
    """Read the whole body, or return None once it exceeds ``limit``.

    An oversized body is still drained, so the client gets the 413 instead of
    a connection reset while it is still sending.
    """
    chunks: list[bytes] = []
    size = 0
    declared = request.content_length
    too_big = declared is not None and declared > limit
    while chunk := await request.content.read(READ_CHUNK):
        size += len(chunk)
        too_big = too_big or size > limit
        if not too_big:
            chunks.append(chunk)
    return None if too_big else b"".join(chunks)


def to_http(result: dict[str, Any]) -> web.Response:
    """Turn a Lambda proxy result into the HTTP response API Gateway sends."""
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in (result.get("headers") or {}).items():
        if name.lower() not in _SERVER_HEADERS:
            headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if name.lower() not in _SERVER_HEADERS:
            headers.popall(name, None)
            for value in values:
                headers.add(name, str(value))
    body = result.get("body")
    if body is None:
        payload = b""
    elif result.get("isBase64Encoded"):
        payload = base64.b64decode(body)
    else:
        payload = str(body).encode("utf-8")
    headers.setdefault("Content-Type", "application/json")
    status = int(result["statusCode"])
    if status in (204, 304):
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, headers=headers, body=payload)


def _as_proxy_result(response: Response) -> dict[str, Any]:
    result: dict[str, Any] = response.to_dict()
    return result


def _report_end(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        logger.error("background task %s failed", task.get_name(), exc_info=error)
