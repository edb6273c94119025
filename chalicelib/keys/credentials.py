"""Key ids, secrets and the one-way hash under which secrets are stored.

A secret is 32 random bytes, so a single SHA-256 is as strong as any slow
hash here: there is no dictionary to try and nothing to stretch.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

KEY_ID_PREFIX = "jptr_"
KEY_ID_PATTERN = re.compile(r"^jptr_[0-9a-z]{24}$")
SECRET_PATTERN = re.compile(r"^[0-9a-f]{64}$")
DISPLAY_PREFIX_LENGTH = 6


def new_key_id() -> str:
    """Return a fresh key id: ``jptr_`` and 24 lowercase base-36 characters."""
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    return KEY_ID_PREFIX + "".join(secrets.choice(alphabet) for _ in range(24))


def new_secret() -> str:
    """Return a fresh secret: 32 random bytes as 64 lowercase hex characters."""
    return secrets.token_hex(32)


def hash_secret(secret: str) -> str:
    """Return the stored form of a secret."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def display_prefix(secret: str) -> str:
    """Return the short, non-secret hint shown when listing keys."""
    return secret[:DISPLAY_PREFIX_LENGTH] + "…"


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def well_formed(key_id: str | None, secret: str | None) -> bool:
    """Tell whether both headers have the documented shape."""
    return bool(
        key_id
        and secret
        and KEY_ID_PATTERN.fullmatch(key_id)
        and SECRET_PATTERN.fullmatch(secret)
    )
