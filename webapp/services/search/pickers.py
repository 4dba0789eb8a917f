"""The searchable pickers' queries: a few matches per keystroke, and one record's label.

Every query is bounded (``LIMIT``), so a picker costs the same with ten users or a million.
Users are for site admins only; organizations and features are those the actor manages
(features: the global ones too, which every org admin may name).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from webapp.extensions import db
from webapp.forms import bounded_id
from webapp.models import Feature, Organization, User

KINDS = ("users", "orgs", "features")
LIMIT = 10
MAX_QUERY = 100


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    detail: str = ""


def _pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _org_scope(actor: User) -> list[int] | None:
    """None: every org (admins); else the ids of the orgs the actor administers."""
    return None if actor.is_admin else (actor.administered_org_ids() or [-1])


def search(actor: User, kind: str, text: str, limit: int = LIMIT) -> list[Choice]:
    """At most ``limit`` records of ``kind`` whose name contains ``text`` (any case)."""
    text = (text or "").strip()[:MAX_QUERY]
    if kind == "users":
        return _users(actor, text, limit)
    if kind == "orgs":
        return _orgs(actor, text, limit)
    if kind == "features":
        return _features(actor, text, limit)
    raise ValueError(f"unknown picker {kind!r}")


def _users(actor: User, text: str, limit: int) -> list[Choice]:
    if not actor.is_admin:
        return []
    query = sa.select(User).where(User.active).order_by(User.email).limit(limit)
    if text:
        like = _pattern(text)
        query = query.where(
            sa.or_(User.email.ilike(like, escape="\\"), User.display_name.ilike(like, escape="\\"))
        )
    return [Choice(str(u.id), u.email, f"{u.role}, {u.mode}") for u in db.session.scalars(query)]


def _orgs(actor: User, text: str, limit: int) -> list[Choice]:
    query = (
        sa.select(Organization)
        .where(Organization.archived_at.is_(None))
        .order_by(Organization.name)
        .limit(limit)
    )
    if (scope := _org_scope(actor)) is not None:
        query = query.where(Organization.id.in_(scope))
    if text:
        like = _pattern(text)
        query = query.where(
            sa.or_(
                Organization.name.ilike(like, escape="\\"),
                Organization.slug.ilike(like, escape="\\"),
            )
        )
    return [Choice(str(o.id), o.name, o.slug) for o in db.session.scalars(query)]


def _feature_scope(actor: User) -> sa.ColumnElement[bool]:
    scope = _org_scope(actor)
    if scope is None:
        return sa.true()
    return sa.or_(Feature.org_id.is_(None), Feature.org_id.in_(scope))


def _features(actor: User, text: str, limit: int) -> list[Choice]:
    """Features by slug: calls name a feature by its slug, which an org may reuse."""
    query = (
        sa.select(Feature.slug, sa.func.count())
        .where(_feature_scope(actor))
        .group_by(Feature.slug)
        .order_by(Feature.slug)
        .limit(limit)
    )
    if text:
        like = _pattern(text)
        query = query.where(
            sa.or_(Feature.slug.ilike(like, escape="\\"), Feature.name.ilike(like, escape="\\"))
        )
    return [
        Choice(slug, slug, f"{count} definitions" if count > 1 else "")
        for slug, count in db.session.execute(query)
    ]


def label_for(actor: User, kind: str, value: object) -> str | None:
    """The label of the record ``value`` names, or None when the actor cannot pick it."""
    if kind == "features":
        slug = str(value or "")
        found = db.session.scalar(
            sa.select(Feature.slug).where(Feature.slug == slug, _feature_scope(actor)).limit(1)
        )
        return found
    ident = bounded_id(value)
    if ident is None:
        return None
    if kind == "users":
        if not actor.is_admin:
            return None
        return db.session.scalar(sa.select(User.email).where(User.id == ident, User.active))
    if kind == "orgs":
        query = sa.select(Organization.name).where(
            Organization.id == ident, Organization.archived_at.is_(None)
        )
        if (scope := _org_scope(actor)) is not None:
            query = query.where(Organization.id.in_(scope))
        return db.session.scalar(query)
    raise ValueError(f"unknown picker {kind!r}")
