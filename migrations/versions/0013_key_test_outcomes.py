"""Key tests: every failed test is stored with why it failed, not only a rejected key. The
CHECK on ``credentials.last_test_status`` admits the new outcomes (blocked, unreachable,
timeout, rate_limited, unavailable, refused, failed); existing rows keep their value.
Downgrading turns the new outcomes back into ``unknown`` (never tested, as far as the old
code can tell), keeping their message.

Revision ID: 0013_key_test_outcomes
Revises: 0012_usage_over_hold
Create Date: 2026-12-01 15:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013_key_test_outcomes"
down_revision = "0012_usage_over_hold"
branch_labels = None
depends_on = None

OLD = ("ok", "invalid", "unknown")
NEW = (
    "ok",
    "invalid",
    "blocked",
    "unreachable",
    "timeout",
    "rate_limited",
    "unavailable",
    "refused",
    "failed",
    "unknown",
)
credentials = sa.table("credentials", sa.column("last_test_status", sa.String))


def _check(values: tuple[str, ...]) -> str:
    return "last_test_status IN ({})".format(", ".join(f"'{v}'" for v in values))


def _replace_check(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_credentials_last_test_status_valid"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_credentials_last_test_status_valid"), _check(values)
        )


def upgrade():
    _replace_check(NEW)


def downgrade():
    op.execute(
        credentials.update()
        .where(credentials.c.last_test_status.notin_(OLD))
        .values(last_test_status="unknown")
    )
    _replace_check(OLD)
