"""Budget periods: calendar days and months in the billing time zone, or the whole lifetime.

A period is identified by the UTC instant it starts; a new period is a new row, so budgets
reset by time and never by a job that could fail or run twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from webapp.models import BudgetPeriod

LIFETIME_START = datetime(2000, 1, 1, tzinfo=UTC)  # the one window of a ``total`` budget


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` (UTC when empty or unknown)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _local_start(period: str, local: datetime) -> datetime:
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.replace(day=1) if period == BudgetPeriod.MONTHLY else midnight


def period_start(period: str, tz_name: str | None, now: datetime) -> datetime:
    """The UTC instant the period containing ``now`` started."""
    if period == BudgetPeriod.TOTAL:
        return LIFETIME_START
    local = now.astimezone(zone(tz_name))
    return _local_start(period, local).astimezone(UTC)


def next_reset(period: str, tz_name: str | None, now: datetime) -> datetime | None:
    """When the period containing ``now`` ends (None: a total budget never resets)."""
    if period == BudgetPeriod.TOTAL:
        return None
    tz = zone(tz_name)
    start = _local_start(period, now.astimezone(tz))
    if period == BudgetPeriod.MONTHLY:
        following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        following = (start + timedelta(days=1)).replace(hour=0)
    # Rebuild in the zone so a DST change inside the period lands on local midnight.
    following = datetime(following.year, following.month, following.day, tzinfo=tz)
    return following.astimezone(UTC)
