"""GET /api/events: the owner's recent events, newest first, paginated."""

from __future__ import annotations

from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.policy import Scope, Tier
from tests.functional.conftest import make_key
from tests.functional.domain.conftest import Api, body, threat_body

SCOPES = [Scope.READ_VR_SESSIONS, Scope.WRITE_VR_SESSIONS]


def test_owner_sees_its_own_events_newest_first(
    api: Api,
    domain_svc: services_module.Services,
    writer: dict[str, str],
    admin: dict[str, str],
    clock: FixedClock,
) -> None:
    alice = make_key(domain_svc, SCOPES, Tier.BASIC, owner="org_alice")
    bob = make_key(domain_svc, SCOPES, Tier.BASIC, owner="org_bob")
    session = body(
        api.post("/api/vr/sessions", alice, {"user_id": "u", "environment": "training"})
    )
    clock.advance(5)
    api.post(f"/api/vr/sessions/{session['session_id']}/end", alice)
    threat = body(api.post("/api/threats", writer, threat_body()))

    mine = body(api.get("/api/events", alice))
    assert [e["event_type"] for e in mine["events"]] == [
        "vr.session.ended",
        "vr.session.started",
    ]
    assert mine["events"][1]["data"]["session"]["session_id"] == session["session_id"]
    assert body(api.get("/api/events", bob))["events"] == []
    assert body(api.get("/api/events?owner_id=org_alice", bob))["events"] == []
    as_admin = body(api.get("/api/events?owner_id=org_alice", admin))
    assert len(as_admin["events"]) == 2
    feed = body(api.get("/api/events?event_type=threat.detected", writer))["events"]
    assert [e["data"]["threat"]["threat_id"] for e in feed] == [threat["threat_id"]]


def test_event_pages_return_each_event_once(
    api: Api, domain_svc: services_module.Services, clock: FixedClock
) -> None:
    alice = make_key(domain_svc, SCOPES, Tier.BASIC, owner="org_alice")
    for _ in range(5):
        clock.advance(1)
        api.post("/api/vr/sessions", alice, {"user_id": "u", "environment": "training"})
    seen, cursor, first = [], None, None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        page = body(api.get(f"/api/events?limit=2{suffix}", alice))
        seen.extend(e["event_id"] for e in page["events"])
        cursor = page["next_cursor"]
        first = first or cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert first is not None
    # A character inside the signature: every one of its bits counts.
    forged = first[:5] + ("B" if first[5] == "A" else "A") + first[6:]
    tampered = api.get(f"/api/events?limit=2&cursor={forged}", alice)
    assert tampered.status_code == 400
    assert body(tampered)["code"] == "invalid_cursor"


def test_bad_event_query_is_a_400(api: Api, writer: dict[str, str]) -> None:
    for query in ("limit=0", "event_type=DROP%20TABLE", "owner_id=%20"):
        response = api.get(f"/api/events?{query}", writer)
        assert response.status_code == 400, query
