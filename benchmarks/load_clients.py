"""HTTP clients for the load benchmark, in a process of their own.

``python -m benchmarks.load_clients`` reads one JSON document on its standard
input and prints one JSON document, its result, on its standard output.
Keeping the clients out of the benchmark's (and the server's) process keeps
their work off the server's event loop, as remote clients would be; on a
small machine they still share its cores, in both runs alike.

Two modes:

- ``"load"``: ``clients`` closed-loop clients (each sends its next request
  when the last one is answered) for ``seconds``, each request picked from
  ``mix`` (operation name to weight) with a seeded random generator. Every
  latency is measured here, from sending the request to reading the whole
  body (with ``"in_turn": true``, each client runs the operations of the
  mix one after another instead, each at least once). The result has each
  operation's statuses and latency percentiles, the throughput, transport
  errors and the ids of the threats created.
- ``"burst"``: ``requests`` concurrent ``GET /api/usage`` with one key, sent
  together just after a 10-second burst slot starts, over connections opened
  beforehand; the result lists each answer's status and the burst slot that
  decided it.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

SEVERITIES = ("low", "medium", "high", "critical")
THREAT_TYPES = ("ransomware", "malware", "phishing", "ddos", "intrusion", "other")
ENVIRONMENTS = ("threat_visualization", "threat_investigation", "training")
# Listing filters the clients pick from, one per listing (None: no filter).
FILTERS: tuple[tuple[str, str] | None, ...] = (
    None,
    None,
    ("severity", "high"),
    ("severity", "critical"),
    ("type", "malware"),
    ("status", "active"),
)
PAGE_SIZES = (10, 20, 50)
# How often a listing follows the cursor of the client's previous one.
NEXT_PAGE_SHARE = 0.3
REQUEST_TIMEOUT = 120.0
BURST_SLOT_SECONDS = 10
# Just after the slot starts, late enough that clock jitter between this
# process and the server cannot put the first request in the previous slot.
BURST_START_OFFSET = 0.05

# What each operation answers when it works; anything else is an error.
EXPECTED = {
    "list_threats": 200,
    "get_threat": 200,
    "create_threat": 201,
    "create_session": 201,
    "end_session": 200,
    "analytics": 200,
    "health": 200,
    "usage": 200,
}


@dataclass
class Tally:
    """What the clients saw: statuses and latencies per operation."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    transport_errors: Counter[str] = field(default_factory=Counter)
    created_threats: list[str] = field(default_factory=list)
    # Requests sent per (key, 10-second slot): how close a key came to burst.
    per_key_slot: Counter[tuple[int, int]] = field(default_factory=Counter)
    first_sent: float = math.inf
    last_answered: float = 0.0

    def record(self, operation: str, status: int, sent: float, answered: float) -> None:
        self.latencies.setdefault(operation, []).append(answered - sent)
        self.statuses.setdefault(operation, Counter())[status] += 1
        self.first_sent = min(self.first_sent, sent)
        self.last_answered = max(self.last_answered, answered)


