"""AES-256-GCM encryption of stored secrets, with key versions for online rotation.

A ciphertext is ``<version>:<base64url(nonce || ciphertext || tag)>``. Every encryption uses
a fresh 96-bit random nonce. The associated data names the row the secret belongs to, so a
ciphertext copied onto another row (or another owner, provider or scope) fails to decrypt.

Keys come from ``SWITCHBOARD_ENCRYPTION_KEYS`` — ``v2:<base64 32 bytes>,v1:<…>`` — where the
first key encrypts and every key decrypts.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, current_app

from webapp.config import ConfigError, create_private_file, read_written_file

log = logging.getLogger(__name__)

NONCE_BYTES = 12
KEY_BYTES = 32
VERSION_RE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
EXTENSION = "switchboard.keyring"
KEYS_FILE = "encryption_keys"


class DecryptionError(Exception):
    """A stored secret could not be decrypted. The message never contains key material."""


@dataclass(frozen=True)
class KeyRing:
    """Ordered encryption keys: ``versions[0]`` encrypts, all decrypt."""

    versions: tuple[str, ...]
    _ciphers: dict[str, AESGCM] = field(repr=False, compare=False)
    generated: bool = False

    @property
    def current(self) -> str:
        return self.versions[0]

    def encrypt(self, plaintext: str, aad: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(nonce, plaintext.encode("utf-8"), aad)
        return f"{self.current}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str, aad: bytes) -> str:
        version, sep, body = token.partition(":")
        if not sep or version not in self._ciphers:
            raise DecryptionError(f"no configured encryption key has version {version!r}")
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii"))
            plaintext = self._ciphers[version].decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError, binascii.Error):
            raise DecryptionError(
                f"ciphertext does not authenticate under key {version!r} for this record"
            ) from None
        return plaintext.decode("utf-8")

    @staticmethod
    def version_of(token: str) -> str:
        return token.partition(":")[0]


def parse_keys(spec: str, *, generated: bool = False) -> KeyRing:
    """Parse ``version:base64,…``; raise ConfigError saying exactly what is wrong."""
    versions: list[str] = []
    ciphers: dict[str, AESGCM] = {}
    entries = [e.strip() for e in spec.split(",") if e.strip()]
    if not entries:
        raise ConfigError("SWITCHBOARD_ENCRYPTION_KEYS is empty.")
    for position, entry in enumerate(entries, start=1):
        version, sep, encoded = entry.partition(":")
        if not sep or not VERSION_RE.match(version):
            raise ConfigError(
                f"SWITCHBOARD_ENCRYPTION_KEYS entry {position} must look like "
                "'v1:<base64 of 32 bytes>' (version: letters, digits, '-' or '_')."
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise ConfigError(
                f"SWITCHBOARD_ENCRYPTION_KEYS entry {position} ({version}) is not base64 of "
                f"exactly {KEY_BYTES} bytes. Generate one with "
                "`flask --app wsgi encryption-keys generate`."
            )
        if len(set(key)) == 1:  # all zero bytes (a placeholder), or any one byte repeated
            raise ConfigError(
                f"SWITCHBOARD_ENCRYPTION_KEYS entry {position} ({version}) is not a random key "
                "(all its bytes are equal). Generate one with "
                "`flask --app wsgi encryption-keys generate`."
            )
        if version in ciphers:
            raise ConfigError(f"SWITCHBOARD_ENCRYPTION_KEYS lists version {version!r} twice.")
        versions.append(version)
        ciphers[version] = AESGCM(key)
    return KeyRing(tuple(versions), ciphers, generated)


def generate_entry(version: str) -> str:
    """A new ``version:base64`` entry from the OS random source."""
    if not VERSION_RE.match(version):
        raise ValueError("version must be 1-16 letters, digits, '-' or '_'")
    return f"{version}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode('ascii')}"


def next_version(ring: KeyRing | None) -> str:
    """``v<n+1>`` after the highest ``v<n>`` configured (``v1`` when none)."""
    numbers = [int(v[1:]) for v in (ring.versions if ring else ()) if re.fullmatch(r"v\d+", v)]
    return f"v{max(numbers, default=0) + 1}"


def load_keyring(instance_path: Path, env: str) -> KeyRing:
    """Keys from the environment, else ``instance/encryption_keys``, else a generated one."""
    spec = os.environ.get("SWITCHBOARD_ENCRYPTION_KEYS", "").strip()
    if spec:
        return parse_keys(spec)
    if env == "production":
        raise ConfigError(
            "SWITCHBOARD_ENCRYPTION_KEYS is not set. Production needs fixed encryption keys: "
            "generate one with `flask --app wsgi encryption-keys generate` and keep it with your "
            "secrets."
        )
    path = instance_path / KEYS_FILE
    if path.exists():
        return parse_keys(read_written_file(path), generated=True)
    entry = generate_entry("v1")
    # Several workers starting at once must agree on one key: the first to create the file wins.
    stored = create_private_file(path, entry + "\n")
    if stored.strip() == entry:
        log.warning(
            "SWITCHBOARD_ENCRYPTION_KEYS is not set: generated an encryption key into %s. "
            "Production MUST set SWITCHBOARD_ENCRYPTION_KEYS; back this key up, or stored "
            "provider keys become unreadable.",
            path,
        )
    return parse_keys(stored, generated=True)


def init_crypto(app: Flask) -> None:
    ring = app.config.get("ENCRYPTION_KEYRING")
    if ring is None:
        ring = load_keyring(Path(app.instance_path), app.config["SWITCHBOARD_ENV"])
    app.extensions[EXTENSION] = ring


def keyring() -> KeyRing:
    return current_app.extensions[EXTENSION]
