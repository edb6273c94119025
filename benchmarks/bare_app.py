"""The load benchmark's baseline: a bare Chalice app on the same local server.

Same paths and methods as the operations of the load mix, served by the very
``local.server.LocalServer`` that ``make run`` uses (same thread pool, same
proxy events), but with no key check, no limiter, no validation beyond
reading the body, and no store at all: every answer is made up in memory,
shaped like the real one (a listing has ``limit`` threats). So the baseline
is the ceiling of this machine's server emulation, Chalice and clients, and
the ratio to it is what the service (admission, validation, DynamoDB on the
serialized moto server, the outbox) costs on top.

``python -m benchmarks.bare_app PORT`` serves it on 127.0.0.1 until SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import secrets
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice, Request, Response

from local.server import LocalServer

app = Chalice(app_name="jupiter-bare")

# Chalice's ``app.current_request`` is shared by every thread of the local
# server; the middleware hands each request to its view through this instead.
_request: contextvars.ContextVar[Request] = contextvars.ContextVar("request")


@app.middleware("http")
def _keep_request(event: Request, get_response: Callable[[Request], Response]) -> Any:
    _request.set(event)
    return get_response(event)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _threat(threat_id: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "threat_id": threat_id or "thr_" + secrets.token_hex(12),
        "type": "malware",
        "severity": "high",
        "status": "active",
        "source_ip": "203.0.113.7",
        "target": "host-001",
        "description": "reported by the load benchmark",
        "indicators": [secrets.token_hex(16)],
        "detected_at": _now(),
        "resolved_at": None,
        "resolution": None,
        "created_at": _now(),
        **fields,
    }


def _session(session_id: str, status: str, **fields: Any) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "owner_id": "org_load",
        "user_id": "analyst_1",
        "environment": "training",
        "config": {"threat_id": None, "auto_load": True, "max_participants": 8},
        "status": status,
        "join_url": f"jupiter://session/{session_id}",
        "created_at": _now(),
        "ended_at": None,
        "duration_seconds": None,
        **fields,
    }


def _body() -> dict[str, Any]:
    raw = _request.get().raw_body
    parsed: dict[str, Any] = json.loads(raw) if raw else {}
    return parsed


@app.route("/api/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "version": "bare", "stage": "bare", "store": "reachable"}


@app.route("/api/usage")
def usage() -> dict[str, Any]:
    return {"key_id": "jptr_bare", "tier": "ENTERPRISE", "requests_hour": {}}


@app.route("/api/threats", methods=["GET"])
def list_threats() -> dict[str, Any]:
    query = _request.get().query_params or {}
    limit = int(query.get("limit", "50"))
    return {
        "threats": [_threat() for _ in range(limit)],
        "next_cursor": secrets.token_urlsafe(48),
    }


@app.route("/api/threats/{threat_id}", methods=["GET"])
def get_threat(threat_id: str) -> dict[str, Any]:
    return _threat(threat_id)


@app.route("/api/threats", methods=["POST"])
def create_threat() -> Response:
    return Response(body=_threat(**_body()), status_code=201)


@app.route("/api/vr/sessions", methods=["POST"])
def create_session() -> Response:
    session = _session("vrs_" + secrets.token_hex(12), "active", **_body())
    return Response(body=session, status_code=201)


@app.route("/api/vr/sessions/{session_id}/end", methods=["POST"])
def end_session(session_id: str) -> dict[str, Any]:
    return _session(session_id, "ended", ended_at=_now(), duration_seconds=0)


@app.route("/api/analytics/{metric}")
def analytics(metric: str) -> dict[str, Any]:
    period = (_request.get().query_params or {}).get("period", "24h")
    return {"metric": metric, "period": period, "value": 0, "granularity": "hour"}


async def serve(chalice_app: Chalice, port: int) -> None:
    """Serve ``chalice_app`` with the local stack's server until SIGTERM/SIGINT."""
    server = LocalServer(chalice_app, "127.0.0.1", port, stage="bare")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    await stop.wait()
    await server.stop()


if __name__ == "__main__":
    asyncio.run(serve(app, int(sys.argv[1])))
