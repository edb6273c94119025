"""``make fuzz`` runs the schemathesis e2e test with many more examples."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_make_fuzz_runs_the_schemathesis_test_with_its_example_count() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(
        [make, "-n", "fuzz", "FUZZ_EXAMPLES=7", "FUZZ_SEED=42"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    command = dry.stdout.replace("\\\n", " ")
    assert "FUZZ_EXAMPLES=7" in command
    assert "FUZZ_SEED=42" in command
    assert "FUZZ_PHASES=examples,coverage,fuzzing" in command
    assert "tests/e2e/test_schemathesis.py" in command


def _bounds(env: dict[str, str]) -> list[str]:
    """The schemathesis test's examples, phases, seed and timeout under ``env``."""
    probe = (
        "import tests.e2e.test_schemathesis as t; "
        "print(t.EXAMPLES, t.PHASES, t.SEED, t.TIMEOUT)"
    )
    printed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return printed.stdout.split()


def test_the_schemathesis_test_reads_its_bounds_from_the_environment() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUZZ_")}
    assert _bounds(env) == ["5", "examples,fuzzing", "20261203", "460"]
    long_run = _bounds({**env, "FUZZ_EXAMPLES": "300", "FUZZ_SEED": ""})
    assert long_run[0] == "300"
    assert long_run[-1] == "4000"
