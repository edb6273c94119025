"""Authenticated WebSocket subscribers for the load benchmark, in their own process.

``python -m benchmarks.ws_subscribers URL COUNT`` reads a JSON list of keys
(``{"key_id", "key_secret"}``) as its first line of standard input, opens
COUNT connections to URL, each authenticating with the next key in turn and
subscribing to the ``threats`` channel, and prints ``ready``. Then the
subscribers listen. A line ``wait SECONDS ID ID ...`` waits until every
subscriber has a ``threat_update`` for each id, or SECONDS have passed, and
prints one JSON line: what arrived, what is missing, every frame type seen
and every ``error`` frame's code. Closing standard input closes them all.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

import aiohttp

OPEN_AT_ONCE = 16
ANSWER_TIMEOUT = 60.0
POLL_SECONDS = 0.1
LINE_LIMIT = 16 * 1024 * 1024


class Subscriber:
    """One authenticated connection and the threats it has heard about."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.threats: set[str] = set()
        self.frames: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.closed = False

    async def handshake(self, key: dict[str, str]) -> None:
        """Authenticate, subscribe to threats; raise if either is refused."""
        await self.socket.send_json(
            {
                "type": "authenticate",
                "api_key_id": key["key_id"],
                "api_key_secret": key["key_secret"],
            }
        )
        await self._expect("authenticated")
        await self.socket.send_json({"type": "subscribe", "channels": ["threats"]})
        await self._expect("subscribed")

    async def _expect(self, kind: str) -> None:
        # A broadcast can overtake the answer (the subscription is recorded
        # before the reply is posted): note it and read on.
        while True:
            frame = await self.socket.receive_json(timeout=ANSWER_TIMEOUT)
            self._note(frame)
            if frame.get("type") == kind:
                return
            if frame.get("type") == "error":
                raise RuntimeError(f"expected {kind}, got {frame}")

    async def listen(self) -> None:
        async for message in self.socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            self._note(json.loads(message.data))
        self.closed = True

    def _note(self, frame: dict[str, Any]) -> None:
        kind = str(frame.get("type"))
        self.frames[kind] += 1
        if kind == "threat_update":
            self.threats.add(frame["threat"]["threat_id"])
        elif kind == "error":
            self.errors[str(frame.get("code"))] += 1


async def open_all(
    session: aiohttp.ClientSession, url: str, count: int, keys: list[dict[str, str]]
) -> list[Subscriber]:
    gate = asyncio.Semaphore(OPEN_AT_ONCE)

    async def one(index: int) -> Subscriber:
        async with gate:
            socket = await session.ws_connect(url, heartbeat=None)
            subscriber = Subscriber(socket)
            await subscriber.handshake(keys[index % len(keys)])
        return subscriber

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def wait_for(
    subscribers: list[Subscriber], expected: set[str], seconds: float
) -> dict[str, Any]:
    """Wait until each subscriber has every expected threat; report what came."""
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        if all(expected <= s.threats for s in subscribers):
            break
        await asyncio.sleep(POLL_SECONDS)
    frames: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for subscriber in subscribers:
        frames.update(subscriber.frames)
        errors.update(subscriber.errors)
    received = sum(len(expected & s.threats) for s in subscribers)
    return {
        "subscribers": len(subscribers),
        "expected": len(expected) * len(subscribers),
        "received": received,
        "missing": len(expected) * len(subscribers) - received,
        "waited_s": round(time.perf_counter() - started, 3),
        "frames": dict(frames),
        "error_codes": dict(errors),
        "closed": sum(s.closed for s in subscribers),
        # Since the process started, connecting included.
        "cpu_seconds": round(time.process_time(), 2),
    }


async def main(url: str, count: int) -> None:
    loop = asyncio.get_running_loop()
    # A wait line names every threat of the run: allow long lines.
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    keys = json.loads(await reader.readline())
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        subscribers = await open_all(session, url, count, keys)
        listeners = [asyncio.create_task(s.listen()) for s in subscribers]
        print("ready", flush=True)
        while line := (await reader.readline()).decode().strip():
            command, seconds, *ids = line.split()
            if command != "wait":
                raise ValueError(f"unknown command {command!r}")
            report = await wait_for(subscribers, set(ids), float(seconds))
            print(json.dumps(report), flush=True)
        for subscriber in subscribers:
            await subscriber.socket.close()
        await asyncio.gather(*listeners, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
