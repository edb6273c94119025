"""Load: a bounded mixed workload against the local stack, and a bare baseline.

1. The real local stack (``python -m local.stack``, what ``make run`` runs)
   starts in a child process. Keys are created over HTTP with its bootstrap
   ADMIN key: ENTERPRISE keys, one per ``CLIENTS_PER_KEY`` clients (and per
   ``SUBSCRIBERS_PER_KEY`` subscribers), so no key comes near its limits
   (burst 1,000 per 10 s, 100 connections). ``SEED_THREATS`` threats give the
   listings something to read.
2. ``subscribers`` WebSocket clients (``benchmarks.ws_subscribers``, their own
   process) authenticate and subscribe to ``threats``.
3. ``clients`` closed-loop HTTP clients (``benchmarks.load_clients``, their
   own process) run :data:`MIX` for ``seconds``; latencies are measured on
   the client side. Then the subscribers are given time to receive a
   ``threat_update`` for every threat the run created.
4. One client runs every operation in turn for ``probe_seconds``: the cost of
   each request when nothing else is queued, nearer what a design target means.
5. Limiter exactness: ``burst_requests`` concurrent requests on a fresh FREE
   key, right after a burst slot starts; each slot must admit exactly
   ``min(burst, requests in it)``.
6. The stack stops; :mod:`benchmarks.bare_app` (no key check, no store) is
   served by the same ``local.server.LocalServer`` and gets the same clients,
   mix and duration, and the same probe. The ratios to it are the figures.

The run raises :class:`LoadFailed` if any request answered 5xx, 429 (every key
was under its limits: a 429 is a false positive), or anything else it should
not have, if a connection failed, if a subscriber was refused or closed, or
if the limiter admitted more or fewer than its burst.

Settings, from the environment (defaults are the full run): ``JUPITER_LOAD_
SECONDS`` (60), ``JUPITER_LOAD_CLIENTS`` (50), ``JUPITER_LOAD_SUBSCRIBERS``
(100), ``JUPITER_LOAD_PROBE_SECONDS`` (20), ``JUPITER_LOAD_BURST_REQUESTS`` (150).
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from benchmarks.live import (
    PROJECT_DIR,
    LineChild,
    LiveStack,
    free_port,
    local_stack,
    process_cpu,
    stop,
    wait_until_healthy,
)
from benchmarks.load_clients import threat_body
from benchmarks.report import Report
from chalicelib.policy import TIER_LIMITS, Tier

# Share of requests per operation ("session" is a create and its end).
MIX = {
    "list_threats": 60,
    "get_threat": 15,
    "create_threat": 10,
    "session": 5,
    "analytics": 5,
    "health": 3,
    "usage": 2,
}
# The probe runs each operation in turn.
PROBE_MIX = dict.fromkeys(MIX, 1)
SCOPES = [
    "READ_THREATS",
    "WRITE_THREATS",
    "READ_VR_SESSIONS",
    "WRITE_VR_SESSIONS",
    "READ_ANALYTICS",
]
KEY_TIER = Tier.ENTERPRISE
CLIENTS_PER_KEY = 10
SUBSCRIBERS_PER_KEY = 50
SEED_THREATS = 30
DRAIN_SECONDS = 120.0
CHILD_TIMEOUT_MARGIN = 300.0
OWNER = "org_load"


class LoadFailed(RuntimeError):
    """Raised when the load run saw an error it must not have (5xx, 429, ...)."""


@dataclass(frozen=True)
class Settings:
    """How big the run is."""

    seconds: float = 60.0
    clients: int = 50
    subscribers: int = 100
    probe_seconds: float = 20.0
    burst_requests: int = 150

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        return cls(
            seconds=float(env("JUPITER_LOAD_SECONDS") or cls.seconds),
            clients=int(env("JUPITER_LOAD_CLIENTS") or cls.clients),
            subscribers=int(env("JUPITER_LOAD_SUBSCRIBERS") or cls.subscribers),
            probe_seconds=float(env("JUPITER_LOAD_PROBE_SECONDS") or cls.probe_seconds),
            burst_requests=int(
                env("JUPITER_LOAD_BURST_REQUESTS") or cls.burst_requests
            ),
        )


def run(settings: Settings | None = None) -> Report:
    """Load the local stack, then the bare app; report both and check the run."""
    settings = settings or Settings.from_env()
    with local_stack() as stack:
        service = _service_run(stack, settings)
    with bare_server() as base_url:
        baseline = {
            "load": generate(base_url, [{}], settings.clients, settings.seconds, MIX),
            "probe": generate(
                base_url, [{}], 1, settings.probe_seconds, PROBE_MIX, in_turn=True
            ),
        }
    figures = _figures(settings, service, baseline)
    report = Report(
        name="load",
        title=(
            f"Load: {settings.clients} clients for {settings.seconds:g} s, "
            f"{settings.subscribers} WebSocket subscribers (local stack)"
        ),
        columns=("measure", "Jupiter (local stack)", "bare Chalice app", "detail"),
        rows=_rows(figures),
        figures=figures,
    )
    check(figures)
    return report


def _service_run(stack: LiveStack, settings: Settings) -> dict[str, Any]:
    count = max(
        math.ceil(settings.clients / CLIENTS_PER_KEY),
        math.ceil(settings.subscribers / SUBSCRIBERS_PER_KEY),
        1,
    )
    keys = [create_key(stack, KEY_TIER) for _ in range(count)]
    headers = [key_headers(k) for k in keys]
    seeded = seed_threats(stack.base_url, headers[0], SEED_THREATS)
    figures = _loaded(stack, settings, keys, seeded)
    figures["probe"] = generate(
        stack.base_url,
        headers,
        1,
        settings.probe_seconds,
        PROBE_MIX,
        seeded,
        in_turn=True,
    )
    figures["exactness"] = measure_exactness(stack, settings.burst_requests)
    return {"keys": count, **figures}


def _loaded(
    stack: LiveStack, settings: Settings, keys: list[dict[str, str]], seeded: list[str]
) -> dict[str, Any]:
    """The load itself, with its subscribers and the CPU each process used."""
    headers = [key_headers(k) for k in keys]
    with subscribers(stack.port, settings.subscribers, keys) as audience:
        before, started = process_cpu(stack.pid), time.perf_counter()
        load = generate(
            stack.base_url, headers, settings.clients, settings.seconds, MIX, seeded
        )
        websocket = audience.wait_for(load["created_threat_ids"], DRAIN_SECONDS)
        used = _cpu_since(before, process_cpu(stack.pid))
    used["benchmarks.load_clients"] = load["cpu_seconds"]
    used["benchmarks.ws_subscribers"] = websocket["cpu_seconds"]
    cpu = {"wall_s": round(time.perf_counter() - started, 2), "by_process": used}
    return {"load": load, "websocket": websocket, "cpu": cpu}


def _cpu_since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 2) for name in after}


def create_key(stack: LiveStack, tier: Tier, scopes: list[str] | None = None) -> Any:
    """Create a key over HTTP with the stack's ADMIN key; return its body."""
    response = requests.post(
        stack.base_url + "/api/keys",
        json={
            "name": "load benchmark",
            "owner_id": OWNER,
            "permissions": scopes or SCOPES,
            "tier": tier.value,
        },
        headers=stack.admin_headers(),
        timeout=60,
    )
    response.raise_for_status()
    return response.json()


