"""What the playground offers and how it turns a form into a call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CatalogModel, Organization, Provider, UsageRecord, User
from webapp.services import llm
from webapp.services.errors import NotFound, ValidationError
from webapp.services.settings import resolution as effective_settings


def model_choices() -> list[str]:
    """The models a playground call may name (users, orgs and features are searched instead:
    see services/search/pickers.py)."""
    rows = db.session.execute(
        sa.select(Provider.slug, CatalogModel.model_id)
        .join(Provider)
        .where(CatalogModel.enabled, Provider.enabled, CatalogModel.category != "embedding")
        .order_by(Provider.slug, CatalogModel.model_id)
    )
    return [f"{slug}/{model_id}" for slug, model_id in rows]


@dataclass
class PlaygroundCall:
    context: llm.CallContext
    messages: list[dict[str, str]]
    model: str | None
    overrides: dict[str, Any]


def build_call(data: dict[str, Any], actor: User | None = None) -> PlaygroundCall:
    """Turn validated form data into the call's context, messages and overrides.

    An admin may call as anyone, but not on someone else's personal (BYOK) key: that would
    spend their money without asking.
    """
    user = db.session.get(User, data["user_id"]) if data.get("user_id") else None
    if user is None:
        raise ValidationError({"user_id": "Choose a user."})
    if actor is not None and user.mode == "byok" and user.id != actor.id:
        raise ValidationError(
            {
                "user_id": f"{user.email} uses their own keys (BYOK): the "
                "playground will not spend them."
            }
        )
    org = db.session.get(Organization, data["org_id"]) if data.get("org_id") else None
    messages = [{"role": "system", "content": data["system"]}] if data.get("system") else []
    messages.append({"role": "user", "content": data["prompt"]})
    overrides = {k: data[k] for k in ("temperature", "max_tokens") if data.get(k) is not None}
    context = llm.CallContext(
        user=user, org=org, feature=data.get("feature") or None, caller="playground"
    )
    return PlaygroundCall(context, messages, data.get("model") or None, overrides)


def preview(data: dict[str, Any]) -> effective_settings.EffectiveSettings:
    """The settings the call would use (raises a ServiceError saying why it cannot run)."""
    call = build_call({**data, "prompt": data.get("prompt") or "-"})
    ctx = call.context
    overrides = {**call.overrides, **({"model": call.model} if call.model else {})}
    return effective_settings.resolve(
        user_id=ctx.user.id if ctx.user else None,
        org_id=ctx.org.id if ctx.org else None,
        feature=ctx.feature,
        overrides=overrides,
    )


def usage_record(request_id: str) -> UsageRecord:
    record = db.session.scalar(sa.select(UsageRecord).where(UsageRecord.request_id == request_id))
    if record is None:
        raise NotFound("No usage record has that request id.")
    return record
