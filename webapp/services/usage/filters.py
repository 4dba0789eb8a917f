"""What a usage view selects: a period of UTC days, dimension filters, and the viewer's scope
(everything, some organizations, or one user's own records)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from webapp.models import CallStatus, Mode, UsageRecord, User
from webapp.models.usage import usage_rollups
from webapp.services.days import check_days
from webapp.services.errors import ValidationError

PERIODS = {"today": "Today", "7d": "7 days", "30d": "30 days", "month": "This month"}
CUSTOM = "custom"
MAX_RANGE_DAYS = 400

# URL name → column name, the same in records and rollups.
DIMENSIONS = {
    "model": "model_id",
    "provider": "provider_id",
    "org": "org_id",
    "user": "user_id",
    "feature": "feature_id",
    "token": "access_token_id",
    "mode": "mode",
    "status": "status",
}
TEXT_VALUES = {"mode": tuple(Mode), "status": tuple(CallStatus)}


@dataclass(frozen=True)
class Scope:
    """Whose records a viewer may see: all (admin), some orgs (org admin), or one user."""

    org_ids: tuple[int, ...] | None = None
    user_id: int | None = None

    @property
    def everything(self) -> bool:
        return self.org_ids is None and self.user_id is None


def scope_for(user: User, *, own: bool = False) -> Scope:
    """The widest view ``user`` has: admins see all, org admins their orgs, others their own."""
    if own:
        return Scope(user_id=user.id)
    if user.is_admin:
        return Scope()
    orgs = tuple(sorted(user.administered_org_ids()))
    return Scope(org_ids=orgs) if orgs else Scope(user_id=user.id)


@dataclass(frozen=True)
class Filters:
    since: date
    until: date  # inclusive
    values: dict[str, Any] = field(default_factory=dict)  # URL name → id (0: none) or text

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(), UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time(), UTC)

    @property
    def single_day(self) -> bool:
        return self.since == self.until

    def with_value(self, name: str, value: Any) -> dict[str, Any]:
        return {**self.values, name: value}


def period_range(period: str, today: date | None = None) -> tuple[date, date]:
    today = today or datetime.now(UTC).date()
    if period == "today":
        return today, today
    if period == "7d":
        return today - timedelta(days=6), today
    if period == "month":
        return today.replace(day=1), today
    return today - timedelta(days=29), today


def make_filters(
    period: str = "30d",
    since: date | None = None,
    until: date | None = None,
    values: dict[str, Any] | None = None,
) -> Filters:
    """Filters from a period name or a custom range; bad input raises ValidationError."""
    if period == CUSTOM:
        if since is None or until is None:
            raise ValidationError({"since": "Choose both dates of a custom range."})
        check_days(since=since, until=until)
        if until < since:
            raise ValidationError({"until": "The end date is before the start date."})
        if (until - since).days >= MAX_RANGE_DAYS:
            raise ValidationError({"until": f"Choose at most {MAX_RANGE_DAYS} days."})
    elif period in PERIODS:
        since, until = period_range(period)
    else:
        raise ValidationError({"period": "Choose a period."})
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in (values or {}).items():
        if value in (None, ""):
            continue
        try:
            clean[name] = _value(name, value)
        except ValidationError as exc:  # every filter's message at once
            errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    return Filters(since, until, clean)


def _value(name: str, value: Any) -> Any:
    if name not in DIMENSIONS:
        raise ValidationError({name: "Unknown filter."})
    if name in TEXT_VALUES:
        if value not in TEXT_VALUES[name]:
            raise ValidationError({name: f"Choose one of {', '.join(TEXT_VALUES[name])}."})
        return str(value)
    return _id(name, value)


def _id(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({name: "Choose from the list."}) from None
    if not 0 <= number < 2**31:
        raise ValidationError({name: "Choose from the list."})
    return number


def record_conditions(
    filters: Filters, scope: Scope, *, indexed: bool = True
) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses on usage_records for the period, the filters and the scope.
    ``indexed=False`` writes them so that no index can serve them (``coalesce(c, c)``):
    for the unrolled records, which only the partial index should find — SQLite's planner
    otherwise walks the period's records by time."""
    r = UsageRecord

    def col(column: Any) -> Any:
        return column if indexed else sa.func.coalesce(column, column)

    conditions = [col(r.created_at) >= filters.start, col(r.created_at) < filters.end]
    for name, value in filters.values.items():
        column = col(getattr(r, DIMENSIONS[name]))
        conditions.append(column.is_(None) if value == 0 else column == value)
    conditions += _scope_conditions(scope, col(r.org_id), col(r.user_id))
    return conditions


def rollup_conditions(
    filters: Filters, scope: Scope, table: sa.Table = usage_rollups
) -> list[sa.ColumnElement[bool]]:
    """The same selection on a rollup table (where NULL dimensions are stored as 0 or '')."""
    c = table.c
    conditions = [c.day >= filters.since, c.day <= filters.until]
    for name, value in filters.values.items():
        conditions.append(c[DIMENSIONS[name]] == value)
    if not scope.everything:  # the lean rollup is read only for views of everything
        conditions += _scope_conditions(scope, c.org_id, c.user_id)
    return conditions


def _scope_conditions(scope: Scope, org: Any, user: Any) -> list[sa.ColumnElement[bool]]:
    conditions = []
    if scope.org_ids is not None:
        conditions.append(org.in_(scope.org_ids) if scope.org_ids else sa.false())
    if scope.user_id is not None:
        conditions.append(user == scope.user_id)
    return conditions
