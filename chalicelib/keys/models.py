"""Request and response models of the key endpoints."""

from __future__ import annotations

import ipaddress
from datetime import datetime

from pydantic import ConfigDict, Field, field_validator

from chalicelib.models import Model
from chalicelib.policy import Scope, Tier

OWNER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$"


class StrictModel(Model):
    """Base for request bodies: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CreateKeyRequest(StrictModel):
    """Body of ``POST /api/keys``."""

    name: str = Field(min_length=1, max_length=64, examples=["dashboard integration"])
    owner_id: str = Field(pattern=OWNER_PATTERN, examples=["org_acme"])
    permissions: list[Scope] = Field(min_length=1, max_length=6)
    tier: Tier = Tier.FREE
    expires_at: datetime | None = Field(
        default=None, description="RFC 3339 time after which the key stops working."
    )
    ip_allowlist: list[str] | None = Field(
        default=None,
        max_length=20,
        description="CIDR blocks the key may be used from; absent means anywhere.",
        examples=[["203.0.113.0/24"]],
    )

    @field_validator("permissions")
    @classmethod
    def _unique(cls, value: list[Scope]) -> list[Scope]:
        return sorted(set(value))

    @field_validator("expires_at")
    @classmethod
    def _aware_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                "must include a time zone, for example 2027-01-01T00:00:00Z"
            )
        # Whether it is still ahead is the key service's check, on its clock.
        return value

    @field_validator("ip_allowlist")
    @classmethod
    def _cidrs(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        networks = []
        for entry in value:
            try:
                networks.append(str(ipaddress.ip_network(entry, strict=False)))
            except ValueError:
                raise ValueError(f"{entry!r} is not a CIDR block") from None
        return networks


class RotateKeyRequest(StrictModel):
    """Body of ``POST /api/keys/{key_id}/rotate`` (optional)."""

    grace_period_seconds: int = Field(
        default=0,
        ge=0,
        le=86_400,
        description="How long the old secret keeps working, at most 24 h.",
    )


class ListKeysQuery(StrictModel):
    """Query of ``GET /api/keys``."""

    owner_id: str | None = Field(default=None, pattern=OWNER_PATTERN)
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)


class KeyView(Model):
    """A key as listed: never its secret."""

    key_id: str
    name: str
    owner_id: str
    permissions: list[Scope]
    tier: Tier
    status: str = Field(description="active or revoked")
    secret_prefix: str = Field(
        description="The secret's first characters, for recognition."
    )
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    last_used_at: str | None = None
    ip_allowlist: list[str] | None = None


class KeyWithSecret(KeyView):
    """A key as created or rotated: the only time the secret is shown."""

    key_secret: str = Field(description="64 hex characters; shown once, store it now.")
    previous_secret_valid_until: str | None = None


class KeyList(Model):
    """Response of ``GET /api/keys``."""

    keys: list[KeyView]
    next_cursor: str | None = None
