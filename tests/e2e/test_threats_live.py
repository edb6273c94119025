"""Threats over real HTTP against the local stack (serialized moto server).

120 threats created at once are each returned exactly once when paging with
``limit=25``; filters hold; a tampered cursor is a 400; and concurrent
duplicates carrying one Idempotency-Key create a single threat.
"""

from __future__ import annotations

import secrets
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStack, assert_problem, create_key, key_headers

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

CONCURRENT = 120
KINDS = ["ransomware", "malware", "phishing", "ddos"]
SEVERITIES = ["low", "medium", "high", "critical"]


@pytest.fixture(scope="module")
def writer(stack: LocalStack) -> dict[str, str]:
    key = create_key(
        stack,
        ["READ_THREATS", "WRITE_THREATS"],
        tier="ENTERPRISE",
        owner="org_threats_e2e",
    )
    return key_headers(key)


def _create(
    stack: LocalStack, headers: dict[str, str], body: dict[str, Any]
) -> requests.Response:
    return requests.post(
        stack.url("/api/threats"), json=body, headers=headers, timeout=30
    )


def _pages(stack: LocalStack, headers: dict[str, str], query: str) -> list[dict]:
    threats: list[dict] = []
    params: dict[str, str] = {}
    limit = int(dict(p.split("=") for p in query.split("&"))["limit"])
    for _ in range(1_000):
        response = requests.get(
            stack.url(f"/api/threats?{query}"),
            params=params,
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["threats"]) <= limit
        threats.extend(page["threats"])
        if page["next_cursor"] is None:
            return threats
        params = {"cursor": page["next_cursor"]}
    raise AssertionError("pagination did not end")


@pytest.fixture(scope="module")
def batch(stack: LocalStack, writer: dict[str, str]) -> list[dict]:
    marker = "e2e-" + secrets.token_hex(4)
    bodies = [
        {
            "type": KINDS[i % 4],
            "severity": SEVERITIES[(i // 4) % 4],
            "target": f"{marker}-{i}",
            "source_ip": f"198.51.100.{i % 250}",
        }
        for i in range(CONCURRENT)
    ]
    with ThreadPoolExecutor(max_workers=24) as pool:
        responses = list(pool.map(lambda b: _create(stack, writer, b), bodies))
    assert [r.status_code for r in responses] == [201] * CONCURRENT
    return [r.json() for r in responses]


def test_concurrent_creates_are_each_listed_exactly_once(
    stack: LocalStack, writer: dict[str, str], batch: list[dict]
) -> None:
    listed = _pages(stack, writer, "limit=25")
    counts = Counter(t["threat_id"] for t in listed)
    assert all(n == 1 for n in counts.values())
    assert {t["threat_id"] for t in batch} <= set(counts)
    times = [t["detected_at"] for t in listed]
    assert times == sorted(times, reverse=True)


def test_filters_hold_over_http(
    stack: LocalStack, writer: dict[str, str], batch: list[dict]
) -> None:
    ours = {t["threat_id"]: t for t in batch}
    listed = _pages(stack, writer, "limit=25&type=ransomware&severity=critical")
    assert all(
        t["type"] == "ransomware" and t["severity"] == "critical" for t in listed
    )
    expected = {
        i
        for i, t in ours.items()
        if t["type"] == "ransomware" and t["severity"] == "critical"
    }
    assert expected <= {t["threat_id"] for t in listed}
    active = _pages(stack, writer, "limit=25&status=active")
    assert all(t["status"] == "active" for t in active)


def test_tampered_cursor_is_a_400_over_http(
    stack: LocalStack, writer: dict[str, str], batch: list[dict]
) -> None:
    first = requests.get(
        stack.url("/api/threats?limit=25"), headers=writer, timeout=30
    ).json()
    cursor = first["next_cursor"]
    assert cursor
    forged = cursor[:-4] + ("AAAA" if not cursor.endswith("AAAA") else "BBBB")
    response = requests.get(
        stack.url("/api/threats"),
        params={"limit": "25", "cursor": forged},
        headers=writer,
        timeout=30,
    )
    assert_problem(response, 400, "invalid_cursor")


def test_concurrent_duplicates_create_one_threat(
    stack: LocalStack, writer: dict[str, str]
) -> None:
    target = "dup-" + secrets.token_hex(4)
    body = {"type": "malware", "severity": "low", "target": target}
    headers = {**writer, "Idempotency-Key": "dup-" + secrets.token_hex(8)}
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: _create(stack, headers, body), range(10)))
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    created = {r.json()["threat_id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "idempotency_in_progress"
    replay = _create(stack, headers, body)
    assert replay.status_code == 201
    assert replay.headers["Idempotency-Replayed"] == "true"
    assert replay.json()["threat_id"] in created
    listed = _pages(stack, writer, "limit=100&type=malware&severity=low")
    assert [t["target"] for t in listed].count(target) == 1
