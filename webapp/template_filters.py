"""Jinja filters, globals and the small context every page needs."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask, current_app
from markupsafe import Markup, escape

from webapp.hints import hint_parts
from webapp.models.base import utcnow
from webapp.services.settings.fields import FIELDS


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


def wbr(value: str | None) -> Markup:
    """Escape a URL (or any value that may hold one: masked keys, audit values) and let it
    wrap after its slashes, dots and separators instead of inside a word."""
    text = str(escape(value or ""))
    for mark in ("/", ".", "?", "&amp;", "=", ","):
        text = text.replace(mark, mark + "<wbr>")
    return Markup(text.replace("/<wbr>/<wbr>", "//<wbr>"))


def link_hints(value: Any) -> Markup:
    """Escape a message; where it sends an admin to the allowed private hosts ("... allow this
    host on the Keys page"), make that a link to the setting itself (see ``webapp.hints``)."""
    html = []
    for text, url in hint_parts(str(value if value is not None else "")):
        html.append(f'<a href="{escape(url)}">{escape(text)}</a>' if url else str(escape(text)))
    return Markup("".join(html))


def _banner() -> dict[str, Any]:
    """Admins see a warning while the encryption key is a generated development key, and
    when the configured keys cannot decrypt stored secrets (called only for admins)."""
    from webapp.services.system.health import key_problems

    ring = current_app.extensions.get("switchboard.keyring")
    return {
        "encryption_key_generated": bool(ring and ring.generated),
        "encryption_key_problems": key_problems,
    }


def init_filters(app: Flask) -> None:
    app.add_template_filter(price, "price")
    app.add_template_filter(when, "when")
    app.add_template_filter(wbr, "wbr")
    app.add_template_filter(link_hints, "link_hints")
    app.add_template_global(timedelta, "timedelta")
    app.add_template_global(utcnow, "now")
    app.jinja_env.globals["setting_fields"] = FIELDS
    app.context_processor(_banner)
