"""The documentation routes through the whole edge: public, cached, self-contained."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from chalice.test import Client
from openapi_spec_validator import validate

from chalicelib import services as services_module
from chalicelib.policy import TIER_LIMITS
from chalicelib.routes import REGISTRY
from tests.functional.conftest import build_services

HOST = {"Host": "api.test.example:8443", "X-Forwarded-Proto": "https"}


def test_openapi_document_is_public_valid_and_names_the_server_it_was_asked_on(
    client: Client,
) -> None:
    response = client.http.get("/api/openapi.json", headers=HOST)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    document = json.loads(response.body)
    validate(document)
    assert document["servers"] == [{"url": "https://api.test.example:8443"}]
    assert "X-RateLimit-Limit" not in response.headers


def test_openapi_server_is_the_configured_public_url_when_set(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPITER_PUBLIC_URL", "https://api.jupiter.example/")

    with services_module.override(build_services({})):
        response = client.http.get("/api/openapi.json", headers=HOST)

    document = json.loads(response.body)
    assert document["servers"] == [{"url": "https://api.jupiter.example"}]


def test_asyncapi_document_is_public_and_points_at_the_socket(client: Client) -> None:
    response = client.http.get("/api/asyncapi.json", headers=HOST)

    assert response.status_code == 200
    document = json.loads(response.body)
    assert document["asyncapi"] == "3.0.0"
    assert document["servers"]["service"]["host"] == "api.test.example:8443"
    assert document["servers"]["service"]["protocol"] == "wss"


def test_docs_page_is_public_html_with_a_strict_content_security_policy(
    client: Client,
) -> None:
    response = client.http.get("/api/docs")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_docs_page_loads_nothing_from_outside_the_service(client: Client) -> None:
    page = client.http.get("/api/docs").body.decode()

    external = re.findall(r'(?:src|href|action)\s*=\s*["\']?(?:https?:)?//', page)
    assert external == []
    assert "@import" not in page


def test_docs_page_shows_every_operation_and_the_tier_table(client: Client) -> None:
    page = client.http.get("/api/docs").body.decode()

    for route in REGISTRY.routes:
        assert f'data-operation="{route.operation}"' in page
    for tier, limits in TIER_LIMITS.items():
        assert f"<td>{tier.value}</td><td>{limits.per_hour:,}</td>" in page


def test_sdk_zip_is_served_to_a_client_that_accepts_it(client: Client) -> None:
    response = client.http.get(
        "/api/sdks/javascript", headers={"Accept": "application/zip"}
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.body)).namelist()
    assert "jupiter-vr-client-javascript/README.md" in names
    assert "jupiter-vr-client-javascript/index.js" in names


def test_sdk_zip_without_a_binary_accept_header_is_a_problem_not_garbage(
    client: Client,
) -> None:
    # API Gateway returns binary bodies only to requests accepting them;
    # Chalice enforces the same rule locally.
    response = client.http.get("/api/sdks/python", headers={"Accept": "text/plain"})

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "Accept" in json.loads(response.body)["detail"]


def test_unknown_sdk_language_is_a_404_listing_the_languages(client: Client) -> None:
    response = client.http.get("/api/sdks/cobol", headers={"Accept": "*/*"})

    assert response.status_code == 404
    problem = json.loads(response.body)
    assert problem["code"] == "not_found"
    assert "python, javascript, unity" in problem["detail"]


def test_postman_collection_has_one_request_per_operation(client: Client) -> None:
    collection = json.loads(client.http.get("/api/postman.json").body)

    requests = [item for folder in collection["item"] for item in folder["item"]]
    assert len(requests) == len(REGISTRY.routes)
    assert all("X-API-Key-Secret" not in r["request"]["url"]["raw"] for r in requests)
