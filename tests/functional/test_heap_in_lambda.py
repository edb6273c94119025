"""The real app in a Lambda-like process: the collector is held until it has answered.

Each test starts its own interpreter, since the hold happens when ``app`` is
first imported. The event is a CORS preflight: it goes through every
middleware and the edge without calling AWS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks import cold_start
from benchmarks.harness import proxy_event
from tests.unit.test_config import valid_environment

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Serves one event as the cold-start benchmark's driver does, then lists the
# collector's state (on, objects frozen) after the import and after the answer.
COLLECTOR_DRIVER = cold_start.DRIVER.replace(
    "imported = time.perf_counter()",
    "imported = time.perf_counter()\n"
    "import gc\n"
    "after_import = [gc.isenabled(), gc.get_freeze_count()]",
).replace(
    "served = time.perf_counter()",
    "served = time.perf_counter()\n"
    "print(json.dumps([*after_import, gc.isenabled(), gc.get_freeze_count()]))",
)
assert COLLECTOR_DRIVER.count("gc.") == 4


def _run(extra: dict[str, str]) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # Nothing listens there: a call to AWS would fail, not reach it.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        **valid_environment(),
        **extra,
    }
    event = proxy_event(
        "OPTIONS",
        "/api/usage",
        {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    finished = subprocess.run(
        [sys.executable, "-c", COLLECTOR_DRIVER, json.dumps(event)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = finished.stdout.splitlines()
    result = next(line for line in lines if line.startswith(cold_start.RESULT))
    # The app's own log and metrics lines are objects; the driver's is a list.
    listed = json.loads(next(line for line in lines if line[:1] == "["))
    return {
        "imported": listed[:2],
        "answered": listed[2:],
        "status": json.loads(result.removeprefix(cold_start.RESULT))["status"],
    }


def test_in_lambda_the_import_runs_without_the_collector() -> None:
    states = _run({"AWS_LAMBDA_FUNCTION_NAME": "jupiter-api-dev"})

    assert states["imported"] == [False, 0]


def test_in_lambda_the_first_answer_resumes_the_collector_frozen() -> None:
    states = _run({"AWS_LAMBDA_FUNCTION_NAME": "jupiter-api-dev"})

    enabled, frozen = states["answered"]
    assert states["status"] == 204
    assert enabled is True
    # The modules, classes and validators loaded so far: tens of thousands.
    assert frozen > 10_000


def test_outside_lambda_the_collector_is_never_held() -> None:
    states = _run({})

    assert states["imported"] == [True, 0]
    assert states["answered"] == [True, 0]
