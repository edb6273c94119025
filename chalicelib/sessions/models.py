"""Request and response models of the VR session endpoints."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from chalicelib.keys.models import OWNER_PATTERN, StrictModel
from chalicelib.models import Model
from chalicelib.threats.models import THREAT_ID_PATTERN

USER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"
SESSION_ID_PATTERN = r"^vrs_[0-9a-f]{24}$"


class Environment(StrEnum):
    """The VR environment a session opens in."""

    THREAT_VISUALIZATION = "threat_visualization"
    THREAT_INVESTIGATION = "threat_investigation"
    TRAINING = "training"
    COLLABORATION = "collaboration"


class SessionStatus(StrEnum):
    """Whether a session is still open."""

    ACTIVE = "active"
    ENDED = "ended"


class SessionConfig(StrictModel):
    """Optional settings of a session."""

    threat_id: str | None = Field(
        default=None,
        pattern=THREAT_ID_PATTERN,
        description="A threat to open the session on; it must exist.",
    )
    auto_load: bool = Field(
        default=False, description="Load the threat's data as the session opens."
    )
    max_participants: int = Field(default=8, ge=1, le=64)


class CreateSessionRequest(StrictModel):
    """Body of ``POST /api/vr/sessions``."""

    user_id: str = Field(pattern=USER_PATTERN, examples=["analyst_42"])
    environment: Environment
    config: SessionConfig = Field(default_factory=SessionConfig)


class ListSessionsQuery(StrictModel):
    """Query of ``GET /api/vr/sessions``."""

    owner_id: str | None = Field(
        default=None,
        pattern=OWNER_PATTERN,
        description="ADMIN keys may list another owner's sessions.",
    )
    status: SessionStatus | None = None
    environment: Environment | None = None
    user_id: str | None = Field(default=None, pattern=USER_PATTERN)
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2_048)


class Session(Model):
    """A VR session."""

    session_id: str
    owner_id: str
    user_id: str
    environment: Environment
    config: SessionConfig
    status: SessionStatus
    join_url: str = Field(description="jupiter://session/<session_id>")
    created_at: str
    ended_at: str | None = None
    duration_seconds: int | None = None


class SessionList(Model):
    """Response of ``GET /api/vr/sessions``: newest first."""

    sessions: list[Session]
    next_cursor: str | None = None
