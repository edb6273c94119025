"""The route registry: every REST route declared once, with its models.

The registry mounts the routes on the Chalice app, tells admission each route's
scope, and is what the OpenAPI document, the SDKs and the docs are built from.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from chalice.app import Chalice, Response

from chalicelib.http.call import Call
from chalicelib.policy import Scope

if TYPE_CHECKING:
    from pydantic import BaseModel

Handler = Callable[[Call], "BaseModel | Response"]
T = TypeVar("T")


@dataclass(frozen=True)
class Lazy:
    """A module's attribute, named now and imported when first used.

    The registry names every handler and model this way, so a cold start
    imports only the modules of the route it serves: importing every
    domain's handlers and models up front was a good part of the app's import.
    """

    module: str
    name: str

    def load(self) -> Any:
        return getattr(importlib.import_module(self.module), self.name)


class LazyModule:
    """A module not imported yet: each attribute read is a :class:`Lazy` of it."""

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Lazy:
        return Lazy(self._module, name)


class _Loaded(Generic[T]):
    """A route field given as the object or as a :class:`Lazy`; reads as the object.

    A dataclass field whose default is a descriptor: the dataclass's
    ``__init__`` hands the given value to ``__set__``, and reading the field
    on the class gives its default (no default: AttributeError).
    """

    def __init__(self, *default: T) -> None:
        self._default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = "_" + name

    @overload
    def __get__(self, route: None, owner: type) -> T: ...
    @overload
    def __get__(self, route: Route, owner: type) -> T: ...
    def __get__(self, route: Route | None, owner: type) -> T:
        if route is None:
            if not self._default:
                raise AttributeError(self._slot)  # a field without a default
            return self._default[0]
        value = route.__dict__[self._slot]
        if isinstance(value, Lazy):
            # Imported once; every later read is the object itself.
            value = route.__dict__[self._slot] = value.load()
        loaded: T = value
        return loaded

    def __set__(self, route: Route, value: T | Lazy) -> None:
        route.__dict__[self._slot] = value


@dataclass(frozen=True)
class Route:
    """One REST operation."""

    operation: str  # snake_case operation id, also the SDK method name
    method: str
    path: str
    handler: _Loaded[Handler] = _Loaded()
    # The handler's descriptor gives it no default, which mypy cannot see.
    summary: str  # type: ignore[misc]
    tag: str  # type: ignore[misc]
    scope: Scope | None = None
    public: bool = False
    body: _Loaded[type[BaseModel] | None] = _Loaded(None)
    query: _Loaded[type[BaseModel] | None] = _Loaded(None)
    response: _Loaded[type[BaseModel] | None] = _Loaded(None)
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
