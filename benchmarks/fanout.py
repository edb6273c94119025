"""Fan-out: one broadcast to 1,000 subscribed WebSocket connections.

Runs against the real local stack (``python -m local.stack`` in a child
process, with its serialized moto server), so every post crosses HTTP to the
stack's emulation of API Gateway's ``@connections`` API and from there a real
WebSocket to a client:

1. 1,000 clients connect to ``/ws`` (each ``$connect`` runs the app's
   handler). They are subscribed to the threats channel directly in the
   connections table, which is quicker than 1,000 ``authenticate`` frames
   and changes nothing about the broadcast being measured.
2. A ``threat.detected`` event goes through the realtime sink exactly as the
   outbox dispatcher hands it over: numbered, journaled, subscribers read
   from the topic index page by page, posted with the service's bounded pool.
   Timed until every client has the frame.
3. The same posts in a serial loop (one ``PostToConnection`` after another,
   same client, same endpoint), timed the same way.

The broadcast's DynamoDB calls are counted with botocore's ``before-call``
event on the service's client: they are a handful whatever the audience
(paged index queries, never a scan).
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from benchmarks.harness import CallRecorder
from benchmarks.live import LineChild, LiveStack, local_stack
from benchmarks.report import Report

CONNECTIONS = 1_000
ROUNDS = 3


def run(connections: int = CONNECTIONS, rounds: int = ROUNDS) -> Report:
    """Broadcast to ``connections`` clients, ``rounds`` times each way."""
    with _stack() as stack, _clients(stack.port, connections) as clients:
        from chalicelib import aws
        from chalicelib.clock import FixedClock
        from chalicelib.realtime.connections import Connection, ConnectionStore
        from chalicelib.realtime.frames import Channel
        from chalicelib.services import services

        realtime = services().realtime
        # Every connection still waiting to authenticate, seen from an hour on.
        later = FixedClock(time.time() + 3_600)
        table = services().settings.connections_table
        ids = ConnectionStore(aws.dynamodb(), table, later).overdue()
        if len(ids) != connections:
            raise RuntimeError(f"{len(ids)} of {connections} connections recorded")
        for connection_id in ids:
            realtime.store.subscribe(
                Connection(connection_id, 0, int(time.time()) + 7_200, "bench"),
                {Channel.THREATS: Channel.THREATS.value},
            )
        configured = realtime.broadcaster.concurrency
        levels = sorted({4, configured, 64})
        broadcasts: dict[int, list[dict[str, Any]]] = {n: [] for n in levels}
        serial = []
        # Interleaved rounds, so a slow spell of a shared machine hits all.
        for _ in range(rounds):
            serial.append(_serial(realtime, ids, clients))
            for level in levels:
                realtime.broadcaster.concurrency = level
                broadcasts[level].append(_broadcast(realtime, aws.dynamodb(), clients))
        realtime.broadcaster.concurrency = configured
    return _report(len(ids), configured, broadcasts, serial)


def _broadcast(realtime: Any, client: Any, clients: Clients) -> dict[str, Any]:
    from chalicelib.events.outbox import DomainEvent
    from chalicelib.realtime.sink import RealtimeSink

    threat_id = "thr_" + secrets.token_hex(12)
    event = DomainEvent("threat.detected", {"threat": {"threat_id": threat_id}}, 0)
    clients.expect(threat_id)
    with CallRecorder(client) as calls:
        started = time.perf_counter()
        RealtimeSink(realtime).deliver(event)
        posted = time.perf_counter() - started
        clients.wait_for_all()
        arrived = time.perf_counter() - started
    return {"seconds": arrived, "posted_seconds": posted, "calls": dict(calls.counts)}


def _serial(realtime: Any, ids: list[str], clients: Clients) -> dict[str, Any]:
    api = realtime.endpoints.known()
    token = "serial_" + secrets.token_hex(12)
    body = json.dumps({"type": "threat_update", "threat": {"threat_id": token}})
    clients.expect(token)
    started = time.perf_counter()
    for connection_id in ids:
        api.post(connection_id, body)
    posted = time.perf_counter() - started
    clients.wait_for_all()
    return {"seconds": time.perf_counter() - started, "posted_seconds": posted}


def _report(
    audience: int,
    configured: int,
    broadcasts: dict[int, list[dict[str, Any]]],
    serial: list[dict[str, Any]],
) -> Report:
    loop = statistics.median(r["seconds"] for r in serial)
    medians = {
        n: statistics.median(r["seconds"] for r in b) for n, b in broadcasts.items()
    }
    calls = broadcasts[configured][-1]["calls"]
    by_operation = ", ".join(f"{name} {n}" for name, n in sorted(calls.items()))
    rows = [("connections subscribed", str(audience), "threats channel")]
    rows.append(
        (
            "serial loop, all received",
            f"{loop * 1000:.0f} ms",
            f"one PostToConnection after another; median of {len(serial)}",
        )
    )
    for level, seconds in medians.items():
        note = " (configured)" if level == configured else ""
        rows.append(
            (
                f"broadcast, {level} posts in flight{note}",
                f"{seconds * 1000:.0f} ms",
                f"{loop / seconds:.2f}x the serial loop's speed",
            )
        )
    rows.append(
        ("DynamoDB calls per broadcast", str(sum(calls.values())), by_operation)
    )
    rows.append(
        ("scans", str(calls.get("Scan", 0)), "subscribers from the topic index")
    )
    figures = {
        "connections": audience,
        "configured_concurrency": configured,
        "serial": serial,
        "broadcast": {str(n): b for n, b in broadcasts.items()},
        "serial_median_s": round(loop, 3),
        "broadcast_median_s": {str(n): round(s, 3) for n, s in medians.items()},
        "speedup": {str(n): round(loop / s, 2) for n, s in medians.items()},
        "dynamodb_calls": calls,
    }
    return Report(
        name="fanout",
        title=f"Fan-out to {audience} WebSocket connections (local stack)",
        columns=("measure", "value", "detail"),
        rows=rows,
        figures=figures,
    )


class Clients(LineChild):
    """The client process (``benchmarks.ws_clients``), driven line by line."""

    def __init__(self, port: int, count: int) -> None:
        super().__init__("benchmarks.ws_clients", port, count)
        self.count = count
        self._token = ""
        self._wait_for_line("ready")

    def expect(self, token: str) -> None:
        """Have the clients count, from now on, the frames that carry ``token``."""
        self._token = token
        self.send(f"expect {token}")
        self._wait_for_line(f"expecting {token}")

    def wait_for_all(self) -> None:
        """Block until every client has received the expected frame."""
        self._wait_for_line(f"arrived {self._token}")

    def _wait_for_line(self, expected: str) -> None:
        line = self.read()
        if line != expected:
            raise RuntimeError(f"the clients said {line!r}, not {expected!r}")


@contextmanager
def _clients(port: int, count: int) -> Iterator[Clients]:
    clients = Clients(port, count)
    try:
        yield clients
    finally:
        clients.close()


def _stack() -> AbstractContextManager[LiveStack]:
    # The clients never authenticate: keep the sweep off them.
    return local_stack(
        JUPITER_WS_AUTH_DEADLINE_SECONDS="60",
        JUPITER_LOCAL_SCHEDULE_WS_SWEEP="3600",
        JUPITER_LOCAL_SCHEDULE_SYSTEM_STATUS="3600",
    )
