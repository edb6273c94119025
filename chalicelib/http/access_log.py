"""One structured JSON line per request; never a secret."""

from __future__ import annotations

import json
import logging
from typing import Any

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
    record = {"event": "request", **fields}
    logger.info("%s", json.dumps(record, separators=(",", ":"), default=str))
