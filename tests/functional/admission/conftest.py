"""Fixtures for the service-core tests: a fixed clock, keys with small limits.

``core`` is the service container on a :class:`FixedClock` (installed as the
override), ``http`` a Chalice test client over the real app, and
``set_limits`` shrinks a key's limits on its item so a test can fill a window
in a few requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from tests.functional.conftest import PROJECT_DIR, build_services

JSON = {"Content-Type": "application/json"}


def at(text: str) -> float:
    """Return the epoch seconds of an ISO time, read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.fixture
def core(
    aws_env: dict[str, str], clock: FixedClock
) -> Iterator[services_module.Services]:
    built = build_services(aws_env, clock)
    with services_module.override(built):
        yield built


@pytest.fixture
def svc(core: services_module.Services) -> services_module.Services:
    """The shared fixtures (``admin_headers``) use the fixed-clock services too."""
    return core


@pytest.fixture
def http(core: services_module.Services) -> Iterator[Client]:
    from app import app

    with Client(app, stage_name="local", project_dir=PROJECT_DIR) as client:
        yield client


def set_limits(svc: services_module.Services, key_id: str, **limits: int) -> None:
    """Overwrite a key's limit attributes (per_hour, burst, per_day, bytes)."""
    names = {"per_hour": "lh", "burst": "lb", "per_day": "ld", "bytes": "lm"}
    parts = [f"{names[name]} = :{name}" for name in limits]
    aws.dynamodb().update_item(
        TableName=svc.settings.keys_table,
        Key={"key_id": {"S": key_id}},
        UpdateExpression="SET " + ", ".join(parts),
        ExpressionAttributeValues={f":{n}": {"N": str(v)} for n, v in limits.items()},
    )


def key_item(svc: services_module.Services, key_id: str) -> dict[str, Any]:
    from chalicelib.dynamo import from_item

    response = aws.dynamodb().get_item(
        TableName=svc.settings.keys_table,
        Key={"key_id": {"S": key_id}},
        ConsistentRead=True,
    )
    return from_item(response["Item"])


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem document; return its body."""
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"].startswith("application/problem+json")
    document = json.loads(response.body)
    assert document["status"] == status
    assert document["code"] == code, document
    assert document["type"].endswith("/" + code)
    assert document["title"] and document["detail"]
    assert document["request_id"].startswith("req_")
    assert document["request_id"] == response.headers["X-Request-Id"]
    return dict(document)


def body(response: Any) -> Any:
    return json.loads(response.body)
