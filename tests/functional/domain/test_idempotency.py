"""Idempotency-Key on POST: replay, conflict, in-flight duplicates, scoping."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import services as services_module
from chalicelib.errors import IdempotencyInProgress
from chalicelib.idempotency import fingerprint
from chalicelib.policy import Scope, Tier
from chalicelib.threats.models import CreateThreatRequest
from chalicelib.threats.service import Origin, ThreatService
from tests.functional.conftest import make_key
from tests.functional.domain.conftest import Api, body, threat_body

KEY = {"Idempotency-Key": "order-7f3a"}


def _threat_total(api: Api, headers: dict[str, str]) -> int:
    answer = api.get("/api/analytics/threat_count?period=1h", headers)
    return int(body(answer)["value"])


def test_same_key_and_body_replays_the_first_response(
    api: Api, writer: dict[str, str]
) -> None:
    first = api.post("/api/threats", writer, threat_body(), KEY)
    again = api.post("/api/threats", writer, threat_body(), KEY)
    assert first.status_code == again.status_code == 201
    assert body(again) == body(first)
    assert again.headers.get("Idempotency-Replayed") == "true"
    assert "Idempotency-Replayed" not in first.headers
    assert _threat_total(api, writer) == 1


def test_equal_json_in_another_layout_is_the_same_body(
    api: Api, writer: dict[str, str]
) -> None:
    first = api.post("/api/threats", writer, threat_body(), KEY)
    reordered = json.dumps(dict(reversed(list(threat_body().items()))), indent=2)
    again = api.client.http.post(
        "/api/threats",
        headers={**writer, **KEY, "Content-Type": "application/json"},
        body=reordered,
    )
    assert again.status_code == 201
    assert body(again)["threat_id"] == body(first)["threat_id"]


def test_same_key_with_another_body_or_path_is_a_409(
    api: Api, writer: dict[str, str]
) -> None:
    api.post("/api/threats", writer, threat_body(), KEY)
    other = api.post("/api/threats", writer, threat_body(severity="low"), KEY)
    assert other.status_code == 409
    assert body(other)["code"] == "idempotency_conflict"
    session_path = api.post(
        "/api/threats/thr_" + "0" * 24 + "/resolve", writer, None, KEY
    )
    assert session_path.status_code == 409
    assert _threat_total(api, writer) == 1


@pytest.mark.parametrize("value", ["x" * 256, "caf\u00e9", "tab\there"])
def test_malformed_idempotency_key_is_a_400(
    api: Api, writer: dict[str, str], value: str
) -> None:
    response = api.post(
        "/api/threats", writer, threat_body(), {"Idempotency-Key": value}
    )
    assert response.status_code == 400
    assert body(response)["code"] == "invalid_idempotency_key"


def test_errors_are_not_stored_and_can_be_retried(
    api: Api, writer: dict[str, str]
) -> None:
    path = "/api/threats/thr_" + "0" * 24 + "/resolve"
    for _ in range(2):
        response = api.post(path, writer, None, KEY)
        assert response.status_code == 404
        assert "Idempotency-Replayed" not in response.headers


def test_keys_are_scoped_per_owner(
    api: Api, domain_svc: services_module.Services
) -> None:
    scopes = [Scope.WRITE_THREATS]
    one = make_key(domain_svc, scopes, Tier.BASIC, owner="org_one")
    two = make_key(domain_svc, scopes, Tier.BASIC, owner="org_two")
    first = body(api.post("/api/threats", one, threat_body(), KEY))
    second = api.post("/api/threats", two, threat_body(), KEY)
    assert second.status_code == 201
    assert body(second)["threat_id"] != first["threat_id"]
    assert "Idempotency-Replayed" not in second.headers


def test_key_creation_is_idempotent_too(api: Api, admin: dict[str, str]) -> None:
    request = {"name": "ci", "owner_id": "org_ci", "permissions": ["READ_THREATS"]}
    first = api.post("/api/keys", admin, request, KEY)
    again = api.post("/api/keys", admin, request, KEY)
    assert first.status_code == again.status_code == 201
    assert body(again)["key_id"] == body(first)["key_id"]
    listed = body(api.get("/api/keys?owner_id=org_ci", admin))["keys"]
    assert len(listed) == 1


class _DuplicateDuringWork(ThreatService):
    """Sends the same request again while the first is still being handled."""

    def __init__(self, inner: ThreatService, api: Api, headers: dict[str, str]) -> None:
        self.__dict__.update(inner.__dict__)
        self.api = api
        self.headers = headers
        self.duplicate: Any = None

    def report(self, request: CreateThreatRequest, origin: Origin) -> Any:
        if self.duplicate is None:
            self.duplicate = self.api.post(
                "/api/threats", self.headers, threat_body(), KEY
            )
        return super().report(request, origin)


def test_a_duplicate_arriving_mid_flight_creates_nothing(
    api: Api, writer: dict[str, str], domain_svc: services_module.Services
) -> None:
    racing = _DuplicateDuringWork(domain_svc.threats, api, writer)
    domain_svc.threats = racing
    first = api.post("/api/threats", writer, threat_body(), KEY)
    assert first.status_code == 201
    assert racing.duplicate.status_code == 409
    assert body(racing.duplicate)["code"] == "idempotency_in_progress"
    assert racing.duplicate.headers["Retry-After"] == "1"
    assert _threat_total(api, writer) == 1
    replay = api.post("/api/threats", writer, threat_body(), KEY)
    assert body(replay)["threat_id"] == body(first)["threat_id"]


def test_guard_claims_before_the_work_runs(
    domain_svc: services_module.Services,
) -> None:
    from chalice.app import Response

    guard = domain_svc.idempotency
    request = fingerprint("POST", "/api/threats", b"{}")
    ran: list[str] = []

    def inner() -> Response:
        ran.append("inner")
        return Response(body="{}", status_code=201)

    def outer() -> Response:
        ran.append("outer")
        with pytest.raises(IdempotencyInProgress):
            guard.run("org", "k1", request, inner)
        return Response(body="{}", status_code=201)

    assert guard.run("org", "k1", request, outer).status_code == 201
    assert ran == ["outer"]
