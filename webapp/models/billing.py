"""Credits (an append-only ledger with a stored running balance), budgets, the spend of each
budget period, and the reservations that hold money while a call is in flight."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import (
    BigId,
    Model,
    TimestampMixin,
    UTCDateTime,
    VersionedMixin,
    choice_check,
    utcnow,
)

# Eight decimals, like the usage records' credits: a call costing 0.00004050 credits is
# charged exactly that.
Amount = sa.Numeric(20, 8)


class EntryKind(StrEnum):
    GRANT = "grant"
    CHARGE = "charge"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    EXPIRY = "expiry"


class BudgetPeriod(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"
    TOTAL = "total"


class BudgetUnit(StrEnum):
    USD = "usd"
    CREDITS = "credits"


class CreditAccount(Model):
    """A user's or an org's balance; ``reserved`` is held by calls in flight.

    ``balance`` always equals the sum of the account's ledger entries (``flask credits
    check`` proves it); it is stored so that a reservation is one conditional UPDATE.
    Owners cannot be deleted while they hold an account (RESTRICT): financial history is kept;
    users are deactivated and organizations archived instead.
    """

    __tablename__ = "credit_accounts"
    __table_args__ = (
        sa.CheckConstraint(
            "(user_id IS NULL AND org_id IS NOT NULL) OR (user_id IS NOT NULL AND org_id IS NULL)",
            name="exactly_one_owner",
        ),
        sa.CheckConstraint("reserved >= 0", name="reserved_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT"), unique=True
    )
    org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT"), unique=True
    )
    balance: Mapped[Decimal] = mapped_column(Amount, nullable=False, default=Decimal("0"))
    reserved: Mapped[Decimal] = mapped_column(Amount, nullable=False, default=Decimal("0"))
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )


class CreditEntry(Model):
    """One ledger line. Never updated or deleted; corrections are new adjustment lines."""

    __tablename__ = "credit_entries"
    __table_args__ = (
        choice_check("kind", tuple(EntryKind)),
        sa.Index("ix_credit_entries_account_time", "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        sa.ForeignKey("credit_accounts.id", ondelete="RESTRICT"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Amount, nullable=False)
    balance_after: Mapped[Decimal] = mapped_column(Amount, nullable=False)
    usage_record_id: Mapped[int | None] = mapped_column(
        BigId, sa.ForeignKey("usage_records.id", ondelete="SET NULL")
    )
    # The call a charge belongs to; unique, so a charge can never be written twice.
    request_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(sa.String(500))


OWNER_CHECK = (
    "(user_id IS NOT NULL AND org_id IS NULL AND access_token_id IS NULL)"
    " OR (user_id IS NULL AND org_id IS NOT NULL AND access_token_id IS NULL)"
    " OR (user_id IS NULL AND org_id IS NULL AND access_token_id IS NOT NULL)"
)


class Budget(TimestampMixin, VersionedMixin, Model):
    """A spending limit per user, org or access token: hard blocks the call, soft warns at
    its thresholds. Periods are calendar days or months in the billing time zone, or the
    whole lifetime (``total``); they reset by time, never by a job."""

    __tablename__ = "budgets"
    __table_args__ = (
        choice_check("period", tuple(BudgetPeriod)),
        choice_check("unit", tuple(BudgetUnit)),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint(OWNER_CHECK, name="exactly_one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    access_token_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("access_tokens.id", ondelete="CASCADE"), index=True
    )
    period: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    unit: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Amount, nullable=False)
    hard: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    # Percentages of the amount at which a warning is shown and written to the audit log.
    thresholds: Mapped[list[int] | None] = mapped_column(sa.JSON)


class BudgetWindow(Model):
    """What one budget period has spent and holds in reservations. A new period is a new
    row, so a budget resets by time without a job that could fail."""

    __tablename__ = "budget_windows"
    __table_args__ = (
        sa.CheckConstraint("reserved >= 0", name="reserved_non_negative"),
        sa.CheckConstraint("spent >= 0", name="spent_non_negative"),
    )

    budget_id: Mapped[int] = mapped_column(
        sa.ForeignKey("budgets.id", ondelete="CASCADE"), primary_key=True
    )
    period_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    spent: Mapped[Decimal] = mapped_column(Amount, nullable=False, default=Decimal("0"))
    reserved: Mapped[Decimal] = mapped_column(Amount, nullable=False, default=Decimal("0"))
    # The highest soft threshold already announced for this period (0: none).
    warned_percent: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)


class Reservation(Model):
    """Money held for one call in flight: its worst-case cost against the paying account and
    every applicable budget. Settled (deleted) when the call is metered; one left behind by
    a crashed process expires and is released."""

    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    account_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("credit_accounts.id", ondelete="CASCADE")
    )
    credits: Mapped[Decimal] = mapped_column(Amount, nullable=False, default=Decimal("0"))
    # {"budgets": [{"budget_id": 1, "period_start": "…", "amount": "0.25"}, …],
    #  "call": {who called what: enough to record the call if its process dies}}
    holds: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
