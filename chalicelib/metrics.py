"""CloudWatch metrics in Embedded Metric Format (EMF), one document per group.

Code counts what happened with :func:`count` (summed) or :func:`observe` (one
value per occurrence, so CloudWatch keeps the distribution). Inside a
:func:`scope` (a REST request, an SQS batch, a dispatch run, a WebSocket
frame) the data points are held and written together when the scope ends:
one document per combination of dimension values, so an admitted request is
one document and an SQS batch a few (one per delivery outcome seen). Outside
any scope a data point is written at once. Scopes live in a context
variable, so concurrent requests of the threaded local server never mix.

Each document is one JSON line on standard output, where Lambda's log agent
turns it into metrics. Namespace ``JupiterAPI``; every metric has the
``Stage`` dimension, and a metric counted with an extra dimension (``Limit``,
``Reason``, ``Outcome``, ``Result``) is published both per stage and per
stage and that dimension.

Powertools' ``Metrics`` would do this too, but it keeps one store per
process (shared by concurrent requests), writes a document per data point
whose dimensions differ from the rest, and adds about 40 ms of imports to a
cold start; this module is a few dozen lines with no imports beyond the
standard library.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

NAMESPACE = "JupiterAPI"
STAGE = "Stage"
COUNT = "Count"
# EMF accepts at most 100 values of one metric in one document.
MAX_VALUES = 100

Dimensions = tuple[tuple[str, str], ...]


def _stdout(document: str) -> None:
    try:
        sys.stdout.write(document + "\n")
        sys.stdout.flush()
    except (OSError, ValueError):
        # A closed or broken stdout loses the metrics, never the request.
        return


_state: dict[str, Any] = {"stage": "local", "emit": _stdout}


def configure(stage: str, emit: Callable[[str], None] | None = None) -> None:
    """Set the ``Stage`` dimension, and where documents go (tests collect them)."""
    _state["stage"] = stage
    if emit is not None:
        _state["emit"] = emit


def emitter() -> Callable[[str], None]:
    """Return where documents go now."""
    emit: Callable[[str], None] = _state["emit"]
    return emit


class MetricSet:
    """Data points held until their scope ends, grouped by dimension values."""

    def __init__(self) -> None:
        self._groups: dict[Dimensions, dict[str, list[float]]] = {}
        self._summed: set[tuple[Dimensions, str]] = set()

    def add(
        self, name: str, value: float, dimensions: Dimensions, summed: bool
    ) -> None:
        values = self._groups.setdefault(dimensions, {}).setdefault(name, [])
        if summed:
            self._summed.add((dimensions, name))
            if values:
                values[0] += value
                return
        values.append(value)

    def documents(self, stage: str, timestamp_ms: int) -> Iterator[dict[str, Any]]:
        """Yield the EMF documents of every group, at most MAX_VALUES values each."""
        for dimensions, metrics in self._groups.items():
            rounds = max(len(values) for values in metrics.values())
            for start in range(0, rounds, MAX_VALUES):
                chunk = {
                    name: values[start : start + MAX_VALUES]
                    for name, values in metrics.items()
                    if values[start : start + MAX_VALUES]
                }
                yield self._document(dimensions, chunk, stage, timestamp_ms)

    def _document(
        self,
        dimensions: Dimensions,
        metrics: dict[str, list[float]],
        stage: str,
        timestamp_ms: int,
    ) -> dict[str, Any]:
        names = [name for name, _ in dimensions]
        sets = [[STAGE], [STAGE, *names]] if names else [[STAGE]]
        document: dict[str, Any] = {
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": sets,
                        "Metrics": [{"Name": n, "Unit": COUNT} for n in metrics],
                    }
                ],
            },
            STAGE: stage,
            **dict(dimensions),
        }
        for name, values in metrics.items():
            single = (dimensions, name) in self._summed or len(values) == 1
            document[name] = values[0] if single else values
        return document


_scope: ContextVar[MetricSet | None] = ContextVar("metric_scope", default=None)


@contextlib.contextmanager
def scope() -> Iterator[None]:
    """Hold the data points counted inside, and write them when it ends.

    A scope inside another joins it: the outer one writes everything.
    """
    if _scope.get() is not None:
        yield
        return
    held = MetricSet()
    token = _scope.set(held)
    try:
        yield
    finally:
        _scope.reset(token)
        _flush(held)


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Add ``value`` to the metric ``name`` (a Count) in the current scope."""
    _add(name, value, dimensions, summed=True)


def observe(name: str, value: float, **dimensions: str) -> None:
    """Record one occurrence's ``value`` of ``name``, keeping the distribution."""
    _add(name, value, dimensions, summed=False)


def _add(name: str, value: float, dimensions: dict[str, str], summed: bool) -> None:
    key = tuple(sorted(dimensions.items()))
    held = _scope.get()
    if held is not None:
        held.add(name, value, key, summed)
        return
    alone = MetricSet()
    alone.add(name, value, key, summed)
    _flush(alone)


def _flush(held: MetricSet) -> None:
    emit = emitter()
    now_ms = int(time.time() * 1000)
    for document in held.documents(str(_state["stage"]), now_ms):
        emit(json.dumps(document, separators=(",", ":")))
