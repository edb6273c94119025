"""The AsyncAPI 3 document of the WebSocket protocol, built from its frame models.

One WebSocket connection carries every channel, so the document has one channel
(the socket's address) holding every frame, a ``send`` operation per client
frame and a ``receive`` operation per server frame.
"""

from __future__ import annotations

from typing import Any, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib import __version__
from chalicelib.apidoc.examples import example_of
from chalicelib.realtime.frames import CLIENT_FRAMES, SERVER_FRAMES

Document = dict[str, Any]

ASYNCAPI_VERSION = "3.0.0"
CHANNEL = "socket"
REF = "#/components/schemas/{model}"


def build_asyncapi(ws_url: str) -> Document:
    """Return the AsyncAPI document for a service whose socket is ``ws_url``."""
    refs, definitions = models_json_schema(
        [(frame, "serialization") for frame in (*CLIENT_FRAMES, *SERVER_FRAMES)],
        ref_template=REF,
    )
    schemas = definitions.get("$defs", {})
    messages = {
        frame_type(frame): _message(frame, refs[(frame, "serialization")], schemas)
        for frame in (*CLIENT_FRAMES, *SERVER_FRAMES)
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(),
        "defaultContentType": "application/json",
        "servers": {"service": _server(ws_url)},
        "channels": {CHANNEL: _channel(messages)},
        "operations": _operations(),
        "components": {"messages": messages, "schemas": schemas},
    }


def frame_type(frame: type[BaseModel]) -> str:
    """Return the ``type`` a frame model carries (its ``Literal`` value)."""
    return str(get_args(frame.model_fields["type"].annotation)[0])


def _info() -> dict[str, Any]:
    return {
        "title": "Jupiter API live updates",
        "version": __version__,
        "description": (
            "Authenticate first (within a few seconds), then subscribe to the "
            "channels `threats`, `vr_sessions` and `system`; each needs its read "
            "scope. Updates carry their channel and a per-channel `seq`; "
            "after a reconnect, subscribe with `since` to receive what was "
            "missed after the last seq seen. Frames are JSON; `action` is "
            "accepted for `type`, and an `id` is echoed as `reply_to`."
        ),
    }


def _server(ws_url: str) -> dict[str, Any]:
    parts = urlsplit(ws_url)
    return {
        "host": parts.netloc,
        "pathname": parts.path or "/",
        "protocol": parts.scheme or "ws",
        "description": "The service's WebSocket endpoint.",
    }


def _message(
    frame: type[BaseModel], ref: dict[str, Any], schemas: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": frame_type(frame),
        "title": frame.__name__,
        "summary": (frame.__doc__ or "").strip().splitlines()[0],
        "payload": ref,
        "examples": [{"payload": example_of(ref, schemas)}],
    }


def _channel(messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": "/",
        "title": "The connection",
        "description": "Every frame, in both directions, on one connection.",
        "messages": {
            name: {"$ref": f"#/components/messages/{name}"} for name in messages
        },
    }


def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    # The document describes the service: it receives client frames and
    # sends server frames.
    for action, frames in (("receive", CLIENT_FRAMES), ("send", SERVER_FRAMES)):
        for frame in frames:
            name = frame_type(frame)
            operations[f"{action}_{name}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{CHANNEL}"},
                "summary": (frame.__doc__ or "").strip().splitlines()[0],
                "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{name}"}],
            }
    return operations
