"""Usage dashboard at scale: a lean rollup without user/org/token, per-day pairs of a
many-valued dimension (user, org, token) with a lean one, and the token index on the full
rollup. Both are filled from the full rollup here.

Revision ID: 0010_usage_cubes
Revises: 0009_api_provider_presets
Create Date: 2026-12-01 03:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010_usage_cubes"
down_revision = "0009_api_provider_presets"
branch_labels = None
depends_on = None

LEAN_IDS = ("provider_id", "model_id", "feature_id")
LEAN_TEXT = ("mode", "status")
SUMS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "priced",
    "unpriced",
    "estimated",
)
HISTOGRAM_BUCKETS = 15
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_index(
        "ix_usage_rollups_token_day", "usage_rollups", ["access_token_id", "day"], unique=False
    )
    op.create_table(
        "usage_rollups_lean",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(n, sa.Integer(), server_default="0", nullable=False) for n in LEAN_IDS),
        *(sa.Column(n, sa.String(length=16), server_default="", nullable=False) for n in LEAN_TEXT),
        *(
            sa.Column(n, sa.BigInteger(), server_default="0", nullable=False)
            for n in (*SUMS, "latency_count", "ttft_count")
        ),
        sa.Column(
            "cost_usd", sa.Numeric(precision=24, scale=8), server_default="0", nullable=False
        ),
        sa.Column("credits", sa.Numeric(precision=24, scale=8), server_default="0", nullable=False),
        *(
            sa.Column(f"{kind}_h{i}", sa.Integer(), server_default="0", nullable=False)
            for kind in ("latency", "ttft")
            for i in range(HISTOGRAM_BUCKETS)
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_rollups_lean")),
    )
    op.create_index(
        "ux_usage_rollups_lean_key",
        "usage_rollups_lean",
        ["day", *LEAN_IDS, *LEAN_TEXT],
        unique=True,
    )
    op.create_table(
        "usage_rollup_pairs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("high", sa.SmallInteger(), nullable=False),
        sa.Column("low", sa.SmallInteger(), nullable=False),
        sa.Column("low_value", sa.Integer(), nullable=False),
        sa.Column("grain", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("high_value", sa.Integer(), nullable=False),
        *(sa.Column(n, sa.BigInteger(), server_default="0", nullable=False) for n in SUMS),
        sa.Column(
            "cost_usd", sa.Numeric(precision=24, scale=8), server_default="0", nullable=False
        ),
        sa.Column("credits", sa.Numeric(precision=24, scale=8), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_rollup_pairs")),
    )
    op.create_index(
        "ux_usage_rollup_pairs_key",
        "usage_rollup_pairs",
        ["high", "low", "low_value", "grain", "day", "high_value"],
        unique=True,
        postgresql_include=["cost_usd", "requests"],
    )
    op.create_index(
        "ix_usage_rollup_pairs_value",
        "usage_rollup_pairs",
        ["high", "high_value", "low", "low_value", "grain", "day"],
        unique=False,
    )
    _fill_from_full_rollup()


PAIR_SUMS = (*SUMS, "cost_usd", "credits")
LEAN_SUMS = (
    *SUMS,
    "latency_count",
    "ttft_count",
    "cost_usd",
    "credits",
    *(f"{kind}_h{i}" for kind in ("latency", "ttft") for i in range(HISTOGRAM_BUCKETS)),
)
CODES = {
    "mode": "CASE mode WHEN 'managed' THEN 1 WHEN 'byok' THEN 2 ELSE 0 END",
    "status": "CASE status WHEN 'ok' THEN 1 WHEN 'error' THEN 2 WHEN 'cancelled' THEN 3 ELSE 0 END",
}


def _fill_from_full_rollup():
    """The new tables hold what the full rollup holds, regrouped (it has every dimension):
    records stay as they are, rolled or not, so rollups ∪ unrolled records stay exact."""
    bind = op.get_bind()
    lean = ", ".join((*LEAN_IDS, *LEAN_TEXT))
    bind.execute(
        sa.text(
            f"INSERT INTO usage_rollups_lean (day, {lean}, {', '.join(LEAN_SUMS)}) "
            f"SELECT day, {lean}, {', '.join(f'SUM({n})' for n in LEAN_SUMS)} "
            f"FROM usage_rollups GROUP BY day, {lean}"
        )
    )
    sums = ", ".join(f"SUM({n})" for n in PAIR_SUMS)
    if bind.dialect.name == "postgresql":
        week = "CAST(date_trunc('week', day) AS DATE)"
    else:
        week = "date(day, 'weekday 0', '-6 days')"
    for high, high_name in enumerate(("user_id", "org_id", "access_token_id")):
        for low, low_name in enumerate(("", *LEAN_IDS, *LEAN_TEXT)):
            value = CODES.get(low_name, low_name) or "0"
            for grain, period in enumerate(("day", week)):
                group = f"{value}, {period}, {high_name}" if low_name else f"{period}, {high_name}"
                bind.execute(
                    sa.text(
                        "INSERT INTO usage_rollup_pairs (high, low, low_value, grain, day,"
                        f" high_value, {', '.join(PAIR_SUMS)})"
                        f" SELECT {high}, {low}, {value}, {grain}, {period}, {high_name}, {sums}"
                        f" FROM usage_rollups GROUP BY {group}"
                    )
                )


def downgrade():
    op.drop_index("ix_usage_rollup_pairs_value", table_name="usage_rollup_pairs")
    op.drop_index("ux_usage_rollup_pairs_key", table_name="usage_rollup_pairs")
    op.drop_table("usage_rollup_pairs")
    op.drop_index("ux_usage_rollups_lean_key", table_name="usage_rollups_lean")
    op.drop_table("usage_rollups_lean")
    op.drop_index("ix_usage_rollups_token_day", table_name="usage_rollups")
