"""The webhook benchmark's figures, on a small sample (``make bench`` runs more)."""

from __future__ import annotations

from benchmarks import webhooks
from benchmarks.__main__ import BENCHMARKS
from benchmarks.report import render


def test_the_benchmark_compares_pipeline_and_bare_loop_in_one_run() -> None:
    report = webhooks.run(deliveries=10)
    figures = report.figures
    assert figures["deliveries"] == 10
    assert figures["pipeline"]["per_second"] > 0
    assert figures["bare_loop"]["per_second"] > 0
    assert 0 < figures["ratio"] <= 2
    # Per delivery: claim, endpoint read, one transaction recording the attempt.
    assert figures["dynamodb_calls_per_delivery"] == 3
    assert render(report).startswith("Webhook deliveries")
    assert webhooks.run in BENCHMARKS
