"""The generated Python SDK, imported and run against a scripted local server."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from chalicelib.apidoc.openapi import build_openapi
from chalicelib.routes import REGISTRY
from chalicelib.sdks.description import describe
from tests.sdk.scripted_server import Answer, problem, scripted

SECRET = "a" * 64


@pytest.fixture(scope="module")
def sdk(python_sdk: Path) -> Iterator[ModuleType]:
    sys.path.insert(0, str(python_sdk))
    try:
        yield importlib.import_module("jupiter_vr_client")
    finally:
        sys.path.remove(str(python_sdk))
        for name in [m for m in sys.modules if m.startswith("jupiter_vr_client")]:
            del sys.modules[name]


def test_every_operation_is_a_method(sdk: ModuleType) -> None:
    for operation in describe(build_openapi(REGISTRY)):
        assert callable(getattr(sdk.JupiterVRClient, operation.name))


def test_429_with_retry_after_is_retried_once_after_about_a_second(
    sdk: ModuleType,
) -> None:
    with scripted(
        Answer(429, problem(429, "rate_limit_exceeded"), {"Retry-After": "1"}),
        Answer(200, {"key_id": "jptr_test"}),
    ) as server:
        client = sdk.JupiterVRClient("jptr_test", SECRET, base_url=server.url)
        assert client.get_usage() == {"key_id": "jptr_test"}

    assert len(server.arrivals) == 2
    assert 0.9 <= server.arrivals[1].at - server.arrivals[0].at <= 2.0
    assert client.last_response.retries == 1


def test_post_retried_after_503_reuses_its_idempotency_key(sdk: ModuleType) -> None:
    with scripted(
        Answer(503, problem(503, "store_unavailable"), {"Retry-After": "0"}),
        Answer(201, {"session_id": "vrs_1"}),
    ) as server:
        client = sdk.JupiterVRClient("jptr_test", SECRET, base_url=server.url)
        created = client.create_vr_session({"user_id": "u1", "environment": "lab"})

    keys = [a.headers.get("idempotency-key") for a in server.arrivals]
    assert created == {"session_id": "vrs_1"}
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    assert server.arrivals[0].body == server.arrivals[1].body


def test_each_post_gets_its_own_idempotency_key(sdk: ModuleType) -> None:
    with scripted(Answer(201, {"session_id": "vrs_1"})) as server:
        client = sdk.JupiterVRClient("jptr_test", SECRET, base_url=server.url)
        client.create_vr_session({"user_id": "u1"})
        client.create_vr_session({"user_id": "u1"})

    first, second = (a.headers["idempotency-key"] for a in server.arrivals)
    assert first != second


def test_server_errors_back_off_exponentially_then_raise(sdk: ModuleType) -> None:
    waits: list[float] = []
    with scripted(Answer(500, problem(500, "internal_error"))) as server:
        client = sdk.JupiterVRClient(
            "jptr_test", SECRET, base_url=server.url, sleep=waits.append
        )
        with pytest.raises(sdk.ServerError) as caught:
            client.get_usage()

    assert len(server.arrivals) == 3
    assert 0.375 <= waits[0] <= 0.5 and 0.75 <= waits[1] <= 1.0
    assert caught.value.status == 500


def test_retry_after_beyond_a_minute_falls_back_to_backoff(sdk: ModuleType) -> None:
    waits: list[float] = []
    with scripted(
        Answer(429, problem(429, "quota_exceeded"), {"Retry-After": "3600"}),
        Answer(200, {}),
    ) as server:
        client = sdk.JupiterVRClient(
            "jptr_test", SECRET, base_url=server.url, sleep=waits.append
        )
        client.get_usage()

    assert len(waits) == 1 and waits[0] <= 0.5


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "validation_error", "ValidationError"),
        (401, "invalid_api_key", "AuthenticationError"),
        (403, "insufficient_permissions", "PermissionDeniedError"),
        (404, "not_found", "NotFoundError"),
        (429, "rate_limit_exceeded", "RateLimitError"),
        (503, "store_unavailable", "ServerError"),
    ],
)
def test_errors_are_typed_by_status_with_code_message_and_request_id(
    sdk: ModuleType, status: int, code: str, kind: str
) -> None:
    with scripted(Answer(status, problem(status, code))) as server:
        client = sdk.JupiterVRClient(
            "jptr_test", SECRET, base_url=server.url, max_retries=0
        )
        with pytest.raises(getattr(sdk, kind)) as caught:
            client.get_usage()

    error = caught.value
    assert (error.status, error.code) == (status, code)
    assert error.message == f"scripted {code}"
    assert error.request_id == f"req_problem_{status}"


def test_unreachable_service_raises_a_connection_error(sdk: ModuleType) -> None:
    waits: list[float] = []
    client = sdk.JupiterVRClient(
        "jptr_test", SECRET, base_url="http://127.0.0.1:9", sleep=waits.append
    )
    with pytest.raises(sdk.APIConnectionError):
        client.get_usage()
    assert len(waits) == 2


def test_secret_is_kept_out_of_the_client_repr(sdk: ModuleType) -> None:
    client = sdk.JupiterVRClient("jptr_test", SECRET)
    assert SECRET not in repr(client)


def test_path_parameters_are_escaped(sdk: ModuleType) -> None:
    with scripted(Answer(200, {"threat_id": "x"})) as server:
        client = sdk.JupiterVRClient("jptr_test", SECRET, base_url=server.url)
        client.get_threat("../keys?x=1")

    assert server.arrivals[0].path == "/api/threats/..%2Fkeys%3Fx%3D1"
