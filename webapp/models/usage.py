"""One usage record for every call through the LLM call service."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import BigId, Model, UTCDateTime, choice_check, utcnow


class CallStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    CANCELLED = "cancelled"  # the caller went away (e.g. closed a stream); tokens so far billed


class KeySource(StrEnum):
    """Where the key that served a call came from (never the key itself)."""

    USER = "user"
    ORG = "org"
    GLOBAL = "global"
    ENVIRONMENT = "environment"
    REQUEST = "request"  # gateway BYOK header, used once and never stored
    NONE = "none"  # local servers that need no key


class UsageRecord(Model):
    """Metering for one call. Names are copied so records outlive deleted catalog rows."""

    __tablename__ = "usage_records"
    __table_args__ = (
        choice_check("status", tuple(CallStatus)),
        sa.Index("ix_usage_records_user_time", "user_id", "created_at"),
        sa.Index("ix_usage_records_org_time", "org_id", "created_at"),
        sa.Index("ix_usage_records_model_time", "model_id", "created_at"),
        sa.Index("ix_usage_records_provider_time", "provider_id", "created_at"),
        # Each token's row on the token pages sums its recent records.
        sa.Index("ix_usage_records_token_time", "access_token_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, index=True
    )
    request_id: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    caller: Mapped[str] = mapped_column(sa.String(32), nullable=False, default="api")
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL")
    )
    feature_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("features.id", ondelete="SET NULL")
    )
    provider_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("providers.id", ondelete="SET NULL")
    )
    model_id: Mapped[int | None] = mapped_column(sa.ForeignKey("models.id", ondelete="SET NULL"))
    credential_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("credentials.id", ondelete="SET NULL")
    )
    access_token_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("access_tokens.id", ondelete="SET NULL")
    )
    provider_slug: Mapped[str | None] = mapped_column(sa.String(64))
    model_name: Mapped[str | None] = mapped_column(sa.String(200))
    requested_model: Mapped[str | None] = mapped_column(sa.String(300))
    operation: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="chat")
    mode: Mapped[str | None] = mapped_column(sa.String(16))
    key_source: Mapped[str | None] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    error_type: Mapped[str | None] = mapped_column(sa.String(32))
    error_message: Mapped[str | None] = mapped_column(sa.String(1000))
    stream: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    input_tokens: Mapped[int | None] = mapped_column(sa.BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(sa.BigInteger)
    cached_tokens: Mapped[int | None] = mapped_column(sa.BigInteger)
    cache_write_tokens: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Token counts Switchboard estimated (no usage reported, e.g. a stream cut short).
    estimated: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # Reported counts that were impossible (negative, beyond the model's limits or the column)
    # and were clamped before pricing.
    usage_adjusted: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # The call cost more than it held against a balance or hard budget: ``credits`` and
    # ``cost_usd`` are the full cost, the ledger and budgets were charged only what was held.
    over_hold: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )
    # NULL with unpriced=True when the catalog has no price: never zero, never invented.
    cost_usd: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 8))
    unpriced: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    credits: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 8))
    # The credit account charged for this call (managed calls only).
    account_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("credit_accounts.id", ondelete="SET NULL")
    )
    latency_ms: Mapped[int | None] = mapped_column(sa.Integer)
    ttft_ms: Mapped[int | None] = mapped_column(sa.Integer)
    attempts: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    dropped_params: Mapped[list[str] | None] = mapped_column(sa.JSON)
    stop_reason: Mapped[str | None] = mapped_column(sa.String(32))
    request_body: Mapped[Any | None] = mapped_column(sa.JSON)
    response_body: Mapped[Any | None] = mapped_column(sa.JSON)

    # Counted into ``usage_rollups`` (see services/usage/rollups.py). A record is rolled in
    # the same transaction that adds it to its rollup row, so rollups plus unrolled records
    # always sum to exactly the records, whenever and in whatever order records commit.
    rolled: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )


# Indexes for the record list's filters and the rollups' catch-up.
sa.Index("ix_usage_records_feature_time", UsageRecord.feature_id, UsageRecord.created_at)
sa.Index("ix_usage_records_status_time", UsageRecord.status, UsageRecord.created_at)
sa.Index(
    "ix_usage_records_unrolled",
    UsageRecord.id,
    postgresql_where=sa.text("NOT rolled"),
    sqlite_where=sa.text("rolled = 0"),
)

# Upper bounds (ms) of the latency histogram buckets kept in the rollups; one more bucket
# holds everything above the last bound. Percentiles are read from these buckets.
LATENCY_BOUNDS = (50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 8000, 15000, 30000)
HISTOGRAM_BUCKETS = len(LATENCY_BOUNDS) + 1
# The dimensions of a rollup row; NULL in a record is 0 (ids) or "" (text) here, so the
# unique key works as an upsert target on both databases.
ROLLUP_ID_DIMENSIONS = (
    "user_id",
    "org_id",
    "provider_id",
    "model_id",
    "feature_id",
    "access_token_id",
)
ROLLUP_TEXT_DIMENSIONS = ("mode", "status")
ROLLUP_SUMS = (
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

usage_rollups = sa.Table(
    "usage_rollups",
    Model.metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("day", sa.Date, nullable=False),
    *(
        sa.Column(name, sa.Integer, nullable=False, server_default="0")
        for name in ROLLUP_ID_DIMENSIONS
    ),
    *(
        sa.Column(name, sa.String(16), nullable=False, server_default="")
        for name in ROLLUP_TEXT_DIMENSIONS
    ),
    *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in ROLLUP_SUMS),
    sa.Column("cost_usd", sa.Numeric(24, 8), nullable=False, server_default="0"),
    sa.Column("credits", sa.Numeric(24, 8), nullable=False, server_default="0"),
    *(
        sa.Column(f"{kind}_h{i}", sa.Integer, nullable=False, server_default="0")
        for kind in ("latency", "ttft")
        for i in range(HISTOGRAM_BUCKETS)
    ),
    sa.Index(
        "ux_usage_rollups_key",
        "day",
        *ROLLUP_ID_DIMENSIONS,
        *ROLLUP_TEXT_DIMENSIONS,
        unique=True,
    ),
    sa.Index("ix_usage_rollups_org_day", "org_id", "day"),
    sa.Index("ix_usage_rollups_user_day", "user_id", "day"),
    sa.Index("ix_usage_rollups_token_day", "access_token_id", "day"),
)

# The same sums without the many-valued dimensions (user, org, token): a few thousand rows a
# month whatever the number of people, so the unfiltered view and any one filter on these
# dimensions read totals, the series and their breakdowns from a small table.
LEAN_DIMENSIONS = ("provider_id", "model_id", "feature_id", "mode", "status")
usage_rollups_lean = sa.Table(
    "usage_rollups_lean",
    Model.metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("day", sa.Date, nullable=False),
    *(
        sa.Column(name, sa.Integer, nullable=False, server_default="0")
        for name in LEAN_DIMENSIONS[:3]
    ),
    *(
        sa.Column(name, sa.String(16), nullable=False, server_default="")
        for name in LEAN_DIMENSIONS[3:]
    ),
    *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in ROLLUP_SUMS),
    sa.Column("cost_usd", sa.Numeric(24, 8), nullable=False, server_default="0"),
    sa.Column("credits", sa.Numeric(24, 8), nullable=False, server_default="0"),
    *(
        sa.Column(f"{kind}_h{i}", sa.Integer, nullable=False, server_default="0")
        for kind in ("latency", "ttft")
        for i in range(HISTOGRAM_BUCKETS)
    ),
    sa.Index("ux_usage_rollups_lean_key", "day", *LEAN_DIMENSIONS, unique=True),
)

# A many-valued dimension (``high``: user, org, token) per day and per week under one value
# of a lean dimension (``low``, or none): the top users/orgs/tokens of the unfiltered view or
# of a view filtered on a lean dimension, without reading a row per record; a period reads
# its whole weeks from week rows and only the days at its ends from day rows. Dimensions are
# coded as small integers (PAIR_HIGH / PAIR_LOW indexes), mode and status values as their
# place in Mode / CallStatus plus one (services/usage/rollups.py, ``code_of``).
PAIR_HIGH = ("user_id", "org_id", "access_token_id")
PAIR_LOW = ("", *LEAN_DIMENSIONS)
PAIR_SUMS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "priced",
    "unpriced",
    "estimated",
)
usage_rollup_pairs = sa.Table(
    "usage_rollup_pairs",
    Model.metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("high", sa.SmallInteger, nullable=False),
    sa.Column("low", sa.SmallInteger, nullable=False),
    sa.Column("low_value", sa.Integer, nullable=False),
    sa.Column("grain", sa.SmallInteger, nullable=False),  # 0: the day, 1: the week from Monday
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("high_value", sa.Integer, nullable=False),
    *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in PAIR_SUMS),
    sa.Column("cost_usd", sa.Numeric(24, 8), nullable=False, server_default="0"),
    sa.Column("credits", sa.Numeric(24, 8), nullable=False, server_default="0"),
    sa.Index(
        "ux_usage_rollup_pairs_key",
        "high",
        "low",
        "low_value",
        "grain",
        "day",
        "high_value",
        unique=True,
        # The top-N ranking reads these two from the index alone (an index-only scan).
        postgresql_include=["cost_usd", "requests"],
    ),
    # The second step of a top-N: every metric of a few ranked values.
    sa.Index(
        "ix_usage_rollup_pairs_value", "high", "high_value", "low", "low_value", "grain", "day"
    ),
)
