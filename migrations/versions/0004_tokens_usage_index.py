"""Usage records indexed by access token and time, for each token's row on the token pages.

Revision ID: 0004_tokens_usage_index
Revises: 0003_money
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0004_tokens_usage_index"
down_revision = "0003_money"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_records_token_time", ["access_token_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_records_token_time")
