"""One structured JSON line per request; never a secret."""

from __future__ import annotations

import logging
from typing import Any

from chalicelib import logs

logger = logging.getLogger(__name__)

MAX_FIELD = 256


def clean(value: str | None) -> str | None:
    """Drop control characters and bound length, so a header cannot forge lines."""
    if value is None:
        return None
    printable = "".join(c for c in value if c.isprintable())
    return printable[:MAX_FIELD]


def log_request(**fields: Any) -> None:
    """Write the request's line: ids, route, status, latency, client."""
    logs.line(logger, "request", **fields)
