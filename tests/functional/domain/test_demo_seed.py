"""Seeding the demo feed: once per state directory, with matching analytics."""

from __future__ import annotations

from pathlib import Path

from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from local.demo import COUNT, seed
from tests.functional.domain.conftest import Api, body


def test_demo_feed_is_seeded_once_with_matching_analytics(
    api: Api,
    writer: dict[str, str],
    domain_svc: services_module.Services,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    assert seed(tmp_path, clock.now()) == COUNT
    assert seed(tmp_path, clock.now()) == 0
    count = body(api.get("/api/analytics/threat_count?period=30d", writer))
    assert count["value"] == COUNT
    mttr = body(api.get("/api/analytics/mean_time_to_resolve?period=30d", writer))
    assert mttr["breakdown"]["resolved"] > COUNT // 2
    page = body(api.get("/api/threats?limit=100&status=resolved", writer))
    assert page["threats"]
    assert all(t["resolved_at"] > t["detected_at"] for t in page["threats"])
