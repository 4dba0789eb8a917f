"""Short keys saved before the hardening show none of their characters: every stored key
hint is recomputed from its secret (a key under 20 characters keeps no hint), with the app's
encryption keys.

Only the secret says how long a key is, so this data migration decrypts, through the service
that owns the rule (``services/credentials/hints.py``). Run without the app's keys (Alembic
alone, or keys that do not open a row), the hints it cannot check are cleared instead: the
masks then show no characters, and ``flask encryption-keys rotate`` brings back those of
long keys. Nothing else changes; the downgrade keeps the hints as they are (they are a
display of the secret, which neither direction touches).

Revision ID: 0015_short_key_hints
Revises: 0014_audit_label_index_sqlite
Create Date: 2026-12-01 16:30:00

"""

import logging

from alembic import op

# revision identifiers, used by Alembic.
revision = "0015_short_key_hints"
down_revision = "0014_audit_label_index_sqlite"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _keyring():
    """The running app's encryption keys, or None (no app: Alembic run on its own)."""
    try:
        from webapp.services.credentials import crypto

        return crypto.keyring()
    except (RuntimeError, KeyError):  # outside an app context, or no keys loaded
        return None


def upgrade():
    from webapp.services.credentials import hints

    bind = op.get_bind()
    ring = _keyring()
    if ring is None:
        cleared = hints.clear_hints(bind)
        log.warning(
            "no encryption keys: cleared %s key hints; `flask encryption-keys rotate` "
            "brings back those of keys of 20 characters or more",
            cleared,
        )
        return
    report = hints.repair_hints(bind, ring)
    log.info("%s", report.summary())


def downgrade():
    pass
