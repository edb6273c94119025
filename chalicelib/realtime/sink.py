"""Turn domain events from the outbox into WebSocket broadcasts.

``threat.*`` events become ``threat_update`` frames on the threats channel
(the threat under ``threat``), ``vr.session.*`` events become
``vr_session_update`` frames on the session owner's topic and the topic ADMIN
keys read (the session under ``session``), and ``key.revoked`` closes the
key's connections. Other events are not the realtime service's business.
"""

from __future__ import annotations

import logging
from typing import Any

from chalicelib import logs
from chalicelib.clock import iso
from chalicelib.events.outbox import DomainEvent
from chalicelib.realtime import frames
from chalicelib.realtime.frames import Channel
from chalicelib.realtime.service import RealtimeService
from chalicelib.realtime.topics import topics_of_update

logger = logging.getLogger(__name__)

KEY_REVOKED = "key.revoked"


class RealtimeSink:
    """An outbox sink that broadcasts domain events to subscribers."""

    def __init__(self, realtime: RealtimeService) -> None:
        self._realtime = realtime

    def deliver(self, event: DomainEvent) -> None:
        """Broadcast ``event`` if it is one subscribers hear about."""
        if event.event_type.startswith("threat."):
            self._threat(event)
        elif event.event_type.startswith("vr.session."):
            self._session(event)
        elif event.event_type == KEY_REVOKED:
            self._revoked(event)

    def _threat(self, event: DomainEvent) -> None:
        threat = _payload(event.data, "threat")

        def render(seq: int) -> str:
            frame = frames.ThreatUpdate(seq=seq, threat=threat, **_origin(event))
            return frame.model_dump_json(exclude_none=True)

        self._realtime.broadcaster.publish(
            Channel.THREATS.value, render, event.event_id
        )

    def _session(self, event: DomainEvent) -> None:
        session = _payload(event.data, "session")
        owner = session.get("owner_id") or event.data.get("owner_id")

        def render(seq: int) -> str:
            frame = frames.VrSessionUpdate(seq=seq, session=session, **_origin(event))
            return frame.model_dump_json(exclude_none=True)

        for topic in topics_of_update(Channel.VR_SESSIONS, owner):
            self._realtime.broadcaster.publish(topic, render, event.event_id)

    def _revoked(self, event: DomainEvent) -> None:
        key_id = str(event.data.get("key_id", ""))
        if not key_id:
            logs.line(logger, "revoked_key_unnamed", logging.WARNING)
            return
        realtime = self._realtime
        closed = realtime.close_key(realtime.endpoints.known(), key_id)
        logs.line(logger, "revoked_key_closed", key_id=key_id, connections=closed)


def _payload(data: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the resource an event is about: ``data[name]`` or ``data`` itself."""
    inner = data.get(name)
    return dict(inner) if isinstance(inner, dict) else dict(data)


def _origin(event: DomainEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "timestamp": iso(event.occurred_at),
    }
