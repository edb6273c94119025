"""Webhook receivers for tests: real HTTP servers on 127.0.0.1, one thread each."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Verifier = Callable[[bytes, dict[str, str]], bool]


@dataclass(frozen=True)
class Received:
    """One request a receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int


@dataclass
class Receiver:
    """Answers webhook POSTs with scripted statuses and records each one.

    ``answers`` are used in order, then ``default``. A ``verifier`` turns a
    2xx answer into 401 when the signature does not verify. The first
    ``hang`` requests are read and never answered (recorded with
    ``answered`` 0), as by a receiver that accepts and then stalls.
    """

    answers: list[int] = field(default_factory=list)
    default: int = 204
    verifier: Verifier | None = None
    location: str | None = None
    hang: int = 0
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if receiver.stalls():
                    receiver.record(Received(self.path, headers, body, time.time(), 0))
                    receiver._released.wait()
                    return
                status = receiver.answer(body, headers)
                receiver.record(Received(self.path, headers, body, time.time(), status))
                self.send_response(status)
                if 300 <= status < 400 and receiver.location:
                    self.send_header("Location", receiver.location)
                reply = b"" if status == 204 else b"ok" if status < 300 else b"nope"
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stalls(self) -> bool:
        """Tell whether this request is one the receiver never answers."""
        with self._lock:
            if self.hang <= 0:
                return False
            self.hang -= 1
            return True

    def answer(self, body: bytes, headers: dict[str, str]) -> int:
        with self._lock:
            status = self.answers.pop(0) if self.answers else self.default
        if 200 <= status < 300 and self.verifier and not self.verifier(body, headers):
            return 401
        return status

    def record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
