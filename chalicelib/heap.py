"""The cyclic garbage collector during a Lambda cold start: held off, then frozen.

A cold start imports the app and serves one first invocation. Nearly all it
allocates lives as long as the process: modules, classes, pydantic's
validators, botocore's service models and clients. Each automatic collection
on the way walks that growing heap and finds almost nothing (a few hundred
objects in cycles); together they are about a tenth of a cold start.

So in Lambda, :func:`hold` (the first line of ``app.py``) turns the collector
off, and :func:`after_first_invocation`, a middleware round every event,
turns it back on when the first invocation ends, after ``gc.freeze()`` has
moved everything then alive to the permanent generation. Warm invocations'
collections then walk only what warm invocations make.

The cost: garbage in cycles made before the first invocation ends is never
reclaimed (reference counting frees the rest as usual). Outside Lambda
(tests, the local stack) nothing is held: a process may import the app and
never invoke it.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Mapping
from typing import Any

_state = {"held": False}


def hold(environ: Mapping[str, str] = os.environ) -> bool:
    """Turn the collector off in Lambda, if it is on; return whether it was."""
    if _state["held"] or not environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return False
    if not gc.isenabled():
        return False
    gc.disable()
    _state["held"] = True
    return True


def release() -> None:
    """Freeze what is alive and turn the collector back on, if :func:`hold` held it."""
    if not _state["held"]:
        return
    _state["held"] = False
    gc.freeze()
    gc.enable()


def after_first_invocation(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware: release the collector when an invocation ends."""
    try:
        return get_response(event)
    finally:
        release()
