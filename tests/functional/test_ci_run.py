""".ci/run: it passes only when `make test` passes and tests actually ran."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CI_RUN = Path(__file__).resolve().parents[2] / ".ci" / "run"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose `make test` runs pytest on its own tests/ folder."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(CI_RUN, tmp_path / ".ci" / "run")
    (tmp_path / "tests").mkdir()
    pytest_command = f"{sys.executable} -m pytest -q -p no:cacheprovider tests"
    (tmp_path / "Makefile").write_text(f"test:\n\t{pytest_command}\n")
    return tmp_path


def _ci(project: Path) -> subprocess.CompletedProcess[str]:
    # The inner pytest must not inherit this run's options or xdist role.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [str(project / ".ci" / "run")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )


def test_no_collected_tests_fail_with_pytests_exit_code_5(project: Path) -> None:
    result = _ci(project)

    assert result.returncode == 5
    assert "collected no tests" in result.stderr


def test_passing_tests_pass_and_are_counted(project: Path) -> None:
    (project / "tests" / "test_one.py").write_text("def test_one():\n    pass\n")

    result = _ci(project)

    assert result.returncode == 0
    assert "passed, 1 tests ran" in result.stdout


def test_failing_tests_fail_with_makes_status(project: Path) -> None:
    (project / "tests" / "test_one.py").write_text("def test_one():\n    assert 0\n")

    result = _ci(project)

    assert result.returncode == 2
    assert "make test exited 2" in result.stderr


def test_make_passing_without_running_pytest_still_fails(project: Path) -> None:
    (project / "Makefile").write_text("test:\n\ttrue\n")

    result = _ci(project)

    assert result.returncode == 5
    assert "no tests ran" in result.stderr


def test_the_policy_checks_own_report_is_counted_with_the_suites(
    project: Path,
) -> None:
    (project / "tests" / "test_one.py").write_text("def test_one():\n    pass\n")
    (project / "policy").mkdir()
    (project / "policy" / "test_two.py").write_text("def test_two():\n    pass\n")
    (project / "policy" / "test_three.py").write_text("def test_3():\n    pass\n")
    suite = f"{sys.executable} -m pytest -q -p no:cacheprovider tests"
    policy = f"{sys.executable} -m pytest -q -p no:cacheprovider policy"
    (project / "Makefile").write_text(
        f"test:\n\t{suite}\n\t{policy} $(POLICY_PYTEST_ARGS)\n"
    )

    result = _ci(project)

    assert result.returncode == 0, result.stderr
    assert "passed, 3 tests ran" in result.stdout
    assert (project / "dist" / "ci" / "junit-policy.xml").exists()
