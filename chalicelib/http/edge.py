"""The HTTP edge: Chalice middleware and view functions around every route.

For each request the middleware

1. finds the route in the registry and answers CORS preflights;
2. refuses oversized bodies (413);
3. admits the key through the gateway's single conditional write, unless the
   route is public;
4. lets Chalice run the view (which validates input and calls the handler);
5. rewrites any error as a problem document, adds the rate-limit, CORS and
   request-id headers, counts the response bytes and the request (one
   counter write), and logs one line.

Every POST view runs under the idempotency guard: with an ``Idempotency-Key``
header, a retry gets the first answer back instead of repeating the work.
"""

from __future__ import annotations

import contextvars
import json
import secrets
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from chalice.app import Chalice, Request, Response
from pydantic import BaseModel

from chalicelib import logs, metrics
from chalicelib.admission.gateway import Credentials, Principal
from chalicelib.errors import JupiterError, PayloadTooLarge
from chalicelib.http import cors, problems
from chalicelib.http.access_log import clean, log_request
from chalicelib.http.call import Call
from chalicelib.http.parsing import parse_body, validate
from chalicelib.http.ratelimit_headers import rate_limit_headers
from chalicelib.http.registry import Registry, Route
from chalicelib.idempotency import HEADER as IDEMPOTENCY_HEADER
from chalicelib.idempotency import fingerprint
from chalicelib.services import Services, services


class Admitted(NamedTuple):
    """What the middleware hands the view: the request id and the key."""

    request: Request
    request_id: str
    principal: Principal | None


_admitted: contextvars.ContextVar[Admitted] = contextvars.ContextVar("admitted")


class Edge:
    """Mounts a registry on a Chalice app with admission middleware."""

    def __init__(self, app: Chalice, registry: Registry) -> None:
        self._app = app
        self._registry = registry

    def mount(self) -> None:
        self._app.register_middleware(self.middleware, "http")
        self._registry.mount(self._app, self.view)

    def middleware(
        self, request: Request, get_response: Callable[[Request], Response]
    ) -> Response:
        request_id = _request_id(request)
        # The request id is the correlation id of all the request causes; its
        # metrics (admission, quota) are written once, when it is answered.
        with logs.bound(correlation_id=request_id), metrics.scope():
            return self._handle(request, get_response, request_id)

    def _handle(
        self,
        request: Request,
        get_response: Callable[[Request], Response],
        request_id: str,
    ) -> Response:
        started = time.perf_counter()
        principal: Principal | None = None
        # Looked up once per request: each lookup validates the environment.
        current: Services | None = None
        route = self._registry.find(
            str(request.context.get("resourcePath", "")), request.method
        )
        try:
            current = services()
            principal = self._admit(current, request, route)
            _admitted.set(Admitted(request, request_id, principal))
            response = get_response(request)
        except JupiterError as error:
            response = problems.from_error(error, request_id)
            usage = getattr(error, "usage", None)
            if usage is not None:
                # The service's clock, not time.time(): the one admission used.
                now = (current or services()).clock.now()
                response.headers.update(rate_limit_headers(usage, now))
        if response.status_code >= 400 and not problems.is_problem(response):
            response = problems.from_chalice(response, request_id)
        current = current or services()
        self._finish(current, request, response, request_id, principal, route)
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        _count(current, request, response, principal, route, latency_ms)
        log_request(
            request_id=request_id,
            key_id=principal.key_id if principal else None,
            route=route.operation if route else None,
            method=request.method,
            path=clean(request.path),
            status=response.status_code,
            latency_ms=latency_ms,
            source_ip=_source_ip(request),
            user_agent=clean(request.headers.get("user-agent")),
        )
        return response

    def _admit(
        self, current: Services, request: Request, route: Route | None
    ) -> Principal | None:
        if route is None or request.method == "OPTIONS":
            return None
        body = _raw_body(request)
        limit = current.settings.max_body_bytes
        if len(body) > limit:
            raise PayloadTooLarge(
                f"the body is {len(body)} bytes; the limit is {limit}"
            )
        if route.public:
            return None
        credentials = Credentials(
            key_id=request.headers.get("x-api-key-id"),
            secret=request.headers.get("x-api-key-secret"),
            source_ip=_source_ip(request),
        )
        return current.gateway.admit(credentials, route.scope)

    def _finish(
        self,
        current: Services,
        request: Request,
        response: Response,
        request_id: str,
        principal: Principal | None,
        route: Route | None,
    ) -> None:
        origin = request.headers.get("origin")
        allowed = current.settings.cors_origins
        if request.method == "OPTIONS":
            response.headers.update(cors.preflight(origin, allowed))
        else:
            response.headers.update(cors.grant(origin, allowed))
        response.headers["X-Request-Id"] = request_id
        if principal is None:
            return
        now = current.clock.now()
        response.headers.update(rate_limit_headers(principal.usage, now))
        size = _body_size(response)
        if size:
            current.meter.record(principal.key_id, size, request_id)

    def view(self, route: Route) -> Callable[..., Any]:
        """Return the Chalice view function for ``route``."""

        def handle(**path_params: str) -> Response:
            admitted = _admitted.get()
            try:
                call = self._call(route, admitted, path_params)
                if route.method != "POST":
                    return _reply(route, route.handler(call))
                return _once(route, call, admitted.request)
            except JupiterError as error:
                return problems.from_error(error, admitted.request_id)

        return handle

    def _call(
        self, route: Route, admitted: Admitted, path_params: dict[str, str]
    ) -> Call:
        # The request comes from the middleware, not ``app.current_request``:
        # that attribute is shared by every thread of a local server.
        request = admitted.request
        raw = _raw_body(request)
        body = parse_body(route.body, raw) if route.body else None
        query = (
            validate(route.query, dict(request.query_params or {}), "query")
            if route.query
            else None
        )
        return Call(
            request_id=admitted.request_id,
            source_ip=_source_ip(request),
            user_agent=clean(request.headers.get("user-agent")) or "",
            path_params=path_params,
            headers=dict(request.headers),
            principal=admitted.principal,
            body=body,
            query=query,
            raw_body=raw,
        )