@dataclass
class Client:
    """One closed-loop client: its key, its random stream, what it remembers."""

    session: aiohttp.ClientSession
    base_url: str
    headers: dict[str, str]
    key_index: int
    rng: random.Random
    tally: Tally
    threat_ids: list[str]
    cursor: tuple[tuple[str, str] | None, int, str] | None = None

    async def send(
        self,
        operation: str,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        public: bool = False,
    ) -> Any:
        """Send one request, record it, and return its JSON body (None if not)."""
        headers = {} if public else self.headers
        if not public:
            slot = int(time.time() // BURST_SLOT_SECONDS)
            self.tally.per_key_slot[self.key_index, slot] += 1
        sent = time.perf_counter()
        try:
            async with self.session.request(
                method,
                self.base_url + path,
                params=params,
                json=body,
                headers=headers,
                # No body, no Content-Type, as the SDKs send it (aiohttp would
                # add application/octet-stream).
                skip_auto_headers=() if body else ("Content-Type",),
            ) as response:
                payload = await response.read()
                answered = time.perf_counter()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.tally.transport_errors[f"{operation}: {type(exc).__name__}"] += 1
            return None
        self.tally.record(operation, response.status, sent, answered)
        if response.status != EXPECTED[operation]:
            return None
        return json.loads(payload)


async def list_threats(client: Client) -> None:
    params: dict[str, str]
    if client.cursor is not None and client.rng.random() < NEXT_PAGE_SHARE:
        chosen, size, cursor = client.cursor
        params = {"limit": str(size), "cursor": cursor}
    else:
        chosen, size = client.rng.choice(FILTERS), client.rng.choice(PAGE_SIZES)
        params = {"limit": str(size)}
    if chosen is not None:
        params[chosen[0]] = chosen[1]
    page = await client.send("list_threats", "GET", "/api/threats", params)
    following = page.get("next_cursor") if page else None
    client.cursor = (chosen, size, following) if following else None


async def get_threat(client: Client) -> None:
    threat_id = client.rng.choice(client.threat_ids)
    await client.send("get_threat", "GET", f"/api/threats/{threat_id}")


def threat_body(rng: random.Random) -> dict[str, Any]:
    """A plausible threat report."""
    return {
        "type": rng.choice(THREAT_TYPES),
        "severity": rng.choice(SEVERITIES),
        "source_ip": f"203.0.113.{rng.randrange(1, 255)}",
        "target": f"host-{rng.randrange(1000):03d}",
        "description": "reported by the load benchmark",
        "indicators": [f"{rng.getrandbits(128):032x}"],
    }


async def create_threat(client: Client) -> None:
    body = threat_body(client.rng)
    created = await client.send("create_threat", "POST", "/api/threats", body=body)
    if created:
        client.threat_ids.append(created["threat_id"])
        client.tally.created_threats.append(created["threat_id"])


async def session_round(client: Client) -> None:
    body = {
        "user_id": f"analyst_{client.rng.randrange(100)}",
        "environment": client.rng.choice(ENVIRONMENTS),
    }
    started = await client.send("create_session", "POST", "/api/vr/sessions", body=body)
    if started:
        path = f"/api/vr/sessions/{started['session_id']}/end"
        await client.send("end_session", "POST", path)


async def analytics(client: Client) -> None:
    path = "/api/analytics/threat_count"
    await client.send("analytics", "GET", path, {"period": "24h"})


async def health(client: Client) -> None:
    await client.send("health", "GET", "/api/health", public=True)


async def usage(client: Client) -> None:
    await client.send("usage", "GET", "/api/usage")


Operation = Callable[[Client], Awaitable[None]]
OPERATIONS: dict[str, Operation] = {
    "list_threats": list_threats,
    "get_threat": get_threat,
    "create_threat": create_threat,
    "session": session_round,
    "analytics": analytics,
    "health": health,
    "usage": usage,
}


async def load(config: dict[str, Any]) -> dict[str, Any]:
    """Run the closed-loop clients for ``config["seconds"]``; summarize."""
    names = list(config["mix"])
    unknown = set(names) - set(OPERATIONS)
    if unknown:
        raise ValueError(f"unknown operations in the mix: {sorted(unknown)}")
    weights = [float(config["mix"][n]) for n in names]
    keys: list[dict[str, str]] = config["keys"]
    tally = Tally()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        clients = [
            Client(
                session,
                config["base_url"],
                keys[i % len(keys)],
                i % len(keys),
                random.Random(config.get("seed", 0) * 1_000 + i),
                tally,
                list(config["threat_ids"]),
            )
            for i in range(config["clients"])
        ]
        deadline = time.perf_counter() + float(config["seconds"])

        in_turn = bool(config.get("in_turn"))

        async def loop(client: Client) -> None:
            turn = 0
            # In turn, every operation runs at least once, however slow.
            while time.perf_counter() < deadline or (in_turn and turn < len(names)):
                if in_turn:
                    name, turn = names[turn % len(names)], turn + 1
                else:
                    name = client.rng.choices(names, weights)[0]
                await OPERATIONS[name](client)

        await asyncio.gather(*(loop(c) for c in clients))
    result = summarize(tally, config["clients"])
    # The clients' own share of the machine, beside the server's.
    result["cpu_seconds"] = round(time.process_time(), 2)
    return result


def summarize(tally: Tally, clients: int) -> dict[str, Any]:
    """Turn the tally into the result document."""
    every = [s for samples in tally.latencies.values() for s in samples]
    elapsed = max(tally.last_answered - tally.first_sent, 1e-9)
    operations = {
        name: {
            "requests": len(samples),
            "statuses": {str(s): n for s, n in sorted(tally.statuses[name].items())},
            "latency_ms": latency_summary(samples),
        }
        for name, samples in sorted(tally.latencies.items())
    }
    statuses: Counter[int] = Counter()
    for counted in tally.statuses.values():
        statuses.update(counted)
    return {
        "clients": clients,
        "seconds": round(elapsed, 3),
        "requests": len(every),
        "throughput_per_s": round(len(every) / elapsed, 2),
        "latency_ms": latency_summary(every),
        "statuses": {str(s): n for s, n in sorted(statuses.items())},
        "unexpected": unexpected(tally),
        "transport_errors": dict(tally.transport_errors),
        "busiest_key_slot": max(tally.per_key_slot.values(), default=0),
        "operations": operations,
        "created_threat_ids": tally.created_threats,
    }


def unexpected(tally: Tally) -> dict[str, dict[str, int]]:
    """Each operation's answers other than the one it should get."""
    found: dict[str, dict[str, int]] = {}
    for name, counted in tally.statuses.items():
        wrong = {str(s): n for s, n in counted.items() if s != EXPECTED[name]}
        if wrong:
            found[name] = wrong
    return found


def latency_summary(samples: list[float]) -> dict[str, float]:
    """Mean, p50, p95, p99 and max of ``samples`` (seconds), in ms."""
    if not samples:
        return {}
    ordered = sorted(samples)

    def rank(share: float) -> float:
        # Nearest rank: the smallest sample with at least ``share`` at or below.
        index = max(0, math.ceil(share * len(ordered)) - 1)
        return round(ordered[index] * 1000, 2)

    return {
        "mean": round(statistics.fmean(ordered) * 1000, 2),
        "p50": rank(0.50),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": round(ordered[-1] * 1000, 2),
    }


async def burst(config: dict[str, Any]) -> dict[str, Any]:
    """Send ``requests`` requests on one key at once, right after a slot starts."""
    count = int(config["requests"])
    base_url, headers = config["base_url"], config["headers"]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Open every connection first (the gateway answers an unknown path
        # itself, with no admission), so the batch spends its slot on
        # admissions, not on TCP handshakes.
        await asyncio.gather(*(_warm(session, base_url) for _ in range(count)))
        now = time.time()
        boundary = (now // BURST_SLOT_SECONDS + 1) * BURST_SLOT_SECONDS
        await asyncio.sleep(boundary + BURST_START_OFFSET - now)
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(_usage(session, base_url, headers) for _ in range(count))
        )
        took = time.perf_counter() - started
    return {"requests": count, "seconds": round(took, 3), "answers": answers}


async def _warm(session: aiohttp.ClientSession, base_url: str) -> None:
    async with session.get(base_url + "/warm-up") as response:
        await response.read()


async def _usage(
    session: aiohttp.ClientSession, base_url: str, headers: dict[str, str]
) -> dict[str, Any]:
    async with session.get(base_url + "/api/usage", headers=headers) as response:
        body = await response.json(content_type=None)
        status = response.status
        reset = response.headers.get("X-RateLimit-Reset", "0")
    if status == 200:
        ends = datetime.fromisoformat(body["requests_burst"]["resets_at"])
        return {"status": 200, "code": None, "slot_end": int(ends.timestamp())}
    # A refusal by the burst window names that window's end as the reset.
    return {"status": status, "code": body.get("code"), "slot_end": int(reset)}


MODES = {"load": load, "burst": burst}


def main() -> None:
    config = json.loads(sys.stdin.read())
    result = asyncio.run(MODES[config["mode"]](config))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
