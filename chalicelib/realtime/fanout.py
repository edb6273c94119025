"""Broadcast: number a frame, keep it, and post it to every subscriber.

Subscribers are read from the topic's index one page at a time while the
posts of earlier pages are already under way; a fixed pool of threads bounds
how many posts are in flight at once. A subscriber that is gone
(``GoneException``) is removed after the posts, and only that one; any other
failure is counted and logged, and the connection kept.

Each broadcast runs in a ``realtime.fanout`` subsegment and writes one
``fanout`` line and its metrics (recipients, delivered, gone, failed), under
the correlation id of the event it broadcasts.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from chalicelib import logs, metrics, tracing
from chalicelib.realtime.connections import ConnectionStore
from chalicelib.realtime.journal import FrameJournal
from chalicelib.realtime.management import DeliveryFailed, ManagementApi

logger = logging.getLogger(__name__)

DELIVERED, GONE, FAILED = "delivered", "gone", "failed"


@dataclass
class FanoutReport:
    """What one broadcast did."""

    topic: str
    seq: int
    recipients: int = 0
    delivered: int = 0
    failed: int = 0
    gone: list[str] = field(default_factory=list)


class Broadcaster:
    """Posts frames to a topic's subscribers with bounded concurrency."""

    def __init__(
        self,
        store: ConnectionStore,
        journal: FrameJournal,
        api: Callable[[], ManagementApi | None],
        on_gone: Callable[[str], None],
        concurrency: int = 16,
    ) -> None:
        self._store = store
        self._journal = journal
        self._api = api
        self._on_gone = on_gone
        # Posts in flight at once; the benchmark varies it.
        self.concurrency = concurrency

    def publish(
        self, topic: str, render: Callable[[int], str], event_id: str | None = None
    ) -> FanoutReport:
        """Broadcast the frame ``render(seq)`` on ``topic``.

        An event broadcast before (``event_id``) keeps its number, and is not
        posted again once its earlier fan-out finished.
        """
        with tracing.subsegment(
            "realtime.fanout",
            correlation_id=logs.correlation_id(),
            event_id=event_id,
            topic=topic,
        ):
            started = time.perf_counter()
            entry = self._journal.append(topic, render, event_id)
            report = FanoutReport(topic, entry.seq)
            if entry.done:
                return report
            self._post_all(report, entry.body)
            if event_id is not None:
                self._journal.finish(topic, event_id)
        _log(report, started)
        _count(report)
        return report

    def _post_all(self, report: FanoutReport, body: str) -> None:
        topic = report.topic
        api = self._api()
        if api is None:
            logs.line(
                logger,
                "fanout_skipped",
                logging.WARNING,
                topic=topic,
                seq=report.seq,
                reason="no @connections endpoint configured; kept for resume",
            )
            return
        # Every post runs in this broadcast's subsegment, on the pool's threads.
        post = tracing.carried(_post)
        with ThreadPoolExecutor(self.concurrency, "fanout") as pool:
            posts: list[tuple[str, Future[str]]] = []
            for page in self._store.subscribers(topic):
                posts.extend((cid, _submit(pool, post, api, cid, body)) for cid in page)
            for cid, outcome in posts:
                _tally(report, cid, outcome.result())
            # Removing is rare and touches other tables: after the posts.
            list(pool.map(self._on_gone, report.gone))


def _submit(
    pool: ThreadPoolExecutor,
    post: Callable[[ManagementApi, str, str], str],
    api: ManagementApi,
    connection_id: str,
    body: str,
) -> Future[str]:
    # A copy of the context per post: the pool's threads log with the ids bound.
    context = contextvars.copy_context()
    return pool.submit(context.run, post, api, connection_id, body)


def _post(api: ManagementApi, connection_id: str, body: str) -> str:
    try:
        return DELIVERED if api.post(connection_id, body) else GONE
    except DeliveryFailed as exc:
        logs.line(
            logger,
            "fanout_post_failed",
            logging.WARNING,
            connection_id=connection_id,
            error=str(exc),
        )
        return FAILED


def _tally(report: FanoutReport, connection_id: str, outcome: str) -> None:
    report.recipients += 1
    if outcome == DELIVERED:
        report.delivered += 1
    elif outcome == GONE:
        report.gone.append(connection_id)
    else:
        report.failed += 1


def _log(report: FanoutReport, started: float) -> None:
    logs.line(
        logger,
        "fanout",
        topic=report.topic,
        seq=report.seq,
        recipients=report.recipients,
        delivered=report.delivered,
        gone=len(report.gone),
        failed=report.failed,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _count(report: FanoutReport) -> None:
    metrics.count("Fanouts")
    metrics.observe("FanoutRecipients", report.recipients)
    metrics.count("FanoutDelivered", report.delivered)
    metrics.count("FanoutGone", len(report.gone))
    metrics.count("FanoutFailed", report.failed)
