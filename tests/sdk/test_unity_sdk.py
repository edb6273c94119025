"""The Unity C# SDK, compiled with mcs against UnityEngine stand-ins that make
real HTTP calls, run with mono against a scripted local server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from chalicelib.apidoc.openapi import build_openapi
from chalicelib.routes import REGISTRY
from chalicelib.sdks.description import describe
from tests.sdk.conftest import require_tool
from tests.sdk.scripted_server import Answer, problem, scripted


def run(program: Path, mode: str, base_url: str = "http://127.0.0.1:9") -> Any:
    mono = require_tool("mono")
    done = subprocess.run(
        [mono, str(program), mode, base_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_every_operation_has_a_coroutine(unity_program: Path) -> None:
    methods = set(run(unity_program, "methods")["methods"])
    assert {op.pascal for op in describe(build_openapi(REGISTRY))} <= methods


def test_json_reader_and_writer_handle_nested_objects(unity_program: Path) -> None:
    result = run(unity_program, "json")
    assert json.loads(result["serialized"]) == {
        "a": {"b": [1, 2.5, "xé\n", True, None, {"c": {}}]},
        "n": -12,
    }
    assert result["first_is_long"] and result["second_is_double"]


def test_429_with_retry_after_is_retried_once_after_about_a_second(
    unity_program: Path,
) -> None:
    with scripted(
        Answer(429, problem(429, "rate_limit_exceeded"), {"Retry-After": "1"}),
        Answer(200, {"key_id": "jptr_test"}),
    ) as server:
        result = run(unity_program, "get", server.url)["get"]

    assert result["ok"] and result["retries"] == 1
    assert len(server.arrivals) == 2
    gap = server.arrivals[1].at - server.arrivals[0].at
    assert 0.9 <= gap <= 2.0


def test_post_retried_after_503_reuses_its_idempotency_key(unity_program: Path) -> None:
    with scripted(
        Answer(503, problem(503, "store_unavailable"), {"Retry-After": "0"}),
        Answer(201, {"session_id": "vrs_1"}),
    ) as server:
        result = run(unity_program, "post", server.url)["post"]

    keys = [a.headers.get("idempotency-key") for a in server.arrivals]
    assert result["ok"] and result["data"] == {"session_id": "vrs_1"}
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    assert result["idempotency_key"] == keys[0]


def test_errors_are_typed_by_status_with_code_and_request_id(
    unity_program: Path,
) -> None:
    with scripted(Answer(401, problem(401, "invalid_api_key"))) as server:
        result = run(unity_program, "get", server.url)["get"]

    assert len(server.arrivals) == 1
    assert result["error_type"] == "JupiterAuthenticationException"
    assert result["error_code"] == "invalid_api_key"
    assert result["error_request_id"] == "req_problem_401"
    assert result["status"] == 401


def test_server_errors_are_retried_twice_then_reported(unity_program: Path) -> None:
    with scripted(Answer(500, problem(500, "internal_error"))) as server:
        output = run(unity_program, "get", server.url)

    result = output["get"]
    assert len(server.arrivals) == 3
    assert result["error_type"] == "JupiterServerException"
    assert result["retries"] == 2
    first, second = output["waits"]
    # Exponential backoff from 0.5 s with jitter keeping 75-100 % of the delay.
    assert 0.375 <= first <= 0.5 and 0.75 <= second <= 1.0


def test_unreachable_service_is_a_connection_error_after_retries(
    unity_program: Path,
) -> None:
    result = run(unity_program, "offline", "http://127.0.0.1:9")["offline"]
    assert not result["ok"]
    assert result["error_type"] == "JupiterConnectionException"
    assert result["retries"] == 1
