"""Run the benchmarks: ``python -m benchmarks [name ...]`` (``make bench``).

Each entry of :data:`BENCHMARKS` returns a :class:`~benchmarks.report.Report`:
one printed table, and its figures written to ``dist/bench/<name>.json``.
Names on the command line (a module's name, e.g. ``admission``) pick a subset.
The run ends with one summary table (:mod:`benchmarks.summary`) built from
every report in ``dist/bench/``, this run's and earlier ones'.
A benchmark that fails is reported and the others still run; the exit status
is then 1.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence

from benchmarks import admission, cold_start, fanout, load, summary, webhooks
from benchmarks.report import OUTPUT, Report, machine, render, write

Benchmark = Callable[[], Report]

BENCHMARKS: list[Benchmark] = [
    admission.run,
    cold_start.run,
    fanout.run,
    webhooks.run,
    load.run,
]


def _name(benchmark: Benchmark) -> str:
    return benchmark.__module__.rsplit(".", 1)[-1]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks, print their tables, write their figures."""
    known = {_name(b): b for b in BENCHMARKS}
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", metavar="name", help=", ".join(known))
    names = parser.parse_args(argv).names or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(
            f"unknown benchmark {', '.join(unknown)}; known: {', '.join(known)}"
        )
    about = machine()
    print(f"{about['date']} · {about['cpus']} CPUs · {about['cpu_model']}")
    failed = [name for name in names if not _run(name, known[name])]
    print(f"\n{summary.publish(OUTPUT)}")
    if failed:
        print(f"\nFAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _run(name: str, benchmark: Benchmark) -> bool:
    """Run one benchmark and report it; a failure must not hide the others."""
    started = time.perf_counter()
    try:
        report = benchmark()
    except Exception:
        print(f"\n{name}: failed\n{traceback.format_exc()}", file=sys.stderr)
        return False
    path = write(report)
    print(f"\n{render(report)}\n")
    print(f"({time.perf_counter() - started:.1f} s; figures in {path})")
    return True


if __name__ == "__main__":
    sys.exit(main())
