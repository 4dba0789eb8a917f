"""Jinja filters for numbers and times."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import Flask


def price(value: Decimal | float | None) -> str:
    """``2.5`` → ``2.50``, ``0.006`` → ``0.006``: at least two decimals, no trailing noise."""
    if value is None:
        return "—"
    text = format(Decimal(value).normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def when(value: datetime | None) -> str:
    """A UTC timestamp as ``2026-11-22 14:03 UTC``."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def init_filters(app: Flask) -> None:
    app.add_template_filter(price, "price")
    app.add_template_filter(when, "when")
