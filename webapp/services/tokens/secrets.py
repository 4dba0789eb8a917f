"""The shape of an access token's secret, shared by whoever mints one and whoever checks one.

A secret is ``sb-`` followed by 43 URL-safe characters (256 random bits). That much entropy
makes a plain SHA-256 safe to store (no salt or slow hash needed: nothing to brute-force), and
lets a lookup be one indexed equality on ``token_hash``. The first 11 characters are kept in
clear as ``prefix`` so people can tell their tokens apart.
"""

from __future__ import annotations

import hashlib
import secrets as _random
from typing import NamedTuple

SECRET_PREFIX = "sb-"
VISIBLE_CHARS = 11


class NewSecret(NamedTuple):
    secret: str  # shown once, never stored
    prefix: str
    token_hash: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> NewSecret:
    secret = SECRET_PREFIX + _random.token_urlsafe(32)
    return NewSecret(secret, secret[:VISIBLE_CHARS], hash_secret(secret))


def looks_like_secret(value: str) -> bool:
    """Cheap shape check before any database work (rejects junk and oversized headers)."""
    return value.startswith(SECRET_PREFIX) and 40 <= len(value) <= 64
