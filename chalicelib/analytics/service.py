"""Analytics and stats: figures summed from the counters of a window.

Every answer reads the window's counter items by key, in at most
``ceil(buckets / 100)`` ``BatchGetItem`` calls: 1 for ``1h`` (61 minutes),
``24h`` (25 hours), ``7d`` (8 days) and ``30d`` (31 days); request figures
are kept per hour, so ``/api/stats`` and ``api_requests`` read 2, 25, 169 or
721 hour items (1, 1, 2 or 8 calls). Counts are exact for the window stated
in the answer; the mean time to resolve is exact (a sum over a count); latency
percentiles are histogram bucket bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.admission.gateway import Principal
from chalicelib.analytics import buckets, counters, requests
from chalicelib.analytics.buckets import Period, Window
from chalicelib.analytics.models import (
    AnalyticsResult,
    KeyRequests,
    LatencyPercentiles,
    StatsReport,
)
from chalicelib.clock import Clock, iso
from chalicelib.errors import NotFound
from chalicelib.sessions.models import Environment
from chalicelib.sessions.service import ALL_OWNERS
from chalicelib.sessions.service import family as session_family
from chalicelib.threats.models import Severity, ThreatType
from chalicelib.threats.service import FAMILY as THREATS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

TOP_KEYS = 10


@dataclass(frozen=True)
class Figure:
    """A metric's value, unit and breakdown, before the window is added."""

    value: float | None
    unit: str
    breakdown: dict[str, int] | None = None
    exact: bool = True


class AnalyticsService:
    """Answers analytics and stats questions from counters."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Clock) -> None:
        self._client = client
        self._table = table
        self._clock = clock
        self._metrics: dict[str, Callable[[Principal, Period], AnalyticsResult]] = {
            "threat_count": self._threat_count,
            "threats_by_severity": self._by_severity,
            "threats_by_type": self._by_type,
            "resolved_count": self._resolved_count,
            "mean_time_to_resolve": self._mean_time_to_resolve,
            "vr_session_count": self._session_count,
            "api_requests": self._api_requests,
        }

    @property
    def metrics(self) -> list[str]:
        return sorted(self._metrics)

    def metric(self, key: Principal, name: str, period: Period) -> AnalyticsResult:
        """Compute ``name`` over ``period``; NotFound lists the valid metrics."""
        compute = self._metrics.get(name)
        if compute is None:
            valid = ", ".join(self.metrics)
            raise NotFound(
                f"no metric {name!r}; valid metrics: {valid}",
                valid_metrics=self.metrics,
            )
        return compute(key, period)

    def stats(self, period: Period) -> StatsReport:
        """Summarize every request of the period from the hourly counters."""
        window = buckets.window(period, self._clock.now(), buckets.BY_HOUR)
        items = self._read(requests.FAMILY, window)
        total = counters.total(items, "n")
        classes = counters.by_prefix(items, "s:")
        errors = classes.get("4xx", 0) + classes.get("5xx", 0)
        keys = counters.by_prefix(items, "k:")
        top = sorted(keys.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_KEYS]
        histogram = counters.by_prefix(items, "l:")
        latency_sum = counters.total(items, "lat")
        return StatsReport(
            period=period,
            window_start=iso(window.start),
            window_end=iso(window.end),
            granularity=window.granularity.name,
            requests=total,
            by_endpoint=counters.by_prefix(items, "e:"),
            by_status_class=classes,
            by_tier=counters.by_prefix(items, "t:"),
            top_keys=[KeyRequests(key_id=k, requests=n) for k, n in top],
            error_rate=_ratio(errors, total),
            server_error_rate=_ratio(classes.get("5xx", 0), total),
            latency_ms=LatencyPercentiles(
                p50=requests.percentile(histogram, 0.50),
                p90=requests.percentile(histogram, 0.90),
                p95=requests.percentile(histogram, 0.95),
                p99=requests.percentile(histogram, 0.99),
                mean=round(latency_sum / total, 1) if total else None,
            ),
        )

    def _threat_count(self, key: Principal, period: Period) -> AnalyticsResult:
        return self._answer("threat_count", period, THREATS, _count("n", "threats"))

    def _by_severity(self, key: Principal, period: Period) -> AnalyticsResult:
        names = [s.value for s in Severity]
        figure = _breakdown("sev:", names, "threats")
        return self._answer("threats_by_severity", period, THREATS, figure)

    def _by_type(self, key: Principal, period: Period) -> AnalyticsResult:
        names = [t.value for t in ThreatType]
        figure = _breakdown("type:", names, "threats")
        return self._answer("threats_by_type", period, THREATS, figure)

    def _resolved_count(self, key: Principal, period: Period) -> AnalyticsResult:
        figure = _breakdown("rsev:", [s.value for s in Severity], "threats", "res")
        return self._answer("resolved_count", period, THREATS, figure)

    def _mean_time_to_resolve(self, key: Principal, period: Period) -> AnalyticsResult:
        def figure(items: list[dict[str, int]]) -> Figure:
            resolved = counters.total(items, "res")
            seconds = counters.total(items, "ttr")
            mean = round(seconds / resolved, 1) if resolved else None
            return Figure(mean, "seconds", {"resolved": resolved})

        return self._answer("mean_time_to_resolve", period, THREATS, figure)

    def _session_count(self, key: Principal, period: Period) -> AnalyticsResult:
        # Sessions are owner-isolated: ADMIN keys count everyone's.
        owner = ALL_OWNERS if key.is_admin else key.owner_id
        names = [e.value for e in Environment]
        figure = _breakdown("env:", names, "sessions")
        return self._answer("vr_session_count", period, session_family(owner), figure)

    def _api_requests(self, key: Principal, period: Period) -> AnalyticsResult:
        window = buckets.window(period, self._clock.now(), buckets.BY_HOUR)
        attribute = f"k:{key.key_id}"
        items = self._read(requests.FAMILY, window, [attribute])
        figure = Figure(counters.total(items, attribute), "requests")
        return _result("api_requests", period, window, figure)

    def _answer(
        self,
        metric: str,
        period: Period,
        family: str,
        compute: Callable[[list[dict[str, int]]], Figure],
    ) -> AnalyticsResult:
        window = buckets.window(period, self._clock.now())
        return _result(metric, period, window, compute(self._read(family, window)))

    def _read(
        self, family: str, window: Window, attributes: list[str] | None = None
    ) -> list[dict[str, int]]:
        keys = [buckets.key(family, window.granularity, s) for s in window.starts]
        return list(counters.read(self._client, self._table, keys, attributes).values())


def _count(attribute: str, unit: str) -> Callable[[list[dict[str, int]]], Figure]:
    def figure(items: list[dict[str, int]]) -> Figure:
        return Figure(counters.total(items, attribute), unit)

    return figure


def _breakdown(
    prefix: str, names: list[str], unit: str, total_attribute: str = "n"
) -> Callable[[list[dict[str, int]]], Figure]:
    def figure(items: list[dict[str, int]]) -> Figure:
        found = counters.by_prefix(items, prefix)
        breakdown = {name: found.get(name, 0) for name in names}
        return Figure(counters.total(items, total_attribute), unit, breakdown)

    return figure


def _result(
    metric: str, period: Period, window: Window, figure: Figure
) -> AnalyticsResult:
    return AnalyticsResult(
        metric=metric,
        period=period,
        value=figure.value,
        unit=figure.unit,
        breakdown=figure.breakdown,
        window_start=iso(window.start),
        window_end=iso(window.end),
        granularity=window.granularity.name,
        exact=figure.exact,
    )


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
