"""VR session endpoints: owner isolation, validation, lifecycle."""

from __future__ import annotations

import pytest

from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.policy import Scope, Tier
from tests.functional.conftest import make_key
from tests.functional.domain.conftest import Api, body, threat_body

SESSION_SCOPES = [Scope.READ_VR_SESSIONS, Scope.WRITE_VR_SESSIONS]


@pytest.fixture
def alice(domain_svc: services_module.Services) -> dict[str, str]:
    return make_key(domain_svc, SESSION_SCOPES, Tier.BASIC, owner="org_alice")


@pytest.fixture
def bob(domain_svc: services_module.Services) -> dict[str, str]:
    return make_key(domain_svc, SESSION_SCOPES, Tier.BASIC, owner="org_bob")


def _start(api: Api, headers: dict[str, str], **overrides: object) -> dict:
    request = {"user_id": "analyst_1", "environment": "training", **overrides}
    response = api.post("/api/vr/sessions", headers, request)
    assert response.status_code == 201, response.body
    return dict(body(response))


def test_started_session_has_join_url_and_reads_back(
    api: Api, alice: dict[str, str]
) -> None:
    session = _start(api, alice, config={"auto_load": True})
    assert session["status"] == "active"
    assert session["owner_id"] == "org_alice"
    assert session["join_url"] == f"jupiter://session/{session['session_id']}"
    assert session["config"]["auto_load"] is True
    fetched = api.get(f"/api/vr/sessions/{session['session_id']}", alice)
    assert body(fetched) == session


def test_another_owners_session_is_a_404(
    api: Api, alice: dict[str, str], bob: dict[str, str]
) -> None:
    session = _start(api, alice)
    path = f"/api/vr/sessions/{session['session_id']}"
    assert api.get(path, bob).status_code == 404
    ending = api.post(path + "/end", bob)
    assert ending.status_code == 404
    assert body(api.get(path, alice))["status"] == "active"


def test_lists_show_only_the_owners_sessions(
    api: Api, alice: dict[str, str], bob: dict[str, str], admin: dict[str, str]
) -> None:
    mine = {_start(api, alice)["session_id"] for _ in range(3)}
    theirs = _start(api, bob)["session_id"]
    listed = {
        s["session_id"] for s in body(api.get("/api/vr/sessions", alice))["sessions"]
    }
    assert listed == mine
    other = body(api.get("/api/vr/sessions?owner_id=org_bob", alice))["sessions"]
    assert other == []
    as_admin = body(api.get("/api/vr/sessions?owner_id=org_bob", admin))["sessions"]
    assert [s["session_id"] for s in as_admin] == [theirs]
    admin_reads = api.get(f"/api/vr/sessions/{theirs}", admin)
    assert admin_reads.status_code == 200


def test_list_filters_and_pages(
    api: Api, alice: dict[str, str], clock: FixedClock
) -> None:
    created = []
    for i in range(7):
        clock.advance(1)
        env = "training" if i % 2 else "collaboration"
        created.append(_start(api, alice, environment=env, user_id=f"u{i % 3}"))
    seen, cursor = [], None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        page = body(api.get(f"/api/vr/sessions?limit=2{suffix}", alice))
        seen.extend(s["session_id"] for s in page["sessions"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [s["session_id"] for s in reversed(created)]
    training = body(api.get("/api/vr/sessions?environment=training&limit=100", alice))
    assert {s["session_id"] for s in training["sessions"]} == {
        s["session_id"] for s in created if s["environment"] == "training"
    }
    by_user = body(api.get("/api/vr/sessions?user_id=u0&status=active", alice))
    assert {s["user_id"] for s in by_user["sessions"]} == {"u0"}


def test_end_records_duration_and_refuses_twice(
    api: Api, alice: dict[str, str], clock: FixedClock
) -> None:
    session = _start(api, alice)
    clock.advance(125)
    path = f"/api/vr/sessions/{session['session_id']}/end"
    ended = api.post(path, alice)
    assert ended.status_code == 200
    assert body(ended)["status"] == "ended"
    assert body(ended)["duration_seconds"] == 125
    again = api.post(path, alice)
    assert again.status_code == 409
    assert body(again)["code"] == "session_already_ended"


def test_invalid_session_bodies_list_each_field(
    api: Api, alice: dict[str, str]
) -> None:
    response = api.post(
        "/api/vr/sessions",
        alice,
        {
            "environment": "moon_base",
            "config": {"max_participants": 0, "threat_id": "bad", "colour": "red"},
        },
    )
    assert response.status_code == 400
    fields = {e["field"] for e in body(response)["errors"]}
    assert {
        "body.user_id",
        "body.environment",
        "body.config.max_participants",
        "body.config.threat_id",
        "body.config.colour",
    } <= fields


def test_session_on_a_missing_threat_is_a_400(api: Api, alice: dict[str, str]) -> None:
    response = api.post(
        "/api/vr/sessions",
        alice,
        {
            "user_id": "a",
            "environment": "threat_investigation",
            "config": {"threat_id": "thr_" + "1" * 24},
        },
    )
    assert response.status_code == 400
    assert body(response)["errors"][0]["field"] == "body.config.threat_id"


def test_session_on_an_existing_threat(
    api: Api, alice: dict[str, str], writer: dict[str, str]
) -> None:
    threat = body(api.post("/api/threats", writer, threat_body()))
    session = _start(
        api,
        alice,
        environment="threat_investigation",
        config={"threat_id": threat["threat_id"], "auto_load": True},
    )
    assert session["config"]["threat_id"] == threat["threat_id"]


def test_unknown_and_malformed_session_ids_are_404(
    api: Api, alice: dict[str, str]
) -> None:
    for session_id in ("vrs_" + "0" * 24, "x"):
        assert api.get(f"/api/vr/sessions/{session_id}", alice).status_code == 404


def test_session_tampered_cursor_is_a_400(api: Api, alice: dict[str, str]) -> None:
    for _ in range(3):
        _start(api, alice)
    cursor = body(api.get("/api/vr/sessions?limit=1", alice))["next_cursor"]
    response = api.get(f"/api/vr/sessions?limit=1&cursor={cursor[:-3]}xyz", alice)
    assert response.status_code == 400
    assert body(response)["code"] == "invalid_cursor"


def test_sessions_need_their_scopes(api: Api, reader: dict[str, str]) -> None:
    assert api.get("/api/vr/sessions", reader).status_code == 403
    response = api.post(
        "/api/vr/sessions", reader, {"user_id": "a", "environment": "training"}
    )
    assert response.status_code == 403
