"""Handlers of the analytics and stats endpoints."""

from __future__ import annotations

from chalicelib.analytics.models import AnalyticsResult, PeriodQuery, StatsReport
from chalicelib.http.call import Call
from chalicelib.services import services


def get_analytics(call: Call) -> AnalyticsResult:
    period = call.query_as(PeriodQuery).period
    return services().analytics.metric(call.key, call.path_params["metric"], period)


def get_stats(call: Call) -> StatsReport:
    return services().analytics.stats(call.query_as(PeriodQuery).period)
