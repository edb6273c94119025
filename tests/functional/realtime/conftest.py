"""A WebSocket harness: API Gateway events into the app, a fake @connections API.

Every frame goes through the registered Chalice handler (``ws_connect``,
``ws_message``, ``ws_disconnect``) with an event from ``tests/events/``, the
way API Gateway invokes it; the service answers through a fake management
client, which records what each connection received.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.keys.service import Actor
from chalicelib.policy import Scope, Tier
from chalicelib.realtime.management import ManagementApi
from chalicelib.realtime.service import Endpoints, RealtimeService
from tests.functional.conftest import PROJECT_DIR, build_services
from tests.support.fake_management import FakeManagementClient

MANAGEMENT_ENDPOINT = "https://abc123.execute-api.us-east-1.amazonaws.com/local"
EVENTS = Path(__file__).resolve().parents[2] / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def admin_actor() -> Actor:
    """An ADMIN actor for key actions taken directly through the service."""
    return Actor(
        key_id="jptr_" + "a" * 24,
        owner_id="org_admin",
        scopes=frozenset({Scope.ADMIN}),
        tier=Tier.ENTERPRISE,
        source_ip="203.0.113.1",
        user_agent="tests",
        request_id="req_tests",
    )


class StaticThreats:
    """A threat feed with fixed contents."""

    def __init__(self) -> None:
        self.threats: list[dict[str, Any]] = []

    def latest(self, limit: int) -> list[dict[str, Any]]:
        return self.threats[:limit]


class Harness:
    """Connections driven through the app's WebSocket handlers."""

    def __init__(
        self,
        client: Client,
        management: FakeManagementClient,
        svc: services_module.Services,
        clock: FixedClock,
    ) -> None:
        self.client = client
        self.management = management
        self.svc = svc
        self.clock = clock
        self._ids = itertools.count(1)

    @property
    def realtime(self) -> RealtimeService:
        return self.svc.realtime

    def connect(self, source_ip: str = "203.0.113.7") -> str:
        connection_id = f"conn{next(self._ids):04d}AAAAAAA="
        event = self.event("ws_connect.json", connection_id)
        event["requestContext"]["identity"]["sourceIp"] = source_ip
        response = self.client.lambda_.invoke("ws_connect", event)
        assert response.payload["statusCode"] == 200, response.payload
        self.management.open.add(connection_id)
        return connection_id

    def send(self, connection_id: str, frame: dict[str, Any] | str) -> None:
        event = self.event("ws_message.json", connection_id)
        event["body"] = frame if isinstance(frame, str) else json.dumps(frame)
        response = self.client.lambda_.invoke("ws_message", event)
        assert response.payload["statusCode"] == 200, response.payload

    def ask(self, connection_id: str, frame: dict[str, Any] | str) -> list[Any]:
        """Send a frame; return the frames received since the last ask."""
        self.management.take(connection_id)
        self.send(connection_id, frame)
        return self.management.take(connection_id)

    def disconnect(self, connection_id: str) -> None:
        self.management.vanish(connection_id)
        event = self.event("ws_disconnect.json", connection_id)
        self.client.lambda_.invoke("ws_disconnect", event)

    def authenticate(self, connection_id: str, headers: dict[str, str]) -> list[Any]:
        return self.ask(
            connection_id,
            {
                "type": "authenticate",
                "api_key_id": headers["X-API-Key-ID"],
                "api_key_secret": headers["X-API-Key-Secret"],
            },
        )

    def session(self, headers: dict[str, str], channels: list[str]) -> str:
        """Connect, authenticate and subscribe; return the connection id."""
        connection_id = self.connect()
        assert self.authenticate(connection_id, headers)[0]["type"] == "authenticated"
        if channels:
            answer = self.ask(
                connection_id, {"type": "subscribe", "channels": channels}
            )
            assert answer[0]["type"] == "subscribed", answer
        return connection_id

    def rest(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: dict[str, Any] | None = None,
    ) -> Any:
        """Call the REST API; return the decoded JSON body."""
        response = self.client.http.request(
            method,
            path,
            headers={**headers, "Content-Type": "application/json"},
            body=json.dumps(body).encode() if body is not None else b"",
        )
        assert response.status_code < 300, response.body
        return json.loads(response.body) if response.body else None

    def dispatch(self) -> None:
        """Run the outbox dispatcher once, as the stream or the schedule does."""
        self.svc.dispatcher.dispatch_pending()

    def schedule(self, function: str) -> None:
        """Run a scheduled handler with an EventBridge event."""
        self.client.lambda_.invoke(function, load_event("scheduled.json"))

    def event(self, name: str, connection_id: str) -> dict[str, Any]:
        event = copy.deepcopy(load_event(name))
        event["requestContext"]["connectionId"] = connection_id
        return event


@pytest.fixture
def threats() -> StaticThreats:
    return StaticThreats()


@pytest.fixture
def management() -> FakeManagementClient:
    return FakeManagementClient()


@pytest.fixture
def ws(
    monkeypatch: pytest.MonkeyPatch,
    aws_env: dict[str, str],
    clock: FixedClock,
    management: FakeManagementClient,
    threats: StaticThreats,
) -> Iterator[Harness]:
    monkeypatch.setenv("JUPITER_WS_MANAGEMENT_ENDPOINT", MANAGEMENT_ENDPOINT)
    built = build_services(aws_env, clock)
    built.realtime.endpoints = Endpoints(
        MANAGEMENT_ENDPOINT, lambda endpoint: ManagementApi(management)
    )
    built.realtime.threats = threats
    from app import app

    with (
        services_module.override(built),
        Client(app, stage_name="local", project_dir=PROJECT_DIR) as client,
    ):
        yield Harness(client, management, built, clock)
