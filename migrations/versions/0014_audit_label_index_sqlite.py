"""Audit events: the target name filter reads an index on SQLite too. PostgreSQL has had
``ix_audit_events_label_prefix`` (``lower(target_label) text_pattern_ops``) since 0005 for
``LIKE 'abc%'``; SQLite's LIKE never reads an index on an expression, so the page also writes
the prefix as a range on ``lower(target_label)``, which this index serves. Nothing changes on
PostgreSQL.

Revision ID: 0014_audit_label_index_sqlite
Revises: 0013_key_test_outcomes
Create Date: 2026-12-01 16:00:00

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0014_audit_label_index_sqlite"
down_revision = "0013_key_test_outcomes"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE INDEX ix_audit_events_label_lower ON audit_events (lower(target_label))")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_audit_events_label_lower", table_name="audit_events")
