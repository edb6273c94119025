"""DynamoDB round trips per request, counted with botocore events.

An admitted request on a warm key costs exactly one admission write on the
keys table, plus one byte-accounting write when the response has a body; a
cold process's first request costs at most two admission writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.app import Chalice, Response
from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.http.call import Call
from chalicelib.http.edge import Edge
from chalicelib.http.registry import Registry, Route
from chalicelib.policy import Scope
from tests.functional.admission.conftest import at
from tests.functional.conftest import PROJECT_DIR, build_services, make_key

BYTES_UPDATE = "SET mb = mb + :n"


class RoundTrips:
    """Records (operation, table, kind) of every DynamoDB call of the client."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def __enter__(self) -> RoundTrips:
        aws.dynamodb().meta.events.register("before-call.dynamodb.*", self._seen)
        return self

    def __exit__(self, *_: object) -> None:
        aws.dynamodb().meta.events.unregister("before-call.dynamodb.*", self._seen)

    def _seen(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        request = json.loads(params["body"] or b"{}")
        table = request.get("TableName", "")
        if request.get("UpdateExpression") == BYTES_UPDATE:
            kind = "bytes"
        elif (
            model.name == "UpdateItem"
            and "ReturnValuesOnConditionCheckFailure" in request
        ):
            kind = "admission"
        else:
            kind = "other"
        self.calls.append((model.name, table, kind))

    def count(self, kind: str) -> int:
        return sum(1 for call in self.calls if call[2] == kind)

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def trips() -> Iterator[RoundTrips]:
    with RoundTrips() as counter:
        yield counter


def _no_content(call: Call) -> Response:
    return Response(body="", status_code=204)


@pytest.fixture
def empty_bodied(core: services_module.Services) -> Iterator[Client]:
    """A route whose success has no body, so no bytes are counted."""
    app = Chalice(app_name="no-content-probe")
    route = Route(
        "touch",
        "POST",
        "/api/touch",
        _no_content,
        "No content",
        "Test",
        scope=Scope.READ_THREATS,
    )
    Edge(app, Registry([route])).mount()
    with Client(app, stage_name="local", project_dir=PROJECT_DIR) as client:
        yield client


@pytest.fixture
def key(core: services_module.Services, clock: FixedClock) -> dict[str, str]:
    clock.at = at("2026-11-30T12:00:00")
    return make_key(core, [Scope.READ_THREATS])


def test_warm_key_costs_one_admission_write_and_one_byte_write(
    http: Client, key: dict[str, str], trips: RoundTrips, clock: FixedClock
) -> None:
    assert http.http.get("/api/usage", headers=key).status_code == 200
    for moment in ("12:00:00.5", "12:00:30", "12:07:00", "13:30:00"):
        clock.at = at(f"2026-11-30T{moment}")
        trips.reset()
        assert http.http.get("/api/usage", headers=key).status_code == 200
        assert trips.count("admission") == 1, moment
        assert trips.count("bytes") == 1, moment
        assert len([c for c in trips.calls if c[1].endswith("-keys")]) == 2


def test_warm_key_with_an_empty_response_costs_one_admission_write_only(
    empty_bodied: Client,
    core: services_module.Services,
    key: dict[str, str],
    trips: RoundTrips,
) -> None:
    assert empty_bodied.http.post("/api/touch", headers=key).status_code == 204
    trips.reset()
    assert empty_bodied.http.post("/api/touch", headers=key).status_code == 204
    keys_table = core.settings.keys_table
    assert [c for c in trips.calls if c[1] == keys_table] == [
        ("UpdateItem", keys_table, "admission")
    ]


@pytest.mark.parametrize(
    ("later", "admission_writes"),
    [("12:00:00", 1), ("12:00:05", 1), ("12:00:31", 2), ("18:45:00", 2)],
    ids=["same-instant", "same-slot", "next-slot", "hours-later"],
)
def test_cold_process_first_request_costs_at_most_two_admission_writes(
    key: dict[str, str],
    clock: FixedClock,
    aws_env: dict[str, str],
    trips: RoundTrips,
    later: str,
    admission_writes: int,
) -> None:
    from app import app

    clock.at = at(f"2026-11-30T{later}")
    cold = build_services(aws_env, clock)
    with (
        services_module.override(cold),
        Client(app, stage_name="local", project_dir=PROJECT_DIR) as client,
    ):
        assert client.http.get("/api/usage", headers=key).status_code == 200
        assert trips.count("admission") == admission_writes
        trips.reset()
        assert client.http.get("/api/usage", headers=key).status_code == 200
        assert trips.count("admission") == 1


def test_two_processes_taking_turns_cost_at_most_two_admission_writes(
    http: Client,
    key: dict[str, str],
    clock: FixedClock,
    aws_env: dict[str, str],
    trips: RoundTrips,
) -> None:
    from app import app

    other = build_services(aws_env, clock)
    with Client(app, stage_name="local", project_dir=PROJECT_DIR) as second:
        for step in range(6):
            clock.advance(7)
            trips.reset()
            if step % 2:
                with services_module.override(other):
                    assert second.http.get("/api/usage", headers=key).status_code == 200
            else:
                assert http.http.get("/api/usage", headers=key).status_code == 200
            assert 1 <= trips.count("admission") <= 2


def test_refusal_costs_one_write_and_no_byte_write(
    http: Client, key: dict[str, str], trips: RoundTrips
) -> None:
    wrong = {**key, "X-API-Key-Secret": "0" * 64}
    http.http.get("/api/usage", headers=key)
    trips.reset()
    assert http.http.get("/api/usage", headers=wrong).status_code == 401
    assert trips.count("admission") == 1
    assert trips.count("bytes") == 0
