"""The admin overview's setup checklist and health at a glance: what stops calls or will soon
(no usable key for the default model, providers resting or failing their last test, keys
about to expire, encryption keys), budgets nearly spent, and today's usage by hour."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Budget, CatalogModel, Credential, Provider
from webapp.models.base import utcnow
from webapp.models.billing import BudgetPeriod, BudgetWindow
from webapp.models.credential import LastTestStatus
from webapp.services.billing import config
from webapp.services.billing.periods import period_start
from webapp.services.credentials import crypto
from webapp.services.credentials.resolution import resolve_key
from webapp.services.errors import NotConfigured
from webapp.services.system.health import key_problems

EXPIRY_DAYS = 14
BUDGET_WARN_PERCENT = 80


@dataclass(frozen=True)
class Item:
    """One line of the checklist: ``level`` is ``error`` (calls fail), ``warn`` or ``ok``."""

    level: str
    text: str
    endpoint: str | None = None  # where to fix it


@dataclass(frozen=True)
class Overview:
    items: list[Item] = field(default_factory=list)
    today: list[tuple[str, int, Decimal]] = field(default_factory=list)  # hour, calls, cost

    @property
    def problems(self) -> list[Item]:
        return [i for i in self.items if i.level != "ok"]


def _default_model(chat: CatalogModel | None) -> list[Item]:
    if chat is None:
        return [Item("error", "No default chat model is set.", "defaults.index")]
    name = f"{chat.provider.slug}/{chat.model_id}"
    try:
        resolve_key(None, None, chat.provider)
    except NotConfigured:
        return [
            Item(
                "error",
                f"The default chat model {name} has no usable key: managed calls to it fail.",
                "credentials.index",
            )
        ]
    return [Item("ok", f"The default chat model {name} has a usable key.")]


def _providers() -> list[Item]:
    from webapp.services.llm import cooldown

    items = []
    resting = cooldown.cooling_down()
    slugs = {}
    if resting:
        slugs = dict(db.session.execute(sa.select(Provider.id, Provider.slug)).tuples().all())
    for rest in resting:
        until = rest.cooldown_until
        items.append(
            Item(
                "warn",
                f"{slugs.get(rest.provider_id, rest.provider_id)}"
                f"{'/' + rest.model_key if rest.model_key else ''} is cooling down until "
                f"{until:%H:%M} UTC" + (f" ({rest.reason})" if rest.reason else "") + ".",
                "providers.index",
            )
        )
    failing = db.session.execute(
        sa.select(Provider.slug, Credential.label)
        .join(Provider, Provider.id == Credential.provider_id)
        .where(
            Provider.enabled.is_(True),
            Credential.scope == "global",
            Credential.last_test_status == LastTestStatus.INVALID,
        )
        .order_by(Provider.slug, Credential.label)
        .limit(20)
    ).all()
    for slug, label in failing:
        items.append(
            Item("warn", f"{slug}: the key {label!r} failed its last test.", "credentials.index")
        )
    return items


def _expiring() -> list[Item]:
    now = utcnow()
    rows = db.session.execute(
        sa.select(Provider.slug, Credential.label, Credential.scope, Credential.expires_at)
        .join(Provider, Provider.id == Credential.provider_id)
        .where(
            Credential.expires_at.is_not(None),
            Credential.expires_at < now + timedelta(days=EXPIRY_DAYS),
        )
        .order_by(Credential.expires_at)
        .limit(20)
    ).all()
    items = []
    for slug, label, scope, expires in rows:
        when = "expired" if expires and expires <= now else f"expires on {expires:%Y-%m-%d}"
        items.append(
            Item("warn", f"{slug}: the {scope} key {label!r} {when}.", "credentials.index")
        )
    return items


def _encryption() -> list[Item]:
    items = [Item("error", text, "config.index") for text in key_problems()]
    if crypto.keyring().generated:
        items.append(
            Item(
                "warn",
                "SWITCHBOARD_ENCRYPTION_KEYS is not set: stored keys use a generated key in the "
                "instance folder. Set the variable (and back the key up) before production.",
            )
        )
    return items


def _budgets() -> list[Item]:
    """Budgets whose current window is at 80 % or more, in one statement for every period."""
    tz, now = config.current().timezone, utcnow()
    used = BudgetWindow.spent + BudgetWindow.reserved
    current = [
        sa.and_(Budget.period == period, BudgetWindow.period_start == period_start(period, tz, now))
        for period in BudgetPeriod
    ]
    rows = db.session.execute(
        sa.select(Budget, used)
        .join(BudgetWindow, BudgetWindow.budget_id == Budget.id)
        .where(
            sa.or_(*current),
            Budget.amount > 0,
            used * 100 >= Budget.amount * BUDGET_WARN_PERCENT,
        )
        .order_by(Budget.id)
        .limit(20)
    ).all()
    items = []
    for budget, spent in rows:
        percent = int(Decimal(spent) * 100 / Decimal(budget.amount))
        owner = (
            f"user {budget.user_id}"
            if budget.user_id
            else f"organization {budget.org_id}"
            if budget.org_id
            else f"token {budget.access_token_id}"
        )
        items.append(
            Item(
                "error" if percent >= 100 and budget.hard else "warn",
                f"The {budget.period} {budget.unit} budget of {owner} is at {percent} %.",
            )
        )
    return items


def _today() -> list[tuple[str, int, Decimal]]:
    from webapp.services.usage import dashboard
    from webapp.services.usage.filters import Scope, make_filters

    points, _ = dashboard.series(make_filters("today"), Scope())
    return [(hour, t.requests, t.cost_usd) for hour, t in points]


def sparkline(values: list[int], width: int = 240, height: int = 40) -> str:
    """SVG polyline points for ``values`` scaled into width × height (drawn server-side:
    no script needed)."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - (v / top) * (height - 2) - 1:.1f}" for i, v in enumerate(values)
    )


def overview(chat_default: CatalogModel | None) -> Overview:
    """Every check, problems first, and today's calls per hour (``chat_default``: the
    default chat model, which the page has already read)."""
    items = _default_model(chat_default) + _providers() + _expiring() + _encryption() + _budgets()
    if len(items) == 1 and items[0].level == "ok":
        items.append(Item("ok", "No provider is resting, no key expires soon, budgets are fine."))
    order = {"error": 0, "warn": 1, "ok": 2}
    return Overview(sorted(items, key=lambda i: order[i.level]), _today())
