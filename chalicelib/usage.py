"""``GET /api/usage``: the calling key's use of each window and what remains."""

from __future__ import annotations

from pydantic import Field

from chalicelib.admission.window import WindowUse
from chalicelib.clock import iso
from chalicelib.http.call import Call
from chalicelib.models import Model


class WindowReport(Model):
    """One window's use."""

    limit: int
    used: int
    remaining: int
    resets_at: str = Field(description="When the window next frees room or rolls over.")


class UsageReport(Model):
    """Response of ``GET /api/usage`` (counts include this request)."""

    key_id: str
    tier: str
    requests_this_hour: WindowReport = Field(
        description="Sliding hour, one-minute steps."
    )
    requests_burst: WindowReport = Field(description="Fixed 10-second slot.")
    requests_today: WindowReport = Field(description="UTC day.")
    bytes_this_month: WindowReport = Field(
        description="Response body bytes, UTC month."
    )
    requests_this_month: int


def _report(window: WindowUse) -> WindowReport:
    return WindowReport(
        limit=window.limit,
        used=window.used,
        remaining=window.remaining,
        resets_at=iso(window.reset_at),
    )


def get_usage(call: Call) -> UsageReport:
    key = call.key
    usage = key.usage
    return UsageReport(
        key_id=key.key_id,
        tier=key.tier.value,
        requests_this_hour=_report(usage.hour),
        requests_burst=_report(usage.burst),
        requests_today=_report(usage.day),
        bytes_this_month=_report(usage.month_bytes),
        requests_this_month=usage.month_requests,
    )
