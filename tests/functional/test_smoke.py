from __future__ import annotations

import json

from chalice.test import Client


def test_health_is_public(client: Client) -> None:
    response = client.http.get("/api/health")
    assert response.status_code == 200
    assert json.loads(response.body)["store"] == "reachable"


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
