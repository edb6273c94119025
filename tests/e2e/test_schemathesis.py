"""Schemathesis against the live stack's own OpenAPI document, with an admin key.

Bounded (a few examples per operation, a fixed seed) so it fits in ``make
test``; ``make fuzz`` is the place for longer runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

CHECKS = "not_a_server_error,response_schema_conformance"


def schemathesis_command() -> str:
    beside = Path(sys.executable).with_name("schemathesis")
    found = str(beside) if beside.exists() else shutil.which("schemathesis")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("schemathesis is not installed (requirements-dev.txt)")
        pytest.skip("schemathesis is not installed (requirements-dev.txt)")
    return found


def test_no_5xx_and_no_response_breaking_its_schema(stack: LocalStack) -> None:
    admin = stack.admin
    done = subprocess.run(
        [
            schemathesis_command(),
            "run",
            stack.url("/api/openapi.json"),
            "--checks",
            CHECKS,
            "--header",
            f"X-API-Key-ID: {admin['X-API-Key-ID']}",
            "--header",
            f"X-API-Key-Secret: {admin['X-API-Key-Secret']}",
            "--max-examples",
            "5",
            "--phases",
            "examples,fuzzing",
            "--workers",
            "1",
            "--seed",
            "20261203",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )
    summary = done.stdout[-4000:]
    assert done.returncode == 0, summary + done.stderr[-2000:]
    assert " passed" in summary
