"""The one table ``make bench`` ends with: headline figures against the targets.

Each row of :data:`ROWS` reads one figure from one benchmark's figures, as
written to ``dist/bench/<report>.json``, and sets it beside the original
design target where there is one (health 5 ms, list threats 45 ms on
average, create session 32 ms, a rate-limit check under 1.5 ms, 10K
requests/s on one 4-core server) and a few words on how ours compares. A row
whose report is absent says "not run"; a report without the figure a row
names says so, with the path it looked for. The report name and the path of
keys into its figures are all a row needs.

The table is printed as Markdown, ready for the README, with the date and
machine of every report it read, and written to ``dist/bench/summary.json``
and ``dist/bench/summary.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import OUTPUT, Report, machine, render

NOT_RUN = "not run"
NO_TARGET = "-"
# Why a local figure and a design target cannot be set side by side.
LOCAL = "local stack over moto on this machine"


@dataclass(frozen=True)
class Row:
    """One line of the summary: where its figure is and how it is read.

    ``path`` is a list of keys into the report's figures (an empty path hands
    ``show`` and ``compare`` all of them). ``show`` writes our figure;
    ``compare`` says, in words, how it stands against ``target``.
    """

    measure: str
    report: str
    path: tuple[str, ...]
    show: Callable[[Any], str]
    target: str = NO_TARGET
    compare: Callable[[Any], str] = lambda _: "no original target"


def _times(value: float) -> str:
    return f"{value:.2f}x"


def _against(limit_ms: float, label: str) -> Callable[[dict[str, Any]], str]:
    """Compare a probe's mean latency (one client) with a target in ms."""

    def compare(service: dict[str, Any]) -> str:
        mean = service["probe"]["operations"][label]["latency_ms"]["mean"]
        if mean <= limit_ms:
            return f"meets ({mean / limit_ms:.2f}x the target)"
        return f"{mean / limit_ms:.1f}x the target; {LOCAL}: not comparable"

    return compare


def _latency(label: str) -> Callable[[dict[str, Any]], str]:
    def show(service: dict[str, Any]) -> str:
        probe = service["probe"]["operations"][label]
        alone = probe["latency_ms"]
        # The probe runs every operation; a short load run may miss a rare one.
        loaded = service["load"]["operations"].get(label)
        under = (
            f"{loaded['latency_ms']['mean']:.1f} ms under load"
            if loaded
            else "none under load"
        )
        return (
            f"mean {alone['mean']:.1f} ms, p50 {alone['p50']:.1f} ms with one "
            f"client (n={probe['requests']}); {under}"
        )

    return show


def _calls(endpoints: dict[str, Any]) -> str:
    return ", ".join(f"{e} {v['calls_per_request']:g}" for e, v in endpoints.items())


def _exactness(exactness: dict[str, Any]) -> str:
    return (
        f"{exactness['admitted']} of {exactness['requests']} concurrent admitted, "
        f"burst {exactness['burst']}, {len(exactness['slots'])} slot(s)"
    )


def _speedup(fanout: dict[str, Any]) -> str:
    configured = str(fanout["configured_concurrency"])
    return (
        f"{fanout['speedup'][configured]:.2f}x the serial loop "
        f"({fanout['connections']:,} connections, {configured} in flight)"
    )


def _errors(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())


def _frames(websocket: dict[str, Any]) -> str:
    return (
        f"{websocket['received']:,} of {websocket['expected']:,} "
        f"threat_update frames to {websocket['subscribers']} subscribers"
    )


def _percentiles(latency: dict[str, float]) -> str:
    return " / ".join(f"{latency[p]:.0f}" for p in ("p50", "p95", "p99")) + " ms"


