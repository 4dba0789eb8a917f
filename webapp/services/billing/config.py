"""Billing settings an admin changes in the UI: whether managed calls need credits, and the
time zone budget periods follow. Stored in ``app_settings``; read through the settings cache
(every process sees a change within a second)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AppSetting, User
from webapp.services.billing.periods import valid_zone
from webapp.services.changes import commit_change
from webapp.services.errors import PermissionDenied, ValidationError
from webapp.services.settings.cache import settings_cache

KEY = "billing"


@dataclass(frozen=True)
class BillingSettings:
    # Off: users and orgs without a credit account call freely (usage is still metered).
    # On: a managed call needs an account with enough credits.
    credits_required: bool = False
    timezone: str = "UTC"


def _load() -> BillingSettings:
    stored = db.session.scalar(sa.select(AppSetting.value).where(AppSetting.key == KEY)) or {}
    return BillingSettings(
        credits_required=bool(stored.get("credits_required", False)),
        timezone=str(stored.get("timezone") or "UTC"),
    )


def current() -> BillingSettings:
    return settings_cache().get(("billing_settings",), _load)


def update_billing(actor: User, *, credits_required: bool, timezone: str) -> BillingSettings:
    """Change the billing settings (admins only; audited)."""
    if not actor.is_admin:
        raise PermissionDenied("Only admins change billing settings.")
    timezone = (timezone or "").strip() or "UTC"
    if not valid_zone(timezone):
        raise ValidationError({"timezone": "Choose a time zone such as UTC or Europe/Berlin."})
    before = asdict(_load())
    after = BillingSettings(credits_required=bool(credits_required), timezone=timezone)
    row = db.session.get(AppSetting, KEY) or AppSetting(key=KEY)
    row.value, row.updated_by_id = asdict(after), actor.id
    db.session.add(row)
    commit_change(
        actor,
        action="update",
        target_type="billing",
        target_id=KEY,
        target_label="Billing settings",
        before=before,
        after=asdict(after),
    )
    return after


def as_dict(settings: BillingSettings) -> dict[str, Any]:
    return asdict(settings)
