"""Credit accounts and their append-only ledger: grants and adjustments by admins (audited),
charges by metering, and the checks that every balance equals the sum of its entries and
every ``reserved`` the sum of its live reservations."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import (
    CreditAccount,
    CreditEntry,
    EntryKind,
    Organization,
    Reservation,
    User,
)
from webapp.models.base import utcnow
from webapp.services.audit import events as audit
from webapp.services.errors import PermissionDenied, ValidationError
from webapp.services.numbers import NumberError, parse_decimal
from webapp.services.settings.cache import bump_settings_version

MAX_AMOUNT = Decimal("1000000000")
BETWEEN = "Enter a number between -1 000 000 000 and 1 000 000 000."
AMOUNT_MESSAGES = {
    "number": "Enter a number, e.g. 25 or 12.5.",
    "finite": BETWEEN,
    "range": BETWEEN,
    "places": "Use at most six decimals.",
}
ADMIN_KINDS = (EntryKind.GRANT, EntryKind.ADJUSTMENT, EntryKind.REFUND, EntryKind.EXPIRY)


@dataclass(frozen=True)
class Owner:
    """Whose account: a user's or an organization's."""

    kind: str  # "user" | "org"
    id: int

    @property
    def column(self) -> sa.ColumnElement[bool]:
        if self.kind == "user":
            return CreditAccount.user_id == self.id
        return CreditAccount.org_id == self.id


def account_of(owner: Owner) -> CreditAccount | None:
    return db.session.scalar(sa.select(CreditAccount).where(owner.column))


def _new_account(owner: Owner) -> CreditAccount:
    account = CreditAccount(
        user_id=owner.id if owner.kind == "user" else None,
        org_id=owner.id if owner.kind == "org" else None,
        balance=Decimal(0),
        reserved=Decimal(0),
    )
    db.session.add(account)
    db.session.flush()
    bump_settings_version()  # calls of this owner now hold and charge credits
    return account


def parse_amount(raw: object, *, field: str = "amount") -> Decimal:
    """A credit amount as typed: a finite number with at most six decimals."""
    try:
        return parse_decimal(raw, low=-MAX_AMOUNT, high=MAX_AMOUNT, places=6)
    except NumberError as exc:
        raise ValidationError({field: AMOUNT_MESSAGES.get(exc.kind, str(exc))}) from None


def _label(owner: Owner) -> str:
    if owner.kind == "user":
        user = db.session.get(User, owner.id)
        return f"user {user.email}" if user else f"user {owner.id}"
    org = db.session.get(Organization, owner.id)
    return f"organization {org.name}" if org else f"organization {owner.id}"


def post_entry(
    actor: User, owner: Owner, amount: Decimal, *, kind: str, note: str | None
) -> CreditEntry:
    """Grant (positive), adjust (either sign), refund or expire credits: one ledger line and
    the balance, in one transaction with the account row locked; audited."""
    if not actor.is_admin:
        raise PermissionDenied("Only admins grant or adjust credits.")
    if kind not in ADMIN_KINDS:
        raise ValidationError({"kind": "Choose grant, adjustment, refund or expiry."})
    if amount == 0:
        raise ValidationError({"amount": "Enter an amount other than 0."})
    if kind in (EntryKind.GRANT, EntryKind.REFUND) and amount < 0:
        raise ValidationError(
            {"amount": "A grant or refund adds credits: enter a positive amount."}
        )
    if kind == EntryKind.EXPIRY and amount > 0:
        raise ValidationError({"amount": "An expiry removes credits: enter a negative amount."})
    note = (note or "").strip()[:500] or None
    account = account_of(owner) or _new_account(owner)
    balance = db.session.execute(
        sa.update(CreditAccount)
        .where(CreditAccount.id == account.id)
        .values(balance=CreditAccount.balance + amount, updated_at=utcnow())
        .returning(CreditAccount.balance),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    entry = CreditEntry(
        account_id=account.id,
        kind=kind,
        amount=amount,
        balance_after=balance,
        actor_id=actor.id,
        note=note,
    )
    db.session.add(entry)
    audit.record(
        kind,
        "credits",
        actor=actor,
        target_id=account.id,
        target_label=f"credits of {_label(owner)}",
        changes=audit.diff(
            {"balance": f"{Decimal(balance) - amount:f}"},
            {"balance": f"{Decimal(balance):f}", "amount": f"{amount:f}", "note": note},
        ),
        org_id=owner.id if owner.kind == "org" else None,
    )
    db.session.commit()
    db.session.refresh(account)
    return entry


@dataclass(frozen=True)
class AccountView:
    balance: Decimal
    reserved: Decimal
    entries: list[CreditEntry]

    @property
    def available(self) -> Decimal:
        return self.balance - self.reserved


def view(owner: Owner, *, limit: int = 20) -> AccountView | None:
    """The balance and the most recent ledger lines (None: the owner has no account)."""
    account = account_of(owner)
    if account is None:
        return None
    entries = db.session.scalars(
        sa.select(CreditEntry)
        .where(CreditEntry.account_id == account.id)
        .order_by(CreditEntry.id.desc())
        .limit(limit)
    )
    return AccountView(Decimal(account.balance), Decimal(account.reserved), list(entries))


@dataclass(frozen=True)
class Mismatch:
    account_id: int
    balance: Decimal
    ledger: Decimal


TOLERANCE = Decimal("0.000001")  # SQLite keeps NUMERIC as floating point


def check_balances() -> list[Mismatch]:
    """Every account whose stored balance differs from the sum of its ledger lines."""
    sums = (
        sa.select(CreditEntry.account_id, sa.func.coalesce(sa.func.sum(CreditEntry.amount), 0))
        .group_by(CreditEntry.account_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(CreditAccount.id, CreditAccount.balance, sums.c[1])
        .outerjoin(sums, sums.c.account_id == CreditAccount.id)
        .order_by(CreditAccount.id)
    )
    found = []
    for account_id, balance, ledger in rows:
        stored, summed = Decimal(balance or 0), Decimal(ledger or 0)
        if abs(stored - summed) > TOLERANCE:
            found.append(Mismatch(account_id, stored, summed))
    return found


@dataclass(frozen=True)
class HeldMismatch:
    account_id: int
    reserved: Decimal  # what the account says is held
    held: Decimal  # what its live reservations hold


def check_reserved() -> list[HeldMismatch]:
    """Every account whose ``reserved`` differs from the sum of its reservations (one
    statement: one snapshot, so calls in flight meanwhile cannot make a false alarm). An
    expired reservation still holds until the sweep releases it."""
    held = (
        sa.select(Reservation.account_id, sa.func.coalesce(sa.func.sum(Reservation.credits), 0))
        .where(Reservation.account_id.is_not(None))
        .group_by(Reservation.account_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(CreditAccount.id, CreditAccount.reserved, held.c[1])
        .outerjoin(held, held.c.account_id == CreditAccount.id)
        .order_by(CreditAccount.id)
    )
    found = []
    for account_id, reserved, summed in rows:
        stored, live = Decimal(reserved or 0), Decimal(summed or 0)
        if abs(stored - live) > TOLERANCE:
            found.append(HeldMismatch(account_id, stored, live))
    return found
