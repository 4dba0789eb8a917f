"""Audit events: indexes for the audit page's filters, so none reads the whole log.

- (action, created_at): the action filter and its list of choices.
- target_id: the target filter's exact id.
- lower(target_label): the target filter's name prefix on PostgreSQL only, with
  ``text_pattern_ops`` so ``LIKE 'abc%'`` uses it whatever the database collation).

Revision ID: 0005_pages_audit_action
Revises: 0004_tokens_usage_index
Create Date: 2026-11-30 23:45:00

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0005_pages_audit_action"
down_revision = "0004_tokens_usage_index"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_audit_events_action_time", "audit_events", ["action", "created_at"], unique=False
    )
    op.create_index("ix_audit_events_target_id", "audit_events", ["target_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":  # SQLite's LIKE would not use it
        op.execute(
            "CREATE INDEX ix_audit_events_label_prefix "
            "ON audit_events (lower(target_label) text_pattern_ops)"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_audit_events_label_prefix", table_name="audit_events")
    op.drop_index("ix_audit_events_target_id", table_name="audit_events")
    op.drop_index("ix_audit_events_action_time", table_name="audit_events")
