"""EventBridge schedules for the local stack: every ``@app.schedule`` handler.

Each scheduled handler of ``app.py`` runs on the server's Lambda pool with an
EventBridge "Scheduled Event", every so many seconds: the rate declared in
``app.py`` unless the local stage needs it sooner, or an environment variable
``JUPITER_LOCAL_SCHEDULE_<NAME>`` (seconds) says otherwise (the events
table's stream, which AWS also uses, is emulated by ``local.outbox``). The
local defaults:

* ``ws_sweep`` every second, so a WebSocket that never authenticates is closed
  about a second after its deadline.
* ``system_status`` every 60 s, as in AWS.

A run that is still going when the next is due delays it rather than
overlapping, as one scheduled Lambda at a time would.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from chalice.app import Cron, Rate, ScheduledEventConfig

if TYPE_CHECKING:
    from local.server import LocalServer

logger = logging.getLogger("local.schedule")

LOCAL_INTERVALS = {"ws_sweep": 1.0}
UNIT_SECONDS = {Rate.MINUTES: 60.0, Rate.HOURS: 3_600.0, Rate.DAYS: 86_400.0}
# A cron expression is not emulated; its handler runs hourly.
CRON_SECONDS = 3_600.0


class ScheduleEmulation:
    """Runs every scheduled handler of the app at its local interval."""

    def __init__(self, overrides: dict[str, float] | None = None) -> None:
        self._overrides = overrides or {}
        self.intervals: dict[str, float] = {}

    def install(self, server: LocalServer) -> None:
        """Add one background task per scheduled handler."""
        for source in server.app.event_sources:
            if isinstance(source, ScheduledEventConfig):
                interval = self.interval(source)
                self.intervals[source.name] = interval
                server.add_task(
                    f"schedule:{source.name}", _runner(server, source.name, interval)
                )
        logger.info("schedules: %s", self.intervals)

    def interval(self, source: ScheduledEventConfig) -> float:
        """Return the seconds between two runs of ``source`` locally."""
        name = source.name
        variable = "JUPITER_LOCAL_SCHEDULE_" + name.upper()
        if os.environ.get(variable):
            seconds = float(os.environ[variable])
            if seconds <= 0:
                raise ValueError(f"{variable} must be a positive number of seconds")
            return seconds
        if name in self._overrides:
            return self._overrides[name]
        return LOCAL_INTERVALS.get(name) or _declared(source.schedule_expression)


def _declared(expression: Any) -> float:
    if isinstance(expression, Rate):
        return expression.value * UNIT_SECONDS[expression.unit]
    if isinstance(expression, Cron):
        return CRON_SECONDS
    # A string such as "rate(5 minutes)".
    text = str(expression)
    if text.startswith("rate(") and text.endswith(")"):
        value, unit = text[5:-1].split()
        return float(value) * UNIT_SECONDS[unit.rstrip("s").upper() + "S"]
    return CRON_SECONDS


def _runner(server: LocalServer, name: str, interval: float) -> Any:
    async def run() -> None:
        handler = server.app.handler_map[name]
        context = server.lambda_context(name)
        while True:
            await asyncio.sleep(interval)
            try:
                await server.invoke(handler, scheduled_event(name), context)
            except Exception:
                # A failed run of a scheduled Lambda is retried at the next
                # tick; the stack keeps serving.
                logger.exception("the %s schedule raised", name)

    return run


def scheduled_event(name: str) -> dict[str, Any]:
    """Return an EventBridge "Scheduled Event" for the rule of ``name``."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "resources": [f"arn:aws:events:local:123456789012:rule/{name}"],
        "detail": {},
    }
