"""The navigation, by role and grouped by purpose. Entries whose endpoint does not exist yet
are left out, so a group appears once its first page does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from flask_login import current_user

Group = tuple[str, list[tuple[str, str]]]  # (heading, [(label, endpoint), …])

ADMIN_NAV: list[Group] = [
    ("", [("Overview", "main.home")]),
    ("Catalog", [("Providers", "providers.index"), ("Models", "catalog.index")]),
    (
        "Access",
        [
            ("Keys", "credentials.index"),
            ("Users", "users.index"),
            ("Organizations", "orgs.index"),
            ("All tokens", "tokens.admin_index"),
            ("Billing", "billing.settings"),
        ],
    ),
    (
        "Behaviour",
        [
            ("Defaults", "defaults.index"),
            ("Features", "features.index"),
            ("Explainer", "explainer.index"),
        ],
    ),
    ("Activity", [("Usage", "usage.admin"), ("Audit log", "audit.index")]),
    ("Tools", [("Playground", "playground.index"), ("Config", "config.index")]),
]
ORG_ADMIN_NAV: list[Group] = [
    ("Organization", [("Organizations", "orgs.index"), ("Features", "features.index")]),
    ("Activity", [("Usage", "usage.admin")]),
]
MEMBER_NAV: list[Group] = [
    (
        "Me",
        [
            ("Home", "main.home"),
            ("Account", "account.index"),
            ("My usage", "usage.index"),
            ("Access tokens", "tokens.index"),
            ("Pricing", "usage.pricing_page"),
        ],
    ),
]


@dataclass(frozen=True)
class NavGroup:
    heading: str
    items: list[dict[str, Any]]


def _build(groups: list[Group], skip: set[str]) -> list[NavGroup]:
    views = current_app.view_functions
    built = []
    for heading, entries in groups:
        items = [
            {"label": label, "endpoint": ep, "current": request.endpoint == ep}
            for label, ep in entries
            if ep in views and ep not in skip
        ]
        if items:
            built.append(NavGroup(heading, items))
    return built


def nav_groups() -> list[NavGroup]:
    """The groups of links for the signed-in user, the current page marked."""
    if not current_user.is_authenticated:
        return []
    if current_user.is_admin:
        admin = ADMIN_NAV
    elif current_user.administered_org_ids():
        admin = ORG_ADMIN_NAV
    else:
        admin = []
    groups = _build(admin, set())
    taken = {item["endpoint"] for group in groups for item in group.items}
    return groups + _build(MEMBER_NAV, taken)


def init_navigation(app: Flask) -> None:
    app.context_processor(lambda: {"nav_groups": nav_groups})
