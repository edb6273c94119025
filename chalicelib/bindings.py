"""The event sources ``app.py`` binds its handlers to, read when it is imported.

``chalice deploy`` and ``chalice package`` import ``app.py`` to learn its
handlers and what triggers them, before any handler runs, so a source that
needs a name is read here, from the deploying shell. Nothing else is imported:
every Lambda cold start imports ``app.py`` too, and most of its functions
never touch the queue or the stream.
"""

from __future__ import annotations

import os

QUEUE_NAME = "jupiter-{stage}-webhook-deliveries"


def delivery_queue_name() -> str:
    """Return the delivery queue's name for the stage being deployed.

    The stage comes from ``JUPITER_STAGE`` (default ``dev``). The queue itself
    is declared in infrastructure/template.yaml.
    """
    return QUEUE_NAME.format(stage=os.environ.get("JUPITER_STAGE", "dev"))


def events_stream_arn() -> str | None:
    """Return the events stream to attach the stream handler to, if any.

    The deploying shell's ``JUPITER_EVENTS_STREAM_ARN`` (the stack's
    ``EventsStreamArn`` output). Unset, only the one-minute sweep delivers.
    """
    return os.environ.get("JUPITER_EVENTS_STREAM_ARN") or None
