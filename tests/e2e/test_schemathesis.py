"""Schemathesis against the live stack's own OpenAPI document, with an admin key.

Bounded (a few examples per operation, a fixed seed) so it fits in ``make
test``. ``make fuzz`` runs this same test with ``FUZZ_EXAMPLES`` examples per
operation (300 unless set), the coverage phase's boundary and negative cases
too, and ``FUZZ_SEED`` (random unless set).
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
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
PHASES = os.environ.get("FUZZ_PHASES", "examples,fuzzing")
SEED = os.environ.get("FUZZ_SEED", "20261203")
# Generous: a loaded 2-core machine answers a few dozen requests a second.
TIMEOUT = 400 + 12 * EXAMPLES


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
            str(EXAMPLES),
            "--phases",
            PHASES,
            # Keep the admin key's headers as they are: the negative cases
            # of a missing or wrong key would trip the per-address lockout
            # after ten, and every request after that would be a 429.
            "--generation-with-security-parameters",
            "false",
            "--workers",
            "1",
            *(["--seed", SEED] if SEED else []),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    summary = done.stdout[-4000:]
    # Shown by ``make fuzz`` (pytest -rP): the operations and cases it ran.
    print(summary)
    assert done.returncode == 0, summary + done.stderr[-2000:]
    assert " passed" in summary
