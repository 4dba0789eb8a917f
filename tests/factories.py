"""Plain functions that create test data through the services (so the rules apply)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import (
    CatalogModel,
    Membership,
    Organization,
    OrgRole,
    Provider,
    User,
)
from webapp.services import users

PASSWORD = "correct horse battery"


def make_user(email: str, *, role: str = "member", password: str = PASSWORD, **fields: Any) -> User:
    user = users.create_user(email, password, role=role, actor=None)
    for name, value in fields.items():
        setattr(user, name, value)
    db.session.commit()
    return user


def make_org(slug: str = "acme", name: str | None = None) -> Organization:
    org = Organization(slug=slug, name=name or slug.title())
    db.session.add(org)
    db.session.commit()
    return org


def add_member(org: Organization, user: User, org_role: str = OrgRole.MEMBER) -> Membership:
    membership = Membership(organization=org, user=user, org_role=org_role)
    db.session.add(membership)
    db.session.commit()
    return membership


def provider(slug: str) -> Provider:
    found = db.session.scalar(sa.select(Provider).where(Provider.slug == slug))
    assert found is not None, f"no provider {slug}"
    return found


def model(global_id: str) -> CatalogModel:
    slug, _, model_id = global_id.partition("/")
    found = db.session.scalar(
        sa.select(CatalogModel)
        .join(Provider)
        .where(Provider.slug == slug, CatalogModel.model_id == model_id)
    )
    assert found is not None, f"no model {global_id}"
    return found
