"""The WebSocket protocol: every frame a client sends and the service answers.

Client frames are JSON objects with a ``type`` (``action`` is accepted as a
synonym, since API Gateway's route selection reads ``action``). Any client
frame may carry an ``id``; the direct answer to it echoes it as ``reply_to``.

Broadcast frames (``threat_update``, ``vr_session_update``, ``system_status``)
carry their ``channel`` and ``seq``, the channel's sequence number as the
receiving key sees the channel. Recent frames are kept for
:data:`RESUME_WINDOW_SECONDS` (at most :data:`RESUME_MAX_FRAMES` per channel),
so a client that reconnects can subscribe with ``since`` and receive, in
order, what it missed.

These models are the single description of the protocol: the service
validates with them and the AsyncAPI document is generated from them.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.errors import MalformedJSON, UnknownFrameType
from chalicelib.http.parsing import parse_json, validate
from chalicelib.models import Model
from chalicelib.policy import Scope, Tier

RESUME_WINDOW_SECONDS = 900
RESUME_MAX_FRAMES = 1_000


class Channel(StrEnum):
    """A stream of updates a connection can subscribe to."""

    THREATS = "threats"
    VR_SESSIONS = "vr_sessions"
    SYSTEM = "system"


# The scope each channel needs; ``None``: any valid key.
CHANNEL_SCOPES: dict[Channel, Scope | None] = {
    Channel.THREATS: Scope.READ_THREATS,
    Channel.VR_SESSIONS: Scope.READ_VR_SESSIONS,
    Channel.SYSTEM: None,
}

FrameId = Annotated[str, Field(max_length=64, description="Echoed as reply_to.")]


class ClientFrame(Model):
    """Fields every client frame may carry."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: FrameId | None = None


class Authenticate(ClientFrame):
    """Present the key; must be the first frame, within the deadline."""

    type: Literal["authenticate"]
    api_key_id: str = Field(max_length=64, examples=["jptr_0123456789abcdefghijklmn"])
    api_key_secret: str = Field(max_length=128, repr=False)


class Subscribe(ClientFrame):
    """Subscribe to channels; ``since`` replays what was missed after a seq."""

    type: Literal["subscribe"]
    channels: list[Channel] = Field(min_length=1, max_length=len(Channel))
    since: dict[Channel, Annotated[int, Field(ge=0)]] | None = Field(
        default=None,
        description="Per channel, the last seq received before reconnecting.",
        examples=[{"threats": 41}],
    )


class Unsubscribe(ClientFrame):
    """Stop receiving channels."""

    type: Literal["unsubscribe"]
    channels: list[Channel] = Field(min_length=1, max_length=len(Channel))


class StreamThreats(ClientFrame):
    """Receive the latest threats at once, then every update live."""

    type: Literal["stream_threats"]
    limit: int = Field(default=20, ge=1, le=100)


class Ping(ClientFrame):
    """Ask for a ``pong``; keeps an idle connection open."""

    type: Literal["ping"]


ClientMessage = Annotated[
    Authenticate | Subscribe | Unsubscribe | StreamThreats | Ping,
    Field(discriminator="type"),
]


class ServerFrame(Model):
    """Fields every server frame may carry."""

    reply_to: str | None = Field(
        default=None, description="The id of the client frame this answers."
    )


class Authenticated(ServerFrame):
    """The key is accepted; the connection holds one of its slots."""

    type: Literal["authenticated"] = "authenticated"
    key_id: str
    tier: Tier
    scopes: list[Scope]
    connection_limit: int


class Subscribed(ServerFrame):
    """The channels now subscribed, with each one's latest seq."""

    type: Literal["subscribed"] = "subscribed"
    channels: list[Channel]
    seq: dict[Channel, int]


class Unsubscribed(ServerFrame):
    """The channels no longer subscribed."""

    type: Literal["unsubscribed"] = "unsubscribed"
    channels: list[Channel]


