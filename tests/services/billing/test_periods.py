"""Budget periods follow the billing time zone and reset by time."""

from __future__ import annotations

from datetime import UTC, datetime

from webapp.services.billing.periods import LIFETIME_START, next_reset, period_start


def test_daily_periods_start_at_local_midnight():
    now = datetime(2026, 3, 10, 2, 30, tzinfo=UTC)  # 03:30 in Berlin, 22:30 the day before in NY
    assert period_start("daily", "UTC", now) == datetime(2026, 3, 10, tzinfo=UTC)
    assert period_start("daily", "Europe/Berlin", now) == datetime(2026, 3, 9, 23, tzinfo=UTC)
    assert period_start("daily", "America/New_York", now) == datetime(2026, 3, 9, 4, tzinfo=UTC)


def test_monthly_periods_and_their_resets_cross_dst_correctly():
    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert period_start("monthly", "Europe/Berlin", now) == datetime(2026, 2, 28, 23, tzinfo=UTC)
    # April 1st, local midnight, is 22:00 UTC the day before (summer time began on March 29th).
    assert next_reset("monthly", "Europe/Berlin", now) == datetime(2026, 3, 31, 22, tzinfo=UTC)
    assert next_reset("daily", "UTC", now) == datetime(2026, 4, 1, tzinfo=UTC)
    assert next_reset("monthly", "UTC", datetime(2026, 12, 5, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )


def test_a_total_budget_has_one_period_and_never_resets():
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert period_start("total", "UTC", now) == LIFETIME_START
    assert next_reset("total", "UTC", now) is None


def test_an_unknown_zone_falls_back_to_utc():
    now = datetime(2026, 3, 10, 2, 30, tzinfo=UTC)
    assert period_start("daily", "Mars/Olympus", now) == datetime(2026, 3, 10, tzinfo=UTC)
