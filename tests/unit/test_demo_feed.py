"""The demo feed's plan: realistic, within 30 days, resolutions in order."""

from __future__ import annotations

from chalicelib.threats.models import Severity, ThreatType
from local.demo import COUNT, DAYS, plan

NOW = 1_796_000_000.0


def test_plan_spans_thirty_days_with_every_type_and_severity() -> None:
    threats = plan(NOW)
    assert len(threats) == COUNT
    assert all(NOW - DAYS * 86_400 <= t.detected <= NOW for t in threats)
    assert {t.request.type for t in threats} == set(ThreatType)
    assert {t.request.severity for t in threats} == set(Severity)
    assert [t.detected for t in threats] == sorted(t.detected for t in threats)


def test_resolutions_follow_detection_and_precede_now() -> None:
    threats = plan(NOW)
    resolved = [t for t in threats if t.resolved is not None]
    assert 0.5 * COUNT < len(resolved) < COUNT
    assert all(t.detected < t.resolved < NOW for t in resolved)  # type: ignore[operator]


def test_plan_is_repeatable() -> None:
    assert plan(NOW) == plan(NOW)
