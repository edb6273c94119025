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
from typing import Any

from chalicelib.errors import InvalidCursor

_SIGNATURE_BYTES = 16


def encode(position: dict[str, Any], scope: str, secret: str) -> str:
    """Return the cursor for ``position`` within the query named ``scope``."""
    payload = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    mac = _mac(payload, scope, secret)
    return base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")


def decode(cursor: str, scope: str, secret: str) -> dict[str, Any]:
    """Return the position inside ``cursor``; raise :class:`InvalidCursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCursor("the cursor is not valid") from None
    mac, payload = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
    if len(mac) != _SIGNATURE_BYTES or not hmac.compare_digest(
        mac, _mac(payload, scope, secret)
    ):
        raise InvalidCursor("the cursor is not valid for this query")
    position = json.loads(payload)
    if not isinstance(position, dict):
        raise InvalidCursor("the cursor is not valid")
    return position


def _mac(payload: bytes, scope: str, secret: str) -> bytes:
    message = scope.encode() + b"\x00" + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[
        :_SIGNATURE_BYTES
    ]
