"""Admission is traced and counted in EMF, one document per request; a quota
event recorded by the byte-count write carries its request's id."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.clock import FixedClock
from chalicelib.policy import Scope
from tests.functional.admission.conftest import at, set_limits
from tests.functional.conftest import make_key
from tests.support.observe import emf_documents, traced


@pytest.fixture
def key(core: services_module.Services, clock: FixedClock) -> dict[str, str]:
    clock.at = at("2026-11-30T12:00:01")
    return make_key(core, [Scope.READ_THREATS])


def one_document(documents: list[dict[str, Any]]) -> dict[str, Any]:
    (document,) = documents
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "JupiterAPI"
    assert document["Stage"] == "local"
    assert isinstance(document["_aws"]["Timestamp"], int)
    return document


def test_an_admitted_request_writes_one_admitted_document(
    http: Client, key: dict[str, str]
) -> None:
    with traced() as recorder, emf_documents() as documents:
        assert http.http.get("/api/usage", headers=key).status_code == 200

    document = one_document(documents)
    assert document["Admitted"] == 1
    assert document["_aws"]["CloudWatchMetrics"][0] == {
        "Namespace": "JupiterAPI",
        "Dimensions": [["Stage"]],
        "Metrics": [{"Name": "Admitted", "Unit": "Count"}],
    }
    assert recorder.names() == ["admission"]


def test_a_limited_request_is_counted_by_the_limit_that_refused_it(
    http: Client, core: services_module.Services, clock: FixedClock, key: dict[str, str]
) -> None:
    set_limits(core, key["X-API-Key-ID"], burst=1)
    clock.at = at("2026-11-30T12:00:11.5")
    assert http.http.get("/api/usage", headers=key).status_code == 200

    with traced() as recorder, emf_documents() as documents:
        assert http.http.get("/api/usage", headers=key).status_code == 429

    document = one_document(documents)
    assert (document["Limited"], document["Limit"]) == (1, "burst")
    dimensions = document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert dimensions == [["Stage"], ["Stage", "Limit"]]
    assert "Admitted" not in document
    assert recorder.names() == ["admission"]


def test_a_used_up_quota_is_counted_as_the_month_limit(
    http: Client, core: services_module.Services, key: dict[str, str]
) -> None:
    set_limits(core, key["X-API-Key-ID"], bytes=10)
    core.meter.record(key["X-API-Key-ID"], 10)

    with emf_documents() as documents:
        assert http.http.get("/api/usage", headers=key).status_code == 429

    assert one_document(documents)["Limit"] == "month"


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({"X-API-Key-ID": "jptr_" + "0" * 24, "X-API-Key-Secret": "0" * 64}, 401, None),
        ({}, 401, None),
        (None, 403, "insufficient_permissions"),
    ],
)
def test_a_denied_request_is_counted_by_its_problem_code(
    http: Client,
    key: dict[str, str],
    headers: dict[str, str] | None,
    status: int,
    reason: str | None,
) -> None:
    path = "/api/stats" if headers is None else "/api/usage"
    with emf_documents() as documents:
        response = http.http.get(path, headers=key if headers is None else headers)
    assert response.status_code == status

    document = one_document(documents)
    code = json.loads(response.body)["code"]
    assert (document["Denied"], document["Reason"]) == (1, reason or code)
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["Stage"],
        ["Stage", "Reason"],
    ]


def test_a_revoked_key_is_denied_as_revoked(
    http: Client, core: services_module.Services, key: dict[str, str]
) -> None:
    aws.dynamodb().update_item(
        TableName=core.settings.keys_table,
        Key={"key_id": {"S": key["X-API-Key-ID"]}},
        UpdateExpression="SET st = :revoked",
        ExpressionAttributeValues={":revoked": {"S": "revoked"}},
    )
    with emf_documents() as documents:
        assert http.http.get("/api/usage", headers=key).status_code == 401

    assert one_document(documents)["Reason"] == "api_key_revoked"


def test_a_public_route_writes_no_metrics(http: Client) -> None:
    with traced() as recorder, emf_documents() as documents:
        assert http.http.get("/api/health").status_code == 200
    assert documents == []
    assert recorder.opened == []


def test_a_quota_event_of_the_byte_count_carries_its_request_id(
    http: Client, core: services_module.Services, key: dict[str, str]
) -> None:
    set_limits(core, key["X-API-Key-ID"], bytes=100)
    core.meter.record(key["X-API-Key-ID"], 79)

    response = http.http.get("/api/usage", headers=key)
    assert response.status_code == 200

    rows = aws.dynamodb().scan(TableName=core.settings.events_table)["Items"]
    (warning,) = [r for r in rows if r["event_type"]["S"] == "quota.warning"]
    assert warning["correlation_id"]["S"] == response.headers["X-Request-Id"]
    assert warning["request_id"]["S"] == response.headers["X-Request-Id"]
