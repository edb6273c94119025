"""A moto server that handles one request at a time and journals its writes.

moto does not lock between a conditional write's check and its update, so a
threaded moto server can admit more than a limit allows (DESIGN.md, section 3).
This server uses werkzeug's single-threaded server around moto's dispatcher
app: every request runs alone, so conditional writes are atomic, as in
DynamoDB.

moto keeps its state in memory. To survive a restart, every request that
changes DynamoDB or the structure of SQS is appended to a JSON-lines journal
before its response is sent, and on start the journal is replayed, in order,
into the fresh backend before the port is opened. moto is deterministic for a
given sequence of requests, so the replay rebuilds the same tables and items.

What is journaled:

- DynamoDB: every table and item write (CreateTable, UpdateTimeToLive,
  PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems and
  the rest of :data:`DYNAMODB_WRITES`), whatever the outcome, except the two
  refusals that moto decides before it changes anything: a failed condition,
  and a cancelled transaction (which moto rolls back). Those are most of the
  refused admissions, so leaving them out keeps the journal smaller.
- SQS: queues and their attributes, not messages. A message's id, receipt
  handle and visibility depend on time and randomness, so replaying sends and
  receives would not rebuild the same queue; a restart therefore starts with
  empty queues. The durable record of what must be delivered is the outbox in
  the events table, which is journaled.

Transactions roll back through ``local.moto_rollback`` (copies of the items
they name, not of whole tables), so their cost does not grow with the data.

Run alone with ``python -m local.moto_server --port 5013``.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from local import logs, moto_rollback

logger = logging.getLogger("local.moto_server")

JOURNAL_NAME = "moto-journal.jsonl"
JOURNAL_VERSION = 1

DYNAMODB_WRITES = frozenset(
    {
        "CreateTable",
        "UpdateTable",
        "DeleteTable",
        "UpdateTimeToLive",
        "UpdateContinuousBackups",
        "TagResource",
        "UntagResource",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        # PartiQL statements may write; replaying a read is harmless.
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)
SQS_STRUCTURE = frozenset(
    {
        "CreateQueue",
        "DeleteQueue",
        "SetQueueAttributes",
        "TagQueue",
        "UntagQueue",
        "AddPermission",
        "RemovePermission",
    }
)
JOURNALED = {"dynamodb": DYNAMODB_WRITES, "sqs": SQS_STRUCTURE}
TARGET_PREFIXES = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs"}

# moto checks conditions before it changes an item, and rolls a cancelled
# transaction back, so these refusals leave the state as it was.
UNCHANGED_ON = frozenset(
    {"ConditionalCheckFailedException", "TransactionCanceledException"}
)

# The headers moto routes on. The signature is dropped: moto does not check it.
KEPT_HEADERS = ("Content-Type", "X-Amz-Target", "Authorization")
_SIGNATURE = re.compile(r"Signature=[0-9a-fA-F]+")
_CREDENTIAL_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class Entry:
    """One journaled request, enough to send it again."""

    service: str
    action: str
    method: str
    host: str
    path: str
    query: str
    headers: dict[str, str]
    body: str
    base64: bool
    status: int

    def to_line(self) -> str:
        return json.dumps({"v": JOURNAL_VERSION, **asdict(self)}, separators=(",", ":"))

    @classmethod
    def from_line(cls, line: str) -> Entry:
        fields = json.loads(line)
        version = fields.pop("v", None)
        if version != JOURNAL_VERSION:
            raise ValueError(f"unknown journal version {version!r}")
        return cls(**fields)

    def body_bytes(self) -> bytes:
        return base64.b64decode(self.body) if self.base64 else self.body.encode()


class Journal:
    """An append-only JSON-lines file of the requests that changed state."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: io.TextIOWrapper | None = None

    def entries(self) -> Iterator[Entry]:
        """Read every entry, first cutting off a line torn by a crash."""
        if not self.path.exists():
            return
        self._drop_torn_tail()
        with self.path.open(encoding="utf-8") as journal:
            for number, line in enumerate(journal, start=1):
                try:
                    yield Entry.from_line(line)
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"{self.path}:{number}: {exc}") from None

    def append(self, entry: Entry) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # The items include secret hashes: readable by the owner only.
            descriptor = os.open(
                self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600
            )
            # Kept open across requests, closed by close().
            self._file = os.fdopen(descriptor, "a", encoding="utf-8")
        self._file.write(entry.to_line() + "\n")
        # Flushed before the response leaves: a client never sees a write that
        # a restart would forget, unless the machine itself goes down.
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _drop_torn_tail(self) -> None:
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        logger.warning(
            "journal %s ends in a torn line (%d bytes); dropping it",
            self.path,
            len(data) - keep,
        )
        with self.path.open("r+b") as journal:
            journal.truncate(keep)


