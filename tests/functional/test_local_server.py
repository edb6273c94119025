"""The local API Gateway emulation: the events it builds and what it answers.

A tiny Chalice app echoes the proxy event it receives, served by
``local.server.LocalServer`` on a free port and called over real HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web
from chalice.app import Chalice, Response

from local.server import LocalServer

echo = Chalice(app_name="echo")


@echo.route(
    "/items/{item_id}",
    methods=["GET", "POST"],
    content_types=["application/json", "application/octet-stream"],
)
def item(item_id: str) -> Response:
    request = echo.current_request
    assert request is not None
    return Response(body=json.dumps(request.to_original_event()), status_code=200)


@echo.route("/items/{item_id}/parts", methods=["GET"])
def parts(item_id: str) -> dict[str, str]:
    return {"item_id": item_id}


@echo.route("/empty", methods=["DELETE"])
def empty() -> Response:
    return Response(body="", status_code=204)


class Recorder:
    """An extension with a route of its own and a background task."""

    def __init__(self) -> None:
        self.ticks = 0
        self.cancelled = False

    def install(self, server: LocalServer) -> None:
        server.web_app.router.add_get("/ws", self.socket)
        server.add_task("ticker", self.tick)

    async def socket(self, request: web.Request) -> web.Response:
        return web.json_response({"extension": True})

    async def tick(self) -> None:
        try:
            while True:
                self.ticks += 1
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            self.cancelled = True
            raise


Client = tuple[aiohttp.ClientSession, str]


@asynccontextmanager
async def serving(
    server: LocalServer,
) -> AsyncIterator[Client]:
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield session, f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop()


def run(test: Callable[[Client], Awaitable[None]], **options: Any) -> LocalServer:
    server = LocalServer(echo, "127.0.0.1", 0, stage="local", workers=2, **options)

    async def main() -> None:
        async with serving(server) as client:
            await test(client)

    asyncio.run(main())
    return server


def test_event_carries_resource_path_parameters_and_request_context() -> None:
    async def check(client: Client) -> None:
        session, base = client
        url = base + "/items/a%20b?tag=x&tag=y&one=1"
        async with session.get(url, headers={"X-Thing": "t"}) as response:
            event = await response.json()
        assert event["resource"] == "/items/{item_id}"
        assert event["path"] == "/items/a b"
        assert event["pathParameters"] == {"item_id": "a b"}
        assert event["queryStringParameters"] == {"tag": "y", "one": "1"}
        assert event["multiValueQueryStringParameters"] == {
            "tag": ["x", "y"],
            "one": ["1"],
        }
        assert event["headers"]["X-Thing"] == "t"
        context = event["requestContext"]
        assert context["resourcePath"] == "/items/{item_id}"
        assert context["httpMethod"] == "GET"
        assert context["stage"] == "local"
        assert len(context["requestId"]) == 36
        assert context["identity"]["sourceIp"] == "127.0.0.1"
        assert event["body"] is None

    run(check)


def test_route_without_query_has_null_query_parameters() -> None:
    async def check(client: Client) -> None:
        session, base = client
        async with session.get(base + "/items/1/parts") as response:
            assert response.status == 200
            assert await response.json() == {"item_id": "1"}
        async with session.get(base + "/items/1") as response:
            event = await response.json()
        assert event["queryStringParameters"] is None
        assert event["multiValueQueryStringParameters"] is None

    run(check)


def test_binary_body_is_base64_encoded_and_text_body_is_not() -> None:
    async def check(client: Client) -> None:
        session, base = client
        binary = bytes(range(256))
        headers = {"Content-Type": "application/octet-stream"}
        async with session.post(
            base + "/items/1", data=binary, headers=headers
        ) as response:
            event = await response.json()
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == binary
        async with session.post(base + "/items/1", json={"a": 1}) as response:
            event = await response.json()
        assert event["isBase64Encoded"] is False
        assert json.loads(event["body"]) == {"a": 1}

    run(check)


def test_unknown_path_is_a_404_problem_with_a_request_id() -> None:
    async def check(client: Client) -> None:
        session, base = client
        async with session.get(base + "/nowhere") as response:
            assert response.status == 404
            assert response.content_type == "application/problem+json"
            problem = await response.json()
        assert problem["code"] == "not_found"
        assert problem["request_id"] == response.headers["X-Request-Id"]
        assert problem["request_id"].startswith("req_")

    run(check)


def test_body_over_the_gateway_limit_is_a_413_problem() -> None:
    async def check(client: Client) -> None:
        session, base = client
        async with session.post(
            base + "/items/1", data=b"x" * 5000, headers={"Content-Type": "x/y"}
        ) as response:
            assert response.status == 413
            problem = await response.json(content_type=None)
        assert problem["code"] == "payload_too_large"

    run(check, max_body=4096)


def test_chalice_answers_pass_through_with_their_status() -> None:
    async def check(client: Client) -> None:
        session, base = client
        async with session.delete(base + "/empty") as response:
            assert response.status == 204
        async with session.put(base + "/items/1") as response:
            assert response.status == 405
            assert "GET" in response.headers["Allow"]

    run(check)


def test_extension_routes_win_over_rest_and_tasks_stop_with_the_server() -> None:
    recorder = Recorder()

    async def check(client: Client) -> None:
        session, base = client
        async with session.get(base + "/ws") as response:
            assert await response.json() == {"extension": True}
        await asyncio.sleep(0.05)

    server = LocalServer(echo, "127.0.0.1", 0, workers=1)
    server.install(recorder)

    async def main() -> None:
        async with serving(server) as client:
            await check(client)

    asyncio.run(main())
    assert recorder.ticks > 0
    assert recorder.cancelled