def key_headers(key: dict[str, str]) -> dict[str, str]:
    return {"X-API-Key-ID": key["key_id"], "X-API-Key-Secret": key["key_secret"]}


def seed_threats(base_url: str, headers: dict[str, str], count: int) -> list[str]:
    """Report ``count`` threats before the run; return their ids."""
    rng = random.Random(0)
    ids = []
    with requests.Session() as session:
        for _ in range(count):
            response = session.post(
                base_url + "/api/threats",
                json=threat_body(rng),
                headers=headers,
                timeout=60,
            )
            response.raise_for_status()
            ids.append(response.json()["threat_id"])
    return ids


def generate(
    base_url: str,
    headers: list[dict[str, str]],
    clients: int,
    seconds: float,
    mix: dict[str, int],
    threat_ids: list[str] | None = None,
    in_turn: bool = False,
) -> dict[str, Any]:
    """Run the load clients' process against ``base_url``; return its result.

    Operations are drawn from ``mix`` at random, or with ``in_turn`` each
    client runs them one after another.
    """
    config = {
        "mode": "load",
        "in_turn": in_turn,
        "base_url": base_url,
        "keys": headers,
        "clients": clients,
        "seconds": seconds,
        "mix": mix,
        "seed": 1,
        "threat_ids": threat_ids or ["thr_" + "0" * 24],
    }
    return _clients_process(config, seconds)


def measure_exactness(stack: LiveStack, requests_at_once: int) -> dict[str, Any]:
    """Fire ``requests_at_once`` requests on a fresh FREE key; judge each slot."""
    key = create_key(stack, Tier.FREE, ["READ_THREATS"])
    config = {
        "mode": "burst",
        "base_url": stack.base_url,
        "headers": key_headers(key),
        "requests": requests_at_once,
    }
    return judge_exactness(_clients_process(config, 10.0), TIER_LIMITS[Tier.FREE].burst)


