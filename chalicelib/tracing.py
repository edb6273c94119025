"""X-Ray tracing: AWS calls, and subsegments around the service's own steps.

The X-Ray SDK is imported only when tracing is on (``JUPITER_TRACING=true``,
set in the dev and prod stages): about 10 ms of a cold start in Lambda, and
ten times that elsewhere, where it builds a botocore client for its sampling
rules. With tracing off, :func:`subsegment` is one dictionary read.

Subsegments: ``admission`` (the gateway's write and its diagnosis),
``webhook.delivery`` (one queue message: claim, vetting, POST, record) and
``realtime.fanout`` (one broadcast to a topic's subscribers, whose posts from
the pool's threads are carried into it). Each carries the
correlation id and the ids it concerns as annotations, so a trace can be found
from a log line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, Protocol, TypeVar

from chalicelib.config import Settings

P = ParamSpec("P")
R = TypeVar("R")


class Recorder(Protocol):
    """What subsegments need of an X-Ray recorder (``aws_xray_sdk``'s, or a fake)."""

    def in_subsegment(self, name: str) -> contextlib.AbstractContextManager[Any]: ...

    def get_trace_entity(self) -> Any: ...

    def set_trace_entity(self, trace_entity: Any) -> None: ...

    def clear_trace_entities(self) -> None: ...


_state: dict[str, Any] = {"recorder": None}


def configure(config: Settings) -> None:
    """Patch botocore for X-Ray and record subsegments, once, if tracing is on."""
    if not config.tracing or _state["recorder"] is not None:
        return
    from aws_xray_sdk.core import patch, xray_recorder

    patch(["botocore"])
    _state["recorder"] = xray_recorder


def use_recorder(recorder: Recorder | None) -> Recorder | None:
    """Send subsegments to ``recorder`` (None: none); return the previous one."""
    previous: Recorder | None = _state["recorder"]
    _state["recorder"] = recorder
    return previous


@contextlib.contextmanager
def subsegment(name: str, **annotations: str | int | None) -> Iterator[Any]:
    """Record a subsegment when tracing is on; do nothing otherwise.

    ``annotations`` (``None`` values left out) are indexed by X-Ray: ids only,
    never a secret.
    """
    recorder: Recorder | None = _state["recorder"]
    if recorder is None:
        yield None
        return
    with recorder.in_subsegment(name) as segment:
        if segment is not None:
            for key, value in annotations.items():
                if value is not None:
                    segment.put_annotation(key, value)
        yield segment


def carried(function: Callable[P, R]) -> Callable[P, R]:
    """Return ``function`` to run on another thread inside the current subsegment.

    The X-Ray SDK keeps the current segment or subsegment per thread: a pool
    thread's AWS calls would otherwise land outside the subsegment that
    started them (in Lambda, straight on the function's segment). Call this on
    the thread that opened the subsegment, and run what it returns on the pool.
    """
    recorder: Recorder | None = _state["recorder"]
    if recorder is None:
        return function
    entity = recorder.get_trace_entity()

    def in_entity(*args: P.args, **kwargs: P.kwargs) -> R:
        recorder.set_trace_entity(entity)
        try:
            return function(*args, **kwargs)
        finally:
            recorder.clear_trace_entities()

    return in_entity
