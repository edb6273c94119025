"""A local HTTP server that answers from a script and records every request.

The SDK tests point a client at it to watch retries: which requests arrived,
when, and with which headers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    """One scripted answer."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Arrival:
    """One request the server received."""

    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """Answers requests from ``script`` in order, then with the last answer."""

    def __init__(self, script: list[Answer]) -> None:
        self.script = list(script)
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _next(self, arrival: Arrival) -> Answer:
        with self._lock:
            self.arrivals.append(arrival)
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                arrival = Arrival(
                    at=time.monotonic(),
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                answer = server._next(arrival)
                payload = (
                    b"" if answer.body is None else json.dumps(answer.body).encode()
                )
                self.send_response(answer.status)
                kind = (
                    "application/problem+json"
                    if answer.status >= 400
                    else "application/json"
                )
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("X-Request-Id", f"req_scripted_{len(server.arrivals)}")
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            # http.server dispatches on these names.
            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        return Handler


@contextmanager
def scripted(*answers: Answer) -> Iterator[ScriptedServer]:
    """Run a scripted server for the block."""
    server = ScriptedServer(list(answers))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def problem(status: int, code: str) -> dict[str, Any]:
    """Return a problem document as the service would answer it."""
    return {
        "type": f"https://docs.jupiter.example/problems/{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": f"scripted {code}",
        "code": code,
        "request_id": f"req_problem_{status}",
    }