def _once(route: Route, call: Call, request: Request) -> Response:
    """Run a POST under its Idempotency-Key, if it has one."""
    key = next(
        (v for k, v in call.headers.items() if k.lower() == IDEMPOTENCY_HEADER.lower()),
        None,
    )
    if key is None:
        # Most POSTs carry no key: no fingerprint, no idempotency store.
        return _reply(route, route.handler(call))
    owner = call.principal.owner_id if call.principal else "public"
    return services().idempotency.run(
        owner,
        key,
        fingerprint(request.method, request.path, call.raw_body),
        lambda: _reply(route, route.handler(call)),
    )


def _count(
    current: Services,
    request: Request,
    response: Response,
    principal: Principal | None,
    route: Route | None,
    latency_ms: float,
) -> None:
    """Count the request in the hour's aggregates (one write; never raises)."""
    if route is None or route.public or request.method == "OPTIONS":
        return
    current.requests.record(
        route.operation,
        response.status_code,
        latency_ms,
        principal.key_id if principal else None,
        principal.tier.value if principal else None,
    )


def _reply(route: Route, result: BaseModel | Response) -> Response:
    if isinstance(result, Response):
        return result
    return Response(
        body=result.model_dump_json(exclude_none=False),
        status_code=route.status,
        headers={"Content-Type": "application/json"},
    )


def _raw_body(request: Request) -> bytes:
    raw = request.raw_body or b""
    return raw.encode("utf-8") if isinstance(raw, str) else raw


def _request_id(request: Request) -> str:
    gateway_id = request.context.get("requestId")
    if (
        isinstance(gateway_id, str)
        and 8 <= len(gateway_id) <= 64
        and gateway_id.isascii()
    ):
        return "req_" + "".join(c for c in gateway_id if c.isalnum() or c == "-")
    return "req_" + secrets.token_hex(12)


def _source_ip(request: Request) -> str:
    identity = request.context.get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


def _body_size(response: Response) -> int:
    body = response.body
    if body is None:
        return 0
    if isinstance(body, bytes):
        return len(body)
    if isinstance(body, str):
        return len(body.encode("utf-8"))
    return len(json.dumps(body).encode("utf-8"))
