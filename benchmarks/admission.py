"""Admission: DynamoDB round trips per request, and the in-process overhead.

Run under moto, in one process, through the Lambda entry point (``app(event,
context)`` with an API Gateway proxy event), so Chalice's routing, the edge
middleware, validation, the access log and the byte count are all included.

1. Round trips, counted with botocore's ``before-call`` event on the service's
   DynamoDB client: for ``Gateway.admit`` alone, and for whole requests to a
   few endpoints. Admission's own cost is its time minus its write's, the
   write being issued again directly.
2. Latency: each authenticated ``GET /api/usage`` is timed, then the very
   DynamoDB calls it made (recorded with their parameters) are issued again
   directly on the same client and timed. The ratio of the medians is what the service
   adds on top of its store calls; moto answers in-process, far faster than
   DynamoDB over a network, so against AWS the ratio would be closer to 1.
"""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from collections import Counter
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError

from benchmarks.harness import (
    SOURCE_IP,
    CallRecorder,
    Timings,
    lambda_context,
    proxy_event,
    sandbox,
)
from benchmarks.report import Report, summary
from chalicelib import aws
from chalicelib.admission.gateway import Credentials
from chalicelib.keys.models import CreateKeyRequest
from chalicelib.policy import Scope, Tier
from chalicelib.services import services

WARMUP = 10


