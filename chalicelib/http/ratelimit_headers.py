"""Rate-limit response headers: the IETF draft fields and the X-RateLimit trio.

``RateLimit-Policy`` lists every request window (hour, burst, day) with its
quota ``q`` and width ``w``; ``RateLimit`` gives each one's remaining ``r`` and
seconds to reset ``t``. ``X-RateLimit-Limit/-Remaining/-Reset`` describe the
window with the least room; ``-Reset`` is a Unix time in seconds.
"""

from __future__ import annotations

import math

from chalicelib.admission.window import Usage


def rate_limit_headers(usage: Usage, now: float) -> dict[str, str]:
    """Return the headers describing ``usage`` at ``now``."""
    windows = (usage.hour, usage.burst, usage.day)
    policy = ", ".join(f'"{w.name}";q={w.limit};w={w.window_seconds}' for w in windows)
    state = ", ".join(
        f'"{w.name}";r={w.remaining};t={_seconds(w.reset_at, now)}' for w in windows
    )
    binding = usage.binding()
    return {
        "RateLimit-Policy": policy,
        "RateLimit": state,
        "X-RateLimit-Limit": str(binding.limit),
        "X-RateLimit-Remaining": str(binding.remaining),
        "X-RateLimit-Reset": str(math.ceil(binding.reset_at)),
    }


def _seconds(at: float, now: float) -> int:
    return max(0, math.ceil(at - now))
