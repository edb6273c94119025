"""The OpenAPI 3.1 document, built from the route registry and its models.

Schemas come from pydantic (``models_json_schema``), gathered once under
``components/schemas`` so models shared by several routes are described once.
Every declared error status answers the problem document; authenticated
routes carry both key headers as security schemes and the rate-limit headers.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chalicelib import __version__
from chalicelib.apidoc.examples import example_of, resolve
from chalicelib.http.problems import PROBLEM_CONTENT_TYPE, Problem
from chalicelib.http.registry import Registry, Route
from chalicelib.policy import TIER_LIMITS

Document = dict[str, Any]
# pydantic's map from (model, mode) to the model's ``$ref``.
Refs = dict[Any, dict[str, Any]]

OPENAPI_VERSION = "3.1.0"
TITLE = "Jupiter API"
SUMMARY = "Threat data, VR sessions, analytics and live updates for VR security apps."
KEY_ID_SCHEME = "ApiKeyId"
KEY_SECRET_SCHEME = "ApiKeySecret"  # noqa: S105 - a scheme name, not a secret
REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{([^}/]+)}")

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No content",
    400: "Bad request: malformed JSON or invalid fields (each one listed)",
    401: "The key is missing, unknown, wrong, revoked or expired",
    403: "The key lacks the scope this operation needs",
    404: "Not found (or not visible to this key)",
    405: "Method not allowed",
    409: "Conflict, or an Idempotency-Key reused with a different body",
    413: "The body is larger than the service accepts",
    415: "The body is not JSON",
    422: "The request is well formed but cannot be processed",
    429: "A rate limit or quota refused the request; see Retry-After",
    503: "The store is unavailable; the service fails closed, see Retry-After",
}

_HEADER_TEXT = {
    "X-Request-Id": "The request's id, also in the access log and every problem.",
    "RateLimit-Policy": "Every request window: quota q and width w in seconds.",
    "RateLimit": "Every request window: remaining r and seconds to reset t.",
    "X-RateLimit-Limit": "The limit of the window with the least room.",
    "X-RateLimit-Remaining": "What remains in that window.",
    "X-RateLimit-Reset": "When that window frees room, in Unix seconds.",
    "Retry-After": "Seconds to wait before retrying.",
}
_RATE_LIMIT_HEADERS = (
    "RateLimit-Policy",
    "RateLimit",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)
_INTEGER_HEADERS = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
_RETRY_STATUSES = {429, 503}


def build_openapi(registry: Registry) -> Document:
    """Return the OpenAPI document describing every route of ``registry``."""
    refs, schemas = _schemas(registry)
    paths: dict[str, dict[str, Any]] = {}
    for route in registry.routes:
        operation = _operation(route, refs, schemas)
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": _info(),
        "servers": [{"url": "/", "description": "This service"}],
        "tags": _tags(registry),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": _security_schemes(),
            "headers": _component_headers(),
        },
        "security": [{KEY_ID_SCHEME: [], KEY_SECRET_SCHEME: []}],
    }


def with_server(document: Document, base_url: str) -> Document:
    """Return a copy of ``document`` whose server is ``base_url``."""
    served = copy.copy(document)
    served["servers"] = [{"url": base_url.rstrip("/") or "/"}]
    return served


def _info() -> dict[str, Any]:
    return {
        "title": TITLE,
        "version": __version__,
        "summary": SUMMARY,
        "description": (
            "Every request except the public documentation routes carries the "
            "two key headers `X-API-Key-ID` and `X-API-Key-Secret`. Errors are "
            "RFC 9457 problem documents with a stable `code` and the "
            "`request_id`. POST operations accept an `Idempotency-Key`. "
            "Limits per tier: "
            + "; ".join(
                f"{tier.value} {limits.per_hour}/h"
                for tier, limits in TIER_LIMITS.items()
            )
            + "."
        ),
    }


def _tags(registry: Registry) -> list[dict[str, str]]:
    names = dict.fromkeys(route.tag for route in registry.routes)
    return [{"name": name} for name in names]


def _security_schemes() -> dict[str, Any]:
    return {
        KEY_ID_SCHEME: {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key-ID",
            "description": "The key's id, `jptr_…`.",
        },
        KEY_SECRET_SCHEME: {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key-Secret",
            "description": "The key's secret: 64 lowercase hex characters.",
        },
    }


def _component_headers() -> dict[str, Any]:
    return {
        name: {
            "description": text,
            "schema": {"type": "integer" if name in _INTEGER_HEADERS else "string"},
        }
        for name, text in _HEADER_TEXT.items()
    }


def _schemas(
    registry: Registry,
) -> tuple[Refs, dict[str, Any]]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {
        (Problem, "serialization"): None
    }
    for route in registry.routes:
        for model, mode in (
            (route.body, "validation"),
            (route.query, "validation"),
            (route.response, "serialization"),
        ):
            if model is not None:
                wanted[(model, mode)] = None  # type: ignore[index]
    refs, definitions = models_json_schema(list(wanted), ref_template=REF)
    return refs, definitions.get("$defs", {})


def _operation(
    route: Route,
    refs: Refs,
    schemas: dict[str, Any],
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _path_parameters(route) + _query_parameters(route, refs, schemas),
        "responses": _responses(route, refs),
    }
    if route.description:
        operation["description"] = route.description
    if route.public:
        operation["security"] = []
    else:
        scope = route.scope.value if route.scope else "any valid key"
        operation["x-required-scope"] = scope
        operation["description"] = (
            f"{route.description}\n\nRequires: {scope}".strip()
            if route.scope
            else route.description or "Any valid key."
        )
    if route.method == "POST":
        operation["parameters"].append(_idempotency_parameter())
    if route.body is not None:
        operation["requestBody"] = _request_body(
            refs[(route.body, "validation")], schemas
        )
    if not operation["parameters"]:
        del operation["parameters"]
    return operation


def _path_parameters(route: Route) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        }
        for name in _PATH_PARAM.findall(route.path)
    ]


def _query_parameters(
    route: Route,
    refs: Refs,
    schemas: dict[str, Any],
) -> list[dict[str, Any]]:
    if route.query is None:
        return []
    model = resolve(refs[(route.query, "validation")], schemas)
    required = set(model.get("required", ()))
    parameters = []
    for name, field in model.get("properties", {}).items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _without_docs(field),
        }
        if "description" in field:
            parameter["description"] = field["description"]
        if field.get("examples"):
            parameter["example"] = field["examples"][0]
        parameters.append(parameter)
    return parameters


def _without_docs(field: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in field.items() if k not in ("title", "description")}


def _idempotency_parameter() -> dict[str, Any]:
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": (
            "Makes a retried POST safe: the same key and body return the first "
            "response; the same key with a different body answers 409."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    }


def _request_body(ref: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    model = resolve(ref, schemas)
    return {
        "required": bool(model.get("required")),
        "content": {
            "application/json": {"schema": ref, "example": example_of(ref, schemas)}
        },
    }


def _responses(route: Route, refs: Refs) -> dict[str, Any]:
    headers = _success_headers(route)
    success: dict[str, Any] = {
        "description": _STATUS_TEXT.get(route.status, "Success"),
        "headers": headers,
    }
    if route.response is not None:
        schema = refs[(route.response, "serialization")]
        success["content"] = {route.media_type: {"schema": schema}}
    elif route.status != 204:
        success["content"] = {route.media_type: {"schema": _media_schema(route)}}
    responses: dict[str, Any] = {str(route.status): success}
    problem = refs[(Problem, "serialization")]
    for status in sorted(set(route.errors)):
        responses[str(status)] = _problem_response(status, problem, route)
    return responses


def _media_schema(route: Route) -> dict[str, Any]:
    if route.media_type.startswith("text/"):
        return {"type": "string"}
    if "json" in route.media_type:
        return {"type": "object"}
    return {"type": "string", "contentMediaType": route.media_type}


def _success_headers(route: Route) -> dict[str, Any]:
    names = ["X-Request-Id"] + ([] if route.public else list(_RATE_LIMIT_HEADERS))
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _problem_response(
    status: int, problem: dict[str, Any], route: Route
) -> dict[str, Any]:
    headers = _success_headers(route)
    if status in _RETRY_STATUSES:
        headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    return {
        "description": _STATUS_TEXT.get(status, "Error"),
        "headers": headers,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": problem}},
    }
