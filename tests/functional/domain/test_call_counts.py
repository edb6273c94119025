"""DynamoDB calls per request, counted with botocore events, at 100 and 5,000
stored threats: never a Scan, and a bounded number whatever the data size."""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.dynamo import to_item
from chalicelib.policy import Scope, Tier
from chalicelib.threats import listing
from chalicelib.threats.models import CreateThreatRequest, Severity, ThreatType
from tests.functional.conftest import make_key
from tests.functional.domain.conftest import Api, body, threat_body

# Admission (1) + response bytes (1) + request counter (1) around every call.
EDGE = 3
BOUNDS = {
    "list_threats": EDGE + 1 + listing.MAX_QUERIES,
    "list_threats_filtered": EDGE + 1 + listing.MAX_QUERIES,
    "list_threats_page_2": EDGE + 1 + listing.MAX_QUERIES,
    "get_threat": EDGE + 1,
    "create_threat": EDGE + 1,
    "create_threat_idempotent": EDGE + 3,
    "resolve_threat": EDGE + 2,
    "analytics_30d": EDGE + 1,
    "api_requests_30d": EDGE + 8,
    "stats_30d": EDGE + 8,
    "create_vr_session": EDGE + 1,
    "list_vr_sessions": EDGE + 4,
    "get_vr_session": EDGE + 1,
    "end_vr_session": EDGE + 2,
}


class CallCounter:
    """Counts DynamoDB operations made through the service's client."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        aws.dynamodb().meta.events.register("before-call.dynamodb", self._seen)

    def _seen(self, model: Any, **kwargs: Any) -> None:
        self.calls.append(model.name)

    def measure(self, request: Callable[[], Any]) -> tuple[Any, Counter[str]]:
        self.calls.clear()
        response = request()
        return response, Counter(self.calls)


def _seed(svc: services_module.Services, count: int, now: float) -> None:
    """Write ``count`` threats over the last 60 days straight into the table."""
    client = aws.dynamodb()
    rng = random.Random(count)
    rows, months = [], set()
    for _ in range(count):
        threat_id = "thr_" + secrets.token_hex(12)
        detected_ms = int((now - rng.uniform(0, 60 * 86_400)) * 1000)
        request = CreateThreatRequest(
            type=rng.choice(list(ThreatType)),
            severity=rng.choice(list(Severity)),
            target="host",
        )
        keys = listing.index_keys(threat_id, request, detected_ms)
        months.add(keys["tp"])
        resolved = rng.random() < 0.3
        if resolved:
            keys["xp"] = f"resolved#{keys['tp']}"
        rows.append(
            {
                "threat_id": threat_id,
                "type": request.type.value,
                "severity": request.severity.value,
                "status": "resolved" if resolved else "active",
                "target": "host",
                "description": "",
                "indicators": [],
                "detected_ms": detected_ms,
                "created_ms": detected_ms,
                **keys,
            }
        )
    table = svc.settings.threats_table
    for offset in range(0, len(rows), 25):
        batch = [
            {"PutRequest": {"Item": to_item(r)}} for r in rows[offset : offset + 25]
        ]
        client.batch_write_item(RequestItems={table: batch})
    client.update_item(
        TableName=svc.settings.aggregates_table,
        Key={"pk": {"S": listing.CATALOG_KEY}},
        UpdateExpression="ADD months :m",
        ExpressionAttributeValues={":m": {"SS": sorted(months)}},
    )


def _measure_all(
    api: Api, counter: CallCounter, keys: dict[str, dict[str, str]]
) -> dict[str, Counter[str]]:
    writer, vr, admin = keys["writer"], keys["vr"], keys["admin"]
    results: dict[str, Counter[str]] = {}

    def run(name: str, request: Callable[[], Any], status: int = 200) -> Any:
        response, calls = counter.measure(request)
        assert response.status_code == status, (name, response.body)
        results[name] = calls
        return response

    first = run("list_threats", lambda: api.get("/api/threats?limit=50", writer))
    cursor = body(first)["next_cursor"]
    assert cursor
    run(
        "list_threats_page_2",
        lambda: api.get(f"/api/threats?limit=50&cursor={cursor}", writer),
    )
    run(
        "list_threats_filtered",
        lambda: api.get(
            "/api/threats?type=insider&severity=critical&status=resolved&limit=100",
            writer,
        ),
    )
    created = run(
        "create_threat", lambda: api.post("/api/threats", writer, threat_body()), 201
    )
    threat_id = body(created)["threat_id"]
    run(
        "create_threat_idempotent",
        lambda: api.post(
            "/api/threats",
            writer,
            threat_body(),
            {"Idempotency-Key": secrets.token_hex(8)},
        ),
        201,
    )
    run("get_threat", lambda: api.get(f"/api/threats/{threat_id}", writer))
    run("resolve_threat", lambda: api.post(f"/api/threats/{threat_id}/resolve", writer))
    run(
        "analytics_30d",
        lambda: api.get("/api/analytics/threats_by_severity?period=30d", writer),
    )
    run(
        "api_requests_30d",
        lambda: api.get("/api/analytics/api_requests?period=30d", writer),
    )
    run("stats_30d", lambda: api.get("/api/stats?period=30d", admin))
    session = run(
        "create_vr_session",
        lambda: api.post(
            "/api/vr/sessions", vr, {"user_id": "u", "environment": "training"}
        ),
        201,
    )
    session_id = body(session)["session_id"]
    run(
        "list_vr_sessions",
        lambda: api.get("/api/vr/sessions?status=ended&limit=100", vr),
    )
    run("get_vr_session", lambda: api.get(f"/api/vr/sessions/{session_id}", vr))
    run("end_vr_session", lambda: api.post(f"/api/vr/sessions/{session_id}/end", vr))
    return results


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_calls_per_request_are_bounded_and_never_scan(
    api: Api, domain_svc: services_module.Services, clock: FixedClock
) -> None:
    keys = {
        "writer": make_key(
            domain_svc,
            [Scope.READ_THREATS, Scope.WRITE_THREATS, Scope.READ_ANALYTICS],
            Tier.ENTERPRISE,
        ),
        "vr": make_key(
            domain_svc,
            [Scope.READ_VR_SESSIONS, Scope.WRITE_VR_SESSIONS],
            Tier.ENTERPRISE,
            owner="org_vr",
        ),
        "admin": make_key(domain_svc, [Scope.ADMIN], Tier.ENTERPRISE, owner="org_a"),
    }
    counter = CallCounter()
    _seed(domain_svc, 100, clock.now())
    small = _measure_all(api, counter, keys)
    _seed(domain_svc, 4_900, clock.now())
    large = _measure_all(api, counter, keys)

    print(f"\n{'endpoint':28} {'100':>4} {'5000':>5} bound  operations at 5,000")
    for name, bound in BOUNDS.items():
        at_small, at_large = sum(small[name].values()), sum(large[name].values())
        print(f"{name:28} {at_small:>4} {at_large:>5} {bound:>5}  {dict(large[name])}")
        for calls in (small[name], large[name]):
            assert "Scan" not in calls, name
            assert sum(calls.values()) <= bound, (name, calls)
    for name in BOUNDS:
        if not name.startswith("list_threats"):
            assert small[name] == large[name], name
    started = datetime.fromtimestamp(clock.now(), UTC)
    assert started.year >= 2026