def judge_exactness(result: dict[str, Any], burst: int) -> dict[str, Any]:
    """Group the answers by the burst slot that decided them; check each slot."""
    slots: dict[int, list[dict[str, Any]]] = {}
    for answer in result["answers"]:
        slots.setdefault(answer["slot_end"], []).append(answer)
    judged = []
    for end, answers in sorted(slots.items()):
        admitted = sum(a["status"] == 200 for a in answers)
        refused = sum(
            a["status"] == 429 and a["code"] == "rate_limit_exceeded" for a in answers
        )
        expected = min(burst, len(answers))
        judged.append(
            {
                "slot_end": end,
                "requests": len(answers),
                "admitted": admitted,
                "refused": refused,
                "exact": admitted == expected and admitted + refused == len(answers),
            }
        )
    return {
        "requests": result["requests"],
        "seconds": result["seconds"],
        "burst": burst,
        "admitted": sum(s["admitted"] for s in judged),
        "refused": sum(s["refused"] for s in judged),
        "slots": judged,
        "exact": all(s["exact"] for s in judged),
    }


def _clients_process(config: dict[str, Any], seconds: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.load_clients"],
        cwd=PROJECT_DIR,
        input=json.dumps(config),
        capture_output=True,
        text=True,
        timeout=seconds + CHILD_TIMEOUT_MARGIN,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load clients failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


class Subscribers(LineChild):
    """The subscribers' process (``benchmarks.ws_subscribers``), line by line."""

    def __init__(self, port: int, count: int, keys: list[dict[str, str]]) -> None:
        super().__init__("benchmarks.ws_subscribers", port, count)
        credentials = [{k: key[k] for k in ("key_id", "key_secret")} for key in keys]
        self.send(json.dumps(credentials))
        line = self.read()
        if line != "ready":
            self.close()
            raise RuntimeError(f"the subscribers said {line!r}, not 'ready'")

    def wait_for(self, threat_ids: list[str], seconds: float) -> dict[str, Any]:
        """Wait until each subscriber has heard of every threat in ``threat_ids``."""
        self.send(" ".join(["wait", str(seconds), *threat_ids]))
        report: dict[str, Any] = json.loads(self.read())
        return report


@contextmanager
def subscribers(
    port: int, count: int, keys: list[dict[str, str]]
) -> Iterator[Subscribers]:
    audience = Subscribers(port, count, keys)
    try:
        yield audience
    finally:
        audience.close()


@contextmanager
def bare_server(module: str = "benchmarks.bare_app") -> Iterator[str]:
    """Serve a bare app module (``python -m module PORT``); yield its base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="jupiter-bare-") as directory:
        log = Path(directory) / "server.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", module, str(port)],
                cwd=PROJECT_DIR,
                stdout=output,
                stderr=output,
            )
            try:
                wait_until_healthy(port, process, log)
                yield f"http://127.0.0.1:{port}"
            finally:
                stop(process)


def errors(result: dict[str, Any]) -> dict[str, int]:
    """Count a load result's 5xx, 429, other unexpected answers and failed calls."""
    counts = {"5xx": 0, "429": 0, "other": 0}
    for wrong in result["unexpected"].values():
        for status, n in wrong.items():
            kind = "5xx" if status.startswith("5") else "429" if status == "429" else ""
            counts[kind or "other"] += n
    counts["transport"] = sum(result["transport_errors"].values())
    return counts


def check(figures: dict[str, Any]) -> None:
    """Raise :class:`LoadFailed` naming everything the run must not have seen."""
    problems = []
    for side, label in (("service", ""), ("baseline", "bare ")):
        for run_name in ("load", "probe"):
            result = figures[side][run_name]
            if any(errors(result).values()):
                problems.append(
                    f"{label}{run_name}: answers {result['unexpected']}, "
                    f"connections {result['transport_errors']}"
                )
    websocket = figures["service"]["websocket"]
    if websocket["error_codes"]:
        problems.append(f"WebSocket error frames: {websocket['error_codes']}")
    if websocket["closed"]:
        problems.append(f"{websocket['closed']} subscribers closed during the run")
    exactness = figures["service"]["exactness"]
    if not exactness["exact"]:
        problems.append(f"the limiter was not exact: {exactness['slots']}")
    if problems:
        raise LoadFailed("the load run failed: " + "; ".join(problems))


def _figures(
    settings: Settings, service: dict[str, Any], baseline: dict[str, Any]
) -> dict[str, Any]:
    load, bare = service["load"], baseline["load"]
    created = load.pop("created_threat_ids")
    service["probe"].pop("created_threat_ids")
    for result in baseline.values():
        result.pop("created_threat_ids")
    ratio = {
        "throughput": _ratio(load["throughput_per_s"], bare["throughput_per_s"]),
        **{
            f"latency_{p}": _ratio(load["latency_ms"][p], bare["latency_ms"][p])
            for p in ("mean", "p50", "p95", "p99")
        },
    }
    return {
        "settings": asdict(settings),
        "mix": MIX,
        "keys": {"count": service.pop("keys"), "tier": KEY_TIER.value},
        "limits": {"burst": TIER_LIMITS[KEY_TIER].burst},
        "threats_created": len(created),
        "service": service,
        "baseline": baseline,
        "ratio": ratio,
        "errors": errors(load),
    }


def _ratio(mine: float, bare: float) -> float:
    return round(mine / bare, 3) if bare else math.inf


def _rows(figures: dict[str, Any]) -> list[tuple[str, ...]]:
    service, baseline = figures["service"], figures["baseline"]
    load, bare = service["load"], baseline["load"]
    ratio = figures["ratio"]
    rows: list[tuple[str, ...]] = [
        (
            "requests answered",
            f"{load['requests']:,}",
            f"{bare['requests']:,}",
            f"in {load['seconds']:.1f} s and {bare['seconds']:.1f} s",
        ),
        (
            "throughput",
            f"{load['throughput_per_s']:.1f}/s",
            f"{bare['throughput_per_s']:.1f}/s",
            f"ratio {ratio['throughput']:.3f}",
        ),
    ]
    for p in ("mean", "p50", "p95", "p99"):
        rows.append(
            (
                f"latency {p}",
                f"{load['latency_ms'][p]:.1f} ms",
                f"{bare['latency_ms'][p]:.1f} ms",
                f"ratio {ratio[f'latency_{p}']:.2f}",
            )
        )
    rows.append(_errors_row(load, bare, figures))
    rows.append(_cpu_row(service["cpu"], bare))
    rows += _operation_rows(load, bare, "")
    rows += _operation_rows(service["probe"], baseline["probe"], "one client, ")
    rows += _websocket_rows(service["websocket"], figures["threats_created"])
    rows.append(_exactness_row(service["exactness"]))
    return rows


def _errors_row(
    load: dict[str, Any], bare: dict[str, Any], figures: dict[str, Any]
) -> tuple[str, ...]:
    mine, theirs = errors(load), errors(bare)

    def text(counts: dict[str, int]) -> str:
        return ", ".join(f"{n} {kind}" for kind, n in counts.items())

    return (
        "errors",
        text(mine),
        text(theirs),
        f"{figures['keys']['count']} {figures['keys']['tier']} keys; busiest key "
        f"sent {load['busiest_key_slot']} in a 10 s slot "
        f"(burst limit {figures['limits']['burst']:,})",
    )


def _cpu_row(cpu: dict[str, Any], bare: dict[str, Any]) -> tuple[str, ...]:
    by_process = ", ".join(
        f"{name.rsplit('.', 1)[-1]} {seconds:.0f}"
        for name, seconds in sorted(cpu["by_process"].items(), key=lambda i: -i[1])
    )
    return (
        "CPU seconds, by process",
        by_process,
        f"load_clients {bare['cpu_seconds']:.0f}",
        f"during the load and the frames' delivery ({cpu['wall_s']:.0f} s wall); "
        "2 cores give 2 CPU seconds per second",
    )


def _operation_rows(
    mine: dict[str, Any], bare: dict[str, Any], label: str
) -> list[tuple[str, ...]]:
    rows = []
    for name, stats in mine["operations"].items():
        theirs = bare["operations"].get(name, {}).get("latency_ms", {})
        latency = stats["latency_ms"]
        rows.append(
            (
                f"{label}{name}, mean / p50 / p99",
                f"{latency['mean']:.1f} / {latency['p50']:.1f} / {latency['p99']:.1f}",
                " / ".join(f"{theirs[p]:.1f}" for p in ("mean", "p50", "p99"))
                if theirs
                else "-",
                f"ms, n={stats['requests']:,}",
            )
        )
    return rows


def _websocket_rows(websocket: dict[str, Any], created: int) -> list[tuple[str, ...]]:
    return [
        (
            "threat_update frames received",
            f"{websocket['received']:,} of {websocket['expected']:,}",
            "-",
            f"{websocket['subscribers']} subscribers x {created} threats created; "
            f"{websocket['missing']} missing after {websocket['waited_s']:.1f} s",
        ),
        (
            "WebSocket error frames, closed subscribers",
            f"{sum(websocket['error_codes'].values())}, {websocket['closed']}",
            "-",
            ", ".join(f"{c} {n}" for c, n in websocket["error_codes"].items())
            or "none",
        ),
    ]


def _exactness_row(exactness: dict[str, Any]) -> tuple[str, ...]:
    slots = exactness["slots"]
    return (
        "limiter exactness (fresh FREE key)",
        f"{exactness['admitted']} admitted of {exactness['requests']}",
        "-",
        f"burst {exactness['burst']} per 10 s; {len(slots)} slot(s), "
        + ("each exact" if exactness["exact"] else "NOT exact")
        + f"; answered in {exactness['seconds']:.2f} s",
    )
