"""Calendar days people type (filter ranges, expiry dates): within years 2000 to 9998.

A day is turned into moments by services — the start of the next day, the Monday of its week,
a time zone's midnight — and ``datetime`` raises OverflowError a day past 9999-12-31 or
before 0001-01-01. Bounding what is typed, with the range in the message, keeps every such
step inside the calendar; nothing Switchboard records is older than 2000.
"""

from __future__ import annotations

from datetime import date

from webapp.services.errors import ValidationError

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(9998, 12, 31)


def check_days(**days: date | None) -> None:
    """A ValidationError naming each field whose day is out of range (None is fine)."""
    message = f"Choose a date from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}."
    errors = {
        field: message
        for field, day in days.items()
        if day is not None and not FIRST_DAY <= day <= LAST_DAY
    }
    if errors:
        raise ValidationError(errors)
