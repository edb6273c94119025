"""Request and response models of the analytics and stats endpoints."""

from __future__ import annotations

from pydantic import Field

from chalicelib.analytics.buckets import Period
from chalicelib.keys.models import StrictModel
from chalicelib.models import Model


class PeriodQuery(StrictModel):
    """Query of ``GET /api/analytics/{metric}`` and ``GET /api/stats``."""

    period: Period = Period.DAY


class AnalyticsResult(Model):
    """One metric over one period."""

    metric: str
    period: Period
    value: float | None = Field(
        description="The figure; null where it is undefined (no resolutions)."
    )
    unit: str
    breakdown: dict[str, int] | None = None
    window_start: str = Field(description="Start of the first bucket counted.")
    window_end: str
    granularity: str = Field(description="Bucket size: minute, hour or day.")
    exact: bool = Field(description="Whether the figure is an exact count.")


class KeyRequests(Model):
    """One key's request count."""

    key_id: str
    requests: int


class LatencyPercentiles(Model):
    """Latency percentiles in ms: upper bounds of histogram buckets."""

    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    mean: float | None


class StatsReport(Model):
    """Response of ``GET /api/stats``."""

    period: Period
    window_start: str
    window_end: str
    granularity: str
    requests: int
    by_endpoint: dict[str, int]
    by_status_class: dict[str, int]
    by_tier: dict[str, int]
    top_keys: list[KeyRequests]
    error_rate: float = Field(description="Share of 4xx and 5xx answers.")
    server_error_rate: float = Field(description="Share of 5xx answers.")
    latency_ms: LatencyPercentiles
