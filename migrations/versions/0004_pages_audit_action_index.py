"""Audit events: an index on (action, created_at), so the action filter and its list of
choices read an index instead of the whole log.

Revision ID: 0004_pages_audit_action
Revises: 0003_money
Create Date: 2026-11-30 23:45:00

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0004_pages_audit_action"
down_revision = "0003_money"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_audit_events_action_time", "audit_events", ["action", "created_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_audit_events_action_time", table_name="audit_events")
