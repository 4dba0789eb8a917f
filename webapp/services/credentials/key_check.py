"""Can the configured encryption keys read the stored secrets? Checked at start, cheaply.

One sample row per key version found in the credentials table is decrypted: a version that
``SWITCHBOARD_ENCRYPTION_KEYS`` no longer lists, or lists with different key material, is
named with the number of stored keys it makes unreadable. Only ids and counts are logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Credential
from webapp.services.credentials import crypto
from webapp.services.credentials.storage import aad_for

TABLE = Credential.__table__
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyProblem:
    """Stored secrets under one key version that the configured keys cannot decrypt."""

    version: str
    rows: int
    sample_id: int
    missing: bool  # the version is not configured at all (else: configured, but wrong key)

    def describe(self) -> str:
        if self.missing:
            return (
                f"{self.rows} stored provider key(s) are encrypted with key version "
                f"{self.version}, which SWITCHBOARD_ENCRYPTION_KEYS does not list: add that "
                "key back, or those keys cannot be used."
            )
        return (
            f"Key version {self.version} in SWITCHBOARD_ENCRYPTION_KEYS does not decrypt the "
            f"stored keys that use it (credential {self.sample_id}; {self.rows} use that "
            "version): it is not the key they were encrypted with."
        )


@dataclass(frozen=True)
class KeyCheck:
    """Rows per key version, and the versions the configured keys cannot read."""

    by_version: dict[str, int] = field(default_factory=dict)
    problems: tuple[KeyProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def _version_of(column: sa.ColumnElement[str], dialect: str) -> sa.ColumnElement[str]:
    """The ``v1`` of ``v1:…`` in SQL, so versions are counted without reading every row."""
    if dialect == "postgresql":
        return sa.func.split_part(column, ":", 1)
    return sa.func.substr(column, 1, sa.func.instr(column, ":") - 1)


def _sample_decrypts(connection: sa.Connection, ring: crypto.KeyRing, credential_id: int) -> bool:
    row = connection.execute(sa.select(TABLE).where(TABLE.c.id == credential_id)).one()
    aad = aad_for(row.id, row.scope, row.owner_key, row.provider_id)
    try:
        ring.decrypt(row.secret_ciphertext, aad)
    except crypto.DecryptionError as exc:
        log.error("credential %s cannot be decrypted: %s", row.id, exc)
        return False
    return True


def check_encryption_keys() -> KeyCheck:
    """Decrypt one stored secret per key version; log each version that fails.

    Uses a connection of its own, so it can run in the middle of a request (health check,
    admin banner) without touching that request's session.
    """
    ring = crypto.keyring()
    problems = []
    with db.engine.connect() as connection:
        version = _version_of(TABLE.c.secret_ciphertext, connection.dialect.name)
        rows = connection.execute(
            sa.select(version, sa.func.count(), sa.func.min(TABLE.c.id)).group_by(version)
        ).all()
        for name, count, sample_id in rows:
            if name not in ring.versions:
                problems.append(KeyProblem(name, count, sample_id, missing=True))
            elif not _sample_decrypts(connection, ring, sample_id):
                problems.append(KeyProblem(name, count, sample_id, missing=False))
    for problem in problems:
        log.error("encryption keys: %s", problem.describe())
    return KeyCheck({name: count for name, count, _ in rows}, tuple(problems))