ROWS: tuple[Row, ...] = (
    Row(
        "DynamoDB round trips per admission",
        "admission",
        ("admission", "calls_per_admission"),
        lambda v: f"{v:.2f}",
        "1 conditional write",
        lambda v: "meets" if v == 1 else "above the design",
    ),
    Row(
        "AWS calls per request",
        "admission",
        ("endpoints",),
        _calls,
        compare=lambda _: "no original target; counted exactly, carries over to AWS",
    ),
    Row(
        "in-process overhead ratio (request / its own DynamoDB calls)",
        "admission",
        ("latency",),
        lambda v: (
            f"{_times(v['wall']['ratio_of_medians'])} wall, "
            f"{_times(v['cpu']['ratio_of_medians'])} CPU"
        ),
        compare=lambda v: (
            f"no original target; {v['cpu']['overhead_ms']:.2f} ms of CPU "
            "per request beyond moto's answers"
        ),
    ),
    Row(
        "rate-limit check beyond its one write (median CPU)",
        "admission",
        ("admission", "cpu", "overhead_ms"),
        lambda v: f"{v:.2f} ms",
        "under 1.5 ms",
        lambda v: "meets" if v < 1.5 else "above the target",
    ),
    Row(
        "cold-start ratio (to first authenticated response, tracing on)",
        "cold_start",
        ("ratios", "tracing_on"),
        # Three places: the verdict is on the ratio, not on its rounding.
        lambda v: f"{v:.3f}x",
        "at most 1.3x",
        lambda v: "meets" if v <= 1.3 else "misses (see the cold-start table)",
    ),
    Row(
        "cold start from the deployment package, its bytecode removed / shipped",
        "cold_start",
        ("ratios", "package_bytecode_gain"),
        _times,
        "-",
        lambda v: "no original target; what shipping bytecode saves in Lambda",
    ),
    Row(
        "limiter exactness under concurrency (fresh FREE key)",
        "load",
        ("service", "exactness"),
        _exactness,
        "exactly the limit",
        lambda v: "exact in every slot" if v["exact"] else "NOT exact",
    ),
    Row(
        "webhook throughput ratio (pipeline / bare signed POSTs)",
        "webhooks",
        ("ratio",),
        lambda v: f"{v:.3f}",
        compare=lambda _: "no original target; moto-bound, not comparable to AWS",
    ),
    Row(
        "WebSocket fan-out ratio (broadcast / serial loop)",
        "fanout",
        (),
        _speedup,
        compare=lambda _: "no original target; one event loop is the local limit",
    ),
    Row(
        "load run: throughput",
        "load",
        ("service", "load", "throughput_per_s"),
        lambda v: f"{v:,.1f} requests/s",
        "10K requests/s on one 4-core server",
        lambda v: (
            f"{v / 10_000:.4f} of the target; {LOCAL}, one serialized store, "
            "2 shared cores: not comparable"
        ),
    ),
    Row(
        "load run: throughput vs bare Chalice app, same server",
        "load",
        ("ratio", "throughput"),
        lambda v: f"{v:.3f}",
        compare=lambda _: "no original target; the bare app has no store",
    ),
    Row(
        "load run: latency p50 / p95 / p99",
        "load",
        ("service", "load", "latency_ms"),
        _percentiles,
        compare=lambda _: "no original target; closed loop, so mostly queueing",
    ),
    Row(
        "load run: errors",
        "load",
        ("errors",),
        _errors,
        "none",
        lambda v: "meets" if not any(v.values()) else "FAILED",
    ),
    Row(
        "load run: WebSocket frames delivered",
        "load",
        ("service", "websocket"),
        _frames,
        compare=lambda v: "all delivered" if not v["missing"] else "some missing",
    ),
    Row(
        "GET /api/health latency",
        "load",
        ("service",),
        _latency("health"),
        "5 ms",
        _against(5, "health"),
    ),
    Row(
        "GET /api/threats latency",
        "load",
        ("service",),
        _latency("list_threats"),
        "45 ms average",
        _against(45, "list_threats"),
    ),
    Row(
        "POST /api/vr/sessions latency",
        "load",
        ("service",),
        _latency("create_session"),
        "32 ms",
        _against(32, "create_session"),
    ),
)


@dataclass(frozen=True)
class Summary:
    """The summary's rows and the reports (and their machines) they came from."""

    report: Report
    sources: dict[str, dict[str, Any] | None]


def collect(directory: Path = OUTPUT, rows: tuple[Row, ...] = ROWS) -> Summary:
    """Read every report the rows name from ``directory``; build the table."""
    documents = {name: _read(directory, name) for name in {r.report for r in rows}}
    table = [_row(row, documents[row.report]) for row in rows]
    sources = {
        name: (document or {}).get("machine")
        for name, document in sorted(documents.items())
    }
    report = Report(
        name="summary",
        title="Summary: headline figures against the original design targets",
        columns=("measure", "ours", "design target", "how ours compares"),
        rows=table,
        figures={"rows": [dict(zip(_KEYS, r, strict=True)) for r in table]},
    )
    return Summary(report, sources)


_KEYS = ("measure", "ours", "target", "comparison")


def _read(directory: Path, name: str) -> dict[str, Any] | None:
    path = directory / f"{name}.json"
    if not path.exists():
        return None
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _row(row: Row, document: dict[str, Any] | None) -> tuple[str, str, str, str]:
    if document is None:
        return (row.measure, NOT_RUN, row.target, NO_TARGET)
    value: Any = document["figures"]
    try:
        for key in row.path:
            value = value[key]
        return (row.measure, row.show(value), row.target, row.compare(value))
    except (KeyError, TypeError) as missing:
        # A report of another shape (an older run, a renamed figure): say
        # which figure is missing rather than fail the whole summary.
        where = ".".join((row.report, *row.path))
        text = f"no figure {where} ({missing!r})"
        return (row.measure, text, row.target, NO_TARGET)


def markdown(summary: Summary) -> str:
    """The table under a line saying when and where each report was measured."""
    lines = []
    for name, about in summary.sources.items():
        if about is None:
            lines.append(f"- `{name}`: {NOT_RUN}")
            continue
        load = about.get("load_average")
        busy = f", load average {load[0]:.1f}" if load else ""
        lines.append(
            f"- `{name}`: {about['date']}, {about['cpus']} CPUs, "
            f"{about['cpu_model']}, Python {about['python']}{busy}"
        )
    return "\n".join([render(summary.report), "", "Measured:", *lines])


def publish(directory: Path = OUTPUT) -> str:
    """Build the summary from ``directory``, write it there, return its Markdown."""
    summary = collect(directory)
    text = markdown(summary)
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": machine(),
        "sources": summary.sources,
        **summary.report.figures,
    }
    (directory / "summary.json").write_text(json.dumps(document, indent=2) + "\n")
    (directory / "summary.md").write_text(text + "\n")
    return text


if __name__ == "__main__":
    # Print the summary of the reports already in dist/bench/ again.
    print(publish())
