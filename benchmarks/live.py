"""What benchmarks against a running server share: the local stack in a child.

:func:`local_stack` runs ``python -m local.stack`` (what ``make run`` runs)
on free ports in a throwaway state directory, waits until it is healthy and
points this process at its store, so a benchmark can both talk to it over
HTTP and call the service's own code against the same tables. Everything is
undone when the block ends.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local.demo import MARKER as DEMO_MARKER

PROJECT_DIR = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0


@dataclass(frozen=True)
class LiveStack:
    """A running local stack: its port, state directory and process id."""

    port: int
    state_dir: Path
    pid: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin_headers(self) -> dict[str, str]:
        """The bootstrap ADMIN key's two headers (the stack saved it on start)."""
        stored = json.loads((self.state_dir / "local-admin.json").read_text())
        return {
            "X-API-Key-ID": stored["key_id"],
            "X-API-Key-Secret": stored["key_secret"],
        }


@contextmanager
def local_stack(**settings: str) -> Iterator[LiveStack]:
    """Run the local stack with ``settings`` added to its environment."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="jupiter-bench-") as state:
        port, moto_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPITER_")}
        env.pop("AWS_ENDPOINT_URL", None)
        env.update(
            JUPITER_API_PORT=str(port),
            JUPITER_MOTO_PORT=str(moto_port),
            JUPITER_STATE_DIR=state,
            **settings,
        )
        # No demo feed: it would only slow the start.
        (Path(state) / DEMO_MARKER).write_text("0\n")
        log = Path(state) / "stack.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "local.stack"],
                cwd=PROJECT_DIR,
                env=env,
                stdout=output,
                stderr=output,
            )
            try:
                wait_until_healthy(port, process, log)
                _use_store(state, port, moto_port)
                yield LiveStack(port, Path(state), process.pid)
            finally:
                stop(process)
                from chalicelib import services as services_module

                services_module.reset()
                os.environ.clear()
                os.environ.update(saved)


class LineChild:
    """A WebSocket client process (``python -m <module> <ws url> <count>``)
    driven by lines on its stdin and stdout."""

    def __init__(self, module: str, port: int, count: int) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", module, f"http://127.0.0.1:{port}/ws", str(count)],
            cwd=PROJECT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, line: str) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()

    def read(self) -> str:
        assert self._process.stdout is not None
        return self._process.stdout.readline().strip()

    def close(self) -> None:
        """Close its stdin (its signal to leave), and kill it if it stays."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a throwaway server: SIGTERM, and a kill if it does not go."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _use_store(state: str, port: int, moto_port: int) -> None:
    from infrastructure.provision import environment, provision

    store = f"http://127.0.0.1:{moto_port}"
    os.environ.update(
        AWS_ENDPOINT_URL=store,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - moto's dummy
        AWS_DEFAULT_REGION="us-east-1",
        JUPITER_STAGE="local",
        JUPITER_TRACING="false",
        JUPITER_SERVER_SECRET=(Path(state) / "server-secret").read_text().strip(),
        JUPITER_WS_MANAGEMENT_ENDPOINT=f"http://127.0.0.1:{port}/ws",
    )
    # After the credentials above: provisioning signs its requests with them.
    os.environ.update(environment(provision("local", "us-east-1", store)))


def wait_until_healthy(
    port: int, process: subprocess.Popen[bytes], log: Path, path: str = "/api/health"
) -> None:
    """Poll ``path`` until it answers; fail with the log's tail if it never does."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text()[-2000:]}")
        try:
            url = f"http://127.0.0.1:{port}{path}"
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server is not healthy:\n{log.read_text()[-3000:]}")


def process_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by ``pid`` and its children.

    Each process is named by the module it runs (``python -m NAME``). Read
    from Linux's ``/proc``; elsewhere the answer is empty.
    """
    used: dict[str, float] = {}
    proc = Path("/proc") / str(pid)
    try:
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        arguments = (proc / "cmdline").read_bytes().split(b"\0")
        children = [
            int(child)
            for task in (proc / "task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except OSError:
        return used
    # Fields 14 and 15 of stat (utime, stime), counted after the ")".
    ticks = int(fields[11]) + int(fields[12])
    name = _module(arguments) or str(pid)
    used[name] = ticks / os.sysconf("SC_CLK_TCK")
    for child in children:
        used.update(process_cpu(child))
    return used


def _module(arguments: list[bytes]) -> str | None:
    if b"-m" in arguments[:-1]:
        return arguments[arguments.index(b"-m") + 1].decode()
    return None


def free_port() -> int:
    """Ask the system for a free port on the loopback address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
