"""Usage records say when a call cost more than it held: ``over_hold`` (the record keeps the
full cost; the balance and hard budgets were charged only what was held). Existing records
are false: before this, settlement charged the full cost.

Revision ID: 0012_usage_over_hold
Revises: 0011_env_key_approval
Create Date: 2026-12-01 15:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_usage_over_hold"
down_revision = "0011_env_key_approval"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("over_hold", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade():
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_column("over_hold")
