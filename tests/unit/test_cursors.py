"""Pagination cursors: opaque, signed, bound to their query."""

from __future__ import annotations

import base64

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

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


# ------------------------------------------------------------ properties

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
positions = st.dictionaries(
    st.text(max_size=12),
    st.one_of(
        json_scalars, st.dictionaries(st.text(max_size=8), json_scalars, max_size=3)
    ),
    max_size=5,
)
scopes = st.text(min_size=1, max_size=60)
secrets_ = st.text(min_size=1, max_size=80)
# Characters a client could put in place of one: the alphabet, the other
# base64 alphabet's two, padding, and anything else.
replacements = st.one_of(st.sampled_from(ALPHABET + "+/=. \n%"), st.characters())
PROPERTIES = settings(max_examples=300, deadline=None)


def refused(cursor: str, scope: str, secret: str) -> InvalidCursor:
    with pytest.raises(InvalidCursor) as raised:
        cursors.decode(cursor, scope, secret)
    assert raised.value.status == 400
    assert raised.value.code == "invalid_cursor"
    return raised.value


@PROPERTIES
@given(position=positions, scope=scopes, secret=secrets_)
def test_any_position_round_trips_under_its_query(
    position: dict[str, object], scope: str, secret: str
) -> None:
    cursor = cursors.encode(position, scope, secret)
    # Listings take cursors up to that length; real positions are a few keys.
    assume(len(cursor) <= cursors.MAX_LENGTH)
    assert set(cursor) <= set(ALPHABET)
    assert cursors.decode(cursor, scope, secret) == position


@PROPERTIES
@given(position=positions, scope=scopes, secret=secrets_, data=st.data())
def test_any_changed_character_is_refused(
    position: dict[str, object], scope: str, secret: str, data: st.DataObject
) -> None:
    cursor = cursors.encode(position, scope, secret)
    index = data.draw(st.integers(0, len(cursor) - 1))
    char = data.draw(replacements.filter(lambda c: c != cursor[index]))
    refused(cursor[:index] + char + cursor[index + 1 :], scope, secret)


@PROPERTIES
@given(position=positions, scope=scopes, secret=secrets_, data=st.data())
def test_any_truncation_or_extension_is_refused(
    position: dict[str, object], scope: str, secret: str, data: st.DataObject
) -> None:
    cursor = cursors.encode(position, scope, secret)
    cut = data.draw(st.integers(0, len(cursor) - 1))
    refused(cursor[:cut], scope, secret)
    refused(cursor + data.draw(st.text(min_size=1, max_size=4)), scope, secret)


@PROPERTIES
@given(position=positions, scope=scopes, secret=secrets_, data=st.data())
def test_a_cursor_is_refused_by_any_other_query(
    position: dict[str, object], scope: str, secret: str, data: st.DataObject
) -> None:
    other = data.draw(scopes.filter(lambda o: o != scope))
    refused(cursors.encode(position, scope, secret), other, secret)


@PROPERTIES
@given(position=positions, scope=scopes, secret=secrets_, data=st.data())
def test_a_cursor_is_refused_under_any_other_secret(
    position: dict[str, object], scope: str, secret: str, data: st.DataObject
) -> None:
    other = data.draw(secrets_.filter(lambda o: o != secret))
    refused(cursors.encode(position, scope, secret), scope, other)


@PROPERTIES
@given(cursor=st.one_of(st.text(max_size=3_000), st.text(ALPHABET, max_size=400)))
def test_any_string_is_a_position_or_a_clear_400(cursor: str) -> None:
    # A forged signature is a 2**-128 chance: everything else must be refused
    # with InvalidCursor, never another exception.
    refused(cursor, "keys|org_a", SECRET)
