"""The realtime service: what each WebSocket frame does.

A connection first has to authenticate, within a deadline, with the same
checks as a REST request. Each later frame is admitted by the same gateway
write as a REST request (so it counts toward the key's limits, and a revoked
key stops at once), then dispatched on its ``type``. Every problem with a
frame is answered with an ``error`` frame; the connection is closed only when
its deadline passed, its key is no longer valid, or its key has no free slot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from chalicelib import __version__, logs
from chalicelib.admission.gateway import Credentials, Gateway, Principal
from chalicelib.clock import Clock, iso
from chalicelib.errors import (
    AuthenticationFailed,
    Conflict,
    JupiterError,
    RateLimited,
    TooManyConnections,
)
from chalicelib.keys.credentials import hash_secret
from chalicelib.policy import TIER_LIMITS, Scope, grants
from chalicelib.realtime import frames
from chalicelib.realtime.connections import Connection, ConnectionStore
from chalicelib.realtime.fanout import Broadcaster, FanoutReport
from chalicelib.realtime.frames import CHANNEL_SCOPES, Channel
from chalicelib.realtime.journal import FrameJournal
from chalicelib.realtime.management import DeliveryFailed, ManagementApi
from chalicelib.realtime.slots import ConnectionSlots
from chalicelib.realtime.topics import topic_for

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from chalicelib.config import Settings

logger = logging.getLogger(__name__)


class ThreatFeed(Protocol):
    """Where ``stream_threats`` reads the latest threats from."""

    def latest(self, limit: int) -> list[dict[str, Any]]:
        """Return up to ``limit`` threats, newest first, in their public form."""
        ...


class Endpoints:
    """Finds the ``@connections`` API to talk to.

    The configured endpoint (``JUPITER_WS_MANAGEMENT_ENDPOINT``) wins. Without
    one, a WebSocket handler derives it from its event, as Chalice's own
    ``app.websocket_api`` does, and records it in the connections table, so
    that broadcasts from the outbox and the schedule, which have no
    WebSocket event, find it too: ``chalice deploy`` creates the WebSocket
    API, so its address is not known before the first connection.
    """

    def __init__(
        self,
        configured: str | None,
        connect: Callable[[str], ManagementApi],
        store: ConnectionStore | None = None,
    ) -> None:
        self._configured = configured
        self._connect = connect
        self._store = store
        self._learned: str | None = None

    def known(self) -> ManagementApi | None:
        """Return the API broadcasts post to, or None while it is unknown."""
        url = self._configured or self._learned
        if url is None and self._store is not None:
            url = self._learned = self._store.endpoint()
        return self._connect(url) if url else None

    def for_event(self, domain_name: str, stage: str) -> ManagementApi:
        """Return the API of the connection an event came from."""
        if self._configured:
            return self._connect(self._configured)
        url = f"https://{domain_name}/{stage}"
        if url != self._learned and self._store is not None:
            self._store.remember_endpoint(url)
        self._learned = url
        return self._connect(url)


@dataclass
class Reply:
    """Sends frames back on the connection a message came from."""

    api: ManagementApi
    connection_id: str
    reply_to: str | None
    gone: bool = field(default=False)

    def send(self, frame: BaseModel) -> None:
        if "reply_to" in type(frame).model_fields and self.reply_to is not None:
            frame = frame.model_copy(update={"reply_to": self.reply_to})
        self.raw(frame.model_dump_json(exclude_none=True))

    def raw(self, body: str) -> None:
        if self.gone:
            return
        try:
            self.gone = not self.api.post(self.connection_id, body)
        except DeliveryFailed as exc:
            logs.line(logger, "ws_reply_failed", logging.WARNING, error=str(exc))


Handler = Callable[[Connection, Principal, Any, Reply], None]


class RealtimeService:
    """Answers WebSocket frames and broadcasts updates."""

    def __init__(
        self,
        store: ConnectionStore,
        slots: ConnectionSlots,
        journal: FrameJournal,
        gateway: Gateway,
        clock: Clock,
        endpoints: Endpoints,
        threats: ThreatFeed,
        deadline_seconds: int = 5,
        concurrency: int = 16,
        stage: str = "local",
    ) -> None:
        self.store = store
        self.slots = slots
        self.journal = journal
        self.endpoints = endpoints
        self.threats = threats
        self._gateway = gateway
        self._clock = clock
        self._deadline_seconds = deadline_seconds
        self._stage = stage
        self.broadcaster = Broadcaster(
            store,
            journal,
            lambda: self.endpoints.known(),
            self.drop,
            concurrency,
        )
        self._handlers: dict[type[frames.ClientFrame], Handler] = {
            frames.Authenticate: self._reauthenticate,
            frames.Subscribe: self._subscribe,
            frames.Unsubscribe: self._unsubscribe,
            frames.StreamThreats: self._stream_threats,
            frames.Ping: self._ping,
        }

    @classmethod
    def from_settings(
        cls,
        config: Settings,
        client: DynamoDBClient,
        clock: Clock,
        gateway: Gateway,
        threats: ThreatFeed,
        connect: Callable[[str], ManagementApi],
    ) -> RealtimeService:
        """Build the service on the configured tables and endpoint."""
        table = config.connections_table
        store = ConnectionStore(client, table, clock)
        return cls(
            store,
            ConnectionSlots(client, table, clock),
            FrameJournal(client, config.frames_table, clock),
            gateway,
            clock,
            Endpoints(config.ws_management_endpoint, connect, store),
            threats,
            deadline_seconds=config.ws_auth_deadline_seconds,
            concurrency=config.ws_fanout_concurrency,
            stage=config.stage,
        )

    # Connection lifecycle.

    def connect(self, connection_id: str, source_ip: str) -> None:
        """Record a new connection; it must authenticate within the deadline."""
        self.store.open(connection_id, source_ip, self._deadline_seconds)

    def drop(self, connection_id: str) -> None:
        """Forget a connection that ended, and free its key's slot."""
        connection = self.store.remove(connection_id)
        if connection is not None and connection.key_id is not None:
            self.slots.release(connection.key_id, connection_id)

    def expel(
        self, api: ManagementApi | None, connection_id: str, error: frames.Error
    ) -> None:
        """Tell the client why, close its connection, and forget it."""
        if api is not None:
            Reply(api, connection_id, None).send(error)
            api.close(connection_id)
        self.drop(connection_id)

    def sweep(self, api: ManagementApi | None) -> int:
        """Close every connection whose authentication deadline has passed."""
        overdue = self.store.overdue()
        for connection_id in overdue:
            self.expel(api, connection_id, _timeout())
        return len(overdue)

    def close_key(self, api: ManagementApi | None, key_id: str) -> int:
        """Close every connection of a revoked key."""
        connections = self.store.of_key(key_id)
        error = frames.Error(
            code="api_key_revoked", message="this API key has been revoked"
        )
        for connection_id in connections:
            self.expel(api, connection_id, error)
        return len(connections)

    # Messages.

    def receive(
        self, api: ManagementApi, connection_id: str, body: str, source_ip: str
    ) -> Outcome:
        """Answer one frame; never raises for anything the client sent."""
        outcome = Outcome(connection_id)
        reply = Reply(api, connection_id, frames.frame_id(body))
        try:
            connection = self.store.get(connection_id)
            if connection is None:
                # Swept or expired meanwhile: it has no business being open.
                api.close(connection_id)
                outcome.result = "unknown_connection"
                return outcome
            outcome.key_id = connection.key_id
            self._answer(connection, body, reply, source_ip, outcome)
        except JupiterError as error:
            # The store failed: say so; the client may retry the frame.
            outcome.result = error.code
            reply.send(_error_frame(error))
        if reply.gone:
            self.drop(connection_id)
        return outcome

    def _answer(
        self,
        connection: Connection,
        body: str,
        reply: Reply,
        source_ip: str,
        outcome: Outcome,
    ) -> None:
        try:
            if connection.authenticated:
                outcome.frame = self._dispatch(connection, body, reply)
            else:
                outcome.frame = self._before_authentication(
                    connection, body, reply, source_ip, outcome
                )
        except (AuthenticationFailed, TooManyConnections) as error:
            outcome.result = error.code
            self._refuse(reply.api, connection, reply, error)
        except JupiterError as error:
            outcome.result = error.code
            reply.send(_error_frame(error))

    def _before_authentication(
        self,
        connection: Connection,
        body: str,
        reply: Reply,
        source_ip: str,
        outcome: Outcome,
    ) -> str:
        assert connection.deadline is not None
        if self._clock.now() > connection.deadline:
            raise AuthenticationFailed(
                "no authenticate frame within the deadline", "authentication_timeout"
            )
        frame = frames.parse(body)
        if not isinstance(frame, frames.Authenticate):
            raise AuthenticationFailed(
                "send an authenticate frame first", "not_authenticated"
            )
        credentials = Credentials(frame.api_key_id, frame.api_key_secret, source_ip)
        principal = self._gateway.admit(credentials, None)
        outcome.key_id = principal.key_id
        limit = TIER_LIMITS[principal.tier].connections
        self.slots.claim(
            principal.key_id,
            connection.connection_id,
            limit,
            connection.expires_at,
            reply.api.alive,
        )
        secret_hash = hash_secret(frame.api_key_secret)
        if not self.store.authenticate(
            connection.connection_id, principal, secret_hash
        ):
            self.slots.release(principal.key_id, connection.connection_id)
            return frame.type
        reply.send(
            frames.Authenticated(
                key_id=principal.key_id,
                tier=principal.tier,
                scopes=sorted(principal.scopes),
                connection_limit=limit,
            )
        )
        return frame.type

    def _dispatch(self, connection: Connection, body: str, reply: Reply) -> str:
        assert connection.key_id is not None and connection.secret_hash is not None
        # Admit before parsing: every frame counts, well-formed or not.
        principal = self._gateway.admit_hashed(
            connection.key_id, connection.secret_hash, connection.source_ip, None
        )
        frame = frames.parse(body)
        self._handlers[type(frame)](connection, principal, frame, reply)
        return str(getattr(frame, "type", "unknown"))

    def _refuse(
        self,
        api: ManagementApi,
        connection: Connection,
        reply: Reply,
        error: JupiterError,
    ) -> None:
        """Answer an authentication problem; close when waiting is pointless."""
        frame = _error_frame(error).model_copy(update={"reply_to": reply.reply_to})
        recoverable = not connection.authenticated and error.code in (
            "invalid_api_key",
            "not_authenticated",
            "ip_not_allowed",
        )
        if recoverable:
            reply.send(frame)
            return
        self.expel(api, connection.connection_id, frame)

    # Frame handlers (authenticated connections).

    def _reauthenticate(
        self, connection: Connection, principal: Principal, frame: Any, reply: Reply
    ) -> None:
        raise Conflict("this connection is already authenticated")

    def _subscribe(
        self,
        connection: Connection,
        principal: Principal,
        frame: frames.Subscribe,
        reply: Reply,
    ) -> None:
        allowed = self._permitted(principal, list(dict.fromkeys(frame.channels)), reply)
        if not allowed:
            return
        topics = {
            c: topic_for(c, principal.owner_id, principal.is_admin) for c in allowed
        }
        self.store.subscribe(connection, topics)
        latest = {c: self.journal.latest(t) for c, t in topics.items()}
        reply.send(frames.Subscribed(channels=allowed, seq=latest))
        for channel, since in (frame.since or {}).items():
            if channel in topics:
                self._replay(channel, topics[channel], since, reply)

    def _unsubscribe(
        self,
        connection: Connection,
        principal: Principal,
        frame: frames.Unsubscribe,
        reply: Reply,
    ) -> None:
        channels = list(dict.fromkeys(frame.channels))
        self.store.unsubscribe(connection.connection_id, channels)
        reply.send(frames.Unsubscribed(channels=channels))

    def _stream_threats(
        self,
        connection: Connection,
        principal: Principal,
        frame: frames.StreamThreats,
        reply: Reply,
    ) -> None:
        if not self._permitted(principal, [Channel.THREATS], reply):
            return
        topic = topic_for(Channel.THREATS, principal.owner_id, principal.is_admin)
        # Subscribe first: an update between the snapshot and the
        # subscription would otherwise be lost rather than sent twice.
        self.store.subscribe(connection, {Channel.THREATS: topic})
        seq = self.journal.latest(topic)
        threats = self.threats.latest(frame.limit)
        reply.send(frames.ThreatSnapshot(seq=seq, threats=threats))

    def _ping(
        self, connection: Connection, principal: Principal, frame: Any, reply: Reply
    ) -> None:
        reply.send(frames.Pong(time=iso(self._clock.now())))

    def _permitted(
        self, principal: Principal, channels: list[Channel], reply: Reply
    ) -> list[Channel]:
        allowed = []
        for channel in channels:
            needed = CHANNEL_SCOPES[channel]
            if grants(principal.scopes, needed):
                allowed.append(channel)
                continue
            assert needed is not None
            reply.send(_refused_channel(channel, needed))
        return allowed

    def _replay(self, channel: Channel, topic: str, since: int, reply: Reply) -> None:
        replay = self.journal.since(topic, since)
        for body in replay.frames:
            reply.raw(body)
        reply.send(
            frames.Resumed(
                channel=channel,
                since=since,
                replayed=len(replay.frames),
                latest_seq=replay.latest,
                complete=replay.complete,
            )
        )

    # Broadcasts.

    def publish_status(self) -> FanoutReport:
        """Broadcast a ``system_status`` frame on the system channel."""

        def render(seq: int) -> str:
            status = frames.SystemStatus(
                seq=seq,
                timestamp=iso(self._clock.now()),
                status="ok",
                version=__version__,
                stage=self._stage,
            )
            return status.model_dump_json(exclude_none=True)

        return self.broadcaster.publish(Channel.SYSTEM.value, render)


@dataclass
class Outcome:
    """What happened to one message, for its log line."""

    connection_id: str
    key_id: str | None = None
    frame: str | None = None
    result: str = "ok"
    started: float = field(default_factory=time.perf_counter)

    def log(self) -> None:
        logs.line(
            logger,
            "ws_message",
            connection_id=self.connection_id,
            key_id=self.key_id,
            frame=self.frame,
            result=self.result,
            latency_ms=round((time.perf_counter() - self.started) * 1000, 2),
        )


def _error_frame(error: JupiterError) -> frames.Error:
    retry_after = error.retry_after if isinstance(error, RateLimited) else None
    return frames.Error(
        code=error.code,
        message=error.detail,
        retry_after=retry_after,
        errors=error.extra.get("errors"),
    )


def _refused_channel(channel: Channel, needed: Scope) -> frames.Error:
    return frames.Error(
        code="insufficient_permissions",
        message=f"the {channel.value} channel needs the {needed.value} scope",
        channel=channel,
    )


def _timeout() -> frames.Error:
    return frames.Error(
        code="authentication_timeout",
        message="no authenticate frame within the deadline; connection closed",
    )
