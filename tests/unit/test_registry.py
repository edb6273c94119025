"""The route registry: routes name their handlers and models, imported on use."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from chalicelib.http.registry import Lazy, LazyModule, Route
from chalicelib.routes import REGISTRY


@pytest.mark.parametrize("route", REGISTRY.routes, ids=lambda r: r.operation)
def test_every_named_handler_and_model_exists(route: Route) -> None:
    assert callable(route.handler)
    for model in (route.body, route.query, route.response):
        assert model is None or issubclass(model, BaseModel)


def test_a_route_reads_a_lazy_reference_as_what_it_names() -> None:
    usage = LazyModule("chalicelib.usage")
    route = Route(
        "get_usage", "GET", "/api/usage", usage.get_usage, "Usage", "Usage",
        response=usage.UsageReport,
    )  # fmt: skip

    from chalicelib import usage as module

    assert route.handler is module.get_usage
    assert route.response is module.UsageReport
    assert route.body is None


def test_a_route_takes_its_objects_as_they_are() -> None:
    class Widget(BaseModel):
        widget_id: str

    def handler(call: object) -> Widget:
        return Widget(widget_id="w")

    route = Route("get_widget", "GET", "/w", handler, "Read", "Widgets", body=Widget)

    assert route.handler is handler
    assert route.body is Widget


def test_a_misnamed_reference_fails_when_used() -> None:
    route = Route("x", "GET", "/x", Lazy("chalicelib.usage", "no_such_handler"), "", "")

    with pytest.raises(AttributeError, match="no_such_handler"):
        route.handler  # noqa: B018


def test_a_route_needs_its_handler_summary_and_tag() -> None:
    with pytest.raises(TypeError, match="handler"):
        Route("x", "GET", "/x")  # type: ignore[call-arg]
