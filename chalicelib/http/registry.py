"""The route registry: every REST route declared once, with its models.

The registry mounts the routes on the Chalice app, tells admission each route's
scope, and is what the OpenAPI document, the SDKs and the docs are built from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice.app import Chalice, Response
from pydantic import BaseModel

from chalicelib.http.call import Call
from chalicelib.policy import Scope

Handler = Callable[[Call], BaseModel | Response]


@dataclass(frozen=True)
class Route:
    """One REST operation."""

    operation: str  # snake_case operation id, also the SDK method name
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    scope: Scope | None = None
    public: bool = False
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    description: str = ""
    errors: tuple[int, ...] = field(default=())
    # What a success answers with; routes without a response model (the docs
    # page, the SDK zips) say so here for the OpenAPI document and the SDKs.
    media_type: str = "application/json"


class Registry:
    """All routes, looked up by (path, method)."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self._by_key = {(r.path, r.method): r for r in routes}
        if len(self._by_key) != len(routes):
            raise ValueError("a route is declared twice")

    def find(self, path: str, method: str) -> Route | None:
        return self._by_key.get((path, method))

    def paths(self) -> dict[str, list[str]]:
        """Map each path to its methods."""
        result: dict[str, list[str]] = {}
        for route in self.routes:
            result.setdefault(route.path, []).append(route.method)
        return result

    def mount(self, app: Chalice, view: Callable[[Route], Callable[..., Any]]) -> None:
        """Register every route on ``app``, plus OPTIONS for CORS preflight."""
        for route in self.routes:
            function = view(route)
            function.__name__ = route.operation
            app.route(route.path, methods=[route.method])(function)
        for path in self.paths():
            preflight = view(_preflight_route(path))
            preflight.__name__ = "preflight_" + _slug(path)
            app.route(path, methods=["OPTIONS"])(preflight)


def _preflight_route(path: str) -> Route:
    def answer(call: Call) -> Response:
        return Response(body="", status_code=204)

    return Route(
        "preflight", "OPTIONS", path, answer, "CORS preflight", "cors", public=True
    )


def _slug(path: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in path).strip("_")
