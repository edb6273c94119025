"""The AsyncAPI document is built from the realtime frame models."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from chalicelib.apidoc.asyncapi import build_asyncapi, frame_type
from chalicelib.realtime.frames import CLIENT_FRAMES, SERVER_FRAMES

DOCUMENT = build_asyncapi("wss://ws.jupiter.example/live")


def test_document_is_asyncapi_3_with_the_socket_as_server() -> None:
    assert DOCUMENT["asyncapi"] == "3.0.0"
    assert DOCUMENT["servers"]["service"] == {
        "host": "ws.jupiter.example",
        "pathname": "/live",
        "protocol": "wss",
        "description": "The service's WebSocket endpoint.",
    }


def test_service_receives_every_client_frame_and_sends_every_server_frame() -> None:
    actions = {
        op["messages"][0]["$ref"].rsplit("/", 1)[-1]: op["action"]
        for op in DOCUMENT["operations"].values()
    }
    assert actions == {
        **{frame_type(f): "receive" for f in CLIENT_FRAMES},
        **{frame_type(f): "send" for f in SERVER_FRAMES},
    }


def test_every_reference_resolves() -> None:
    channel = DOCUMENT["channels"]["socket"]
    messages = DOCUMENT["components"]["messages"]
    schemas = DOCUMENT["components"]["schemas"]
    for reference in channel["messages"].values():
        assert reference["$ref"].rsplit("/", 1)[-1] in messages
    for message in messages.values():
        assert message["payload"]["$ref"].rsplit("/", 1)[-1] in schemas


@pytest.mark.parametrize(
    "frame", [*CLIENT_FRAMES, *SERVER_FRAMES], ids=lambda f: f.__name__
)
def test_each_frame_example_is_accepted_by_its_model(frame: type[BaseModel]) -> None:
    message = DOCUMENT["components"]["messages"][frame_type(frame)]
    frame.model_validate(message["examples"][0]["payload"])


@pytest.mark.parametrize(
    "kind", ["threat_update", "vr_session_update", "system_status"]
)
def test_broadcast_frames_carry_channel_and_seq(kind: str) -> None:
    schema = DOCUMENT["components"]["schemas"][
        DOCUMENT["components"]["messages"][kind]["title"]
    ]
    assert {"channel", "seq"} <= set(schema["properties"])