class Resumed(ServerFrame):
    """Sent after the frames replayed for ``since``; ``complete`` is false when
    some of the missed frames were older than the resume window."""

    type: Literal["resumed"] = "resumed"
    channel: Channel
    since: int
    replayed: int
    latest_seq: int
    complete: bool


class ThreatSnapshot(ServerFrame):
    """The latest threats, newest first; live ``threat_update`` frames follow."""

    type: Literal["threat_snapshot"] = "threat_snapshot"
    channel: Literal[Channel.THREATS] = Channel.THREATS
    seq: int = Field(description="The channel's seq when the snapshot was taken.")
    threats: list[dict[str, Any]]


class Pong(ServerFrame):
    """The answer to ``ping``."""

    type: Literal["pong"] = "pong"
    time: str


class Error(ServerFrame):
    """A frame the service could not accept; the connection stays usable unless
    the service closes it (authentication deadline, revoked key)."""

    type: Literal["error"] = "error"
    code: str = Field(examples=["insufficient_permissions"])
    message: str
    channel: Channel | None = None
    retry_after: int | None = None
    errors: list[dict[str, str]] | None = Field(
        default=None, description="Each invalid field, for validation errors."
    )


class Broadcast(Model):
    """Fields every broadcast frame carries."""

    channel: Channel
    seq: int = Field(ge=1, description="Increases by one per frame on the channel.")
    event_id: str | None = None
    event_type: str | None = None
    timestamp: str


class ThreatUpdate(Broadcast):
    """A threat was detected or changed."""

    type: Literal["threat_update"] = "threat_update"
    channel: Literal[Channel.THREATS] = Channel.THREATS
    threat: dict[str, Any]


class VrSessionUpdate(Broadcast):
    """A VR session of the key's owner started or ended."""

    type: Literal["vr_session_update"] = "vr_session_update"
    channel: Literal[Channel.VR_SESSIONS] = Channel.VR_SESSIONS
    session: dict[str, Any]


class SystemStatus(Broadcast):
    """The service's periodic health report."""

    type: Literal["system_status"] = "system_status"
    channel: Literal[Channel.SYSTEM] = Channel.SYSTEM
    status: Literal["ok", "degraded"]
    version: str
    stage: str


CLIENT_FRAMES: tuple[type[ClientFrame], ...] = (
    Authenticate,
    Subscribe,
    Unsubscribe,
    StreamThreats,
    Ping,
)
SERVER_FRAMES: tuple[type[BaseModel], ...] = (
    Authenticated,
    Subscribed,
    Unsubscribed,
    Resumed,
    ThreatSnapshot,
    Pong,
    Error,
    ThreatUpdate,
    VrSessionUpdate,
    SystemStatus,
)

_BY_TYPE: dict[str, type[ClientFrame]] = {
    "authenticate": Authenticate,
    "subscribe": Subscribe,
    "unsubscribe": Unsubscribe,
    "stream_threats": StreamThreats,
    "ping": Ping,
}


def frame_id(body: str) -> str | None:
    """Return a frame's ``id`` if it has a usable one, even when it is invalid."""
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):
        return None
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and len(value) <= 64 else None


def parse(body: str) -> ClientFrame:
    """Decode and validate one client frame."""
    try:
        # A lone surrogate cannot be UTF-8: let the parser refuse it as such.
        raw = parse_json(body.encode("utf-8", "surrogatepass"))
    except MalformedJSON as exc:
        raise MalformedJSON(exc.detail.replace("the body", "the frame", 1)) from None
    if not isinstance(raw, dict):
        raise MalformedJSON("a frame is one JSON object")
    # API Gateway's route selection reads ``action``: accept it for ``type``.
    action = raw.pop("action", None)
    kind = raw.pop("type", action)
    frame = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if frame is None:
        known = ", ".join(sorted(_BY_TYPE))
        raise UnknownFrameType(f"a frame's type must be one of: {known}")
    return validate(frame, {**raw, "type": kind}, "frame")
