"""Exactness under concurrency: 150 simultaneous requests on one FREE key.

The local moto server handles one request at a time, so its conditional writes
are atomic as DynamoDB's are; the admission write's condition, not luck, decides
how many get through. A fresh FREE key's tightest limit during the batch is its
burst: 20 requests per fixed 10-second slot (chalicelib/policy.py).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

import pytest
import requests

from chalicelib.policy import TIER_LIMITS, Tier
from tests.e2e.conftest import LocalStack, create_key, key_headers

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

REQUESTS = 150
BURST_SLOT_SECONDS = 10
# Start just after a slot boundary, late enough that clock jitter between this
# process and the server cannot put the first request in the previous slot.
START_OFFSET = 0.05


@dataclass
class Outcome:
    status: int
    retry_after: str | None
    code: str | None


def fire(stack: LocalStack, headers: dict[str, str]) -> tuple[list[Outcome], float]:
    """Send REQUESTS requests at once, right after a slot boundary."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    gate = threading.Barrier(REQUESTS + 1)

    def one() -> None:
        with requests.Session() as session:
            # Connect first (the gateway answers an unknown path itself), so the
            # batch spends its slot on admissions, not on TCP handshakes.
            session.get(stack.url("/warm-up"), timeout=30)
            gate.wait()
            response = session.get(stack.url("/api/usage"), headers=headers, timeout=30)
        code = response.json().get("code") if response.status_code != 200 else None
        with lock:
            outcomes.append(
                Outcome(response.status_code, response.headers.get("Retry-After"), code)
            )

    threads = [threading.Thread(target=one) for _ in range(REQUESTS)]
    for thread in threads:
        thread.start()
    boundary = (time.time() // BURST_SLOT_SECONDS + 1) * BURST_SLOT_SECONDS
    time.sleep(boundary + START_OFFSET - time.time())
    gate.wait()
    for thread in threads:
        thread.join()
    return outcomes, boundary


def test_concurrent_requests_admit_exactly_the_burst_limit(stack: LocalStack) -> None:
    burst = TIER_LIMITS[Tier.FREE].burst
    for _ in range(2):
        key = create_key(stack, ["READ_THREATS"], owner="org_exact")
        outcomes, boundary = fire(stack, key_headers(key))
        finished = time.time()
        if finished < boundary + BURST_SLOT_SECONDS:
            break
    else:
        pytest.fail("two batches in a row did not fit in one 10-second slot")
    took = finished - boundary - START_OFFSET
    print(f"\n{REQUESTS} concurrent requests answered in {took:.2f}s")

    statuses = Counter(o.status for o in outcomes)
    assert statuses == {200: burst, 429: REQUESTS - burst}
    refused = [o for o in outcomes if o.status == 429]
    assert all(o.code == "rate_limit_exceeded" for o in refused)
    assert all(o.retry_after is not None for o in refused)
    assert all(1 <= int(o.retry_after or 0) <= BURST_SLOT_SECONDS for o in refused)
