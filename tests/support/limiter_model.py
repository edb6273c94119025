"""A reference model of the limits, and a driver that checks the gateway by it.

The model keeps the list of admitted instants and answers, for a request at
``now``, what the documented limits say: the sliding hour at one-minute
granularity (the current minute and the 60 before it), the 10-second burst
slot and the UTC day. The driver sends an arrival sequence through real
``Gateway`` objects (several processes, each with its own belief cache) and
compares every decision and every ``Retry-After`` with the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.admission.gateway import BeliefCache, Credentials, Gateway
from chalicelib.admission.ip_guard import IpGuard
from chalicelib.admission.window import initial_counters
from chalicelib.clock import FixedClock
from chalicelib.dynamo import to_item
from chalicelib.errors import RateLimited
from chalicelib.keys.credentials import hash_secret
from chalicelib.policy import Scope, TierLimits

MINUTE, BURST, DAY = 60, 10, 86_400
KEY_ID = "jptr_" + "p" * 24
SECRET = "ab" * 32
SOURCE_IP = "198.51.100.7"
KEYS_TABLE = "keys"


@dataclass(frozen=True)
class Limits:
    """Small request limits that a short arrival sequence can exhaust."""

    per_hour: int
    burst: int
    per_day: int

    def tier(self) -> TierLimits:
        return TierLimits(self.per_hour, self.burst, self.per_day, 10**12, 1)


@dataclass
class Model:
    """What the documented limits allow, from the admitted instants."""

    limits: Limits
    admitted: list[float] = field(default_factory=list)
    # Each refusal's instant and how many admissions its 61 minutes then held.
    refused: list[tuple[float, int]] = field(default_factory=list)

    def hour_minutes(self, now: float) -> list[int]:
        minute = int(now // MINUTE)
        return [int(t // MINUTE) for t in self.admitted if minute - 60 <= t // MINUTE]

    def in_burst(self, now: float) -> int:
        return sum(1 for t in self.admitted if t // BURST == now // BURST)

    def in_day(self, now: float) -> int:
        return sum(1 for t in self.admitted if t // DAY == now // DAY)

    def decide(self, now: float) -> int | None:
        """Return None to admit, or the Retry-After a refusal must carry."""
        waits = []
        minutes = sorted(self.hour_minutes(now))
        if len(minutes) >= self.limits.per_hour:
            # Room returns when enough of the oldest minutes have left: the
            # minute m leaves at the start of minute m + 61.
            leaving = minutes[len(minutes) - self.limits.per_hour]
            waits.append((leaving + 61) * MINUTE)
        if self.in_burst(now) >= self.limits.burst:
            waits.append((now // BURST + 1) * BURST)
        if self.in_day(now) >= self.limits.per_day:
            waits.append((now // DAY + 1) * DAY)
        if not waits:
            return None
        return max(1, math.ceil(max(waits) - now))

    def in_hour_buckets(self, now: float) -> int:
        """Return the admissions in the 61 one-minute buckets ending at ``now``."""
        return len(self.hour_minutes(now))

    def most_in_any_hour(self) -> int:
        """Return the most admissions in any closed 3,600 s interval."""
        times = sorted(self.admitted)
        most, start = 0, 0
        for end, at in enumerate(times):
            # Closed: two admissions exactly 3,600 s apart share an interval.
            while times[start] < at - 3600:
                start += 1
            most = max(most, end - start + 1)
        return most


def key_item(limits: Limits, now: float, key_id: str = KEY_ID) -> dict[str, Any]:
    """Return the stored item of a test key, with the given small limits."""
    return {
        "key_id": key_id,
        "sh": hash_secret(SECRET),
        "st": "active",
        "sc": {Scope.READ_THREATS.value},
        "tr": "FREE",
        "ow": "org_model",
        "nm": "model key",
        "pf": SECRET[:6] + "…",
        "ca": int(now),
        **initial_counters(limits.tier(), now),
    }


@dataclass
class Processes:
    """Gateways of several processes over one store; ``calls`` counts writes."""

    client: Any
    clock: FixedClock
    count_calls: Callable[[], int]
    table: str = KEYS_TABLE
    gateways: list[Gateway] = field(default_factory=list)

    def gateway(self, index: int) -> Gateway:
        while len(self.gateways) <= index:
            self.gateways.append(self._new())
        return self.gateways[index]

    def restart(self, index: int) -> None:
        """Replace a process by a cold one (an empty belief cache)."""
        self.gateway(index)
        self.gateways[index] = self._new()

    def _new(self) -> Gateway:
        guard = IpGuard(self.client, "guard", self.clock)
        return Gateway(self.client, self.table, self.clock, guard, BeliefCache())


def drive(
    processes: Processes,
    limits: Limits,
    arrivals: list[tuple[float, int]],
    key_id: str = KEY_ID,
) -> Model:
    """Send each (instant, process) arrival; assert each decision matches.

    A negative process number ``-n`` restarts process ``n - 1`` cold first.
    """
    model = Model(limits)
    credentials = Credentials(key_id, SECRET, SOURCE_IP)
    for at, process in arrivals:
        processes.clock.at = at
        if process < 0:
            processes.restart(-process - 1)
            process = -process - 1
        expected = model.decide(at)
        before = processes.count_calls()
        try:
            processes.gateway(process).admit(credentials, Scope.READ_THREATS)
        except RateLimited as refusal:
            assert expected is not None, f"refused at {at} with room: {refusal}"
            assert refusal.retry_after == expected, (at, refusal.retry_after)
            model.refused.append((at, model.in_hour_buckets(at)))
        else:
            assert expected is None, f"admitted at {at} with no room"
            model.admitted.append(at)
        # One write when the belief is right, one more when it was stale.
        assert processes.count_calls() - before <= 2
    assert model.most_in_any_hour() <= limits.per_hour
    return model


def store_key(
    client: Any,
    limits: Limits,
    now: float,
    table: str = KEYS_TABLE,
    key_id: str = KEY_ID,
) -> None:
    """Store a test key with small limits, as key creation would."""
    item = to_item(key_item(limits, now, key_id))
    client.put_item(TableName=table, Item=item)
