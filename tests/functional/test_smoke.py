from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from chalice.test import Client

from chalicelib import health


def test_health_is_public(client: Client) -> None:
    response = client.http.get("/api/health")
    assert response.status_code == 200
    assert json.loads(response.body)["store"] == "reachable"


class UnreachableStore:
    def describe_table(self, **_: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.example")


def test_health_is_503_with_retry_after_when_the_store_is_unreachable(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health.aws, "dynamodb", UnreachableStore)
    response = client.http.get("/api/health")
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert json.loads(response.body)["code"] == "store_unavailable"
    assert int(response.headers["Retry-After"]) >= 1


def test_create_and_list(client: Client, admin_headers: dict[str, str]) -> None:
    body = {
        "name": "reader",
        "owner_id": "org_a",
        "permissions": ["READ_THREATS"],
        "tier": "FREE",
    }
    response = client.http.post(
        "/api/keys",
        headers={**admin_headers, "Content-Type": "application/json"},
        body=json.dumps(body),
    )
    print(response.status_code, response.headers, response.body)
    assert response.status_code == 201
    created = json.loads(response.body)
    headers = {
        "X-API-Key-ID": created["key_id"],
        "X-API-Key-Secret": created["key_secret"],
    }
    usage = client.http.get("/api/usage", headers=headers)
    print(usage.status_code, usage.headers, usage.body)
    assert usage.status_code == 200
    listing = client.http.get("/api/keys?owner_id=org_a", headers=admin_headers)
    print(listing.body)
    assert listing.status_code == 200
