"""Names for the ids a usage view shows (records keep ids; names are looked up)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AccessToken, CatalogModel, Feature, Organization, Provider, User

NONE_LABELS = {
    "model": "(no model)",
    "provider": "(no provider)",
    "org": "(no organization)",
    "user": "(no user)",
    "feature": "(no feature)",
    "token": "(no token: pages)",
    "mode": "(no mode)",
    "status": "(none)",
}


def _lookup(name: str, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    if name == "user":
        query = sa.select(User.id, User.email).where(User.id.in_(ids))
    elif name == "org":
        query = sa.select(Organization.id, Organization.name).where(Organization.id.in_(ids))
    elif name == "provider":
        query = sa.select(Provider.id, Provider.slug).where(Provider.id.in_(ids))
    elif name == "model":
        query = (
            sa.select(CatalogModel.id, Provider.slug + "/" + CatalogModel.model_id)
            .join(Provider, Provider.id == CatalogModel.provider_id)
            .where(CatalogModel.id.in_(ids))
        )
    elif name == "feature":
        query = sa.select(Feature.id, Feature.name).where(Feature.id.in_(ids))
    elif name == "token":
        query = sa.select(
            AccessToken.id, AccessToken.name + " (" + AccessToken.prefix + "…)"
        ).where(AccessToken.id.in_(ids))
    else:
        return {}
    return {key: label for key, label in db.session.execute(query)}


def resolve(name: str, keys: list[Any]) -> dict[Any, str]:
    """``{key: label}``; ids no longer in the database show as ``#id (deleted)``."""
    if name in ("mode", "status"):
        return {k: (k or NONE_LABELS[name]) for k in keys}
    ids = [k for k in keys if k]
    found = _lookup(name, ids)
    result: dict[Any, str] = {k: found.get(k, f"#{k} (deleted)") for k in ids}
    if 0 in keys or None in keys:
        result[0] = NONE_LABELS[name]
        result[None] = NONE_LABELS[name]
    return result


def options(name: str, scope_org_ids: tuple[int, ...] | None) -> list[tuple[str, str]]:
    """Choices for a filter select (low-cardinality dimensions), limited to the scope."""
    if name == "provider":
        rows = db.session.execute(sa.select(Provider.id, Provider.slug).order_by(Provider.slug))
    elif name == "model":
        rows = db.session.execute(
            sa.select(CatalogModel.id, Provider.slug + "/" + CatalogModel.model_id)
            .join(Provider, Provider.id == CatalogModel.provider_id)
            .order_by(Provider.slug, CatalogModel.model_id)
        )
    elif name == "org":
        query = sa.select(Organization.id, Organization.name).order_by(Organization.name)
        if scope_org_ids is not None:
            query = query.where(Organization.id.in_(scope_org_ids))
        rows = db.session.execute(query)
    elif name == "feature":
        query = sa.select(Feature.id, Feature.name).order_by(Feature.name)
        if scope_org_ids is not None:
            query = query.where(sa.or_(Feature.org_id.is_(None), Feature.org_id.in_(scope_org_ids)))
        rows = db.session.execute(query)
    else:
        return []
    return [(str(key), label) for key, label in rows]
