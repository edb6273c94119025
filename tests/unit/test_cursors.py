"""Pagination cursors: opaque, signed, bound to their query."""

from __future__ import annotations

import base64

import pytest

from chalicelib import cursors
from chalicelib.errors import InvalidCursor

SECRET = "cursor-secret-0123456789abcdef0123456789"
POSITION = {"key_id": "jptr_" + "a" * 24, "ow": "org_a", "ca": 1_796_000_000}


def test_round_trip_returns_the_position() -> None:
    cursor = cursors.encode(POSITION, "keys|org_a", SECRET)
    assert cursors.decode(cursor, "keys|org_a", SECRET) == POSITION


def test_cursor_is_url_safe_and_unpadded() -> None:
    cursor = cursors.encode(POSITION, "keys|org_a", SECRET)
    assert "=" not in cursor
    assert set(cursor) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


def flip(cursor: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("index", [0, 15, 16, -1])
def test_any_changed_byte_is_refused(index: int) -> None:
    cursor = cursors.encode(POSITION, "keys|org_a", SECRET)
    with pytest.raises(InvalidCursor):
        cursors.decode(flip(cursor, index), "keys|org_a", SECRET)


def test_forged_position_with_a_guessed_signature_is_refused() -> None:
    forged = base64.urlsafe_b64encode(b"\x00" * 16 + b'{"key_id":"x"}').decode()
    with pytest.raises(InvalidCursor):
        cursors.decode(forged, "keys|org_a", SECRET)


def test_cursor_of_another_query_is_refused() -> None:
    cursor = cursors.encode(POSITION, "keys|org_a", SECRET)
    with pytest.raises(InvalidCursor):
        cursors.decode(cursor, "keys|org_b", SECRET)


def test_cursor_signed_under_another_secret_is_refused() -> None:
    cursor = cursors.encode(POSITION, "keys|org_a", SECRET)
    with pytest.raises(InvalidCursor):
        cursors.decode(cursor, "keys|org_a", SECRET + "x")


@pytest.mark.parametrize("garbage", ["", "%%%", "a", "ÿÿÿÿ", "AAAA" * 3])
def test_garbage_is_refused_as_a_bad_request(garbage: str) -> None:
    with pytest.raises(InvalidCursor) as raised:
        cursors.decode(garbage, "keys|org_a", SECRET)
    assert raised.value.status == 400
    assert raised.value.code == "invalid_cursor"
