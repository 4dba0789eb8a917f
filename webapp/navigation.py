"""The navigation, by role. Entries whose endpoint does not exist yet are left out."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from flask_login import current_user

# (label, endpoint); org admins see the org entries, admins see everything.
ADMIN_NAV = [
    ("Overview", "main.home"),
    ("Providers", "providers.index"),
    ("Models", "catalog.index"),
    ("Keys", "credentials.index"),
    ("Defaults", "defaults.index"),
    ("Organizations", "orgs.index"),
    ("Features", "features.index"),
    ("Explainer", "explainer.index"),
    ("Users", "users.index"),
    ("Usage", "usage_admin.index"),
    ("Audit log", "audit.index"),
    ("Config", "config.index"),
    ("Playground", "playground.index"),
]
ORG_ADMIN_NAV = [("Organizations", "orgs.index"), ("Features", "features.index")]
MEMBER_NAV = [
    ("Home", "main.home"),
    ("Account", "account.index"),
    ("My usage", "usage.index"),
    ("Access tokens", "tokens.index"),
]


def nav_items() -> dict[str, list[dict[str, Any]]]:
    """Sections of links for the signed-in user, with the current one marked."""
    if not current_user.is_authenticated:
        return {}
    views = current_app.view_functions
    sections: dict[str, list[tuple[str, str]]] = {"me": MEMBER_NAV}
    if current_user.is_admin:
        sections["admin"] = ADMIN_NAV
    elif current_user.administered_org_ids():
        sections["admin"] = ORG_ADMIN_NAV
    return {
        name: [
            {"label": label, "endpoint": ep, "current": request.endpoint == ep}
            for label, ep in items
            if ep in views
        ]
        for name, items in sections.items()
    }


def init_navigation(app: Flask) -> None:
    app.context_processor(lambda: {"nav_items": nav_items})
