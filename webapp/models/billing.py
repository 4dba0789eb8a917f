"""Credits (an append-only ledger with a locked running balance) and budgets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import (
    BigId,
    TimestampMixin,
    UTCDateTime,
    VersionedMixin,
    choice_check,
    utcnow,
)

Amount = sa.Numeric(18, 6)


class EntryKind(StrEnum):
    GRANT = "grant"
    CHARGE = "charge"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


class BudgetPeriod(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"


class BudgetUnit(StrEnum):
    USD = "usd"
    CREDITS = "credits"


class CreditAccount(db.Model):
    """A user's or an org's balance. The row is locked while a charge is applied.

    Owners cannot be deleted while they hold an account (RESTRICT): financial history is kept;
    users are deactivated and organizations archived instead.
    """

    __tablename__ = "credit_accounts"
    __table_args__ = (
        sa.CheckConstraint(
            "(user_id IS NULL AND org_id IS NOT NULL) OR (user_id IS NOT NULL AND org_id IS NULL)",
            name="exactly_one_owner",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT"), unique=True
    )
    org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT"), unique=True
    )
    balance: Mapped[Decimal] = mapped_column(Amount, nullable=False, default=Decimal("0"))
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )


class CreditEntry(db.Model):
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
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(sa.String(500))


class Budget(TimestampMixin, VersionedMixin, db.Model):
    """A spending limit per user or org: hard blocks the call, soft only warns."""

    __tablename__ = "budgets"
    __table_args__ = (
        choice_check("period", tuple(BudgetPeriod)),
        choice_check("unit", tuple(BudgetUnit)),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint(
            "(user_id IS NULL AND org_id IS NOT NULL) OR (user_id IS NOT NULL AND org_id IS NULL)",
            name="exactly_one_owner",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    period: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    unit: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Amount, nullable=False)
    hard: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
