"""Effective settings of a user × org × feature, each value with the layer it came from, and
the key source that would serve the call (the explainer page; admins)."""

from __future__ import annotations

from typing import Any

from webapp.api.core import require_admin, route
from webapp.api.schemas import EffectiveOut, EffectiveQuery
from webapp.extensions import db
from webapp.models import Organization, User
from webapp.services.errors import NotFound
from webapp.services.settings import explainer

TAG = "Settings"


def _get(model: Any, record_id: int | None, what: str) -> Any:
    if record_id is None:
        return None
    found = db.session.get(model, record_id)
    if found is None:
        raise NotFound(f"That {what} does not exist.")
    return found


@route(
    "GET",
    "/settings/effective",
    summary="Effective settings with their sources",
    tag=TAG,
    query=EffectiveQuery,
    response=EffectiveOut,
)
def effective(query: EffectiveQuery) -> Any:
    require_admin()
    user = _get(User, query.user_id, "user")
    org = _get(Organization, query.org_id, "organization")
    found = explainer.explain(user, org, query.feature or None)
    settings = found.effective
    return {
        "problem": found.problem,
        "mode": found.mode,
        "model": settings.model.global_id if settings else None,
        "fallbacks": [m.global_id for m in settings.fallbacks] if settings else [],
        "values": dict(settings.values) if settings else {},
        "sources": dict(settings.sources) if settings else {},
        "locked": sorted(settings.locked) if settings else [],
        "system_prompt": settings.system_prompt if settings else None,
        "keys": found.keys,
    }
