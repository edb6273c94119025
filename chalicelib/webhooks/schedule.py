"""When each delivery attempt happens: an exponential schedule with jitter.

The default schedule is the one Svix documents: at once, then after 5 s,
5 min, 30 min, 2 h, 5 h, 10 h and 24 h (eight attempts over about 1.7 days).
Each wait after the first is spread by up to ``jitter`` of itself either way,
so endpoints that failed together are not retried in lockstep. The local
stage uses a compressed schedule of the same shape so that a whole retry
sequence takes seconds.

SQS delays a message by at most 900 s, so a longer wait is a chain of hops:
each message carries the time its attempt is due, and a handler that receives
it early puts it back with the next hop's delay.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from chalicelib.config import Settings

DEFAULT_SCHEDULE = (0, 5, 300, 1_800, 7_200, 18_000, 36_000, 86_400)
LOCAL_SCHEDULE = (0, 1, 1, 2, 2, 3, 3, 4)
MAX_HOP_SECONDS = 900
# A message this close to its due time is delivered rather than held back:
# SQS delays are whole seconds.
DUE_TOLERANCE_SECONDS = 1.0

_system_random = secrets.SystemRandom()


@dataclass(frozen=True)
class Schedule:
    """The waits before each attempt of one delivery round."""

    delays: tuple[int, ...]
    jitter: float = 0.0
    uniform: Callable[[float, float], float] = field(
        default=_system_random.uniform, compare=False
    )

    @classmethod
    def from_settings(cls, config: Settings) -> Schedule:
        """Build the configured schedule, or the stage's default."""
        if config.webhook_schedule:
            delays = tuple(int(p) for p in config.webhook_schedule.split(","))
        elif config.stage == "local":
            delays = LOCAL_SCHEDULE
        else:
            delays = DEFAULT_SCHEDULE
        return cls(delays, config.webhook_jitter)

    @property
    def attempts(self) -> int:
        """How many attempts a round makes before the delivery fails."""
        return len(self.delays)

    def wait_before(self, step: int) -> float:
        """Return the wait before attempt ``step`` (0-based) of a round."""
        base = float(self.delays[step])
        if base == 0 or self.jitter == 0:
            return base
        return base * self.uniform(1 - self.jitter, 1 + self.jitter)


def hop(remaining: float) -> int:
    """Return the SQS delay (whole seconds, at most 900) toward a due time."""
    return max(0, min(MAX_HOP_SECONDS, math.ceil(remaining)))
