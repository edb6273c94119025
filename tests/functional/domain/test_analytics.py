"""Analytics and stats from counters, checked against known inputs."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.policy import Scope, Tier
from tests.functional.conftest import make_key
from tests.functional.domain.conftest import Api, body, threat_body

HOUR, DAY = 3_600, 86_400


def _report(
    api: Api,
    headers: dict[str, str],
    kind: str,
    severity: str,
    ago: float,
    clock: FixedClock,
) -> dict:
    detected = datetime.fromtimestamp(clock.now() - ago, UTC).isoformat()
    response = api.post(
        "/api/threats",
        headers,
        threat_body(type=kind, severity=severity, detected_at=detected),
    )
    assert response.status_code == 201, response.body
    return dict(body(response))


def _metric(api: Api, headers: dict[str, str], metric: str, period: str) -> dict:
    response = api.get(f"/api/analytics/{metric}?period={period}", headers)
    assert response.status_code == 200, response.body
    return dict(body(response))


def test_threat_metrics_match_known_inputs(
    api: Api, writer: dict[str, str], clock: FixedClock
) -> None:
    now_threats = [
        _report(api, writer, "malware", "high", 0, clock),
        _report(api, writer, "phishing", "low", 0, clock),
        _report(api, writer, "malware", "critical", 0, clock),
    ]
    ddos = _report(api, writer, "ddos", "medium", 2 * HOUR, clock)
    _report(api, writer, "insider", "low", 3 * DAY, clock)
    _report(api, writer, "ransomware", "critical", 20 * DAY, clock)

    counts = {
        p: _metric(api, writer, "threat_count", p)["value"]
        for p in ("1h", "24h", "7d", "30d")
    }
    assert counts == {"1h": 3, "24h": 4, "7d": 5, "30d": 6}
    severity = _metric(api, writer, "threats_by_severity", "30d")
    assert severity["breakdown"] == {"low": 2, "medium": 1, "high": 1, "critical": 2}
    kinds = _metric(api, writer, "threats_by_type", "30d")["breakdown"]
    assert {k: v for k, v in kinds.items() if v} == {
        "malware": 2,
        "phishing": 1,
        "ddos": 1,
        "insider": 1,
        "ransomware": 1,
    }
    assert sum(kinds.values()) == 6

    clock.advance(600)
    for threat in (now_threats[1], ddos):
        resolved = api.post(f"/api/threats/{threat['threat_id']}/resolve", writer)
        assert resolved.status_code == 200
    mttr = _metric(api, writer, "mean_time_to_resolve", "24h")
    assert mttr["value"] == (600 + 2 * HOUR + 600) / 2
    assert mttr["unit"] == "seconds"
    assert mttr["breakdown"] == {"resolved": 2}
    resolved_count = _metric(api, writer, "resolved_count", "1h")
    assert resolved_count["value"] == 2
    assert resolved_count["breakdown"]["low"] == 1


def test_threat_count_grows_by_exactly_the_threats_created(
    api: Api, writer: dict[str, str], clock: FixedClock
) -> None:
    before = _metric(api, writer, "threat_count", "24h")["value"]
    for _ in range(7):
        _report(api, writer, "other", "low", 0, clock)
    after = _metric(api, writer, "threat_count", "24h")
    assert after["value"] == before + 7
    assert after["exact"] is True
    assert after["granularity"] == "hour"


def test_mean_time_to_resolve_without_resolutions_is_null(
    api: Api, writer: dict[str, str]
) -> None:
    answer = _metric(api, writer, "mean_time_to_resolve", "7d")
    assert answer["value"] is None
    assert answer["breakdown"] == {"resolved": 0}


def test_session_count_is_per_owner_and_global_for_admin(
    api: Api, domain_svc: services_module.Services, admin: dict[str, str]
) -> None:
    scopes = [Scope.WRITE_VR_SESSIONS, Scope.READ_ANALYTICS]
    alice = make_key(domain_svc, scopes, Tier.BASIC, owner="org_alice")
    bob = make_key(domain_svc, scopes, Tier.BASIC, owner="org_bob")
    for headers, environment in (
        (alice, "training"),
        (alice, "collaboration"),
        (bob, "training"),
    ):
        response = api.post(
            "/api/vr/sessions",
            headers,
            {"user_id": "u1", "environment": environment},
        )
        assert response.status_code == 201
    mine = _metric(api, alice, "vr_session_count", "24h")
    assert mine["value"] == 2
    assert mine["breakdown"]["training"] == 1
    assert _metric(api, bob, "vr_session_count", "1h")["value"] == 1
    assert _metric(api, admin, "vr_session_count", "30d")["value"] == 3


def test_api_requests_counts_only_the_callers_earlier_requests(
    api: Api, writer: dict[str, str], reader: dict[str, str]
) -> None:
    for _ in range(3):
        assert api.get("/api/threats", writer).status_code == 200
    api.get("/api/threats", reader)
    answer = _metric(api, writer, "api_requests", "1h")
    assert answer["value"] == 3
    assert _metric(api, writer, "api_requests", "24h")["value"] == 4


def test_stats_summarize_requests_from_counters(
    api: Api, writer: dict[str, str], admin: dict[str, str]
) -> None:
    for _ in range(4):
        api.get("/api/threats", writer)
    api.get("/api/threats/thr_" + "0" * 24, writer)
    api.post("/api/threats", writer, {"type": "nope"})
    response = api.get("/api/stats?period=24h", admin)
    assert response.status_code == 200, response.body
    stats = body(response)
    assert stats["requests"] == 6
    assert stats["by_endpoint"] == {
        "list_threats": 4,
        "get_threat": 1,
        "create_threat": 1,
    }
    assert stats["by_status_class"] == {"2xx": 4, "4xx": 2}
    assert stats["by_tier"] == {"ENTERPRISE": 6}
    assert stats["error_rate"] == round(2 / 6, 4)
    assert stats["server_error_rate"] == 0.0
    assert stats["top_keys"][0]["requests"] == 6
    assert stats["latency_ms"]["p50"] is not None
    assert stats["latency_ms"]["p99"] >= stats["latency_ms"]["p50"]


def test_unknown_metric_is_a_404_listing_valid_ones(
    api: Api, writer: dict[str, str]
) -> None:
    response = api.get("/api/analytics/happiness?period=24h", writer)
    assert response.status_code == 404
    problem = body(response)
    assert "threat_count" in problem["valid_metrics"]
    assert "api_requests" in problem["detail"]


def test_bad_period_is_a_400(
    api: Api, writer: dict[str, str], admin: dict[str, str]
) -> None:
    for path in ("/api/analytics/threat_count?period=2h", "/api/stats?period=1y"):
        headers = admin if "stats" in path else writer
        response = api.get(path, headers)
        assert response.status_code == 400
        assert body(response)["errors"][0]["field"] == "query.period"


def test_stats_need_admin_and_analytics_need_its_scope(
    api: Api, writer: dict[str, str], reader: dict[str, str]
) -> None:
    assert api.get("/api/stats", writer).status_code == 403
    assert api.get("/api/analytics/threat_count", reader).status_code == 403
