"""Build the service's role objects from settings, once per process.

Handlers ask :func:`services` for their collaborators. Tests may install their
own (a fixed clock, say) with :func:`override`.

Each role is built, and its modules imported, the first time a handler asks
for it. A cold start then pays only for what its first request uses: an
authenticated ``GET`` needs the gateway and the meters, not the webhook,
realtime or VR-session roles, whose modules are a good part of the import.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from chalicelib import aws, metrics, tracing
from chalicelib.admission.gateway import Gateway
from chalicelib.admission.ip_guard import IpGuard
from chalicelib.admission.quota import DataMeter
from chalicelib.analytics.requests import RequestMeter
from chalicelib.clock import Clock, SystemClock
from chalicelib.config import Settings, forget_secrets, server_secret, settings
from chalicelib.idempotency import IdempotencyGuard

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from chalicelib.analytics.service import AnalyticsService
    from chalicelib.events.dispatcher import Dispatcher, EventSink
    from chalicelib.events.log import EventLog
    from chalicelib.keys.service import KeyService
    from chalicelib.realtime.service import RealtimeService
    from chalicelib.sessions.service import SessionService
    from chalicelib.threats.service import ThreatService
    from chalicelib.webhooks.wiring import Webhooks


class Services:
    """Every collaborator a handler may need, each built on first use."""

    def __init__(self, config: Settings, clock: Clock, client: DynamoDBClient) -> None:
        self.settings = config
        self.clock = clock
        self.client = client

    @classmethod
    def from_settings(cls, config: Settings, clock: Clock | None = None) -> Services:
        tracing.configure(config)
        metrics.configure(config.stage)
        return cls(config, clock or SystemClock(), aws.dynamodb())

    def replacing(self, **roles: object) -> Services:
        """Return a copy of these services with ``roles`` swapped in (for tests).

        Roles already built are shared with the copy; those not yet built are
        built by the copy, from the roles it was given.
        """
        unknown = sorted(
            name
            for name in roles
            if not isinstance(getattr(Services, name, None), cached_property)
        )
        if unknown:
            raise TypeError(f"not a role of Services: {', '.join(unknown)}")
        replaced = copy.copy(self)
        replaced.__dict__.update(roles)
        return replaced

    @property
    def server_secret(self) -> str:
        """The key that signs cursors; read when a role that signs them is built."""
        return server_secret(self.settings)

    @cached_property
    def meter(self) -> DataMeter:
        config = self.settings
        return DataMeter(
            self.client, config.keys_table, config.events_table, self.clock
        )

    @cached_property
    def gateway(self) -> Gateway:
        guard = IpGuard(self.client, self.settings.ip_guard_table, self.clock)
        return Gateway(
            self.client,
            self.settings.keys_table,
            self.clock,
            guard,
            on_quota_refused=self.meter.raise_events,
        )

    @cached_property
    def requests(self) -> RequestMeter:
        return RequestMeter(self.client, self.settings.aggregates_table, self.clock)

    @cached_property
    def idempotency(self) -> IdempotencyGuard:
        return IdempotencyGuard(self.client, self.settings.idempotency_table)

    @cached_property
    def keys(self) -> KeyService:
        from chalicelib.keys.service import KeyService

        config = self.settings
        return KeyService(
            self.client,
            config.keys_table,
            config.audit_table,
            self.clock,
            self.server_secret,
            events_table=config.events_table,
        )

    @cached_property
    def threats(self) -> ThreatService:
        from chalicelib.threats.service import ThreatService

        config = self.settings
        return ThreatService(
            self.client,
            config.threats_table,
            config.events_table,
            config.aggregates_table,
            self.clock,
            self.server_secret,
        )

    @cached_property
    def sessions(self) -> SessionService:
        from chalicelib.sessions.service import SessionService

        config = self.settings
        return SessionService(
            self.client,
            config.sessions_table,
            config.threats_table,
            config.events_table,
            config.aggregates_table,
            self.clock,
            self.server_secret,
        )

    @cached_property
    def realtime(self) -> RealtimeService:
        from chalicelib.realtime.management import ManagementApi
        from chalicelib.realtime.service import RealtimeService

        return RealtimeService.from_settings(
            self.settings,
            self.client,
            self.clock,
            self.gateway,
            self.threats,
            lambda endpoint: ManagementApi(aws.management(endpoint)),
        )

    @cached_property
    def webhooks(self) -> Webhooks:
        from chalicelib.webhooks.wiring import Webhooks

        config = self.settings
        sqs = aws.sqs_on_first_use(config)
        return Webhooks.from_settings(
            config, self.client, sqs, self.clock, self.server_secret
        )

    @cached_property
    def analytics(self) -> AnalyticsService:
        from chalicelib.analytics.service import AnalyticsService

        return AnalyticsService(self.client, self.settings.aggregates_table, self.clock)

    @cached_property
    def events(self) -> EventLog:
        from chalicelib.events.log import EventLog

        config = self.settings
        return EventLog(self.client, config.events_table, self.server_secret)

    @cached_property
    def sinks(self) -> list[EventSink]:
        """Every consumer of domain events; the dispatcher holds this very list."""
        from chalicelib.realtime.sink import RealtimeSink
        from chalicelib.sessions.revocation import RevokedKeySessions

        return [
            RealtimeSink(self.realtime),
            RevokedKeySessions(self.sessions),
            self.webhooks.sink,
        ]

    @cached_property
    def dispatcher(self) -> Dispatcher:
        from chalicelib.events.dispatcher import Dispatcher

        config = self.settings
        return Dispatcher(self.client, config.events_table, self.clock, self.sinks)


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
    forget_secrets()
