"""POST one signed attempt to the address the SSRF check approved.

urllib3's connection pools are opened on the vetted IP address itself, never
on the host name, so nothing resolves the name a second time. The request
still names the host: the ``Host`` header always, and for https the TLS
server name (SNI) and the certificate check. Redirects are never followed
and nothing is retried here: each attempt is one request, and the schedule
decides what happens next. Pools are kept per (address, port, name) so that
an endpoint's consecutive deliveries reuse their connection.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from urllib3 import BaseHTTPResponse, HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as AttemptTimedOut
from urllib3.util import Timeout

from chalicelib.webhooks.ssrf import Dial

logger = logging.getLogger(__name__)

# Enough of the receiver's answer to explain a failure in the attempt log.
EXCERPT_BYTES = 256
# Read at most this much of an answer before giving up on reusing the socket.
DRAIN_BYTES = 65_536
MAX_POOLS = 64
CONNECT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Reply:
    """What one attempt got back: a status, or the error that prevented one."""

    status_code: int | None
    latency_ms: int
    error: str | None = None
    excerpt: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


PoolKey = tuple[str, str, int, str | None]


class Transport:
    """Sends webhook attempts over pinned connections with a per-attempt timeout."""

    def __init__(self, timeout_seconds: float, ca_certs: str | None = None) -> None:
        # ``ca_certs`` replaces the system's trust store (a private CA, tests).
        self._ca_certs = ca_certs
        self._timeout = Timeout(
            connect=min(CONNECT_TIMEOUT_SECONDS, timeout_seconds),
            read=timeout_seconds,
            total=timeout_seconds,
        )
        self._pools: OrderedDict[PoolKey, HTTPConnectionPool] = OrderedDict()

    def post(self, dial: Dial, headers: dict[str, str], body: bytes) -> Reply:
        """POST ``body`` to the dialled address; never raise for network trouble."""
        target = dial.target
        started = time.perf_counter()
        try:
            response = self._pool(dial).urlopen(
                "POST",
                target.path,
                body=body,
                headers={**headers, "host": target.host_header},
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
            )
        except (HTTPError, OSError) as exc:
            return Reply(None, _elapsed_ms(started), _describe(exc))
        try:
            excerpt = _read_excerpt(response)
        except (HTTPError, OSError) as exc:
            return Reply(response.status, _elapsed_ms(started), _describe(exc))
        error = None if 200 <= response.status < 300 else _status_error(response)
        return Reply(response.status, _elapsed_ms(started), error, excerpt)

    def _pool(self, dial: Dial) -> HTTPConnectionPool:
        target = dial.target
        key: PoolKey = (target.scheme, str(dial.address), target.port, target.host)
        pool = self._pools.get(key)
        if pool is not None:
            self._pools.move_to_end(key)
            return pool
        pool = self._new_pool(dial)
        self._pools[key] = pool
        if len(self._pools) > MAX_POOLS:
            _, evicted = self._pools.popitem(last=False)
            evicted.close()
        return pool

    def _new_pool(self, dial: Dial) -> HTTPConnectionPool:
        target = dial.target
        if target.scheme == "http":
            return HTTPConnectionPool(
                str(dial.address), target.port, timeout=self._timeout, maxsize=4
            )
        return HTTPSConnectionPool(
            str(dial.address),
            target.port,
            timeout=self._timeout,
            maxsize=4,
            cert_reqs="CERT_REQUIRED",
            ca_certs=self._ca_certs,
            server_hostname=target.server_name,
            assert_hostname=target.host,
        )

    def close(self) -> None:
        """Close every pooled connection."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def _read_excerpt(response: BaseHTTPResponse) -> str:
    head = response.read(EXCERPT_BYTES, decode_content=False)
    rest = response.read(DRAIN_BYTES, decode_content=False) if head else b""
    if len(rest) >= DRAIN_BYTES:
        # A long answer is not worth reading to the end to keep the socket.
        response.close()
    response.release_conn()
    return head.decode("utf-8", "replace")


def _status_error(response: BaseHTTPResponse) -> str:
    if 300 <= response.status < 400:
        location = response.headers.get("location", "")
        return f"redirect to {location[:200]!r} not followed"
    return f"receiver answered {response.status}"


def _describe(exc: Exception) -> str:
    # NewConnectionError subclasses urllib3's TimeoutError: test it first.
    if isinstance(exc, NewConnectionError):
        return "connection refused or unreachable"
    if isinstance(exc, AttemptTimedOut):
        return "timed out"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
