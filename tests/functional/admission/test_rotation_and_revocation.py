"""Rotation with and without grace, and revocation seen by every process."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import services as services_module
from chalicelib.admission.gateway import Credentials
from chalicelib.clock import FixedClock, iso
from chalicelib.errors import AuthenticationFailed
from chalicelib.policy import Scope
from tests.functional.admission.conftest import JSON, at, body, problem
from tests.functional.conftest import build_services, make_key


@pytest.fixture
def key(core: services_module.Services, clock: FixedClock) -> dict[str, str]:
    clock.at = at("2026-11-30T12:00:00")
    return make_key(core, [Scope.READ_THREATS])


def rotate(
    http: Client, admin: dict[str, str], key: dict[str, str], grace: int | None
) -> dict[str, Any]:
    payload = {} if grace is None else {"grace_period_seconds": grace}
    response = http.http.post(
        f"/api/keys/{key['X-API-Key-ID']}/rotate",
        headers={**admin, **JSON},
        body=json.dumps(payload),
    )
    assert response.status_code == 200, response.body
    rotated = body(response)
    return {**rotated, "headers": {**key, "X-API-Key-Secret": rotated["key_secret"]}}


def status(http: Client, headers: dict[str, str]) -> int:
    return int(http.http.get("/api/usage", headers=headers).status_code)


def test_rotation_without_grace_switches_secrets_at_once(
    http: Client, admin_headers: dict[str, str], key: dict[str, str]
) -> None:
    assert status(http, key) == 200
    rotated = rotate(http, admin_headers, key, None)
    assert rotated["key_id"] == key["X-API-Key-ID"]
    assert rotated["key_secret"] != key["X-API-Key-Secret"]
    assert rotated["previous_secret_valid_until"] is None
    assert status(http, rotated["headers"]) == 200
    problem(http.http.get("/api/usage", headers=key), 401, "invalid_api_key")


def test_old_secret_works_until_the_grace_period_ends(
    http: Client,
    admin_headers: dict[str, str],
    key: dict[str, str],
    clock: FixedClock,
) -> None:
    rotated = rotate(http, admin_headers, key, 600)
    assert rotated["previous_secret_valid_until"] == iso(clock.now() + 600)
    assert status(http, rotated["headers"]) == 200
    assert status(http, key) == 200
    clock.advance(599)
    assert status(http, key) == 200
    clock.advance(1)
    problem(http.http.get("/api/usage", headers=key), 401, "invalid_api_key")
    assert status(http, rotated["headers"]) == 200


def test_second_rotation_ends_the_first_secrets_grace(
    http: Client, admin_headers: dict[str, str], key: dict[str, str]
) -> None:
    first = rotate(http, admin_headers, key, 600)
    second = rotate(http, admin_headers, first["headers"], 600)
    assert status(http, second["headers"]) == 200
    assert status(http, first["headers"]) == 200
    problem(http.http.get("/api/usage", headers=key), 401, "invalid_api_key")


def test_rotation_grace_ends_in_a_process_that_still_remembers_the_key(
    http: Client,
    admin_headers: dict[str, str],
    key: dict[str, str],
    clock: FixedClock,
    aws_env: dict[str, str],
) -> None:
    other = build_services(aws_env, clock)
    old = Credentials(key["X-API-Key-ID"], key["X-API-Key-Secret"], "10.0.0.1")
    other.gateway.admit(old, None)  # its cache now holds the key
    rotate(http, admin_headers, key, 60)
    other.gateway.admit(old, None)
    clock.advance(60)
    with pytest.raises(AuthenticationFailed) as refused:
        other.gateway.admit(old, None)
    assert refused.value.code == "invalid_api_key"


def test_revocation_stops_the_very_next_request_in_another_process(
    http: Client,
    admin_headers: dict[str, str],
    key: dict[str, str],
    clock: FixedClock,
    aws_env: dict[str, str],
) -> None:
    other = build_services(aws_env, clock)
    with services_module.override(other):
        assert status(http, key) == 200  # the other process now believes in it
    revoked = http.http.delete(
        f"/api/keys/{key['X-API-Key-ID']}", headers=admin_headers
    )
    assert revoked.status_code == 200
    with services_module.override(other):
        refused = http.http.get("/api/usage", headers=key)
    problem(refused, 401, "api_key_revoked")
    credentials = Credentials(key["X-API-Key-ID"], key["X-API-Key-Secret"], "10.0.0.1")
    with pytest.raises(AuthenticationFailed) as raised:
        other.gateway.admit(credentials, None)
    assert raised.value.code == "api_key_revoked"


def test_expiry_stops_a_key_in_a_process_that_still_remembers_it(
    http: Client,
    core: services_module.Services,
    clock: FixedClock,
) -> None:
    clock.at = at("2026-11-30T12:00:00")
    expiry = datetime.fromtimestamp(clock.now() + 30, UTC)
    key = make_key(core, [Scope.READ_THREATS], expires_at=expiry)
    assert status(http, key) == 200
    clock.advance(29)
    assert status(http, key) == 200
    clock.advance(1)
    problem(http.http.get("/api/usage", headers=key), 401, "api_key_expired")


def test_revoked_key_cannot_be_rotated_or_revoked_again(
    http: Client, admin_headers: dict[str, str], key: dict[str, str]
) -> None:
    path = f"/api/keys/{key['X-API-Key-ID']}"
    assert http.http.delete(path, headers=admin_headers).status_code == 200
    problem(http.http.delete(path, headers=admin_headers), 404, "not_found")
    again = http.http.post(
        path + "/rotate", headers={**admin_headers, **JSON}, body="{}"
    )
    problem(again, 404, "not_found")


def test_a_key_may_rotate_itself(http: Client, key: dict[str, str]) -> None:
    rotated = rotate(http, key, key, None)
    assert status(http, rotated["headers"]) == 200
