"""Fixtures for the threat, session, analytics, idempotency and outbox tests.

Services run on a fixed clock, so analytics windows and counters are exact
and known; ``post``/``get`` send JSON with a key's headers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.policy import Scope, Tier
from tests.functional.conftest import PROJECT_DIR, build_services, make_key


class Api:
    """A thin JSON client over chalice.test.Client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def post(
        self,
        path: str,
        headers: dict[str, str],
        body: Any = None,
        extra: dict[str, str] | None = None,
    ) -> Any:
        return self.client.http.post(
            path,
            headers={**headers, "Content-Type": "application/json", **(extra or {})},
            body=json.dumps(body) if body is not None else "",
        )

    def get(self, path: str, headers: dict[str, str]) -> Any:
        return self.client.http.get(path, headers=headers)


def body(response: Any) -> Any:
    return json.loads(response.body)


@pytest.fixture
def domain_svc(
    aws_env: dict[str, str], clock: FixedClock
) -> Iterator[services_module.Services]:
    built = build_services(aws_env, clock)
    with services_module.override(built):
        yield built


@pytest.fixture
def api(domain_svc: services_module.Services) -> Iterator[Api]:
    from app import app

    with Client(app, stage_name="local", project_dir=PROJECT_DIR) as client:
        yield Api(client)


@pytest.fixture
def writer(domain_svc: services_module.Services) -> dict[str, str]:
    return make_key(
        domain_svc,
        [Scope.READ_THREATS, Scope.WRITE_THREATS, Scope.READ_ANALYTICS],
        Tier.ENTERPRISE,
        owner="org_feed",
    )


@pytest.fixture
def reader(domain_svc: services_module.Services) -> dict[str, str]:
    return make_key(domain_svc, [Scope.READ_THREATS], Tier.ENTERPRISE, owner="org_r")


@pytest.fixture
def admin(domain_svc: services_module.Services) -> dict[str, str]:
    return make_key(domain_svc, [Scope.ADMIN], Tier.ENTERPRISE, owner="org_admin")


def threat_body(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "malware",
        "severity": "high",
        "source_ip": "203.0.113.7",
        "target": "payments-db-01",
        "description": "beaconing to a known C2 domain",
        "indicators": ["evil.example", "44d88612fea8a8f36de82e1278abb02f"],
        **overrides,
    }
