"""Request and response models of the threat endpoints."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from enum import StrEnum

from pydantic import Field, field_validator

from chalicelib.keys.models import StrictModel
from chalicelib.models import Model

THREAT_ID_PATTERN = r"^thr_[0-9a-f]{24}$"


class ThreatType(StrEnum):
    """What kind of threat it is."""

    RANSOMWARE = "ransomware"
    MALWARE = "malware"
    PHISHING = "phishing"
    DDOS = "ddos"
    INTRUSION = "intrusion"
    DATA_EXFILTRATION = "data_exfiltration"
    INSIDER = "insider"
    OTHER = "other"


class Severity(StrEnum):
    """How bad it is, lowest first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ThreatStatus(StrEnum):
    """Whether the threat still needs attention."""

    ACTIVE = "active"
    RESOLVED = "resolved"


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a time zone, for example 2026-11-30T12:00:00Z")
    return value


class CreateThreatRequest(StrictModel):
    """Body of ``POST /api/threats``."""

    type: ThreatType
    severity: Severity
    source_ip: str | None = Field(
        default=None, description="IPv4 or IPv6 address the threat came from."
    )
    target: str = Field(min_length=1, max_length=256, examples=["payments-db-01"])
    description: str = Field(default="", max_length=2_000)
    indicators: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Indicators of compromise: hashes, domains, addresses.",
    )
    detected_at: datetime | None = Field(
        default=None,
        description="When it was detected (RFC 3339); now if absent. At most "
        "365 days in the past and 5 minutes in the future.",
    )

    @field_validator("source_ip")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address") from None

    @field_validator("indicators")
    @classmethod
    def _indicators(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value]
        if any(not 1 <= len(v) <= 256 for v in cleaned):
            raise ValueError("each indicator has 1 to 256 characters")
        return cleaned

    @field_validator("detected_at")
    @classmethod
    def _detected(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class ResolveThreatRequest(StrictModel):
    """Body of ``POST /api/threats/{threat_id}/resolve`` (optional)."""

    resolution: str | None = Field(
        default=None, max_length=1_000, description="How it was resolved."
    )


class ListThreatsQuery(StrictModel):
    """Query of ``GET /api/threats``."""

    severity: Severity | None = None
    status: ThreatStatus | None = None
    type: ThreatType | None = None
    since: datetime | None = Field(
        default=None, description="Only threats detected at or after this time."
    )
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2_048)

    @field_validator("since")
    @classmethod
    def _since(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class Threat(Model):
    """A threat of the feed."""

    threat_id: str
    type: ThreatType
    severity: Severity
    status: ThreatStatus
    source_ip: str | None = None
    target: str
    description: str
    indicators: list[str]
    detected_at: str
    resolved_at: str | None = None
    resolution: str | None = None
    created_at: str


class ThreatList(Model):
    """Response of ``GET /api/threats``: newest first."""

    threats: list[Threat]
    next_cursor: str | None = Field(
        default=None,
        description="Pass as ``cursor`` for the next page; null at the end.",
    )
