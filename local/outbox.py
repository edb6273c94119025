"""The events table's stream, for the local stack: poll the outbox often.

In AWS the events table's DynamoDB stream hands each new event to the
dispatcher as it lands, and the one-minute ``events_sweep`` schedule only
catches what the stream handler could not deliver (it leaves events younger
than a minute to the stream). Locally there is no stream trigger, so this
task stands in for it: every ``JUPITER_LOCAL_OUTBOX_INTERVAL`` seconds (0.15
by default) it runs the dispatcher over whatever is pending, on the server's
Lambda pool, so a ``threat_update`` reaches subscribers well under a second
after the POST that caused it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from local.server import LocalServer

logger = logging.getLogger("local.outbox")

DEFAULT_INTERVAL = 0.15


class OutboxPoller:
    """Dispatches pending domain events a few times a second."""

    def __init__(self, interval: float | None = None) -> None:
        self.interval = interval or float(
            os.environ.get("JUPITER_LOCAL_OUTBOX_INTERVAL") or DEFAULT_INTERVAL
        )
        if self.interval <= 0:
            raise ValueError("JUPITER_LOCAL_OUTBOX_INTERVAL must be positive")

    def install(self, server: LocalServer) -> None:
        """Run the poll as a background task of the server."""

        async def poll() -> None:
            while True:
                await asyncio.sleep(self.interval)
                try:
                    await server.invoke(_dispatch_pending)
                except Exception:
                    # As a stream handler's failed batch is retried, the
                    # pending events are simply found again next time.
                    logger.exception("dispatching pending events failed")

        server.add_task("outbox", poll)


def _dispatch_pending() -> None:
    from chalicelib.services import services

    # Everything pending, however fresh: there is no stream to leave it to.
    services().dispatcher.dispatch_pending()
