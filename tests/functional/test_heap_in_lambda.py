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

from benchmarks.harness import proxy_event
from tests.unit.test_config import valid_environment

PROJECT_DIR = Path(__file__).resolve().parents[2]

DRIVER = """\
import gc, json, sys, types
from app import app
states = {"imported": [gc.isenabled(), gc.get_freeze_count()]}
context = types.SimpleNamespace(
    aws_request_id="heap-test",
    function_name="heap-test",
    memory_limit_in_mb=1024,
    get_remaining_time_in_millis=lambda: 15000,
)
response = app(json.loads(sys.argv[1]), context)
states["answered"] = [gc.isenabled(), gc.get_freeze_count()]
states["status"] = response["statusCode"]
print(json.dumps(states))
"""


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
        [sys.executable, "-c", DRIVER, json.dumps(event)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    states: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return states


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
