"""Build the service's role objects from settings, once per process.

Handlers ask :func:`services` for their collaborators. Tests may install their
own (a fixed clock, say) with :func:`override`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from chalicelib import aws, tracing
from chalicelib.admission.gateway import Gateway
from chalicelib.admission.ip_guard import IpGuard
from chalicelib.admission.quota import DataMeter
from chalicelib.analytics.requests import RequestMeter
from chalicelib.analytics.service import AnalyticsService
from chalicelib.clock import Clock, SystemClock
from chalicelib.config import Settings, settings
from chalicelib.events.dispatcher import Dispatcher, EventSink
from chalicelib.events.log import EventLog
from chalicelib.idempotency import IdempotencyGuard
from chalicelib.keys.service import KeyService
from chalicelib.realtime.management import ManagementApi
from chalicelib.realtime.service import RealtimeService
from chalicelib.realtime.sink import RealtimeSink
from chalicelib.sessions.revocation import RevokedKeySessions
from chalicelib.sessions.service import SessionService
from chalicelib.threats.service import ThreatService
from chalicelib.webhooks.wiring import Webhooks


@dataclass
class Services:
    """Every collaborator a handler may need."""

    settings: Settings
    clock: Clock
    gateway: Gateway
    meter: DataMeter
    keys: KeyService
    realtime: RealtimeService
    webhooks: Webhooks
    threats: ThreatService
    sessions: SessionService
    analytics: AnalyticsService
    requests: RequestMeter
    idempotency: IdempotencyGuard
    dispatcher: Dispatcher
    events: EventLog
    # Every consumer of domain events; the dispatcher holds this very list.
    sinks: list[EventSink] = field(default_factory=list)

    @classmethod
    def from_settings(cls, config: Settings, clock: Clock | None = None) -> Services:
        tracing.configure(config)
        clock = clock or SystemClock()
        client = aws.dynamodb()
        meter = DataMeter(client, config.keys_table, config.events_table, clock)
        guard = IpGuard(client, config.ip_guard_table, clock)
        gateway = Gateway(
            client, config.keys_table, clock, guard, on_quota_refused=meter.raise_events
        )
        keys = KeyService(
            client,
            config.keys_table,
            config.audit_table,
            clock,
            config.server_secret,
            events_table=config.events_table,
        )
        threats = ThreatService(
            client,
            config.threats_table,
            config.events_table,
            config.aggregates_table,
            clock,
            config.server_secret,
        )
        realtime = RealtimeService.from_settings(
            config,
            client,
            clock,
            gateway,
            threats,
            lambda endpoint: ManagementApi(aws.management(endpoint)),
        )
        webhooks = Webhooks.from_settings(
            config, client, aws.sqs_on_first_use(config), clock
        )
        sessions = SessionService(
            client,
            config.sessions_table,
            config.threats_table,
            config.events_table,
            config.aggregates_table,
            clock,
            config.server_secret,
        )
        sinks: list[EventSink] = [
            RealtimeSink(realtime),
            RevokedKeySessions(sessions),
            webhooks.sink,
        ]
        return cls(
            config,
            clock,
            gateway,
            meter,
            keys,
            realtime,
            webhooks,
            threats,
            sessions,
            AnalyticsService(client, config.aggregates_table, clock),
            RequestMeter(client, config.aggregates_table, clock),
            IdempotencyGuard(client, config.idempotency_table),
            Dispatcher(client, config.events_table, clock, sinks),
            EventLog(client, config.events_table, config.server_secret),
            sinks,
        )


_built: dict[Settings, Services] = {}
_override: list[Services] = []


def services() -> Services:
    """Return the services for the current settings (or the installed override)."""
    if _override:
        return _override[-1]
    config = settings()
    if config not in _built:
        _built[config] = Services.from_settings(config)
    return _built[config]


@contextmanager
def override(replacement: Services) -> Iterator[Services]:
    """Use ``replacement`` for the duration of the block."""
    _override.append(replacement)
    try:
        yield replacement
    finally:
        _override.pop()


def reset() -> None:
    """Forget every built service (between test cases with fresh stores)."""
    _built.clear()
    aws.reset_clients()
