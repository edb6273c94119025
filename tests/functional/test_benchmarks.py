"""Benchmark figures on small samples (``make bench`` runs more), and the summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import benchmarks.__main__ as bench_main
from benchmarks import admission, load, summary
from benchmarks.__main__ import main
from benchmarks.load_clients import EXPECTED, latency_summary
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


# The load benchmark, at a tiny size: one local stack, a few clients for 2 s.
TINY = load.Settings(
    seconds=2, clients=4, subscribers=5, probe_seconds=2, burst_requests=30
)


@pytest.fixture(scope="module")
def load_report() -> Report:
    return load.run(TINY)


@pytest.mark.xdist_group("stack")
def test_the_load_run_has_no_5xx_and_no_429_for_keys_under_their_limits(
    load_report: Report,
) -> None:
    figures = load_report.figures

    assert figures["errors"] == {"5xx": 0, "429": 0, "other": 0, "transport": 0}
    service = figures["service"]["load"]
    assert service["requests"] > 0
    assert set(service["statuses"]) <= {"200", "201"}
    assert service["busiest_key_slot"] < figures["limits"]["burst"]
    assert figures["keys"] == {"count": 1, "tier": "ENTERPRISE"}


@pytest.mark.xdist_group("stack")
def test_the_load_run_compares_with_the_bare_app_on_the_same_server(
    load_report: Report,
) -> None:
    figures = load_report.figures
    bare = figures["baseline"]["load"]

    assert bare["requests"] > 0
    assert load.errors(bare) == {"5xx": 0, "429": 0, "other": 0, "transport": 0}
    assert figures["ratio"]["throughput"] == round(
        figures["service"]["load"]["throughput_per_s"] / bare["throughput_per_s"], 3
    )
    for percentile in ("mean", "p50", "p95", "p99"):
        assert figures["ratio"][f"latency_{percentile}"] > 0
    # The probe runs every operation in turn, on both sides.
    assert {"list_threats", "get_threat", "create_threat", "create_session"} <= set(
        figures["service"]["probe"]["operations"]
    )


@pytest.mark.xdist_group("stack")
def test_the_load_run_says_which_process_used_the_cpu(load_report: Report) -> None:
    cpu = load_report.figures["service"]["cpu"]

    assert cpu["wall_s"] >= TINY.seconds
    assert {
        "local.stack",
        "local.moto_server",
        "benchmarks.load_clients",
        "benchmarks.ws_subscribers",
    } <= set(cpu["by_process"])
    assert all(seconds >= 0 for seconds in cpu["by_process"].values())


@pytest.mark.xdist_group("stack")
def test_every_subscriber_hears_of_every_threat_the_load_run_created(
    load_report: Report,
) -> None:
    figures = load_report.figures
    websocket = figures["service"]["websocket"]

    assert figures["threats_created"] > 0
    assert websocket["subscribers"] == TINY.subscribers
    assert websocket["expected"] == TINY.subscribers * figures["threats_created"]
    assert websocket["received"] == websocket["expected"]
    assert websocket["error_codes"] == {}
    assert websocket["closed"] == 0


@pytest.mark.xdist_group("stack")
def test_concurrent_requests_on_a_free_key_admit_exactly_its_burst(
    load_report: Report,
) -> None:
    exactness = load_report.figures["service"]["exactness"]

    assert exactness["exact"]
    assert exactness["admitted"] + exactness["refused"] == TINY.burst_requests
    for slot in exactness["slots"]:
        assert slot["admitted"] == min(exactness["burst"], slot["requests"])


@pytest.mark.xdist_group("stack")
def test_the_load_report_prints_every_operation(load_report: Report) -> None:
    table = render(load_report)

    assert table.startswith("Load: 4 clients for 2 s, 5 WebSocket subscribers")
    assert "| list_threats, mean / p50 / p99" in table
    for operation in EXPECTED:  # each runs at least once in the probe
        assert f"| one client, {operation}, mean / p50 / p99" in table
    assert "each exact" in table


def test_load_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JUPITER_LOAD_SECONDS", "2.5")
    monkeypatch.setenv("JUPITER_LOAD_CLIENTS", "3")
    monkeypatch.setenv("JUPITER_LOAD_SUBSCRIBERS", "7")

    settings = load.Settings.from_env()

    assert (settings.seconds, settings.clients, settings.subscribers) == (2.5, 3, 7)
    assert settings.probe_seconds == load.Settings.probe_seconds


@pytest.fixture(scope="module")
def faulty_result() -> dict[str, Any]:
    """A real load run against an app that answers 500 and 429."""
    with load.bare_server("tests.functional.faulty_app") as base_url:
        mix = {"get_threat": 1, "usage": 1, "health": 1}
        return load.generate(base_url, [{}], 2, 1.0, mix)


def test_error_answers_are_counted_by_kind(faulty_result: dict[str, Any]) -> None:
    counts = load.errors(faulty_result)

    assert counts["5xx"] > 0
    assert counts["429"] > 0
    assert counts["other"] == counts["transport"] == 0
    assert set(faulty_result["unexpected"]) == {"get_threat", "usage"}


def _clean_figures() -> dict[str, Any]:
    result = {"unexpected": {}, "transport_errors": {}}
    return {
        "service": {
            "load": result,
            "probe": result,
            "websocket": {"error_codes": {}, "closed": 0},
            "exactness": {"exact": True, "slots": []},
        },
        "baseline": {"load": result, "probe": result},
    }


def test_clean_figures_pass_the_check() -> None:
    load.check(_clean_figures())


def test_the_load_run_fails_when_a_request_answers_5xx_or_429(
    faulty_result: dict[str, Any],
) -> None:
    figures = _clean_figures()
    figures["service"]["load"] = faulty_result

    with pytest.raises(load.LoadFailed, match="load: answers") as failed:
        load.check(figures)

    assert "'500'" in str(failed.value)
    assert "'429'" in str(failed.value)


def test_the_load_run_fails_when_the_bare_app_errs(
    faulty_result: dict[str, Any],
) -> None:
    figures = _clean_figures()
    figures["baseline"]["probe"] = faulty_result

    with pytest.raises(load.LoadFailed, match="bare probe: answers"):
        load.check(figures)


def test_the_load_run_fails_on_a_connection_error() -> None:
    figures = _clean_figures()
    broken = {"unexpected": {}, "transport_errors": {"usage: ServerDisconnected": 1}}
    figures["service"]["probe"] = broken

    with pytest.raises(load.LoadFailed, match="ServerDisconnected"):
        load.check(figures)


def test_the_load_run_fails_on_websocket_errors_or_closed_subscribers() -> None:
    figures = _clean_figures()
    figures["service"]["websocket"] = {
        "error_codes": {"rate_limit_exceeded": 2},
        "closed": 1,
    }

    with pytest.raises(load.LoadFailed) as failed:
        load.check(figures)

    assert "rate_limit_exceeded" in str(failed.value)
    assert "1 subscribers closed" in str(failed.value)


def test_the_load_run_fails_when_the_limiter_is_not_exact() -> None:
    figures = _clean_figures()
    figures["service"]["exactness"] = {"exact": False, "slots": [{"admitted": 21}]}

    with pytest.raises(load.LoadFailed, match="not exact"):
        load.check(figures)


def _answers(*statuses: tuple[int, int]) -> dict[str, Any]:
    answers = [
        {
            "status": status,
            "code": None if status == 200 else "rate_limit_exceeded",
            "slot_end": slot,
        }
        for status, slot in statuses
    ]
    return {"requests": len(answers), "seconds": 1.0, "answers": answers}


def test_exactness_is_judged_per_burst_slot() -> None:
    spilled = _answers(*[(200, 10)] * 2, (429, 10), *[(200, 20)] * 2, (429, 20))

    judged = load.judge_exactness(spilled, burst=2)

    assert judged["exact"]
    assert (judged["admitted"], judged["refused"]) == (4, 2)
    assert [s["slot_end"] for s in judged["slots"]] == [10, 20]


def test_one_admission_over_the_burst_is_not_exact() -> None:
    judged = load.judge_exactness(_answers(*[(200, 10)] * 3), burst=2)

    assert not judged["exact"]


def test_a_slot_short_of_its_burst_is_not_exact() -> None:
    judged = load.judge_exactness(_answers((200, 10), (429, 10)), burst=2)

    assert not judged["exact"]


def test_latency_percentiles_are_nearest_rank() -> None:
    samples = [n / 1000 for n in range(1, 101)]  # 1 ms ... 100 ms

    summary_ms = latency_summary(samples)

    assert summary_ms == {"mean": 50.5, "p50": 50, "p95": 95, "p99": 99, "max": 100}


# The summary: one table from every report in dist/bench/.


def _write(directory: Path, name: str, figures: dict[str, Any]) -> None:
    write(Report(name, name, ("measure",), [], figures), directory)


def test_the_summary_says_not_run_for_every_absent_report(tmp_path: Path) -> None:
    collected = summary.collect(tmp_path)

    assert {row[1] for row in collected.report.rows} == {summary.NOT_RUN}
    assert all(about is None for about in collected.sources.values())
    text = summary.markdown(collected)
    assert "- `cold_start`: not run" in text
    assert "| cold-start ratio" in text


COLD_START = "cold-start ratio (to first authenticated response, tracing on)"


def test_the_summary_reads_the_figures_each_row_names(tmp_path: Path) -> None:
    _write(tmp_path, "cold_start", {"ratios": {"tracing_on": 3.5}})
    _write(tmp_path, "webhooks", {"ratio": 0.0123})

    rows = {row[0]: row for row in summary.collect(tmp_path).report.rows}

    assert rows[COLD_START][1:] == (
        "3.500x",
        "at most 1.3x",
        "misses (see the cold-start table)",
    )
    assert rows["webhook throughput ratio (pipeline / bare signed POSTs)"][1:] == (
        "0.012",
        "-",
        "no original target; moto-bound, not comparable to AWS",
    )
    assert rows["load run: throughput"][1] == summary.NOT_RUN


def test_a_report_without_the_named_figure_says_which_is_missing(
    tmp_path: Path,
) -> None:
    _write(tmp_path, "cold_start", {"median_ms": 900})

    rows = {row[0]: row for row in summary.collect(tmp_path).report.rows}

    assert rows[COLD_START][1].startswith("no figure cold_start.ratios.tracing_on")


@pytest.mark.xdist_group("stack")
def test_the_summary_of_a_load_run_compares_with_the_design_targets(
    load_report: Report, tmp_path: Path
) -> None:
    write(load_report, tmp_path)

    text = summary.publish(tmp_path)

    rows = {row["measure"]: row for row in _summary_rows(tmp_path)}
    assert rows["load run: errors"]["comparison"] == "meets"
    assert rows["GET /api/health latency"]["target"] == "5 ms"
    assert rows["GET /api/threats latency"]["target"] == "45 ms average"
    assert rows["POST /api/vr/sessions latency"]["ours"].startswith("mean ")
    assert "10K requests/s" in rows["load run: throughput"]["target"]
    assert "exact in every slot" in text
    assert (tmp_path / "summary.md").read_text() == text + "\n"
    assert "- `load`: " in text


def _summary_rows(directory: Path) -> list[dict[str, str]]:
    document = json.loads((directory / "summary.json").read_text())
    rows: list[dict[str, str]] = document["rows"]
    return rows


def test_make_bench_ends_with_the_summary(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fine = Report("webhooks", "Fine", ("measure",), [("x",)], {"ratio": 0.5})
    monkeypatch.setattr(bench_main, "BENCHMARKS", [_benchmark("webhooks", fine)])
    monkeypatch.chdir(tmp_path)

    assert main([]) == 0

    out = capsys.readouterr().out
    assert out.index("Summary: headline figures") > out.index("Fine")
    assert out.rstrip().splitlines()[-1].startswith("- `webhooks`: 20")
    assert "| 0.500 " in out
    assert (tmp_path / "dist/bench/summary.json").exists()
