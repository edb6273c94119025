"""The local stack, what ``make run`` runs: ``python -m local.stack``.

1. Set local defaults: stage ``local``, dummy AWS credentials, a server
   secret generated once into the state directory, tracing off, CORS for the
   docs origin.
2. Start the serialized, journaled moto server (``local.moto_server``) as a
   child process, unless ``AWS_ENDPOINT_URL`` names a store to use instead,
   and restart it (replaying its journal) whenever it exits on its own.
3. Create the resources of ``infrastructure/`` there (those missing) and point
   the service's table and queue settings at them.
4. Make sure a bootstrap ADMIN key exists; create one if the state directory
   has none that works, print it once and save it to ``local-admin.json``.
5. Serve the Chalice app on ``127.0.0.1:$JUPITER_API_PORT`` until SIGINT or
   SIGTERM, then stop cleanly.

Settings: ``JUPITER_API_PORT`` (5012), ``JUPITER_MOTO_PORT`` (API port + 1),
``JUPITER_STATE_DIR`` (``.jupiter`` in the project), ``JUPITER_LOCAL_WORKERS``
(8 Lambda threads), ``JUPITER_MOTO_RESTART_DELAY`` (seconds before the moto
server is restarted after it died, 1), ``AWS_ENDPOINT_URL`` (use that store,
no moto server).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import logs
from local.moto_server import JOURNAL_NAME

logger = logging.getLogger("local.stack")

PROJECT_DIR = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
STAGE = "local"
ADMIN_FILE = "local-admin.json"
SECRET_FILE = "server-secret"  # noqa: S105 - a file name
ADMIN_OWNER = "local-admin"
STORE_START_TIMEOUT = 60.0
STORE_STOP_TIMEOUT = 10.0
# How often the supervisor looks at the moto server, and how long it waits
# before a restart by default (doubled after each failed one, up to the
# maximum), so a server that cannot start does not spin.
SUPERVISE_INTERVAL = 0.25
RESTART_DELAY = 1.0
RESTART_DELAY_MAX = 8.0


@dataclass(frozen=True)
class StackConfig:
    """Where the stack listens and keeps its state."""

    api_port: int
    moto_port: int
    state_dir: Path
    endpoint_url: str | None
    workers: int
    restart_delay: float = RESTART_DELAY

    @classmethod
    def from_env(cls) -> StackConfig:
        api_port = int(os.environ.get("JUPITER_API_PORT") or 5012)
        state = os.environ.get("JUPITER_STATE_DIR") or str(PROJECT_DIR / ".jupiter")
        return cls(
            api_port=api_port,
            moto_port=int(os.environ.get("JUPITER_MOTO_PORT") or api_port + 1),
            state_dir=Path(state).resolve(),
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
            workers=int(os.environ.get("JUPITER_LOCAL_WORKERS") or 8),
            restart_delay=float(
                os.environ.get("JUPITER_MOTO_RESTART_DELAY") or RESTART_DELAY
            ),
        )


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one JSON line about the stack itself."""
    logger.log(level, "%s", json.dumps({"event": event, **fields}, default=str))


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    temporary.replace(path)


def server_secret(state_dir: Path) -> str:
    """Return the local server secret, generating it on first start."""
    path = state_dir / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    secret = secrets.token_hex(32)
    write_private(path, secret + "\n")
    log_event("server_secret_created", file=str(path))
    return secret


