"""Re-encrypt every stored secret with the current key, online, in small batches.

Each batch is its own short transaction and each row is swapped only if its ciphertext is
still the one that was read (compare-and-swap), so the app keeps serving reads and writes,
a concurrent edit always wins, and an interrupted run simply continues when run again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Credential
from webapp.services.credentials import crypto
from webapp.services.credentials.storage import aad_for
from webapp.services.settings.cache import bump_settings_version

TABLE = Credential.__table__
log = logging.getLogger(__name__)


@dataclass
class RotationReport:
    scanned: int = 0
    rotated: int = 0
    already_current: int = 0
    changed_meanwhile: int = 0
    failed_ids: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"scanned={self.scanned} rotated={self.rotated} "
            f"already_current={self.already_current} changed_meanwhile={self.changed_meanwhile} "
            f"undecryptable={len(self.failed_ids)}"
        )


def _batches(batch_size: int):
    """Rows in id order, one batch at a time (keyset pagination, no long-held cursor)."""
    last_id = 0
    columns = (
        TABLE.c.id,
        TABLE.c.scope,
        TABLE.c.owner_key,
        TABLE.c.provider_id,
        TABLE.c.secret_ciphertext,
    )
    while True:
        rows = db.session.execute(
            sa.select(*columns).where(TABLE.c.id > last_id).order_by(TABLE.c.id).limit(batch_size)
        ).all()
        db.session.commit()  # end the read transaction between batches
        if not rows:
            return
        yield rows
        last_id = rows[-1].id


def rotate_all(
    batch_size: int = 500, on_batch: Callable[[RotationReport], None] | None = None
) -> RotationReport:
    """Re-encrypt rows not yet under the current key. Safe to interrupt and run again."""
    ring = crypto.keyring()
    prefix = f"{ring.current}:"
    report = RotationReport()
    swap = (
        TABLE.update()
        .where(
            TABLE.c.id == sa.bindparam("b_id"), TABLE.c.secret_ciphertext == sa.bindparam("b_old")
        )
        .values(secret_ciphertext=sa.bindparam("b_new"), updated_at=TABLE.c.updated_at)
    )
    for rows in _batches(batch_size):
        updates = []
        for row in rows:
            report.scanned += 1
            if row.secret_ciphertext.startswith(prefix):
                report.already_current += 1
                continue
            aad = aad_for(row.id, row.scope, row.owner_key, row.provider_id)
            try:
                plaintext = ring.decrypt(row.secret_ciphertext, aad)
            except crypto.DecryptionError as exc:
                log.error("credential %s cannot be decrypted: %s", row.id, exc)
                report.failed_ids.append(row.id)
                continue
            updates.append(
                {
                    "b_id": row.id,
                    "b_old": row.secret_ciphertext,
                    "b_new": ring.encrypt(plaintext, aad),
                }
            )
        if updates:
            # One executemany per batch; both supported drivers report the summed rowcount.
            swapped = db.session.execute(swap, updates).rowcount  # type: ignore[attr-defined]
            if swapped:
                bump_settings_version()  # processes drop their cached ciphertexts
            db.session.commit()
            report.rotated += swapped
            report.changed_meanwhile += len(updates) - swapped
        if on_batch:
            on_batch(report)
    return report


@dataclass
class CheckReport:
    total: int = 0
    by_version: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[int, str]] = field(default_factory=list)


def check_all(batch_size: int = 1000) -> CheckReport:
    """Try to decrypt every row with the configured keys; report the ids that fail."""
    ring = crypto.keyring()
    report = CheckReport()
    for rows in _batches(batch_size):
        for row in rows:
            report.total += 1
            version = crypto.KeyRing.version_of(row.secret_ciphertext)
            report.by_version[version] = report.by_version.get(version, 0) + 1
            try:
                ring.decrypt(
                    row.secret_ciphertext,
                    aad_for(row.id, row.scope, row.owner_key, row.provider_id),
                )
            except crypto.DecryptionError as exc:
                report.failed.append((row.id, str(exc)))
    return report
