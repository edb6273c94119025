"""Opaque, tamper-evident pagination cursors.

A cursor is DynamoDB's ``LastEvaluatedKey`` plus the query it belongs to,
serialized, base64url-encoded and signed with HMAC-SHA256 under the server
secret. Any change to a cursor, or its use on another query, is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any

from chalicelib.errors import InvalidCursor

_SIGNATURE_BYTES = 16
_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
# Longer than any position a listing hands out, as the query models allow.
MAX_LENGTH = 2_048


def encode(position: dict[str, Any], scope: str, secret: str) -> str:
    """Return the cursor for ``position`` within the query named ``scope``."""
    payload = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    mac = _mac(payload, scope, secret)
    return _armour(mac + payload)


def decode(cursor: str, scope: str, secret: str) -> dict[str, Any]:
    """Return the position inside ``cursor``; raise :class:`InvalidCursor`."""
    raw = _unarmour(cursor)
    mac, payload = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
    if len(mac) != _SIGNATURE_BYTES or not hmac.compare_digest(
        mac, _mac(payload, scope, secret)
    ):
        raise InvalidCursor("the cursor is not valid for this query")
    try:
        position = json.loads(payload)
    except ValueError:
        # Only a payload signed under this secret gets here: not one of ours.
        raise InvalidCursor("the cursor is not valid") from None
    if not isinstance(position, dict):
        raise InvalidCursor("the cursor is not valid")
    return position


def _armour(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unarmour(cursor: str) -> bytes:
    """Decode the one spelling ``encode`` gives of the cursor's bytes.

    Python's base64 decoder skips characters outside the alphabet, accepts
    ``+`` and ``/`` beside ``-`` and ``_`` and ignores a final character's
    unused bits, so several strings decode to the same bytes. Only the
    canonical one is accepted: a cursor either comes back exactly as it was
    given out or it is refused.
    """
    if len(cursor) > MAX_LENGTH or not _ALPHABET.fullmatch(cursor):
        raise InvalidCursor("the cursor is not valid")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCursor("the cursor is not valid") from None
    if _armour(raw) != cursor:
        raise InvalidCursor("the cursor is not valid")
    return raw


def _mac(payload: bytes, scope: str, secret: str) -> bytes:
    message = scope.encode() + b"\x00" + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[
        :_SIGNATURE_BYTES
    ]
