"""WebSocket clients for the fan-out benchmark, in a process of their own.

``python -m benchmarks.ws_clients URL COUNT`` opens COUNT connections to URL
and prints ``ready``. Then, for each line ``expect TOKEN`` on its standard
input, it counts the frames that carry TOKEN and prints ``arrived TOKEN`` once
every connection has one. Keeping the clients out of the benchmark's process
keeps their frame handling off the clock of the posts being measured, as
remote clients would be.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp

OPEN_AT_ONCE = 32


class Audience:
    """Open connections, counting the frames that carry the expected token."""

    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.count = count
        self.token = ""
        self.received = 0
        self.all_arrived = asyncio.Event()
        self._readers: list[asyncio.Task[None]] = []

    async def open(self, session: aiohttp.ClientSession) -> None:
        gate = asyncio.Semaphore(OPEN_AT_ONCE)

        async def one() -> None:
            async with gate:
                socket = await session.ws_connect(self.url, heartbeat=None)
            self._readers.append(asyncio.create_task(self._read(socket)))

        await asyncio.gather(*(one() for _ in range(self.count)))

    def expect(self, token: str) -> None:
        self.token, self.received = token, 0
        self.all_arrived.clear()

    async def _read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        async for message in socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            if self.token and self.token in message.data:
                self.received += 1
                if self.received >= self.count:
                    self.all_arrived.set()


async def main(url: str, count: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        audience = Audience(url, count)
        await audience.open(session)
        print("ready", flush=True)
        while line := (await reader.readline()).decode().strip():
            command, token = line.split()
            assert command == "expect"
            audience.expect(token)
            print("expecting", token, flush=True)
            await audience.all_arrived.wait()
            print("arrived", token, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