def classify(environ: dict[str, Any], body: bytes) -> tuple[str, str] | None:
    """Return (service, action) of a request that changes state, else None."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if "." in target:
        prefix, action = target.split(".", 1)
        service = TARGET_PREFIXES.get(prefix)
    else:
        # The query protocol (older SQS clients): Action in the form body.
        action = _form_action(environ, body)
        match = _CREDENTIAL_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = match.group(1) if match else None
    if service is None or action not in JOURNALED.get(service, ()):
        return None
    return service, action


def _form_action(environ: dict[str, Any], body: bytes) -> str:
    fields = parse_qs(str(environ.get("QUERY_STRING", "")))
    content_type = str(environ.get("CONTENT_TYPE", ""))
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields.update(parse_qs(body.decode("utf-8", "replace")))
    return fields.get("Action", [""])[0]


class JournalingApp:
    """WSGI middleware: runs moto, then journals the requests that changed state."""

    def __init__(self, inner: WsgiApp, journal: Journal) -> None:
        self._inner = inner
        self._journal = journal

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        kind = classify(environ, body)
        if kind is None:
            return self._inner(environ, start_response)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info)

        chunks = self._inner(environ, capture)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status = int(str(captured["status"]).split()[0])
        if status < 400 or _error_code(payload) not in UNCHANGED_ON:
            self._journal.append(_entry(kind, environ, body, status))
        return [payload]


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        return bytes(stream.read(int(length)))
    if environ.get("wsgi.input_terminated"):
        return bytes(stream.read())
    return b""


def _error_code(payload: bytes) -> str:
    try:
        error = json.loads(payload)
    except ValueError:
        # The query protocol answers errors in XML.
        match = re.search(rb"<Code>([^<]+)</Code>", payload)
        return match.group(1).decode() if match else ""
    kind = str(error.get("__type", "")) if isinstance(error, dict) else ""
    return str(kind.rsplit("#", 1)[-1])


def _entry(
    kind: tuple[str, str], environ: dict[str, Any], body: bytes, status: int
) -> Entry:
    headers = {}
    for name in KEPT_HEADERS:
        key = "CONTENT_TYPE" if name == "Content-Type" else "HTTP_" + name.upper()
        key = key.replace("-", "_")
        if key in environ:
            headers[name] = _SIGNATURE.sub("Signature=0", str(environ[key]))
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    return Entry(
        service=kind[0],
        action=kind[1],
        method=str(environ["REQUEST_METHOD"]),
        host=str(environ.get("HTTP_HOST", "localhost")),
        path=str(environ.get("PATH_INFO", "/")),
        query=str(environ.get("QUERY_STRING", "")),
        headers=headers,
        body=text,
        base64=encoded,
        status=status,
    )


def replay(app: WsgiApp, entries: Iterable[Entry]) -> tuple[int, int]:
    """Send each entry to ``app`` in order; return (replayed, diverged).

    An entry diverges when its status now differs from the one journaled,
    which would mean the rebuilt state is not the state that was saved.
    """
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    replayed = diverged = 0
    for entry in entries:
        environ = EnvironBuilder(
            path=entry.path,
            method=entry.method,
            query_string=entry.query,
            headers=list(entry.headers.items()),
            data=entry.body_bytes(),
            base_url=f"http://{entry.host}",
        ).get_environ()
        chunks, status, _ = run_wsgi_app(app, environ, buffered=True)
        b"".join(chunks)
        replayed += 1
        if int(status.split()[0]) != entry.status:
            diverged += 1
            logger.warning(
                "replayed %s %s answered %s, journaled %d",
                entry.service,
                entry.action,
                status,
                entry.status,
            )
    return replayed, diverged


def build_backend() -> WsgiApp:
    """Return moto's dispatcher app (every service, chosen per request)."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )

    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    return app


class MotoServer:
    """The serialized, journaled moto server, started and stopped by its owner."""

    def __init__(self, host: str, port: int, journal_path: Path | None) -> None:
        self.host = host
        self.port = port
        self.journal = Journal(journal_path) if journal_path else None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Replay the journal into a fresh backend, then serve in a thread."""
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        os.environ.setdefault("MOTO_PORT", str(self.port))
        moto_rollback.install()
        backend = build_backend()
        app: WsgiApp = backend
        if self.journal is not None:
            replayed, diverged = replay(backend, self.journal.entries())
            logger.info(
                "%s",
                json.dumps(
                    {
                        "event": "moto_journal_replayed",
                        "journal": str(self.journal.path),
                        "requests": replayed,
                        "diverged": diverged,
                    }
                ),
            )
            app = JournalingApp(backend, self.journal)
        # threaded=False: one request at a time, so conditional writes are
        # atomic. Werkzeug then also speaks HTTP/1.0, closing each connection,
        # so one client's idle keep-alive connection cannot block the others.
        self._server = make_server(
            self.host,
            self.port,
            app,
            threaded=False,
            processes=1,
            request_handler=MotoRequestHandler,
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Finish the request in progress, stop serving and close the journal."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        if self.journal is not None:
            self.journal.close()


def default_port() -> int:
    """Return ``JUPITER_MOTO_PORT``, or the port after the API's."""
    configured = os.environ.get("JUPITER_MOTO_PORT")
    if configured:
        return int(configured)
    return int(os.environ.get("JUPITER_API_PORT", "5012")) + 1


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM, or until standard input closes.

    With ``--until-stdin-closes`` signals are ignored and only the end of
    standard input stops the server: the local stack starts it as a child with
    a pipe there, so it ends after its parent, even if the parent is killed.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port())
    parser.add_argument("--journal", type=Path, default=None)
    parser.add_argument("--until-stdin-closes", action="store_true")
    args = parser.parse_args(argv)
    logs.configure()

    stop = threading.Event()
    if args.until_stdin_closes:
        # Ctrl-C (and a group-wide SIGTERM) reach the whole process group; the
        # parent decides when the store goes away, after its last request.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        threading.Thread(target=_wait_for_eof, args=(stop,), daemon=True).start()
    else:
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())

    server = MotoServer(args.host, args.port, args.journal)
    server.start()
    logger.info(
        "%s", json.dumps({"event": "moto_server_ready", "endpoint": server.url})
    )
    while not stop.wait(0.5):
        pass
    server.stop()
    logger.info("%s", json.dumps({"event": "moto_server_stopped"}))
    return 0


def _wait_for_eof(stop: threading.Event) -> None:
    # os.read, not sys.stdin: a buffered reader's lock held by this daemon
    # thread would abort the interpreter at exit.
    while os.read(sys.stdin.fileno(), 4096):
        pass
    stop.set()


if __name__ == "__main__":
    sys.exit(main())
