"""Every REST route of the service, declared once."""

from __future__ import annotations

from chalicelib import health, usage
from chalicelib.apidoc import api as apidoc
from chalicelib.http.registry import Registry, Route
from chalicelib.keys import api as keys
from chalicelib.keys.models import (
    CreateKeyRequest,
    KeyList,
    KeyView,
    KeyWithSecret,
    ListKeysQuery,
    RotateKeyRequest,
)

ROUTES = [
    Route(
        "get_health",
        "GET",
        "/api/health",
        health.health,
        "Service health and store reachability",
        "System",
        public=True,
        response=health.Health,
    ),
    Route(
        "create_key",
        "POST",
        "/api/keys",
        keys.create_key,
        "Create an API key (the secret is shown once)",
        "Keys",
        body=CreateKeyRequest,
        response=KeyWithSecret,
        status=201,
        errors=(400, 401, 403, 409, 413, 415, 429),
    ),
    Route(
        "list_keys",
        "GET",
        "/api/keys",
        keys.list_keys,
        "List an owner's keys (never their secrets)",
        "Keys",
        query=ListKeysQuery,
        response=KeyList,
        errors=(400, 401, 429),
    ),
    Route(
        "revoke_key",
        "DELETE",
        "/api/keys/{key_id}",
        keys.revoke_key,
        "Revoke a key; it stops working on its next request",
        "Keys",
        response=KeyView,
        errors=(401, 403, 404, 429),
    ),
    Route(
        "rotate_key",
        "POST",
        "/api/keys/{key_id}/rotate",
        keys.rotate_key,
        "Give a key a new secret, optionally keeping the old one for a grace period",
        "Keys",
        body=RotateKeyRequest,
        response=KeyWithSecret,
        errors=(400, 401, 403, 404, 429),
    ),
    Route(
        "get_usage",
        "GET",
        "/api/usage",
        usage.get_usage,
        "This key's use of each limit and what remains",
        "Usage",
        response=usage.UsageReport,
        errors=(401, 429),
    ),
    Route(
        "get_openapi",
        "GET",
        "/api/openapi.json",
        apidoc.get_openapi,
        "This API's OpenAPI 3.1 document",
        "Documentation",
        public=True,
    ),
    Route(
        "get_asyncapi",
        "GET",
        "/api/asyncapi.json",
        apidoc.get_asyncapi,
        "The WebSocket protocol's AsyncAPI 3 document",
        "Documentation",
        public=True,
    ),
    Route(
        "get_postman_collection",
        "GET",
        "/api/postman.json",
        apidoc.get_postman_collection,
        "A Postman collection of every endpoint",
        "Documentation",
        public=True,
    ),
    Route(
        "get_docs",
        "GET",
        "/api/docs",
        apidoc.get_docs,
        "The interactive documentation page",
        "Documentation",
        public=True,
        media_type="text/html",
    ),
    Route(
        "get_sdk",
        "GET",
        "/api/sdks/{language}",
        apidoc.get_sdk,
        "A generated client SDK (python, javascript or unity) as a zip",
        "Documentation",
        public=True,
        media_type="application/zip",
        description=(
            "Send `Accept: application/zip` (or `*/*`): API Gateway returns "
            "binary bodies only to requests that accept them."
        ),
        errors=(400, 404),
    ),
]

REGISTRY = Registry(ROUTES)
