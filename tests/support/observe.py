"""What tests observe of the service: its JSON log lines, EMF documents, traces."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib import metrics, tracing


def lines(caplog: pytest.LogCaptureFixture, event: str | None = None) -> list[Any]:
    """Return the structured lines captured from ``chalicelib``, in order."""
    found = []
    for record in caplog.records:
        if not record.name.startswith("chalicelib"):
            continue
        try:
            decoded = json.loads(record.getMessage())
        except ValueError:
            continue
        if isinstance(decoded, dict) and event in (None, decoded.get("event")):
            found.append(decoded)
    return found


@contextlib.contextmanager
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    with caplog.at_level(logging.INFO, logger="chalicelib"):
        yield


@contextlib.contextmanager
def emf_documents() -> Iterator[list[dict[str, Any]]]:
    """Collect the EMF documents written inside, decoded."""
    documents: list[dict[str, Any]] = []
    previous = metrics.emitter()
    metrics.configure("local", emit=lambda line: documents.append(json.loads(line)))
    try:
        yield documents
    finally:
        metrics.configure("local", emit=previous)


def metric_values(documents: list[dict[str, Any]], name: str) -> list[Any]:
    """Return ``name``'s value in each document that defines it."""
    return [d[name] for d in documents if name in _names(d)]


def _names(document: dict[str, Any]) -> set[str]:
    definitions = document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    return {m["Name"] for m in definitions}


@dataclass
class FakeSubsegment:
    name: str
    annotations: dict[str, Any] = field(default_factory=dict)

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value


@dataclass
class FakeRecorder:
    """Records the subsegments opened, in order, and how deep each was.

    Like the SDK's, it keeps the current subsegment per thread; ``carried``
    lists the entity each thread was handed (``set_trace_entity``).
    """

    opened: list[FakeSubsegment] = field(default_factory=list)
    depth: int = 0
    nesting: list[int] = field(default_factory=list)
    carried: list[tuple[str, Any]] = field(default_factory=list)
    _current: threading.local = field(default_factory=threading.local)

    @contextlib.contextmanager
    def in_subsegment(self, name: str) -> Iterator[FakeSubsegment]:
        segment = FakeSubsegment(name)
        self.opened.append(segment)
        self.nesting.append(self.depth)
        self.depth += 1
        outer = self.get_trace_entity()
        self._current.entity = segment
        try:
            yield segment
        finally:
            self._current.entity = outer
            self.depth -= 1

    def get_trace_entity(self) -> Any:
        return getattr(self._current, "entity", None)

    def set_trace_entity(self, trace_entity: Any) -> None:
        self.carried.append((threading.current_thread().name, trace_entity))
        self._current.entity = trace_entity

    def clear_trace_entities(self) -> None:
        self._current.__dict__.clear()

    def names(self) -> list[str]:
        return [s.name for s in self.opened]


@contextlib.contextmanager
def traced() -> Iterator[FakeRecorder]:
    """Send the subsegments opened inside to a fake recorder."""
    fake = FakeRecorder()
    previous = tracing.use_recorder(fake)
    try:
        yield fake
    finally:
        tracing.use_recorder(previous)
