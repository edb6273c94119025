"""What a benchmark returns, how it is printed, and where its figures go."""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

OUTPUT = Path("dist/bench")


@dataclass
class Report:
    """One benchmark's table (``rows`` under ``columns``) and its raw figures."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    figures: dict[str, Any] = field(default_factory=dict)


def render(report: Report) -> str:
    """Format the report as a Markdown table under its title."""
    widths = [
        max(len(str(cell)) for cell in column)
        for column in zip(report.columns, *report.rows, strict=True)
    ]

    def line(cells: tuple[str, ...]) -> str:
        padded = (str(c).ljust(w) for c, w in zip(cells, widths, strict=True))
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [line(report.columns), rule, *(line(row) for row in report.rows)]
    return "\n".join([report.title, "", *body])


def write(report: Report, directory: Path = OUTPUT) -> Path:
    """Write the report's figures and the machine they came from as JSON."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{report.name}.json"
    document = {"machine": machine(), "figures": report.figures}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def machine() -> dict[str, Any]:
    """Describe when and where the figures were measured."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        # On a shared machine the figures depend on what else was running.
        "load_average": [round(n, 2) for n in os.getloadavg()],
        "versions": {p: _version(p) for p in ("chalice", "boto3", "moto")},
    }


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def summary(samples: list[float]) -> dict[str, float]:
    """Median, 95th percentile and mean of ``samples`` (seconds), in ms."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(p95 * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "n": len(ordered),
    }
