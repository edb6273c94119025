"""End a revoked key's VR sessions: an outbox sink for ``key.revoked``.

Revoking a key records ``key.revoked`` in the same transaction as the
revocation; this sink ends every session the key started, each with its own
``vr.session.ended`` event (so subscribers and webhooks hear of it). It is
idempotent: a redelivered event finds nothing left to end.
"""

from __future__ import annotations

import logging

from chalicelib import logs
from chalicelib.events.outbox import DomainEvent
from chalicelib.sessions.service import SessionService

logger = logging.getLogger(__name__)

KEY_REVOKED = "key.revoked"


class RevokedKeySessions:
    """Ends the sessions of each revoked key."""

    def __init__(self, sessions: SessionService) -> None:
        self._sessions = sessions

    def deliver(self, event: DomainEvent) -> None:
        """End the revoked key's active sessions; ignore every other event."""
        if event.event_type != KEY_REVOKED:
            return
        key_id, owner_id = event.data.get("key_id"), event.data.get("owner_id")
        if not isinstance(key_id, str) or not isinstance(owner_id, str):
            logs.line(logger, "revoked_key_unnamed", logging.WARNING)
            return
        ended = self._sessions.end_for_key(key_id, owner_id, event.request_id)
        logs.line(
            logger, "revoked_key_sessions_ended", key_id=key_id, sessions=len(ended)
        )
