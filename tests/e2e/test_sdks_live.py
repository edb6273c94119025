"""Each generated SDK against the live local stack, as an integrator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStack, create_key, key_headers
from tests.sdk.conftest import SDK_TESTS, compile_unity, require_tool, write_sdk
from tests.sdk.test_javascript_sdk import node_command

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

SCOPES = [
    "READ_THREATS",
    "WRITE_THREATS",
    "READ_VR_SESSIONS",
    "WRITE_VR_SESSIONS",
    "READ_ANALYTICS",
]
DESIGN_EXAMPLE = """
    import json, os, sys
    from jupiter_vr_client import JupiterVRClient

    client = JupiterVRClient(
        api_key_id=os.environ["KEY_ID"],
        api_key_secret=os.environ["KEY_SECRET"],
        base_url=os.environ["BASE_URL"],
    )
    threats = client.get_threats(limit=50)["threats"]
    session = client.create_vr_session(
        {"user_id": "analyst_42", "environment": "threat_visualization"}
    )
    analytics = client.get_analytics("threat_count", "24h")
    json.dump({"threats": threats, "session": session, "analytics": analytics},
              sys.stdout)
"""


@pytest.fixture(scope="module")
def sdk_key(stack: LocalStack) -> dict[str, Any]:
    key = create_key(stack, SCOPES, tier="PROFESSIONAL", owner="org_sdk")
    threat = requests.post(
        stack.url("/api/threats"),
        json={"type": "malware", "severity": "high", "target": "sdk-live-seed"},
        headers=key_headers(key),
        timeout=10,
    )
    assert threat.status_code == 201, threat.text
    return key


def test_python_design_example_runs_as_written(
    stack: LocalStack, sdk_key: dict[str, Any], tmp_path: Path
) -> None:
    package = write_sdk("python", tmp_path / "sdk", stack.base_url)
    script = tmp_path / "example.py"
    script.write_text(textwrap.dedent(DESIGN_EXAMPLE))

    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "PYTHONPATH": str(package),
            "KEY_ID": sdk_key["key_id"],
            "KEY_SECRET": sdk_key["key_secret"],
            "BASE_URL": stack.base_url,
        },
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert any(t["target"] == "sdk-live-seed" for t in result["threats"])
    assert result["session"]["session_id"]
    assert result["analytics"]["metric"] == "threat_count"
    assert result["analytics"]["period"] == "24h"


def test_python_quickstart_example_runs(
    stack: LocalStack, sdk_key: dict[str, Any], tmp_path: Path
) -> None:
    package = write_sdk("python", tmp_path / "sdk", stack.base_url)
    done = subprocess.run(
        [sys.executable, str(package / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "PYTHONPATH": str(package),
            "JUPITER_KEY_ID": sdk_key["key_id"],
            "JUPITER_KEY_SECRET": sdk_key["key_secret"],
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recent threats" in done.stdout


def test_javascript_sdk_live_tests_pass_including_a_websocket_reconnect(
    stack: LocalStack, sdk_key: dict[str, Any], tmp_path: Path
) -> None:
    package = write_sdk("javascript", tmp_path / "sdk", stack.base_url)
    live_tests = SDK_TESTS / "javascript_live"
    done = subprocess.run(
        [*node_command(), "--test", "--test-reporter=tap", str(live_tests)],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "JUPITER_SDK_DIR": str(package),
            "JUPITER_LIVE_URL": stack.base_url,
            "JUPITER_LIVE_KEY_ID": sdk_key["key_id"],
            "JUPITER_LIVE_KEY_SECRET": sdk_key["key_secret"],
        },
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# skipped 0" in done.stdout


def test_unity_sdk_lists_threats_and_creates_a_session(
    stack: LocalStack, sdk_key: dict[str, Any], tmp_path: Path
) -> None:
    program = compile_unity(write_sdk("unity", tmp_path / "sdk", stack.base_url))
    done = subprocess.run(
        [
            require_tool("mono"),
            str(program),
            "live",
            stack.base_url,
            sdk_key["key_id"],
            sdk_key["key_secret"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)

    assert result["threats"]["ok"], result["threats"]
    assert any(
        t["target"] == "sdk-live-seed" for t in result["threats"]["data"]["threats"]
    )
    assert result["session"]["ok"] and result["session"]["status"] == 201
    assert result["session"]["data"]["session_id"]
    assert result["analytics"]["data"]["metric"] == "threat_count"
    missing = result["missing"]
    assert missing["error_type"] == "JupiterNotFoundException"
    assert missing["error_code"] == "not_found"
    assert missing["error_request_id"].startswith("req_")


def test_sdk_zips_download_from_the_live_service(stack: LocalStack) -> None:
    for language in ("python", "javascript", "unity"):
        response = requests.get(
            stack.url(f"/api/sdks/{language}"),
            headers={"Accept": "application/zip"},
            timeout=30,
        )
        assert response.status_code == 200
        assert response.content[:2] == b"PK"
