"""When DynamoDB fails, the domain endpoints answer 503 with Retry-After."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.policy import Scope, Tier
from tests.functional.conftest import make_key
from tests.functional.domain.conftest import Api, body, threat_body


class FailingClient:
    """Delegates to the real client, except the named operations, which fail."""

    def __init__(self, inner: Any, *failing: str) -> None:
        self._inner = inner
        self._failing = set(failing)

    def __getattr__(self, name: str) -> Any:
        if name in self._failing:
            return self._fail
        return getattr(self._inner, name)

    def _fail(self, **kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "InternalServerError", "Message": "injected"}}, "Op"
        )


def _unavailable(response: Any) -> None:
    assert response.status_code == 503, response.body
    assert body(response)["code"] == "store_unavailable"
    assert response.headers["Retry-After"]


def test_threat_reads_fail_closed(
    api: Api, writer: dict[str, str], domain_svc: services_module.Services
) -> None:
    threat = body(api.post("/api/threats", writer, threat_body()))
    failing = FailingClient(aws.dynamodb(), "get_item", "query")
    domain_svc.threats._client = failing  # type: ignore[assignment]
    domain_svc.threats._lister._client = failing  # type: ignore[assignment]
    _unavailable(api.get(f"/api/threats/{threat['threat_id']}", writer))
    _unavailable(api.get("/api/threats", writer))
    _unavailable(api.post(f"/api/threats/{threat['threat_id']}/resolve", writer))


def test_session_store_failures_are_503(
    api: Api, domain_svc: services_module.Services
) -> None:
    headers = make_key(
        domain_svc, [Scope.READ_VR_SESSIONS, Scope.WRITE_VR_SESSIONS], Tier.BASIC
    )
    domain_svc.sessions._client = FailingClient(  # type: ignore[assignment]
        aws.dynamodb(), "get_item", "query", "transact_write_items"
    )
    _unavailable(api.get("/api/vr/sessions", headers))
    _unavailable(api.get("/api/vr/sessions/vrs_" + "0" * 24, headers))
    _unavailable(
        api.post(
            "/api/vr/sessions", headers, {"user_id": "u", "environment": "training"}
        )
    )


def test_analytics_store_failure_is_503(
    api: Api, writer: dict[str, str], domain_svc: services_module.Services
) -> None:
    domain_svc.analytics._client = FailingClient(  # type: ignore[assignment]
        aws.dynamodb(), "batch_get_item"
    )
    _unavailable(api.get("/api/analytics/threat_count?period=24h", writer))


def test_idempotency_store_failure_is_503_and_does_no_work(
    api: Api, writer: dict[str, str], domain_svc: services_module.Services
) -> None:
    store = domain_svc.idempotency._store
    store.client = FailingClient(aws.dynamodb(), "put_item")  # type: ignore[assignment]
    response = api.post(
        "/api/threats", writer, threat_body(), {"Idempotency-Key": "k-503"}
    )
    _unavailable(response)
    listed = body(api.get("/api/threats", writer))["threats"]
    assert listed == []


def test_request_counter_failure_does_not_fail_the_request(
    api: Api, writer: dict[str, str], domain_svc: services_module.Services
) -> None:
    domain_svc.requests._client = FailingClient(  # type: ignore[assignment]
        aws.dynamodb(), "update_item"
    )
    assert api.get("/api/threats", writer).status_code == 200
