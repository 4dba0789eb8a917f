"""Provider presets and default models: a per-provider default model (what a call naming
only the provider gets), and GitHub Models' credit multiplier 1.5 where the admin left the
old default (1) in place. Ollama and LM Studio have been seeded at 0.1 from the start.

Revision ID: 0009_api_provider_presets
Revises: 0008_usage_rollups
Create Date: 2026-12-01 03:50:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009_api_provider_presets"
down_revision = "0008_usage_rollups"
branch_labels = None
depends_on = None

providers = sa.table(
    "providers",
    sa.column("slug", sa.String),
    sa.column("is_preset", sa.Boolean),
    sa.column("credit_multiplier", sa.Numeric(10, 4)),
)


def _preset_multiplier(slug: str, old: str, new: str) -> None:
    """Only where the preset still holds ``old``: a value an admin chose stays."""
    op.execute(
        providers.update()
        .where(
            providers.c.slug == slug,
            providers.c.is_preset.is_(True),
            providers.c.credit_multiplier == sa.literal(old, sa.Numeric(10, 4)),
        )
        .values(credit_multiplier=sa.literal(new, sa.Numeric(10, 4)))
    )


def upgrade():
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("default_model", sa.String(length=200), nullable=True))
    _preset_multiplier("github", "1", "1.5")


def downgrade():
    _preset_multiplier("github", "1.5", "1")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("default_model")