def set_local_defaults(config: StackConfig) -> None:
    """Set the environment the service reads, keeping what the user set."""
    if config.endpoint_url is None:
        # Our own moto server: never hand it real credentials.
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)
        os.environ["AWS_ACCESS_KEY_ID"] = "local"
        os.environ["AWS_SECRET_ACCESS_KEY"] = "local"  # noqa: S105 - moto's dummy
    else:
        _dummy_credentials_if_none()
    origin = f"http://{HOST}:{config.api_port}"
    defaults = {
        "JUPITER_STAGE": STAGE,
        "AWS_DEFAULT_REGION": "us-east-1",
        "JUPITER_TRACING": "false",
        "AWS_XRAY_SDK_ENABLED": "false",
        "JUPITER_API_CORS_ORIGINS": f"{origin},http://localhost:{config.api_port}",
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("JUPITER_SERVER_SECRET", server_secret(config.state_dir))


def _dummy_credentials_if_none() -> None:
    import boto3

    if boto3.session.Session().get_credentials() is None:
        os.environ["AWS_ACCESS_KEY_ID"] = "local"
        os.environ["AWS_SECRET_ACCESS_KEY"] = "local"  # noqa: S105 - a dummy


class StoreProcess:
    """The moto server child process, fed a pipe so it dies with this one.

    A supervisor thread watches it: if it exits without being asked to (it
    crashed, or someone killed it), the supervisor starts it again on the same
    port, where it replays its journal before it serves, so the stack carries
    on with the state it had. Until then every request finds the store
    unreachable and is answered 503. The first restart waits the configured
    ``restart_delay``; one that fails (the port is taken, say) is tried again
    after twice as long, up to ``RESTART_DELAY_MAX``.
    """

    def __init__(self, config: StackConfig) -> None:
        self.url = f"http://{HOST}:{config.moto_port}"
        self._config = config
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the server, wait until it has replayed its journal, supervise it."""
        self._spawn()
        log_event("moto_server_started", pid=self.pid, endpoint=self.url)
        self._supervisor = threading.Thread(
            target=self._supervise, name="moto-supervisor", daemon=True
        )
        self._supervisor.start()

    def _spawn(self) -> None:
        command = [
            sys.executable,
            "-m",
            "local.moto_server",
            "--host",
            HOST,
            "--port",
            str(self._config.moto_port),
            "--journal",
            str(self._config.state_dir / JOURNAL_NAME),
            "--until-stdin-closes",
        ]
        self._process = subprocess.Popen(
            command, cwd=PROJECT_DIR, stdin=subprocess.PIPE, env=os.environ.copy()
        )
        try:
            self._wait_until_serving()
        except RuntimeError:
            self._kill()
            raise

    def _wait_until_serving(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + STORE_START_TIMEOUT
        while time.monotonic() < deadline and not self._stopping.is_set():
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"the moto server exited with status {self._process.returncode}"
                    f" (is port {self._config.moto_port} taken?)"
                )
            if _answers(self.url + "/moto-api/"):
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"the moto server did not start within {STORE_START_TIMEOUT}s"
        )

    def _supervise(self) -> None:
        """Restart the server each time it exits on its own, until stop()."""
        while not self._stopping.wait(SUPERVISE_INTERVAL):
            assert self._process is not None
            status = self._process.poll()
            if status is None:
                continue
            log_event(
                "moto_server_exited", logging.WARNING, pid=self.pid, status=status
            )
            if self._process.stdin is not None:
                self._process.stdin.close()
            self._restart()

    def _restart(self) -> None:
        down_since = time.monotonic()
        delay = self._config.restart_delay
        longest = max(delay, RESTART_DELAY_MAX)
        attempt = 0
        while not self._stopping.wait(delay):
            attempt += 1
            try:
                self._spawn()
            except RuntimeError as exc:
                if self._stopping.is_set():
                    return
                delay = min(delay * 2, longest)
                log_event(
                    "moto_server_restart_failed",
                    logging.WARNING,
                    attempt=attempt,
                    error=str(exc),
                    retry_in_seconds=delay,
                )
                continue
            log_event(
                "moto_server_restarted",
                pid=self.pid,
                endpoint=self.url,
                attempt=attempt,
                down_seconds=round(time.monotonic() - down_since, 2),
            )
            return

    def stop(self) -> None:
        """Stop supervising, close its pipe (it then stops serving), wait, and
        kill it if it hangs."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join()
        if self._process is None or self._process.poll() is not None:
            return
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(STORE_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill()

    def _kill(self) -> None:
        assert self._process is not None
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._process.stdin is not None:
            self._process.stdin.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own server
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def provision_store(endpoint_url: str) -> None:
    """Create the declared resources (those missing) and point settings at them."""
    from infrastructure.provision import environment, provision

    outputs = provision(STAGE, os.environ["AWS_DEFAULT_REGION"], endpoint_url)
    for name, value in environment(outputs).items():
        os.environ[name] = value
    log_event("store_provisioned", endpoint=endpoint_url, resources=len(outputs))


def ensure_admin_key(state_dir: Path) -> None:
    """Keep a working ADMIN key in ``local-admin.json``; create one if needed."""
    path = state_dir / ADMIN_FILE
    stored = _read_admin_file(path)
    if stored is not None and _admin_key_works(stored):
        log_event("admin_key_found", key_id=stored["key_id"], file=str(path))
        print(f"Local ADMIN key {stored['key_id']} (secret in {path})", flush=True)
        return
    from chalicelib.keys.models import CreateKeyRequest
    from chalicelib.policy import Scope, Tier
    from chalicelib.services import services

    created = services().keys.create_unchecked(
        CreateKeyRequest(
            name="local admin",
            owner_id=ADMIN_OWNER,
            permissions=[Scope.ADMIN],
            tier=Tier.ENTERPRISE,
        ),
        created_by="local-stack",
    )
    document = {"key_id": created.key_id, "key_secret": created.key_secret}
    write_private(path, json.dumps(document, indent=2) + "\n")
    log_event("admin_key_created", key_id=created.key_id, file=str(path))
    # The one place a secret is shown: the bootstrap key, to the person who
    # started the stack, on standard output rather than in the log stream.
    print(
        "Local ADMIN key (saved in "
        f"{path}):\n  X-API-Key-ID: {created.key_id}\n"
        f"  X-API-Key-Secret: {created.key_secret}",
        flush=True,
    )


def seed_demo_feed(state_dir: Path) -> None:
    """Seed the demo threat feed on the first start of a state directory."""
    import time

    from local.demo import seed

    started = time.monotonic()
    seeded = seed(state_dir, time.time())
    if seeded:
        elapsed = round(time.monotonic() - started, 1)
        log_event("demo_feed_seeded", threats=seeded, seconds=elapsed)


def _read_admin_file(path: Path) -> dict[str, str] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not {"key_id", "key_secret"} <= set(document):
        return None
    return {
        "key_id": str(document["key_id"]),
        "key_secret": str(document["key_secret"]),
    }


def _admin_key_works(stored: dict[str, str]) -> bool:
    """Tell whether the stored key exists, is active and has this secret."""
    from chalicelib import aws
    from chalicelib.config import settings
    from chalicelib.keys.credentials import hash_secret, same_hash

    response = aws.dynamodb().get_item(
        TableName=settings().keys_table,
        Key={"key_id": {"S": stored["key_id"]}},
        ConsistentRead=True,
    )
    item = response.get("Item")
    if item is None or item.get("st", {}).get("S") != "active":
        return False
    expiry = item.get("ex", {}).get("N")
    if expiry is not None and int(expiry) <= time.time():
        return False
    return same_hash(item["sh"]["S"], hash_secret(stored["key_secret"]))


def extensions() -> list[Any]:
    """Return what runs beside the REST API on the same port.

    The WebSocket emulation (``/ws``), the SQS consumer and the schedule are
    added here as :class:`local.server.Extension` objects.
    """
    from local.outbox import OutboxPoller
    from local.schedule import ScheduleEmulation
    from local.sqs import SqsEventSources
    from local.websocket import WebSocketEmulation

    return [
        WebSocketEmulation(),
        SqsEventSources(),
        ScheduleEmulation(),
        OutboxPoller(),
    ]


async def serve(config: StackConfig) -> None:
    """Serve the app until SIGINT or SIGTERM."""
    from app import app
    from local.server import LocalServer

    server = LocalServer(app, HOST, config.api_port, STAGE, config.workers)
    for extension in extensions():
        server.install(extension)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    log_event(
        "stack_ready",
        api=f"http://{HOST}:{config.api_port}",
        docs=f"http://{HOST}:{config.api_port}/api/docs",
        store=os.environ["AWS_ENDPOINT_URL"],
        state_dir=str(config.state_dir),
    )
    await stop.wait()
    log_event("stack_stopping")
    await server.stop()


def main() -> int:
    """Run the local stack until interrupted."""
    logs.configure()
    config = StackConfig.from_env()
    config.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    set_local_defaults(config)
    store = None if config.endpoint_url else StoreProcess(config)
    try:
        if store is not None:
            store.start()
            os.environ["AWS_ENDPOINT_URL"] = store.url
        provision_store(os.environ["AWS_ENDPOINT_URL"])
        ensure_admin_key(config.state_dir)
        seed_demo_feed(config.state_dir)
        asyncio.run(serve(config))
    finally:
        if store is not None:
            store.stop()
    log_event("stack_stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
