"""Usage dashboard: daily rollups of the usage records, the ``rolled`` flag that says which
records they already count, and indexes for the record list's filters.

Revision ID: 0008_usage_rollups
Revises: 0007_gateway_aliases
Create Date: 2026-11-30 23:50:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008_usage_rollups"
down_revision = "0007_gateway_aliases"
branch_labels = None
depends_on = None

ID_DIMENSIONS = ("user_id", "org_id", "provider_id", "model_id", "feature_id", "access_token_id")
TEXT_DIMENSIONS = ("mode", "status")
SUMS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "priced",
    "unpriced",
    "estimated",
    "latency_count",
    "ttft_count",
)
HISTOGRAM_BUCKETS = 15


def upgrade():
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rolled", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            "ix_usage_records_feature_time", ["feature_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_usage_records_status_time", ["status", "created_at"], unique=False
        )
    op.create_index(
        "ix_usage_records_unrolled",
        "usage_records",
        ["id"],
        unique=False,
        postgresql_where=sa.text("NOT rolled"),
        sqlite_where=sa.text("rolled = 0"),
    )
    op.create_table(
        "usage_rollups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(n, sa.Integer(), server_default="0", nullable=False) for n in ID_DIMENSIONS),
        *(
            sa.Column(n, sa.String(length=16), server_default="", nullable=False)
            for n in TEXT_DIMENSIONS
        ),
        *(sa.Column(n, sa.BigInteger(), server_default="0", nullable=False) for n in SUMS),
        sa.Column(
            "cost_usd", sa.Numeric(precision=24, scale=8), server_default="0", nullable=False
        ),
        sa.Column("credits", sa.Numeric(precision=24, scale=8), server_default="0", nullable=False),
        *(
            sa.Column(f"{kind}_h{i}", sa.Integer(), server_default="0", nullable=False)
            for kind in ("latency", "ttft")
            for i in range(HISTOGRAM_BUCKETS)
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_rollups")),
    )
    op.create_index(
        "ux_usage_rollups_key",
        "usage_rollups",
        ["day", *ID_DIMENSIONS, *TEXT_DIMENSIONS],
        unique=True,
    )
    op.create_index("ix_usage_rollups_org_day", "usage_rollups", ["org_id", "day"], unique=False)
    op.create_index("ix_usage_rollups_user_day", "usage_rollups", ["user_id", "day"], unique=False)


def downgrade():
    op.drop_index("ix_usage_rollups_user_day", table_name="usage_rollups")
    op.drop_index("ix_usage_rollups_org_day", table_name="usage_rollups")
    op.drop_index("ux_usage_rollups_key", table_name="usage_rollups")
    op.drop_table("usage_rollups")
    op.drop_index("ix_usage_records_unrolled", table_name="usage_records")
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_records_status_time")
        batch_op.drop_index("ix_usage_records_feature_time")
        batch_op.drop_column("rolled")
