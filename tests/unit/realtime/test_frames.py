"""Client frame parsing and topics: pure functions, no I/O."""

from __future__ import annotations

import pytest

from chalicelib.errors import MalformedJSON, UnknownFrameType, ValidationFailed
from chalicelib.realtime import frames
from chalicelib.realtime.frames import Channel
from chalicelib.realtime.topics import topic_for, topics_of_update


def test_action_is_read_as_type() -> None:
    frame = frames.parse('{"action": "subscribe", "channels": ["threats"]}')

    assert isinstance(frame, frames.Subscribe)
    assert frame.channels == [Channel.THREATS]


def test_type_wins_over_action() -> None:
    assert isinstance(frames.parse('{"type": "ping", "action": "x"}'), frames.Ping)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("", MalformedJSON),
        ("{", MalformedJSON),
        ('"ping"', MalformedJSON),
        ('{"a": 1, "a": 2}', MalformedJSON),
        ("[" * 40 + "]" * 40, MalformedJSON),
        ("{}", UnknownFrameType),
        ('{"type": null}', UnknownFrameType),
        ('{"type": ["ping"]}', UnknownFrameType),
        ('{"type": "PING"}', UnknownFrameType),
        ('{"type": "authenticate"}', ValidationFailed),
        ('{"type": "subscribe", "channels": "threats"}', ValidationFailed),
        (
            '{"type": "subscribe", "channels": ["threats"], "since": {"x": 1}}',
            ValidationFailed,
        ),
        (
            '{"type": "subscribe", "channels": ["threats"], "since": {"threats": -1}}',
            ValidationFailed,
        ),
        ('{"type": "stream_threats", "limit": 101}', ValidationFailed),
        ('{"type": "ping", "id": "' + "x" * 65 + '"}', ValidationFailed),
    ],
)
def test_bad_frames_raise_the_matching_error(body: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        frames.parse(body)


def test_frame_id_is_found_even_in_an_invalid_frame() -> None:
    assert frames.frame_id('{"type": "nope", "id": "f-1"}') == "f-1"
    assert frames.frame_id('{"id": 5}') is None
    assert frames.frame_id("not json") is None
    assert frames.frame_id('["id"]') is None


def test_secret_is_not_in_the_frame_repr() -> None:
    frame = frames.parse(
        '{"type": "authenticate", "api_key_id": "jptr_x", "api_key_secret": "s3cr3t"}'
    )

    assert "s3cr3t" not in repr(frame)


def test_every_client_frame_type_is_parsed() -> None:
    kinds = {f.model_fields["type"].annotation for f in frames.CLIENT_FRAMES}

    assert len(kinds) == len(frames.CLIENT_FRAMES)


def test_vr_session_topics_are_per_owner_with_one_for_admins() -> None:
    assert (
        topic_for(Channel.VR_SESSIONS, "org_a", is_admin=False) == "vr_sessions:org_a"
    )
    assert topic_for(Channel.VR_SESSIONS, "org_a", is_admin=True) == "vr_sessions:*"
    assert topics_of_update(Channel.VR_SESSIONS, "org_a") == [
        "vr_sessions:org_a",
        "vr_sessions:*",
    ]
    assert topics_of_update(Channel.VR_SESSIONS, None) == ["vr_sessions:*"]


def test_threats_and_system_are_one_topic_for_everyone() -> None:
    assert topic_for(Channel.THREATS, "org_a", is_admin=False) == "threats"
    assert topic_for(Channel.SYSTEM, "org_a", is_admin=True) == "system"
    assert topics_of_update(Channel.THREATS, "org_a") == ["threats"]
