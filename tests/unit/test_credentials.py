"""Key ids, secrets, their stored hash and display prefix."""

from __future__ import annotations

import pytest

from chalicelib.keys.credentials import (
    DISPLAY_PREFIX_LENGTH,
    KEY_ID_PATTERN,
    SECRET_PATTERN,
    display_prefix,
    hash_secret,
    new_key_id,
    new_secret,
    same_hash,
    well_formed,
)

GOOD_ID = "jptr_" + "0123456789abcdefghijklmn"
GOOD_SECRET = "0123456789abcdef" * 4


def test_new_key_ids_have_the_documented_shape_and_differ() -> None:
    ids = {new_key_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(KEY_ID_PATTERN.fullmatch(i) for i in ids)


def test_new_secrets_are_64_lowercase_hex_and_differ() -> None:
    secrets_ = {new_secret() for _ in range(200)}
    assert len(secrets_) == 200
    assert all(SECRET_PATTERN.fullmatch(s) for s in secrets_)


def test_stored_hash_is_not_the_secret_and_is_stable() -> None:
    digest = hash_secret(GOOD_SECRET)
    assert digest == hash_secret(GOOD_SECRET)
    assert GOOD_SECRET not in digest
    assert digest != hash_secret(new_secret())


def test_same_hash_compares_exactly() -> None:
    digest = hash_secret(GOOD_SECRET)
    assert same_hash(digest, hash_secret(GOOD_SECRET))
    assert not same_hash(digest, digest[:-1] + "0")
    assert not same_hash(digest, "")


def test_display_prefix_shows_a_few_characters_only() -> None:
    prefix = display_prefix(GOOD_SECRET)
    assert prefix == GOOD_SECRET[:DISPLAY_PREFIX_LENGTH] + "…"
    assert len(prefix) < 10


@pytest.mark.parametrize(
    ("key_id", "secret"),
    [
        (None, GOOD_SECRET),
        (GOOD_ID, None),
        ("", GOOD_SECRET),
        ("key_" + "a" * 24, GOOD_SECRET),
        ("jptr_" + "A" * 24, GOOD_SECRET),
        ("jptr_" + "a" * 23, GOOD_SECRET),
        (GOOD_ID + "\n", GOOD_SECRET),
        (GOOD_ID, GOOD_SECRET.upper()),
        (GOOD_ID, GOOD_SECRET[:-1]),
        (GOOD_ID, GOOD_SECRET + "0"),
        (GOOD_ID, "é" * 64),
    ],
)
def test_malformed_headers_are_not_well_formed(
    key_id: str | None, secret: str | None
) -> None:
    assert not well_formed(key_id, secret)


def test_documented_shape_is_well_formed() -> None:
    assert well_formed(GOOD_ID, GOOD_SECRET)
