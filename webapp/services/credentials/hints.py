"""The hint a stored key shows (``•••• set (…WXYZ)``), kept to the rule of ``hint_for`` for
rows saved before the rule existed.

Until the hardening every key kept its last four characters, whatever its length; since then
a key shorter than 20 characters keeps none. Only the secret says how long a key is, so a
stored hint can be checked only with the encryption keys: ``repair_hints`` decrypts each row
and stores the hint the rule gives, and a row that cannot be decrypted keeps no hint (nothing
of it can be shown to be safe to show). The Alembic migration ``0015_short_key_hints`` runs
it with the app's keys, and ``flask encryption-keys rotate`` runs it again (after a
migration run without the keys, it brings back the hints of long keys).

It works on a connection of the caller's (the migration's own, or the session's) with plain
statements, so that a migration can use it inside its transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from webapp.services.credentials.crypto import DecryptionError, KeyRing
from webapp.services.credentials.storage import aad_for, hint_for

log = logging.getLogger(__name__)

CREDENTIALS = sa.table(
    "credentials",
    sa.column("id", sa.Integer),
    sa.column("scope", sa.String),
    sa.column("owner_key", sa.String),
    sa.column("provider_id", sa.Integer),
    sa.column("secret_ciphertext", sa.Text),
    sa.column("secret_hint", sa.String),
)


@dataclass
class HintReport:
    checked: int = 0
    fixed: int = 0
    undecryptable: int = 0

    def summary(self) -> str:
        return (
            f"hints checked={self.checked} fixed={self.fixed} "
            f"undecryptable={self.undecryptable} (shown without characters)"
        )


def repair_hints(connection: sa.Connection, ring: KeyRing) -> HintReport:
    """Every row's hint as ``hint_for`` gives it; a row changed meanwhile (another
    ciphertext) keeps the hint its own save wrote."""
    c, report = CREDENTIALS.c, HintReport()
    rows = connection.execute(
        sa.select(c.id, c.scope, c.owner_key, c.provider_id, c.secret_ciphertext, c.secret_hint)
    ).all()
    for row in rows:
        report.checked += 1
        try:
            secret = ring.decrypt(
                row.secret_ciphertext, aad_for(row.id, row.scope, row.owner_key, row.provider_id)
            )
            hint = hint_for(secret)
        except DecryptionError:
            report.undecryptable += 1
            hint = ""
        if hint != row.secret_hint:
            swapped = connection.execute(
                CREDENTIALS.update()
                .where(c.id == row.id, c.secret_ciphertext == row.secret_ciphertext)
                .values(secret_hint=hint)
            ).rowcount
            report.fixed += swapped
    if report.fixed:
        log.info("credential hints: %s", report.summary())
    return report


def clear_hints(connection: sa.Connection) -> int:
    """No hint for any row: what a migration does when it has no encryption keys to check
    them with (the rule then holds; ``repair_hints`` brings back those of long keys)."""
    c = CREDENTIALS.c
    return connection.execute(
        CREDENTIALS.update().where(c.secret_hint != "").values(secret_hint="")
    ).rowcount
