"""Hold a managed call's worst-case cost before it goes out; settle the actual cost after.

``reserve`` runs in one transaction of its own: one conditional UPDATE on the paying account
(``balance - reserved >= amount``) and one per hard budget window
(``spent + reserved + amount <= limit``), then the reservation row. If any of them matches no
row, nothing is held and the call is refused with ``budget_exceeded`` before it reaches the
provider. PostgreSQL's row locks (and SQLite's single writer) serialize concurrent holds, so
concurrent calls can never hold more than there is.

``settle`` runs inside the metering transaction, beside the usage record: it deletes the
reservation, charges the actual cost to the account (a ledger line, unique per request) and
to every budget window, and releases what was held. A reservation whose process died expires
and is released by ``sweep_expired``, which also records the call that never finished.

The guarantee that a balance never goes below zero and a hard budget never over its limit
is settlement's, not the estimate's: it charges the actual cost but never more than the call
held against them (``charges_for``), whatever the upstream reports. The usage record keeps
the full actual cost, flagged ``over_hold``, and an audit event says what was not charged.
The hold's estimate (``llm.calls``) only keeps that from happening to honest calls.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError

from webapp.models import (
    Budget,
    BudgetUnit,
    BudgetWindow,
    CreditAccount,
    CreditEntry,
    EntryKind,
    Reservation,
)
from webapp.models.base import utcnow
from webapp.services import side_writes
from webapp.services.billing.periods import next_reset, period_start
from webapp.services.billing.plan import BudgetRef, Plan
from webapp.services.errors import BudgetExceeded

log = logging.getLogger(__name__)

# SQLite keeps NUMERIC as floating point: compare with half of the last stored digit of
# slack, so a balance that pays for exactly N calls pays for N, not N - 1.
SLACK = Decimal("0.0000005")
ACCOUNTS = CreditAccount.__table__
WINDOWS = BudgetWindow.__table__
RESERVATIONS = Reservation.__table__
ENTRIES = CreditEntry.__table__
BUDGETS = Budget.__table__


@dataclass
class BudgetHold:
    budget: BudgetRef
    period_start: datetime
    amount: Decimal  # in the budget's unit; 0 for a soft budget (never held)


@dataclass
class Hold:
    """What a call holds while it is in flight (kept on the call until it is metered)."""

    request_id: str
    plan: Plan
    credits: Decimal = Decimal(0)
    budgets: list[BudgetHold] = field(default_factory=list)
    reserved: bool = False  # a reservation row exists

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "credits": str(self.credits),
            "reserved": self.reserved,
            "budgets": [
                {
                    "id": b.budget.id,
                    "period_start": b.period_start.isoformat(),
                    "amount": str(b.amount),
                }
                for b in self.budgets
            ],
        }


def hold_to_json(hold: Hold) -> dict[str, Any]:
    """A hold and its plan as plain data (the metering outbox spools it)."""
    plan = hold.plan
    return {
        **hold.to_json(),
        "plan": {
            "account_id": plan.account_id,
            "payer": plan.payer,
            "credits_required": plan.credits_required,
            "timezone": plan.timezone,
            "budgets": [
                {**vars(b), "amount": str(b.amount), "thresholds": list(b.thresholds)}
                for b in plan.budgets
            ],
        },
    }


def hold_from_json(data: dict[str, Any]) -> Hold:
    raw = data["plan"]
    budgets = {
        b["id"]: BudgetRef(
            **{**b, "amount": Decimal(b["amount"]), "thresholds": tuple(b["thresholds"])}
        )
        for b in raw["budgets"]
    }
    plan = Plan(
        account_id=raw["account_id"],
        payer=raw["payer"],
        credits_required=raw["credits_required"],
        budgets=tuple(budgets.values()),
        timezone=raw["timezone"],
    )
    hold = Hold(data["request_id"], plan, Decimal(data["credits"]), reserved=data["reserved"])
    hold.budgets = [
        BudgetHold(
            budgets[b["id"]], datetime.fromisoformat(b["period_start"]), Decimal(b["amount"])
        )
        for b in data["budgets"]
        if b["id"] in budgets
    ]
    return hold


@dataclass(frozen=True)
class Charges:
    """What settlement takes from the account and each budget of ``Hold.budgets``."""

    credits: Decimal
    budgets: tuple[Decimal, ...]
    over_hold: bool  # the actual cost was more than the hold: the rest was not charged


def _actual(budget: BudgetRef, usd: Decimal | None, credits: Decimal | None) -> Decimal:
    return (usd if budget.unit == BudgetUnit.USD else credits) or Decimal(0)


def charges_for(hold: Hold, *, usd: Decimal | None, credits: Decimal | None) -> Charges:
    """The actual cost, but never more than was held against the balance or a hard budget
    (a soft budget holds nothing and is charged in full: it only warns)."""
    over = False
    charged = credits or Decimal(0)
    if hold.plan.account_id is not None:
        held = hold.credits if hold.reserved else Decimal(0)
        if charged > held:
            charged, over = held, True
    amounts = []
    for budget_hold in hold.budgets:
        amount = _actual(budget_hold.budget, usd, credits)
        if budget_hold.budget.hard:
            held = budget_hold.amount if hold.reserved else Decimal(0)
            if amount > held:
                amount, over = held, True
        amounts.append(amount)
    return Charges(charged, tuple(amounts), over)


def _exceeded(plan: Plan, what: str, budget: BudgetRef | None, now: datetime) -> BudgetExceeded:
    if budget is None:
        return BudgetExceeded(
            f"Not enough credits: the {what} balance cannot cover this call. An admin can "
            "grant credits on the user or organization page.",
            limit=_credits_limit(what),
        )
    resets = next_reset(budget.period, plan.timezone, now)
    when = f"; it resets {resets:%Y-%m-%d %H:%M} UTC" if resets else " (a total budget)"
    unit = "USD" if budget.unit == BudgetUnit.USD else "credits"
    return BudgetExceeded(
        f"The {budget.owner}'s {budget.period} budget of {budget.amount.normalize():f} {unit} "
        f"would be exceeded by this call{when}.",
        limit={
            "kind": "budget",
            "scope": budget.owner,
            "budget_id": budget.id,
            "period": budget.period,
            "limit": f"{budget.amount.normalize():f}",
            "unit": budget.unit,
            "resets_at": resets.isoformat().replace("+00:00", "Z") if resets else None,
        },
    )


def _credits_limit(payer: str) -> dict[str, Any]:
    """What a balance that cannot pay looks like to a caller: no amount, no reset."""
    return {
        "kind": "credits",
        "scope": payer,
        "budget_id": None,
        "period": None,
        "limit": None,
        "unit": "credits",
        "resets_at": None,
    }


def _released(
    column: sa.Column[Any], amount: Decimal | sa.ColumnElement[Any]
) -> sa.ColumnElement[Any]:
    """``column - amount``, never below 0 (SQLite's floating point can leave -1e-21)."""
    left = column - amount
    return sa.case((left < SLACK, 0), else_=left)


SWEEP_EVERY_S = 2.0
_last_sweep = [float("-inf")]


def _sweep_due() -> bool:
    clock = time.monotonic()
    if clock - _last_sweep[0] < SWEEP_EVERY_S:
        return False
    _last_sweep[0] = clock
    return True


_NEW_WINDOW = {
    name: dialect.insert(WINDOWS)
    .from_select(
        ("budget_id", "period_start", "spent", "reserved", "warned_percent"),
        sa.select(
            BUDGETS.c.id,
            sa.bindparam("n_start", type_=WINDOWS.c.period_start.type),
            sa.literal(0, WINDOWS.c.spent.type),
            sa.literal(0, WINDOWS.c.reserved.type),
            sa.literal(0),
        ).where(BUDGETS.c.id == sa.bindparam("n_budget")),
    )
    .on_conflict_do_nothing()
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _ensure_window(connection: Connection, budget_id: int, start: datetime) -> bool:
    """Create the period's window unless it exists; False when the budget itself is gone
    (deleted while a call was in flight: there is nothing left to hold or charge)."""
    statement = _NEW_WINDOW[connection.dialect.name]
    connection.execute(statement, {"n_budget": budget_id, "n_start": start})
    found = connection.execute(sa.select(BUDGETS.c.id).where(BUDGETS.c.id == budget_id))
    return found.first() is not None


# The statements of every call are built once, with parameters: building a statement for
# each call costs more than SQLite takes to run it.
_HOLD_ACCOUNT = (
    sa.update(ACCOUNTS)
    .where(
        ACCOUNTS.c.id == sa.bindparam("a_id"),
        ACCOUNTS.c.balance - ACCOUNTS.c.reserved >= sa.bindparam("a_floor"),
    )
    .values(reserved=ACCOUNTS.c.reserved + sa.bindparam("a_amount"))
)


def _hold_account(connection: Connection, account_id: int, amount: Decimal) -> bool:
    if amount <= 0:
        return True
    params = {"a_id": account_id, "a_floor": amount - SLACK, "a_amount": amount}
    return connection.execute(_HOLD_ACCOUNT, params).rowcount == 1


_HOLD_WINDOW = (
    sa.update(WINDOWS)
    .where(
        WINDOWS.c.budget_id == sa.bindparam("b_budget"),
        WINDOWS.c.period_start == sa.bindparam("b_start"),
        WINDOWS.c.spent + WINDOWS.c.reserved + sa.bindparam("b_amount") <= sa.bindparam("b_limit"),
    )
    .values(reserved=WINDOWS.c.reserved + sa.bindparam("b_amount"))
)


def _hold_window(connection: Connection, hold: BudgetHold) -> bool:
    """Hold in the period's window; a window that does not exist yet (the period's first
    call) is created and tried again."""
    if hold.amount <= 0:
        return True
    params = {
        "b_budget": hold.budget.id,
        "b_start": hold.period_start,
        "b_amount": hold.amount,
        "b_limit": hold.budget.amount + SLACK,
    }
    if connection.execute(_HOLD_WINDOW, params).rowcount == 1:
        return True
    if not _ensure_window(connection, hold.budget.id, hold.period_start):
        hold.amount = Decimal(0)  # deleted meanwhile: it limits nothing any more
        return True
    return connection.execute(_HOLD_WINDOW, params).rowcount == 1


def _reservation_row(
    hold: Hold, expires_at: datetime, call: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "request_id": hold.request_id,
        "created_at": now,
        "expires_at": expires_at,
        "account_id": hold.plan.account_id,
        "credits": hold.credits,
        "holds": {"budgets": hold.to_json()["budgets"], "call": call},
    }


# The one-statement hold did not hold everything: it failed whole (see _reserve_statement)
# and the hold is tried again step by step, to tell which limit refused it.
_DIVISION_BY_ZERO = "22012"


@functools.lru_cache(maxsize=32)
def _reserve_statement(account: bool, windows: int) -> sa.Select[Any]:
    """PostgreSQL: every conditional hold and the reservation row in one statement (data-
    modifying CTEs); the reservation is written only if every hold matched its row."""
    held: list[Any] = []
    if account:
        held.append(
            sa.update(ACCOUNTS)
            .where(
                ACCOUNTS.c.id == sa.bindparam("r_account"),
                ACCOUNTS.c.balance - ACCOUNTS.c.reserved >= sa.bindparam("r_floor"),
            )
            .values(
                reserved=ACCOUNTS.c.reserved + sa.bindparam("r_credits"),
                # Set here: SQLAlchemy fills ``onupdate`` only for a top-level UPDATE.
                updated_at=sa.bindparam("r_created_at", type_=ACCOUNTS.c.updated_at.type),
            )
            .returning(ACCOUNTS.c.id)
            .cte("held_account")
        )
    for i in range(windows):
        amount: sa.BindParameter[Any] = sa.bindparam(f"w{i}_amount")
        held.append(
            sa.update(WINDOWS)
            .where(
                WINDOWS.c.budget_id == sa.bindparam(f"w{i}_budget"),
                WINDOWS.c.period_start == sa.bindparam(f"w{i}_start"),
                WINDOWS.c.spent + WINDOWS.c.reserved + amount <= sa.bindparam(f"w{i}_limit"),
            )
            .values(reserved=WINDOWS.c.reserved + amount)
            .returning(WINDOWS.c.budget_id)
            .cte(f"held_window_{i}")
        )
    counts = [sa.select(sa.func.count()).select_from(c).scalar_subquery() for c in held]
    columns = ("request_id", "created_at", "expires_at", "account_id", "credits", "holds")
    values = sa.select(
        *[sa.bindparam(f"r_{c}", type_=RESERVATIONS.c[c].type) for c in columns]
    ).where(sa.and_(sa.true(), *[n == 1 for n in counts]))
    row = (
        sa.insert(RESERVATIONS)
        .from_select(columns, values)
        .returning(RESERVATIONS.c.id)
        .cte("reservation")
    )
    # A hold is not worth a disk flush of its own: this transaction commits without waiting
    # for one (``synchronous_commit`` off for it alone). Only a crash of the database server
    # itself can lose a hold acknowledged in the last few hundred milliseconds, and the
    # settlement then charges the call in full, releasing nothing; the usage record and the
    # charge still commit durably. Concurrent holds see each other exactly as before.
    no_flush = sa.func.set_config("synchronous_commit", "off", sa.true())
    # It runs on its own (autocommit: no BEGIN and COMMIT round trips), so a hold that did
    # not match every row must undo the ones that did: dividing by the number of rows
    # reserved (0) fails the statement, which takes all its changes back with it.
    written = sa.select(sa.func.count()).select_from(row).scalar_subquery()
    return sa.select(sa.literal(1) / written, no_flush)


def _reserve_at_once(hold: Hold, expires_at: datetime, call: dict[str, Any], now: datetime) -> bool:
    """PostgreSQL's one round trip for the whole hold; False when it could not hold (nothing
    is left held: the transaction is rolled back) or the database is not PostgreSQL."""
    from webapp.extensions import db

    if db.engine.dialect.name != "postgresql":
        return False
    plan = hold.plan
    windows = [b for b in hold.budgets if b.amount > 0]
    account = plan.account_id is not None and hold.credits > 0
    params: dict[str, Any] = {
        f"r_{k}": v for k, v in _reservation_row(hold, expires_at, call, now).items()
    }
    if account:
        params.update(
            r_account=plan.account_id, r_floor=hold.credits - SLACK, r_credits=hold.credits
        )
    for i, window in enumerate(windows):
        params.update(
            {
                f"w{i}_budget": window.budget.id,
                f"w{i}_start": window.period_start,
                f"w{i}_amount": window.amount,
                f"w{i}_limit": window.budget.amount + SLACK,
            }
        )
    try:
        with side_writes.own_transaction(single_statements=True) as connection:
            side_writes.execute_on_driver(
                connection, _reserve_statement(account, len(windows)), params
            )
    except DataError as exc:
        if getattr(exc.orig, "sqlstate", None) != _DIVISION_BY_ZERO:
            raise
        return False
    return True


def _try_reserve(hold: Hold, expires_at: datetime, call: dict[str, Any], now: datetime) -> None:
    if _reserve_at_once(hold, expires_at, call, now):
        return
    plan = hold.plan
    with side_writes.own_transaction() as connection:
        if plan.account_id is not None and not _hold_account(
            connection, plan.account_id, hold.credits
        ):
            raise _exceeded(plan, plan.payer, None, now)
        for budget_hold in hold.budgets:
            if not _hold_window(connection, budget_hold):
                raise _exceeded(plan, budget_hold.budget.owner, budget_hold.budget, now)
        connection.execute(RESERVATIONS.insert(), _reservation_row(hold, expires_at, call, now))


def reserve(
    plan: Plan,
    request_id: str,
    *,
    usd: Decimal,
    credits: Decimal,
    expires_at: datetime,
    call: dict[str, Any],
) -> Hold:
    """Hold ``usd`` / ``credits`` (the call's worst case) or raise BudgetExceeded."""
    now = utcnow()
    if plan.credits_required and plan.account_id is None:
        raise BudgetExceeded(
            "Managed calls need credits, and there is no credit balance to pay for this one. "
            "An admin can grant credits on the user or organization page.",
            limit=_credits_limit(plan.payer),
        )
    hold = Hold(request_id, plan, credits=credits if plan.account_id is not None else Decimal(0))
    for budget in plan.budgets:
        start = period_start(budget.period, plan.timezone, now)
        amount = (usd if budget.unit == BudgetUnit.USD else credits) if budget.hard else Decimal(0)
        hold.budgets.append(BudgetHold(budget, start, amount))
    if not plan.holds_money:
        return hold  # soft budgets only: charged at settlement, never held
    try:
        _try_reserve(hold, expires_at, call, now)
    except BudgetExceeded:
        # Calls of a process that died may still hold money: release them and look again
        # (at most every few seconds per process, so a flood of refusals stays cheap).
        if not _sweep_due() or not sweep_expired(now):
            raise
        _try_reserve(hold, expires_at, call, now)
    hold.reserved = True
    return hold


_CHARGE_ACCOUNT = (
    sa.update(ACCOUNTS)
    .where(ACCOUNTS.c.id == sa.bindparam("c_id"))
    .values(
        balance=ACCOUNTS.c.balance - sa.bindparam("c_credits"),
        reserved=_released(ACCOUNTS.c.reserved, sa.bindparam("c_released")),
        updated_at=sa.bindparam("c_now"),
    )
    .returning(ACCOUNTS.c.balance)
)
_CHARGE_WINDOW = (
    sa.update(WINDOWS)
    .where(
        WINDOWS.c.budget_id == sa.bindparam("w_budget"),
        WINDOWS.c.period_start == sa.bindparam("w_start"),
    )
    .values(
        spent=WINDOWS.c.spent + sa.bindparam("w_amount"),
        reserved=_released(WINDOWS.c.reserved, sa.bindparam("w_released")),
    )
    .returning(WINDOWS.c.spent)
)
_DELETE_RESERVATION = RESERVATIONS.delete().where(
    RESERVATIONS.c.request_id == sa.bindparam("d_request_id")
)


def _charge_account(
    connection: Connection,
    plan: Plan,
    hold: Hold | None,
    credits: Decimal,
    usage_id: int,
    now: datetime,
) -> None:
    released = hold.credits if hold is not None and hold.reserved else Decimal(0)
    if credits == 0 and released == 0:
        return
    balance = connection.execute(
        _CHARGE_ACCOUNT,
        {"c_id": plan.account_id, "c_credits": credits, "c_released": released, "c_now": now},
    ).scalar_one_or_none()
    if credits and balance is not None:
        connection.execute(
            ENTRIES.insert(),
            {
                "account_id": plan.account_id,
                "created_at": now,
                "kind": EntryKind.CHARGE,
                "amount": -credits,
                "balance_after": balance,
                "usage_record_id": usage_id,
                "request_id": hold.request_id if hold is not None else None,
                "actor_id": None,
                "note": None,
            },
        )


def _charge_budget(
    connection: Connection, budget_hold: BudgetHold, released: Decimal, amount: Decimal
) -> Decimal | None:
    """Add the actual spend to the budget's window; its spend afterwards (None: no change)."""
    if amount == 0 and released == 0:
        return None
    budget = budget_hold.budget
    params = {
        "w_budget": budget.id,
        "w_start": budget_hold.period_start,
        "w_amount": amount,
        "w_released": released,
    }
    spent = connection.execute(_CHARGE_WINDOW, params).scalar_one_or_none()
    if spent is None and released == 0:  # a window that held nothing may not exist yet
        if not _ensure_window(connection, budget.id, budget_hold.period_start):
            return None  # the budget was deleted while the call ran: nothing to charge
        spent = connection.execute(_CHARGE_WINDOW, params).scalar_one_or_none()
    return spent


def settle(
    connection: Connection,
    hold: Hold,
    charges: Charges,
    *,
    usage_id: int,
    warn: Any,
) -> None:
    """Charge ``charges`` (``charges_for``) and release the hold, in the metering
    transaction. A hold a sweep already released (the call's entry waited in the outbox past
    its reservation) holds nothing any more: the call is still charged, but only what the
    balance and each hard budget can still take, so neither goes below zero or over its limit.

    ``warn(budget, spent, percent)`` is called for a soft threshold crossed for the first
    time in a period (the caller audits it).
    """
    now = utcnow()
    still_held = True
    if hold.reserved:
        deleted = connection.execute(_DELETE_RESERVATION, {"d_request_id": hold.request_id})
        still_held = deleted.rowcount == 1  # else it expired and was released by a sweep
    if not still_held:
        hold.credits = Decimal(0)
        for budget_hold in hold.budgets:
            budget_hold.amount = Decimal(0)
    plan = hold.plan
    if plan.account_id is not None:
        credits = charges.credits
        if not still_held:
            credits = min(credits, _room_in_account(connection, plan.account_id))
        _charge_account(connection, plan, hold, credits, usage_id, now)
    for budget_hold, spend in zip(hold.budgets, charges.budgets, strict=True):
        budget = budget_hold.budget
        if budget.hard and not still_held:
            spend = min(spend, _room_in_window(connection, budget_hold))
        spent = _charge_budget(connection, budget_hold, budget_hold.amount, spend)
        if spent is not None and not budget.hard:
            _maybe_warn(connection, budget_hold, Decimal(spent), warn)


def _room_in_account(connection: Connection, account_id: int) -> Decimal:
    """What the account can still pay (balance less what others hold), its row locked
    (PostgreSQL; SQLite's metering transaction holds the write lock already)."""
    query = (
        sa.select(ACCOUNTS.c.balance - ACCOUNTS.c.reserved)
        .where(ACCOUNTS.c.id == account_id)
        .with_for_update()
    )
    room = connection.execute(query).scalar_one_or_none()
    return max(Decimal(0), Decimal(room or 0))


def _room_in_window(connection: Connection, budget_hold: BudgetHold) -> Decimal:
    """What a hard budget's window can still take (its limit less spent and held), locked."""
    query = (
        sa.select(WINDOWS.c.spent + WINDOWS.c.reserved)
        .where(
            WINDOWS.c.budget_id == budget_hold.budget.id,
            WINDOWS.c.period_start == budget_hold.period_start,
        )
        .with_for_update()
    )
    used = connection.execute(query).scalar_one_or_none()
    return max(Decimal(0), budget_hold.budget.amount - Decimal(used or 0))


def _released_if(held: Any, column: sa.Column[Any], amount: Any) -> sa.ColumnElement[Any]:
    """``column`` less ``amount`` (never below 0) when ``held``, else unchanged."""
    return sa.case((held, _released(column, amount)), else_=column)


def _typed(column_type: Any) -> Any:
    """The bind type of a usage column in the one-statement settlement: none for plain text
    and integers (the INSERT's column gives PostgreSQL the type; no cast to render), the
    column's own where SQLAlchemy processes the value (JSON, timestamps, numerics, booleans).
    Short SQL keeps the statement under psycopg's 4096-byte cache limit."""
    return None if type(column_type) in (sa.String, sa.Integer, sa.BigInteger) else column_type


@functools.lru_cache(maxsize=256)
def _settle_statement(
    usage_columns: tuple[str, ...],
    reserved: bool,
    account: bool,
    entry: bool,
    hard_windows: tuple[bool, ...],
) -> sa.Select[Any]:
    """PostgreSQL: the usage record and the whole settlement as one statement (data-modifying
    CTEs, named with one letter to keep the SQL short, run once each, on one snapshot,
    atomically): the reservation's deletion decides
    whether the hold is released (a sweep may have released it already: then the balance
    and hard budgets, which no longer hold anything for the call, are charged nothing), the
    account pays and its ledger line records the balance after, every budget window is
    charged (created when the period has none yet, unless the budget was deleted
    meanwhile)."""
    from webapp.models import Budget, UsageRecord

    usage = UsageRecord.__table__
    record = (
        sa.insert(usage)
        .values({c: sa.bindparam(f"u_{c}", type_=_typed(usage.c[c].type)) for c in usage_columns})
        .returning(usage.c.id)
        .cte("u")
    )
    held: Any = sa.false()
    gone = None
    if reserved:
        gone = (
            sa.delete(RESERVATIONS)
            .where(RESERVATIONS.c.request_id == sa.bindparam("s_request_id"))
            .returning(RESERVATIONS.c.id)
            .cte("r")
        )
        held = sa.exists(sa.select(gone.c.id))
    now = sa.bindparam("s_now", type_=ACCOUNTS.c.updated_at.type)
    columns: list[Any] = [record.c.id, sa.select(held).scalar_subquery() if reserved else held]
    if account:
        paid = (
            sa.update(ACCOUNTS)
            .where(ACCOUNTS.c.id == sa.bindparam("s_account"))
            .values(
                balance=ACCOUNTS.c.balance
                - sa.case(
                    (held, sa.bindparam("s_credits", type_=ACCOUNTS.c.balance.type)), else_=0
                ),
                reserved=_released_if(held, ACCOUNTS.c.reserved, sa.bindparam("s_held")),
                updated_at=now,
            )
            .returning(ACCOUNTS.c.id, ACCOUNTS.c.balance)
            .cte("p")
        )
        columns.append(sa.select(paid.c.id).scalar_subquery())
        if entry:
            line = (
                sa.insert(ENTRIES)
                .from_select(
                    (
                        "account_id",
                        "created_at",
                        "kind",
                        "amount",
                        "balance_after",
                        "usage_record_id",
                        "request_id",
                    ),
                    sa.select(
                        paid.c.id,
                        now,
                        sa.literal(EntryKind.CHARGE, ENTRIES.c.kind.type),
                        -sa.bindparam("s_credits", type_=ENTRIES.c.amount.type),
                        paid.c.balance,
                        record.c.id,
                        sa.bindparam("s_request_id", type_=ENTRIES.c.request_id.type),
                    )
                    .select_from(paid.join(record, sa.true()))
                    .where(held),
                )
                .returning(ENTRIES.c.id)
                .cte("l")
            )
            columns.append(sa.select(sa.func.count()).select_from(line).scalar_subquery())
    budgets = Budget.__table__
    for i, hard in enumerate(hard_windows):
        budget: sa.BindParameter[Any] = sa.bindparam(f"w{i}_budget")
        start: sa.BindParameter[Any] = sa.bindparam(f"w{i}_start")
        spend: Any = sa.bindparam(f"w{i}_spend", type_=WINDOWS.c.spent.type)
        if hard:
            spend = sa.case((held, spend), else_=sa.literal(0, WINDOWS.c.spent.type))
        insert = postgresql.insert(WINDOWS).from_select(
            ("budget_id", "period_start", "spent", "reserved", "warned_percent"),
            sa.select(
                sa.cast(budget, WINDOWS.c.budget_id.type),
                sa.cast(start, WINDOWS.c.period_start.type),
                spend,
                sa.literal(0, WINDOWS.c.reserved.type),
                sa.literal(0),
            ).where(sa.exists(sa.select(budgets.c.id).where(budgets.c.id == budget))),
        )
        charged = (
            insert.on_conflict_do_update(
                index_elements=[WINDOWS.c.budget_id, WINDOWS.c.period_start],
                set_={
                    "spent": WINDOWS.c.spent + insert.excluded.spent,  # the spend above
                    "reserved": _released_if(held, WINDOWS.c.reserved, sa.bindparam(f"w{i}_held")),
                },
            )
            .returning(WINDOWS.c.spent)
            .cte(f"w{i}")
        )
        columns.append(sa.select(charged.c.spent).scalar_subquery())
    return sa.select(*columns).select_from(record)


def settle_with_usage(
    connection: Connection,
    hold: Hold,
    charges: Charges,
    usage_row: dict[str, Any],
    *,
    warn: Any,
) -> int:
    """What ``settle`` does, with the usage record's insert, in one round trip (PostgreSQL
    only); the usage record's id."""
    now = utcnow()
    plan = hold.plan
    credits = charges.credits
    held_credits = hold.credits if hold.reserved else Decimal(0)
    account = plan.account_id is not None and (credits != 0 or held_credits != 0)
    entry = account and credits != 0
    # Columns left NULL are left out (none has a database default): fewer parameters keep
    # the statement under psycopg's cache limit (50), which spares parsing it every call.
    usage_row = {k: v for k, v in usage_row.items() if v is not None}
    params: dict[str, Any] = {f"u_{k}": v for k, v in usage_row.items()}
    params.update(
        s_request_id=hold.request_id,
        s_now=now,
        s_account=plan.account_id,
        s_credits=credits,
        s_held=held_credits,
    )
    charged: list[BudgetHold] = []
    for budget_hold, spend in zip(hold.budgets, charges.budgets, strict=True):
        budget = budget_hold.budget
        held_amount = budget_hold.amount if hold.reserved else Decimal(0)
        if spend == 0 and held_amount == 0:
            continue
        i = len(charged)
        params.update(
            {
                f"w{i}_budget": budget.id,
                f"w{i}_start": budget_hold.period_start,
                f"w{i}_spend": spend,
                f"w{i}_held": held_amount,
            }
        )
        charged.append(budget_hold)
    hard = tuple(b.budget.hard for b in charged)
    statement = _settle_statement(tuple(usage_row), hold.reserved, account, entry, hard)
    row = side_writes.execute_on_driver(connection, statement, params)
    assert row is not None  # the statement selects one row from the inserted record
    spent = row[len(row) - len(charged) :] if charged else ()
    for budget_hold, window_spent in zip(charged, spent, strict=True):
        if window_spent is not None and not budget_hold.budget.hard:
            _maybe_warn(connection, budget_hold, Decimal(window_spent), warn)
    return int(row[0])


def _maybe_warn(connection: Connection, budget_hold: BudgetHold, spent: Decimal, warn: Any) -> None:
    budget = budget_hold.budget
    percent = int(spent * 100 / budget.amount) if budget.amount else 0
    crossed = [t for t in budget.thresholds if t <= percent]
    if not crossed:
        return
    newly = connection.execute(
        sa.update(WINDOWS)
        .where(
            WINDOWS.c.budget_id == budget.id,
            WINDOWS.c.period_start == budget_hold.period_start,
            WINDOWS.c.warned_percent < crossed[-1],
        )
        .values(warned_percent=crossed[-1])
    )
    if newly.rowcount == 1:
        warn(connection, budget, spent, crossed[-1])


def claim(connection: Connection, request_id: str) -> None:
    """Before a call's metering is written again (a replay): lock its reservation, if it
    still has one (PostgreSQL; SQLite has one writer). A sweep then either finished with it
    first — its ``interrupted`` record is visible now, for the real one to replace — or
    skips it; the two never write a record for the same call at once, which deadlocks."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.select(RESERVATIONS.c.id)
            .where(RESERVATIONS.c.request_id == request_id)
            .with_for_update()
        )


def sweep_expired(now: datetime | None = None) -> int:
    """Release the reservations of calls whose process died; record each such call once."""
    from webapp.services.billing.interrupted import record_interrupted

    now = now or utcnow()
    released = 0
    with side_writes.own_transaction() as connection:
        query = sa.select(RESERVATIONS).where(RESERVATIONS.c.expires_at <= now).limit(500)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        for row in connection.execute(query).mappings().all():
            if not _release(connection, row):
                continue
            record_interrupted(connection, row, now)
            released += 1
    if released:
        log.warning("released %s reservation(s) of calls that never finished", released)
    return released


def _release(connection: Connection, row: Any) -> bool:
    gone = connection.execute(sa.delete(RESERVATIONS).where(RESERVATIONS.c.id == row["id"]))
    if gone.rowcount != 1:
        return False
    if row["account_id"] is not None and row["credits"]:
        connection.execute(
            sa.update(ACCOUNTS)
            .where(ACCOUNTS.c.id == row["account_id"])
            .values(reserved=_released(ACCOUNTS.c.reserved, row["credits"]))
        )
    for held in (row["holds"] or {}).get("budgets", []):
        amount = Decimal(held["amount"])
        if amount:
            connection.execute(
                sa.update(WINDOWS)
                .where(
                    WINDOWS.c.budget_id == held["id"],
                    WINDOWS.c.period_start == datetime.fromisoformat(held["period_start"]),
                )
                .values(reserved=_released(WINDOWS.c.reserved, amount))
            )
    return True


def expiry(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
