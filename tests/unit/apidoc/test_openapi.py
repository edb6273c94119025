"""The OpenAPI document matches the registry and the app, and validates."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from app import app
from chalicelib.apidoc.examples import example_of
from chalicelib.apidoc.openapi import build_openapi
from chalicelib.http.registry import Registry, Route
from chalicelib.routes import REGISTRY

DOCUMENT = build_openapi(REGISTRY)
SCHEMAS = DOCUMENT["components"]["schemas"]
METHODS = ("get", "post", "put", "patch", "delete")


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, item[method])
        for path, item in DOCUMENT["paths"].items()
        for method in METHODS
        if method in item
    ]


def by_operation_id() -> dict[str, dict[str, Any]]:
    return {spec["operationId"]: spec for _, _, spec in operations()}


def test_document_validates_as_openapi_3_1() -> None:
    validate(DOCUMENT)
    assert DOCUMENT["openapi"] == "3.1.0"


def test_operations_are_exactly_the_routes_the_app_registers() -> None:
    registered = {
        (path, method)
        for path, entries in app.routes.items()
        for method in entries
        if method != "OPTIONS"
    }
    documented = {(path, method.upper()) for path, method, _ in operations()}
    assert documented == registered


def test_operation_ids_are_the_registry_operations_and_unique() -> None:
    ids = [spec["operationId"] for _, _, spec in operations()]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(route.operation for route in REGISTRY.routes)


@pytest.mark.parametrize("route", REGISTRY.routes, ids=lambda r: r.operation)
def test_public_routes_need_no_key_and_the_others_need_both_headers(
    route: Route,
) -> None:
    spec = by_operation_id()[route.operation]
    if route.public:
        assert spec["security"] == []
    else:
        assert "security" not in spec
        assert DOCUMENT["security"] == [{"ApiKeyId": [], "ApiKeySecret": []}]


def test_both_key_headers_are_api_key_security_schemes() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert {(s["type"], s["in"], s["name"]) for s in schemes.values()} == {
        ("apiKey", "header", "X-API-Key-ID"),
        ("apiKey", "header", "X-API-Key-Secret"),
    }


@pytest.mark.parametrize("route", REGISTRY.routes, ids=lambda r: r.operation)
def test_every_declared_error_answers_the_problem_document(route: Route) -> None:
    responses = by_operation_id()[route.operation]["responses"]
    for status in route.errors:
        content = responses[str(status)]["content"]
        assert content == {
            "application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}
            }
        }
        if status in (429, 503):
            assert "Retry-After" in responses[str(status)]["headers"]


@pytest.mark.parametrize("route", REGISTRY.routes, ids=lambda r: r.operation)
def test_success_response_has_the_route_status_model_and_headers(route: Route) -> None:
    success = by_operation_id()[route.operation]["responses"][str(route.status)]
    content = success["content"][route.media_type]
    if route.response is not None:
        assert content["schema"]["$ref"].endswith("/" + route.response.__name__)
    rate_headers = {"RateLimit", "RateLimit-Policy", "X-RateLimit-Remaining"}
    assert rate_headers.isdisjoint(success["headers"]) == route.public
    assert "X-Request-Id" in success["headers"]


@pytest.mark.parametrize("route", REGISTRY.routes, ids=lambda r: r.operation)
def test_parameters_come_from_the_path_and_the_query_model(route: Route) -> None:
    parameters = by_operation_id()[route.operation].get("parameters", [])
    path = [p["name"] for p in parameters if p["in"] == "path"]
    query = [p["name"] for p in parameters if p["in"] == "query"]
    assert path == re.findall(r"{([^}]+)}", route.path)
    expected = list(route.query.model_fields) if route.query else []
    assert query == expected
    headers = [p["name"] for p in parameters if p["in"] == "header"]
    assert headers == (["Idempotency-Key"] if route.method == "POST" else [])


@pytest.mark.parametrize(
    "route", [r for r in REGISTRY.routes if r.body], ids=lambda r: r.operation
)
def test_request_body_example_is_accepted_by_the_body_model(route: Route) -> None:
    assert route.body is not None
    content = by_operation_id()[route.operation]["requestBody"]["content"]
    example = content["application/json"]["example"]
    route.body.model_validate(example)


def test_field_examples_reach_the_schemas() -> None:
    name = SCHEMAS["CreateKeyRequest"]["properties"]["name"]
    assert name["examples"] == ["dashboard integration"]


def test_a_new_route_appears_with_no_other_edit() -> None:
    class Widget(BaseModel):
        widget_id: str

    def handler(call: Any) -> Widget:
        return Widget(widget_id="w")

    extra = Route(
        "get_widget", "GET", "/api/widgets/{widget_id}", handler, "Read", "Widgets"
    )
    document = build_openapi(Registry([*REGISTRY.routes, extra]))
    validate(document)
    assert document["paths"]["/api/widgets/{widget_id}"]["get"]["operationId"] == (
        "get_widget"
    )


def test_examples_prefer_declared_examples_then_defaults_then_types() -> None:
    schema = {
        "type": "object",
        "required": ["a", "b", "c"],
        "properties": {
            "a": {"type": "string", "examples": ["given"]},
            "b": {"type": "integer", "default": 7},
            "c": {"anyOf": [{"type": "null"}, {"type": "string", "format": "uri"}]},
            "optional": {"type": "string"},
        },
    }
    assert example_of(schema, {}) == {
        "a": "given",
        "b": 7,
        "c": "https://example.com/webhooks/jupiter",
    }
