"""Standard Webhooks signatures: ``whsec_`` secrets and the three headers.

The signed content is ``<webhook-id>.<webhook-timestamp>.<body>``; the key is
the base64-decoded part of the secret after ``whsec_``; the signature is
``v1,<base64 HMAC-SHA256>``. While a rotated-out secret is still valid, each
secret signs and the header carries the signatures separated by spaces, as
the specification allows, so receivers holding either secret verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32


def new_secret() -> str:
    """Return a fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signing_key(secret: str) -> bytes:
    """Return the HMAC key a ``whsec_`` secret stands for."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is whsec_ and base64") from exc


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``v1,<signature>`` of ``body`` sent as ``webhook_id`` at a time."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    webhook_id: str, timestamp: int, body: bytes, secrets_in_force: Sequence[str]
) -> dict[str, str]:
    """Return the Standard Webhooks headers of one attempt."""
    signatures = " ".join(
        sign(s, webhook_id, timestamp, body) for s in secrets_in_force
    )
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "Jupiter-Webhooks/1.0",
    }
