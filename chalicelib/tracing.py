"""X-Ray tracing of boto3 calls, switched on by configuration.

The X-Ray SDK costs about half a second to import, so it is imported only when
tracing is on (``JUPITER_TRACING=true``, set in the dev and prod stages).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from chalicelib.config import Settings

_state = {"patched": False}


def configure(config: Settings) -> None:
    """Patch boto3 for X-Ray once, if tracing is enabled."""
    if not config.tracing or _state["patched"]:
        return
    from aws_xray_sdk.core import patch

    patch(["boto3"])
    _state["patched"] = True


@contextlib.contextmanager
def subsegment(name: str) -> Iterator[Any]:
    """Record a subsegment when tracing is on; do nothing otherwise."""
    if not _state["patched"]:
        yield None
        return
    from aws_xray_sdk.core import xray_recorder

    with xray_recorder.in_subsegment(name) as segment:
        yield segment
