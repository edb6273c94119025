"""The live local stack: ``python -m local.stack`` on free ports, real HTTP.

One stack per test session, in a temporary state directory. Every e2e test is
marked ``xdist_group("stack")`` so that under ``-n 2 --dist loadgroup`` they all
run, one after another, in the worker that owns the stack.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib.aws_actions import RECORD_VARIABLE
from tests.support.policy import STACK_RECORDING

PROJECT_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
PROBLEM_TYPE = "application/problem+json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalStack:
    """A ``python -m local.stack`` process that can be stopped and restarted."""

    def __init__(self, state_dir: Path, **settings: str) -> None:
        self.state_dir = state_dir
        # Extra JUPITER_* settings for a private stack.
        self.settings = settings
        self.api_port = free_port()
        self.moto_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._outputs: list[Any] = []

    @property
    def admin_file(self) -> Path:
        return self.state_dir / "local-admin.json"

    @property
    def admin(self) -> dict[str, str]:
        """The bootstrap admin key's two headers."""
        stored = json.loads(self.admin_file.read_text())
        return {
            "X-API-Key-ID": stored["key_id"],
            "X-API-Key-Secret": stored["key_secret"],
        }

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def pid(self) -> int | None:
        """The stack process's id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self.starts += 1
        stdout = (self.state_dir.parent / f"stdout-{self.starts}.log").open("wb")
        stderr = (self.state_dir.parent / f"stderr-{self.starts}.log").open("wb")
        self._outputs = [stdout, stderr]
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local.stack"],
            cwd=PROJECT_DIR,
            env=self._environment(),
            stdout=stdout,
            stderr=stderr,
        )
        self._wait_until_healthy()

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        for output in self._outputs:
            output.close()
        self._outputs = []

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        """The current run's standard error (its JSON log lines)."""
        path = self.state_dir.parent / f"stderr-{self.starts}.log"
        return path.read_text(errors="replace")

    def stdout(self) -> str:
        path = self.state_dir.parent / f"stdout-{self.starts}.log"
        return path.read_text(errors="replace")

    def _environment(self) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("JUPITER_") and name != "AWS_ENDPOINT_URL"
        }
        env.update(
            JUPITER_API_PORT=str(self.api_port),
            JUPITER_MOTO_PORT=str(self.moto_port),
            JUPITER_STATE_DIR=str(self.state_dir),
        )
        env.update(self.settings)
        recording = os.environ.get(RECORD_VARIABLE)
        if recording:
            # The stack's calls count toward the IAM policy check too; its own
            # subdirectory proves the check saw them (tests/policy).
            env[RECORD_VARIABLE] = str(Path(recording) / STACK_RECORDING)
        return env

    def _wait_until_healthy(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                pytest.fail(f"the local stack exited early:\n{self.log()[-4000:]}")
            try:
                if requests.get(self.url("/api/health"), timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the local stack did not become healthy:\n{self.log()[-4000:]}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("stack") / "state")
    local.start()
    try:
        yield local
    finally:
        local.stop()


def create_key(
    stack: LocalStack,
    permissions: list[str],
    tier: str = "FREE",
    owner: str = "org_e2e",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Create a key over HTTP (as the admin by default); return the response body."""
    response = requests.post(
        stack.url("/api/keys"),
        json={
            "name": "e2e key",
            "owner_id": owner,
            "permissions": permissions,
            "tier": tier,
            **extra,
        },
        headers=headers or stack.admin,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def key_headers(key: dict[str, Any]) -> dict[str, str]:
    return {"X-API-Key-ID": key["key_id"], "X-API-Key-Secret": key["key_secret"]}


def assert_problem(
    response: requests.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """Check an RFC 9457 problem document; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM_TYPE)
    body: dict[str, Any] = response.json()
    for field in ("type", "title", "status", "detail", "code", "request_id"):
        assert field in body, f"{field} missing from {body}"
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-Id"]
    if code is not None:
        assert body["code"] == code, body
    return body
