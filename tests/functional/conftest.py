"""Functional fixtures: moto, tables from infrastructure/, and a test client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import services as services_module
from chalicelib.clock import Clock, FixedClock, SystemClock
from chalicelib.config import load_settings
from chalicelib.keys.models import CreateKeyRequest
from chalicelib.policy import Scope, Tier
from infrastructure.provision import environment, provision

PROJECT_DIR = str(Path(__file__).resolve().parents[2])
SERVER_SECRET = "test-server-secret-0123456789abcdef0123456789"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with mock_aws():
        outputs = provision("local")
        env = {
            **environment(outputs),
            "JUPITER_STAGE": "local",
            "JUPITER_SERVER_SECRET": SERVER_SECRET,
            "JUPITER_API_CORS_ORIGINS": "http://allowed.example",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        services_module.reset()
        yield env
        services_module.reset()


def build_services(
    env: dict[str, str], clock: Clock | None = None
) -> services_module.Services:
    config = load_settings({**os.environ, **env})
    return services_module.Services.from_settings(config, clock or SystemClock())


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(1_796_000_000.0)


@pytest.fixture
def svc(aws_env: dict[str, str]) -> Iterator[services_module.Services]:
    built = build_services(aws_env)
    with services_module.override(built):
        yield built


@pytest.fixture
def client(svc: services_module.Services) -> Iterator[Client]:
    from app import app

    with Client(app, stage_name="local", project_dir=PROJECT_DIR) as test_client:
        yield test_client


def make_key(
    svc: services_module.Services,
    scopes: list[Scope],
    tier: Tier = Tier.FREE,
    owner: str = "org_test",
    **extra: Any,
) -> dict[str, str]:
    """Create a key directly through the service; return its two headers."""
    created = svc.keys.create_unchecked(
        CreateKeyRequest(
            name="test key", owner_id=owner, permissions=scopes, tier=tier, **extra
        ),
        created_by="test",
    )
    return {"X-API-Key-ID": created.key_id, "X-API-Key-Secret": created.key_secret}


@pytest.fixture
def admin_headers(svc: services_module.Services) -> dict[str, str]:
    return make_key(svc, [Scope.ADMIN], Tier.ENTERPRISE, owner="org_admin")
