"""The admission benchmark's figures, on a small sample (``make bench`` runs more)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import benchmarks.__main__ as bench_main
from benchmarks import admission
from benchmarks.__main__ import main
from benchmarks.report import Report, render, write


@pytest.fixture(scope="module")
def report() -> Report:
    return admission.run(requests=20)


def test_admission_is_one_dynamodb_round_trip(report: Report) -> None:
    trips = report.figures["admission"]

    assert trips["calls_per_admission"] == 1
    assert trips["max"] == 1


def test_a_usage_request_writes_its_key_twice_admission_and_byte_count(
    report: Report,
) -> None:
    usage = report.figures["endpoints"]["GET /api/usage"]

    assert usage["by_call"]["UpdateItem keys"] == 2
    assert sum(usage["by_call"].values()) == usage["calls_per_request"]


def test_latency_compares_the_request_with_its_own_calls(report: Report) -> None:
    latency = report.figures["latency"]

    assert latency["calls_per_request"] >= 2  # admission and byte count at least
    for clock in ("wall", "cpu"):
        figures = latency[clock]
        assert figures["request"]["n"] == figures["bare_calls"]["n"] == 20
        assert figures["ratio_of_medians"] > 0


def test_report_prints_one_row_per_figure(report: Report) -> None:
    table = render(report)

    assert table.startswith("Admission")
    assert table.count("\n| ") == len(report.rows) + 1


def test_figures_are_written_with_the_machine(report: Report, tmp_path: Path) -> None:
    path = write(report, tmp_path)

    document = json.loads(path.read_text())
    assert path.name == "admission.json"
    assert document["figures"]["admission"]["calls_per_admission"] == 1
    assert document["machine"]["cpus"] >= 1


def test_unknown_benchmark_name_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["no_such_benchmark"])

    assert exited.value.code == 2


def _benchmark(name: str, report: Report | None) -> Callable[[], Report]:
    def run() -> Report:
        if report is None:
            raise RuntimeError(f"{name} broke")
        return report

    run.__module__ = f"benchmarks.{name}"
    return run


def test_a_failing_benchmark_does_not_hide_the_others(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fine = Report("fine", "Fine", ("measure", "value"), [("x", "1")], {"x": 1})
    monkeypatch.setattr(
        bench_main, "BENCHMARKS", [_benchmark("broken", None), _benchmark("fine", fine)]
    )
    monkeypatch.chdir(tmp_path)

    status = main([])

    captured = capsys.readouterr()
    assert status == 1
    assert "broken broke" in captured.err
    assert "FAILED: broken" in captured.err
    assert "| x       | 1     |" in captured.out
    assert (tmp_path / "dist/bench/fine.json").exists()
