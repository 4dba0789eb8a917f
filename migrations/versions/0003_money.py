"""Money: exact metering, the credits ledger, budgets with periods and reservations, key and
provider health, feature locks, and the access-token fields the gateway needs.

- usage_records: token counts become bigint; cache-write tokens; ``estimated`` and
  ``usage_adjusted`` flags; the charged credit account; status ``cancelled``.
- models: a cache-write price, and ``allow_unpriced`` (managed calls to an unpriced model).
- features: ``locked_fields`` and ``system_prompt``; organizations: ``default_profile`` and
  ``members_pay``.
- credit amounts widened to eight decimals; credit_accounts.reserved; credit_entries.request_id (unique: a call is charged once) and
  the ``expiry`` kind; budgets per access token, a ``total`` period and soft thresholds;
  budget_windows (spend per period) and reservations (money held by calls in flight).
- app_settings (operational settings changed in the UI) and provider_health (cooldowns).
- access_tokens: kind (personal/service), scope, allowed models, requests and tokens per
  minute, creator; service tokens have no user; ``rate_limit_per_minute`` becomes
  ``requests_per_minute`` (values kept).

Revision ID: 0003_money
Revises: 0002_hardening
Create Date: 2026-11-30 21:51:23

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0003_money"
down_revision = "0002_hardening"
branch_labels = None
depends_on = None

OWNER_CHECK = (
    "(user_id IS NOT NULL AND org_id IS NULL AND access_token_id IS NULL)"
    " OR (user_id IS NULL AND org_id IS NOT NULL AND access_token_id IS NULL)"
    " OR (user_id IS NULL AND org_id IS NULL AND access_token_id IS NOT NULL)"
)
OLD_OWNER_CHECK = (
    "(user_id IS NULL AND org_id IS NOT NULL) OR (user_id IS NOT NULL AND org_id IS NULL)"
)


AMOUNT_COLUMNS = {
    "credit_accounts": ("balance",),
    "credit_entries": ("amount", "balance_after"),
    "budgets": ("amount",),
}


def _amounts(old, new):
    for table, columns in AMOUNT_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=old, type_=new, existing_nullable=False)


def upgrade():
    # Credits carry eight decimals, like usage records: a call is charged exactly its cost.
    _amounts(sa.Numeric(precision=18, scale=6), sa.Numeric(precision=20, scale=8))
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_app_settings_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_settings")),
    )
    op.create_table(
        "provider_health",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("model_key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(), nullable=True),
        sa.Column("cooldown_until", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_health_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_health")),
        sa.UniqueConstraint(
            "provider_id", "model_key", name=op.f("uq_provider_health_provider_id_model_key")
        ),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("credits", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.Column("holds", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["credit_accounts.id"],
            name=op.f("fk_reservations_account_id_credit_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.UniqueConstraint("request_id", name=op.f("uq_reservations_request_id")),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reservations_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "budget_windows",
        sa.Column("budget_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("spent", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.Column("reserved", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.Column("warned_percent", sa.Integer(), nullable=False),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_budget_windows_reserved_non_negative")),
        sa.CheckConstraint("spent >= 0", name=op.f("ck_budget_windows_spent_non_negative")),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["budgets.id"],
            name=op.f("fk_budget_windows_budget_id_budgets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("budget_id", "period_start", name=op.f("pk_budget_windows")),
    )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="personal")
        )
        batch_op.add_column(
            sa.Column("scope", sa.String(length=16), nullable=False, server_default="gateway")
        )
        batch_op.add_column(sa.Column("allowed_models", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("requests_per_minute", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("tokens_per_minute", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch_op.alter_column("user_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f("ix_access_tokens_org_id"), ["org_id"], unique=False)
        batch_op.drop_constraint(
            batch_op.f("fk_access_tokens_org_id_organizations"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_access_tokens_created_by_id_users"),
            "users",
            ["created_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_access_tokens_org_id_organizations"),
            "organizations",
            ["org_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_access_tokens_kind_valid"), "kind IN ('personal', 'service')"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_access_tokens_scope_valid"), "scope IN ('full', 'read_only', 'gateway')"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_access_tokens_owner_matches_kind"),
            "(kind = 'personal' AND user_id IS NOT NULL) OR (kind = 'service' AND user_id IS NULL AND org_id IS NOT NULL)",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_access_tokens_limits_positive"),
            "(requests_per_minute IS NULL OR requests_per_minute > 0) AND (tokens_per_minute IS NULL OR tokens_per_minute > 0)",
        )
    op.execute(
        "UPDATE access_tokens SET requests_per_minute = rate_limit_per_minute WHERE rate_limit_per_minute > 0"
    )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.alter_column("kind", server_default=None)
        batch_op.alter_column("scope", server_default=None)
        batch_op.drop_column("rate_limit_per_minute")

    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_token_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("thresholds", sa.JSON(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_budgets_access_token_id"), ["access_token_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_budgets_access_token_id_access_tokens"),
            "access_tokens",
            ["access_token_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_constraint(batch_op.f("ck_budgets_period_valid"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_budgets_period_valid"), "period IN ('daily', 'monthly', 'total')"
        )
        batch_op.drop_constraint(batch_op.f("ck_budgets_exactly_one_owner"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_budgets_exactly_one_owner"), OWNER_CHECK)

    with op.batch_alter_table("credit_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reserved", sa.Numeric(precision=20, scale=8), nullable=False, server_default="0"
            )
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_credit_accounts_reserved_non_negative"), "reserved >= 0"
        )
    with op.batch_alter_table("credit_accounts", schema=None) as batch_op:
        batch_op.alter_column("reserved", server_default=None)

    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_credit_entries_request_id"), ["request_id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_credit_entries_kind_valid"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_credit_entries_kind_valid"),
            "kind IN ('grant', 'charge', 'refund', 'adjustment', 'expiry')",
        )

    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_fields", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("system_prompt", sa.Text(), nullable=True))

    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cache_write_price", sa.Numeric(precision=12, scale=6), nullable=True)
        )
        batch_op.add_column(
            sa.Column("allow_unpriced", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.drop_constraint(batch_op.f("ck_models_prices_non_negative"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_models_prices_non_negative"),
            "(input_price IS NULL OR input_price >= 0) AND (output_price IS NULL OR output_price >= 0)"
            " AND (cached_input_price IS NULL OR cached_input_price >= 0)"
            " AND (cache_write_price IS NULL OR cache_write_price >= 0)",
        )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.alter_column("allow_unpriced", server_default=None)

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("default_profile", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("members_pay", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.alter_column("members_pay", server_default=None)

    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cache_write_tokens", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("estimated", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("usage_adjusted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.alter_column(
            "input_tokens",
            existing_type=sa.INTEGER(),
            type_=sa.BigInteger(),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "output_tokens",
            existing_type=sa.INTEGER(),
            type_=sa.BigInteger(),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "cached_tokens",
            existing_type=sa.INTEGER(),
            type_=sa.BigInteger(),
            existing_nullable=True,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_usage_records_account_id_credit_accounts"),
            "credit_accounts",
            ["account_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_constraint(batch_op.f("ck_usage_records_status_valid"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_usage_records_status_valid"), "status IN ('ok', 'error', 'cancelled')"
        )
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.alter_column("estimated", server_default=None)
        batch_op.alter_column("usage_adjusted", server_default=None)


def downgrade():
    _amounts(sa.Numeric(precision=20, scale=8), sa.Numeric(precision=18, scale=6))
    # Values the older schema cannot hold: cancelled calls were errors, expiries adjustments;
    # total and per-token budgets and service tokens have no place there and are removed.
    op.execute("UPDATE usage_records SET status = 'error' WHERE status = 'cancelled'")
    op.execute("UPDATE credit_entries SET kind = 'adjustment' WHERE kind = 'expiry'")
    op.execute("DELETE FROM budgets WHERE period = 'total' OR access_token_id IS NOT NULL")
    op.execute("DELETE FROM access_tokens WHERE kind = 'service'")
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_usage_records_status_valid"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_usage_records_status_valid"), "status IN ('ok', 'error')"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_usage_records_account_id_credit_accounts"), type_="foreignkey"
        )
        batch_op.alter_column(
            "cached_tokens",
            existing_type=sa.BigInteger(),
            type_=sa.INTEGER(),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "output_tokens",
            existing_type=sa.BigInteger(),
            type_=sa.INTEGER(),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "input_tokens",
            existing_type=sa.BigInteger(),
            type_=sa.INTEGER(),
            existing_nullable=True,
        )
        batch_op.drop_column("account_id")
        batch_op.drop_column("usage_adjusted")
        batch_op.drop_column("estimated")
        batch_op.drop_column("cache_write_tokens")

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("members_pay")
        batch_op.drop_column("default_profile")

    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_models_prices_non_negative"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_models_prices_non_negative"),
            "(input_price IS NULL OR input_price >= 0) AND (output_price IS NULL OR output_price >= 0)"
            " AND (cached_input_price IS NULL OR cached_input_price >= 0)",
        )
        batch_op.drop_column("allow_unpriced")
        batch_op.drop_column("cache_write_price")

    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.drop_column("system_prompt")
        batch_op.drop_column("locked_fields")

    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_credit_entries_kind_valid"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_credit_entries_kind_valid"),
            "kind IN ('grant', 'charge', 'refund', 'adjustment')",
        )
        batch_op.drop_constraint(batch_op.f("uq_credit_entries_request_id"), type_="unique")
        batch_op.drop_column("request_id")

    with op.batch_alter_table("credit_accounts", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_credit_accounts_reserved_non_negative"), type_="check"
        )
        batch_op.drop_column("reserved")

    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_budgets_period_valid"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_budgets_period_valid"), "period IN ('daily', 'monthly')"
        )
        batch_op.drop_constraint(batch_op.f("ck_budgets_exactly_one_owner"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_budgets_exactly_one_owner"), OLD_OWNER_CHECK
        )
        batch_op.drop_constraint(
            batch_op.f("fk_budgets_access_token_id_access_tokens"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_budgets_access_token_id"))
        batch_op.drop_column("thresholds")
        batch_op.drop_column("access_token_id")

    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_limit_per_minute", sa.INTEGER(), nullable=True))
        for name in ("kind_valid", "scope_valid", "owner_matches_kind", "limits_positive"):
            batch_op.drop_constraint(batch_op.f(f"ck_access_tokens_{name}"), type_="check")
    op.execute("UPDATE access_tokens SET rate_limit_per_minute = requests_per_minute")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_access_tokens_org_id_organizations"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_access_tokens_created_by_id_users"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_access_tokens_org_id_organizations"),
            "organizations",
            ["org_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_index(batch_op.f("ix_access_tokens_org_id"))
        batch_op.alter_column("user_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("created_by_id")
        batch_op.drop_column("tokens_per_minute")
        batch_op.drop_column("requests_per_minute")
        batch_op.drop_column("allowed_models")
        batch_op.drop_column("scope")
        batch_op.drop_column("kind")

    op.drop_table("budget_windows")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reservations_expires_at"))

    op.drop_table("reservations")
    op.drop_table("provider_health")
    op.drop_table("app_settings")