def run(requests: int = 150) -> Report:
    """Measure admission round trips and overhead with ``requests`` samples each."""
    with sandbox():
        from app import app

        client = aws.dynamodb()
        trips = _admission_trips(client, requests)
        endpoints = _endpoint_trips(app, client, max(10, requests // 10))
        latency = _latency(app, client, requests)
    figures = {"admission": trips, "endpoints": endpoints, "latency": latency}
    return Report(
        name="admission",
        title="Admission (moto, in-process)",
        columns=("measure", "value", "detail"),
        rows=_rows(figures),
        figures=figures,
    )


def _key(tier: Tier = Tier.ENTERPRISE) -> dict[str, str]:
    # Each phase gets its own key, so no phase runs into another's burst window.
    created = services().keys.create_unchecked(
        CreateKeyRequest(
            name="bench", owner_id="org_bench", permissions=[Scope.ADMIN], tier=tier
        ),
        created_by="bench",
    )
    return {"X-API-Key-ID": created.key_id, "X-API-Key-Secret": created.key_secret}


def _admission_trips(client: Any, requests: int) -> dict[str, Any]:
    headers = _key()
    credentials = Credentials(
        headers["X-API-Key-ID"], headers["X-API-Key-Secret"], SOURCE_IP
    )
    gateway = services().gateway
    per_request: list[int] = []
    admitted, bare = Timings(), Timings()
    with CallRecorder(client) as recorder:
        for _ in range(requests):
            recorder.clear()
            with admitted.measure():
                gateway.admit(credentials, Scope.READ_THREATS)
            per_request.append(recorder.total())
            _replay(client, _copied(recorder.calls), bare)
    return {
        "calls_per_admission": sum(per_request) / requests,
        "max": max(per_request),
        "n": requests,
        **_compare("admit", admitted, bare),
    }


def _compare(label: str, measured: Timings, bare: Timings) -> dict[str, Any]:
    """Summarize ``measured`` against ``bare``: medians, ratio and difference."""
    figures: dict[str, Any] = {}
    for clock in ("wall", "cpu"):
        mine = summary(getattr(measured, clock))
        store = summary(getattr(bare, clock))
        figures[clock] = {
            label: mine,
            "bare_calls": store,
            "ratio_of_medians": round(mine["median_ms"] / store["median_ms"], 2),
            "overhead_ms": round(mine["median_ms"] - store["median_ms"], 3),
        }
    return figures


def _copied(calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, Any]]:
    return [(op, copy.deepcopy(params)) for op, params in calls]


def _endpoint_events(headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    body = json.dumps(
        {"name": "bench", "owner_id": "org_bench", "permissions": ["READ_THREATS"]}
    )
    json_headers = {**headers, "Content-Type": "application/json"}
    return {
        "GET /api/health": proxy_event("GET", "/api/health", {}),
        "GET /api/usage": proxy_event("GET", "/api/usage", headers),
        "GET /api/keys": proxy_event("GET", "/api/keys", headers),
        "POST /api/keys": proxy_event("POST", "/api/keys", json_headers, body),
    }


def _endpoint_trips(app: Any, client: Any, requests: int) -> dict[str, Any]:
    events = _endpoint_events(_key())
    results: dict[str, Any] = {}
    for label, event in events.items():
        most = 0
        with CallRecorder(client) as recorder:
            for _ in range(requests):
                before = recorder.total()
                _serve(app, event)
                most = max(most, recorder.total() - before)
            by_call = Counter(_call_label(op, params) for op, params in recorder.calls)
            results[label] = {
                "calls_per_request": recorder.total() / requests,
                "max": most,
                "by_call": {c: n / requests for c, n in sorted(by_call.items())},
                "n": requests,
            }
    return results


def _call_label(operation: str, params: dict[str, Any]) -> str:
    """Name a call by its operation and the tables it touches (``UpdateItem keys``)."""
    tables = {params["TableName"]} if "TableName" in params else set()
    tables |= set(params.get("RequestItems", {}))
    for item in params.get("TransactItems", []):
        tables |= {part["TableName"] for part in item.values()}
    short = sorted(t.split("-", 2)[-1] for t in tables)
    return " ".join([operation, "+".join(short)]).strip()


def _serve(app: Any, event: dict[str, Any], timings: Timings | None = None) -> None:
    """Serve ``event`` as Lambda would, timing only the app."""
    context = {**event["requestContext"], "requestId": str(uuid.uuid4())}
    fresh, invocation = {**event, "requestContext": context}, lambda_context()
    with timings.measure() if timings else contextlib.nullcontext():
        response = app(fresh, invocation)
    if response["statusCode"] >= 400:
        raise RuntimeError(f"benchmark request failed: {response}")


def _latency(app: Any, client: Any, requests: int) -> dict[str, Any]:
    event = proxy_event("GET", "/api/usage", _key())
    for _ in range(WARMUP):
        _serve(app, event)
    served, bare, calls = Timings(), Timings(), []
    with CallRecorder(client) as recorder:
        for _ in range(requests):
            recorder.clear()
            _serve(app, event, served)
            calls.append(len(recorder.calls))
            _replay(client, _copied(recorder.calls), bare)
    return {
        "calls_per_request": sum(calls) / requests,
        **_compare("request", served, bare),
    }


def _replay(client: Any, calls: list[tuple[str, Any]], timings: Timings) -> None:
    """Issue ``calls`` directly on the service's client, timing them together."""
    methods = [(getattr(client, xform_name(op)), params) for op, params in calls]
    with timings.measure():
        for method, params in methods:
            try:
                method(**params)
            except ClientError as exc:
                # A replayed limiter write can find its slot moved on: a refused
                # condition is still one round trip, which is what is timed.
                code = exc.response["Error"]["Code"]
                if code != "ConditionalCheckFailedException":
                    raise


def _rows(figures: dict[str, Any]) -> list[tuple[str, ...]]:
    trips = figures["admission"]
    rows: list[tuple[str, ...]] = [
        (
            "DynamoDB calls per admission (Gateway.admit)",
            f"{trips['calls_per_admission']:.2f}",
            f"max {trips['max']}, n={trips['n']}",
        )
    ]
    for label, result in figures["endpoints"].items():
        detail = ", ".join(f"{c} {n:.2f}" for c, n in result["by_call"].items())
        rows.append(
            (
                f"DynamoDB calls per {label}",
                f"{result['calls_per_request']:.2f}",
                detail,
            )
        )
    latency = figures["latency"]
    for clock, name in (("wall", "wall clock"), ("cpu", "CPU time")):
        request, store = latency[clock]["request"], latency[clock]["bare_calls"]
        rows += [
            (
                f"GET /api/usage in-process, median {name}",
                f"{request['median_ms']:.2f} ms",
                f"p95 {request['p95_ms']:.2f} ms, n={request['n']}",
            ),
            (
                f"its DynamoDB calls issued directly, median {name}",
                f"{store['median_ms']:.2f} ms",
                f"p95 {store['p95_ms']:.2f} ms, "
                f"{latency['calls_per_request']:.2f} calls per request",
            ),
            (
                f"overhead ratio (request / its calls), {name}",
                f"{latency[clock]['ratio_of_medians']:.2f}x",
                f"overhead {latency[clock]['overhead_ms']:.2f} ms per request",
            ),
        ]
    admit = trips["cpu"]
    rows.append(
        (
            "admission beyond its write, median CPU time",
            f"{admit['overhead_ms']:.2f} ms",
            f"admit {admit['admit']['median_ms']:.2f} ms"
            f" - its UpdateItem {admit['bare_calls']['median_ms']:.2f} ms",
        )
    )
    return rows
