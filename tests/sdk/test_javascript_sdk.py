"""The generated JavaScript SDK's own tests, run with ``node --test``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from chalicelib.apidoc.openapi import build_openapi
from chalicelib.routes import REGISTRY
from chalicelib.sdks.description import describe
from tests.sdk.conftest import SDK_TESTS, require_tool


def node_command() -> list[str]:
    """Return ``node`` with what it needs for a global WebSocket."""
    node = require_tool("node")
    probe = subprocess.run(
        [node, "-e", "process.exit(globalThis.WebSocket ? 0 : 1)"], timeout=30
    )
    # Node 20 has WebSocket behind a flag; 22 and later have it by default.
    return [node] if probe.returncode == 0 else [node, "--experimental-websocket"]


def run_node_tests(
    folder: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*node_command(), "--test", "--test-reporter=tap", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


def test_javascript_sdk_passes_its_node_tests(javascript_sdk: Path) -> None:
    operations = [op.camel for op in describe(build_openapi(REGISTRY))]
    done = run_node_tests(
        SDK_TESTS / "javascript",
        {
            "JUPITER_SDK_DIR": str(javascript_sdk),
            "JUPITER_SDK_OPERATIONS": json.dumps(operations),
        },
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "# fail 0" in done.stdout
    assert "# skipped 0" in done.stdout
