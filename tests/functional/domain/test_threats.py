"""Threat endpoints over chalice.test.Client with moto."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from chalicelib.clock import FixedClock
from tests.functional.domain.conftest import Api, body, threat_body


def _at(clock: FixedClock, seconds_ago: float) -> str:
    moment = datetime.fromtimestamp(clock.now() - seconds_ago, UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _all_pages(api: Api, headers: dict[str, str], query: str) -> list[dict]:
    seen: list[dict] = []
    cursor = None
    for _ in range(100):
        suffix = f"&cursor={cursor}" if cursor else ""
        response = api.get(f"/api/threats?{query}{suffix}", headers)
        assert response.status_code == 200, response.body
        page = body(response)
        seen.extend(page["threats"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


def test_created_threat_reads_back_with_every_field(
    api: Api, writer: dict[str, str]
) -> None:
    created = api.post("/api/threats", writer, threat_body())
    assert created.status_code == 201, created.body
    threat = body(created)
    assert threat["threat_id"].startswith("thr_")
    assert threat["status"] == "active"
    assert threat["resolved_at"] is None
    fetched = api.get(f"/api/threats/{threat['threat_id']}", writer)
    assert fetched.status_code == 200
    assert body(fetched) == threat


def test_list_is_newest_first_and_pages_return_each_threat_once(
    api: Api, writer: dict[str, str], clock: FixedClock
) -> None:
    # Spread over two months so pages cross a month boundary.
    ids = []
    for i in range(23):
        detected = _at(clock, i * 2 * 86_400 + 60)
        response = api.post("/api/threats", writer, threat_body(detected_at=detected))
        ids.append(body(response)["threat_id"])
    seen = _all_pages(api, writer, "limit=5")
    assert [t["threat_id"] for t in seen] == ids
    times = [t["detected_at"] for t in seen]
    assert times == sorted(times, reverse=True)


def test_filters_hold_and_combine(
    api: Api, writer: dict[str, str], clock: FixedClock
) -> None:
    kinds = [
        ("malware", "high"),
        ("phishing", "low"),
        ("malware", "critical"),
        ("ddos", "critical"),
        ("malware", "high"),
    ]
    created = [
        body(api.post("/api/threats", writer, threat_body(type=t, severity=s)))
        for t, s in kinds
    ]
    api.post(f"/api/threats/{created[0]['threat_id']}/resolve", writer)

    def ids(query: str) -> set[str]:
        return {t["threat_id"] for t in _all_pages(api, writer, query)}

    def expect(match: object) -> set[str]:
        return {c["threat_id"] for c in created if match(c)}  # type: ignore[operator]

    assert ids("type=malware&limit=2") == expect(lambda c: c["type"] == "malware")
    assert ids("severity=critical") == expect(lambda c: c["severity"] == "critical")
    assert ids("status=resolved") == {created[0]["threat_id"]}
    assert ids("type=malware&severity=high&status=active&limit=1") == {
        created[4]["threat_id"]
    }


def test_since_excludes_older_threats(
    api: Api, writer: dict[str, str], clock: FixedClock
) -> None:
    old = body(
        api.post("/api/threats", writer, threat_body(detected_at=_at(clock, 3_600)))
    )
    new = body(
        api.post("/api/threats", writer, threat_body(detected_at=_at(clock, 60)))
    )
    since = _at(clock, 600).replace(":", "%3A")
    listed = _all_pages(api, writer, f"since={since}")
    assert [t["threat_id"] for t in listed] == [new["threat_id"]]
    assert old["threat_id"] not in {t["threat_id"] for t in listed}


def test_tampered_cursor_is_a_400(api: Api, writer: dict[str, str]) -> None:
    for _ in range(3):
        api.post("/api/threats", writer, threat_body())
    cursor = body(api.get("/api/threats?limit=1", writer))["next_cursor"]
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-3] ^= 1
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (forged, "not-a-cursor", cursor[:-2]):
        response = api.get(f"/api/threats?limit=1&cursor={bad}", writer)
        assert response.status_code == 400
        assert body(response)["code"] == "invalid_cursor"


def test_cursor_of_another_filter_is_refused(api: Api, writer: dict[str, str]) -> None:
    for _ in range(3):
        api.post("/api/threats", writer, threat_body())
    cursor = body(api.get("/api/threats?limit=1", writer))["next_cursor"]
    response = api.get(f"/api/threats?limit=1&severity=high&cursor={cursor}", writer)
    assert response.status_code == 400
    assert body(response)["code"] == "invalid_cursor"


def test_resolve_then_read_back_resolved(
    api: Api, writer: dict[str, str], clock: FixedClock
) -> None:
    threat = body(api.post("/api/threats", writer, threat_body()))
    clock.advance(90)
    resolved = api.post(
        f"/api/threats/{threat['threat_id']}/resolve",
        writer,
        {"resolution": "host reimaged"},
    )
    assert resolved.status_code == 200, resolved.body
    fetched = body(api.get(f"/api/threats/{threat['threat_id']}", writer))
    assert fetched["status"] == "resolved"
    assert fetched["resolution"] == "host reimaged"
    assert fetched["resolved_at"] is not None


def test_resolving_twice_is_a_409(api: Api, writer: dict[str, str]) -> None:
    threat = body(api.post("/api/threats", writer, threat_body()))
    path = f"/api/threats/{threat['threat_id']}/resolve"
    assert api.post(path, writer).status_code == 200
    again = api.post(path, writer)
    assert again.status_code == 409
    assert body(again)["code"] == "threat_already_resolved"


def test_unknown_threat_is_a_404(api: Api, writer: dict[str, str]) -> None:
    for path in ("/api/threats/thr_" + "0" * 24, "/api/threats/nonsense"):
        response = api.get(path, writer)
        assert response.status_code == 404
        assert body(response)["code"] == "not_found"
    missing = api.post("/api/threats/thr_" + "0" * 24 + "/resolve", writer)
    assert missing.status_code == 404


def test_invalid_threat_lists_each_bad_field(api: Api, writer: dict[str, str]) -> None:
    response = api.post(
        "/api/threats",
        writer,
        {"type": "worm", "severity": "extreme", "source_ip": "999.1.1.1", "x": 1},
    )
    assert response.status_code == 400
    problem = body(response)
    assert problem["code"] == "validation_error"
    fields = {e["field"] for e in problem["errors"]}
    assert {
        "body.type",
        "body.severity",
        "body.source_ip",
        "body.target",
        "body.x",
    } <= fields


def test_detection_time_out_of_range_is_a_400(
    api: Api, writer: dict[str, str], clock: FixedClock
) -> None:
    for seconds_ago in (400 * 86_400, -3_600):
        response = api.post(
            "/api/threats", writer, threat_body(detected_at=_at(clock, seconds_ago))
        )
        assert response.status_code == 400
        assert body(response)["errors"][0]["field"] == "body.detected_at"
    naive = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert (
        api.post("/api/threats", writer, threat_body(detected_at=naive)).status_code
        == 400
    )


def test_bad_list_query_is_a_400(api: Api, writer: dict[str, str]) -> None:
    for query in ("limit=0", "limit=101", "severity=nope", "since=yesterday"):
        response = api.get(f"/api/threats?{query}", writer)
        assert response.status_code == 400, query
        assert body(response)["code"] == "validation_error"


def test_writing_needs_write_threats(api: Api, reader: dict[str, str]) -> None:
    response = api.post("/api/threats", reader, threat_body())
    assert response.status_code == 403
    assert body(response)["code"] == "insufficient_permissions"
    assert api.get("/api/threats", reader).status_code == 200
