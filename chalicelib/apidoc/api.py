"""Handlers of the documentation routes: the OpenAPI and AsyncAPI documents,
the docs page, the SDK zips and the Postman collection.

Every answer is built once per process (the registry does not change while it
runs) and per base URL, since the documents name the server they describe.

The modules that build them (the OpenAPI and AsyncAPI builders, the Jinja2
docs page and SDK templates) are imported by the handlers that use them, not
with this module: ``app.py`` imports every handler, and their import would
add tens of milliseconds to every cold start, for routes few requests call.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from chalice.app import Response

from chalicelib.errors import NotFound
from chalicelib.http.call import Call
from chalicelib.services import services

if TYPE_CHECKING:
    from chalicelib.apidoc.docs_page import Page
    from chalicelib.apidoc.openapi import Document

JSON = "application/json"
CACHE = "public, max-age=300"


@cache
def openapi_document() -> Document:
    """Return the OpenAPI document of every registered route."""
    from chalicelib.apidoc.openapi import build_openapi

    # The registry imports this module for its handlers, so read it on first use.
    from chalicelib.routes import REGISTRY

    return build_openapi(REGISTRY)


def base_url(call: Call) -> str:
    """Return the URL clients call, before ``/api``."""
    configured = services().settings.public_url
    if configured:
        return configured.rstrip("/")
    headers = {k.lower(): v for k, v in call.headers.items()}
    host = headers.get("host", "127.0.0.1")
    scheme = headers.get("x-forwarded-proto", "http").split(",")[0].strip()
    return f"{scheme}://{host}"


def ws_url(call: Call) -> str:
    """Return the WebSocket URL clients connect to."""
    configured = services().settings.public_ws_url
    if configured:
        return configured
    return "ws" + base_url(call).removeprefix("http") + "/ws"


def get_openapi(call: Call) -> Response:
    from chalicelib.apidoc.openapi import with_server

    return _json(with_server(openapi_document(), base_url(call)))


def get_asyncapi(call: Call) -> Response:
    return _json(_asyncapi(ws_url(call)))


def get_postman_collection(call: Call) -> Response:
    return _json(_postman(base_url(call)))


def get_docs(call: Call) -> Response:
    page = _docs(base_url(call), ws_url(call))
    return Response(
        body=page.html,
        status_code=200,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": CACHE,
            "Content-Security-Policy": page.content_security_policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def get_sdk(call: Call) -> Response:
    from chalicelib.sdks.generator import LANGUAGES, PACKAGE_NAMES

    language = call.path_params["language"]
    if language not in LANGUAGES:
        raise NotFound(
            f"no SDK for {language!r}; choose one of: {', '.join(LANGUAGES)}"
        )
    return Response(
        body=_sdk_zip(language, base_url(call)),
        status_code=200,
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": (
                f'attachment; filename="{PACKAGE_NAMES[language]}.zip"'
            ),
            "Cache-Control": CACHE,
        },
    )


def _json(document: dict[str, Any]) -> Response:
    return Response(
        body=json.dumps(document, ensure_ascii=False),
        status_code=200,
        headers={"Content-Type": JSON, "Cache-Control": CACHE},
    )


@cache
def _asyncapi(ws: str) -> dict[str, Any]:
    from chalicelib.apidoc.asyncapi import build_asyncapi

    return build_asyncapi(ws)


@cache
def _postman(base: str) -> dict[str, Any]:
    from chalicelib.apidoc import postman

    return postman.collection(openapi_document(), base)


@cache
def _docs(base: str, ws: str) -> Page:
    from chalicelib.apidoc import docs_page

    return docs_page.render(openapi_document(), _asyncapi(ws), base)


@cache
def _sdk_zip(language: str, base: str) -> bytes:
    from chalicelib.sdks.generator import render_sdk, zip_sdk

    return zip_sdk(language, render_sdk(language, openapi_document(), base))
