"""Permission scopes and tiers: what a key may do and how much of it."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Scope(StrEnum):
    """A permission a key can hold. ADMIN implies every other scope."""

    READ_THREATS = "READ_THREATS"
    WRITE_THREATS = "WRITE_THREATS"
    READ_VR_SESSIONS = "READ_VR_SESSIONS"
    WRITE_VR_SESSIONS = "WRITE_VR_SESSIONS"
    READ_ANALYTICS = "READ_ANALYTICS"
    ADMIN = "ADMIN"


class Tier(StrEnum):
    """A key's service tier, lowest first."""

    FREE = "FREE"
    BASIC = "BASIC"
    PROFESSIONAL = "PROFESSIONAL"
    ENTERPRISE = "ENTERPRISE"

    @property
    def rank(self) -> int:
        return list(Tier).index(self)


GIB = 1024**3


class TierLimits(NamedTuple):
    """The limits of one tier.

    ``per_hour`` is a sliding hour at one-minute granularity, ``burst`` counts
    requests in fixed 10-second slots, ``per_day`` counts per UTC day and
    ``bytes_per_month`` counts response body bytes per UTC calendar month.
    """

    per_hour: int
    burst: int
    per_day: int
    bytes_per_month: int
    connections: int


TIER_LIMITS: dict[Tier, TierLimits] = {
    Tier.FREE: TierLimits(100, 20, 1_000, 1 * GIB, 1),
    Tier.BASIC: TierLimits(1_000, 50, 10_000, 10 * GIB, 5),
    Tier.PROFESSIONAL: TierLimits(10_000, 200, 100_000, 100 * GIB, 25),
    Tier.ENTERPRISE: TierLimits(100_000, 1_000, 1_000_000, 1024 * GIB, 100),
}


def grants(held: frozenset[Scope] | set[Scope], needed: Scope | None) -> bool:
    """Tell whether scopes ``held`` allow a route needing ``needed``."""
    return needed is None or needed in held or Scope.ADMIN in held
