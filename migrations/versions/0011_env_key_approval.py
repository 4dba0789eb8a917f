"""The fallback key's approval binds the variable as well as the origin: providers gain
``env_key_var``, the environment variable whose value was approved for ``env_key_origin``.
Until now the approval named only the origin, so changing ``api_key_env`` (say to
OPENAI_API_KEY on Mistral) sent another variable's value to the approved host unasked.

Existing approvals stay valid as the pairs the data holds today: where an origin is approved,
the provider's current variable is approved with it. Downgrading drops the column (the pairs
fall back to origin-only approvals).

Revision ID: 0011_env_key_approval
Revises: 0010_usage_cubes
Create Date: 2026-12-02 09:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011_env_key_approval"
down_revision = "0010_usage_cubes"
branch_labels = None
depends_on = None

providers = sa.table(
    "providers",
    sa.column("api_key_env", sa.String),
    sa.column("env_key_var", sa.String),
    sa.column("env_key_origin", sa.String),
)


def upgrade():
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("env_key_var", sa.String(length=100), nullable=True))
    op.execute(
        providers.update()
        .where(providers.c.env_key_origin.is_not(None), providers.c.api_key_env.is_not(None))
        .values(env_key_var=providers.c.api_key_env)
    )


def downgrade():
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("env_key_var")
