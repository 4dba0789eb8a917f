"""Plain functions that create test data through the services (so the rules apply)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import (
    AllowedHost,
    CatalogModel,
    Credential,
    Membership,
    Organization,
    OrgRole,
    Provider,
    User,
)
from webapp.services.accounts import users
from webapp.services.credentials import allowed_hosts
from webapp.services.credentials import storage as credentials

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


def _admin_actor() -> User:
    admin = db.session.scalar(sa.select(User).where(User.role == "admin").order_by(User.id))
    return admin or make_user("factory-admin@example.com", role="admin")


def global_key(slug: str, secret: str = "sk-global-test-key-0001", **fields: Any) -> Credential:
    """A global key for provider ``slug`` (memoised per provider and label)."""
    label = fields.pop("label", "default")
    existing = db.session.scalar(
        sa.select(Credential).where(
            Credential.owner_key == "global",
            Credential.label == label,
            Credential.provider_id == provider(slug).id,
        )
    )
    if existing:
        return existing
    return credentials.create_credential(
        _admin_actor(),
        credentials.GLOBAL,
        provider(slug).id,
        credentials.CredentialInput(label=label, secret=secret, **fields),
    )


def org_key(org: Organization, slug: str, secret: str, **fields: Any) -> Credential:
    return credentials.create_credential(
        _admin_actor(),
        credentials.org_owner(org.id),
        provider(slug).id,
        credentials.CredentialInput(secret=secret, **fields),
    )


def user_key(user: User, slug: str, secret: str, **fields: Any) -> Credential:
    return credentials.create_credential(
        user,
        credentials.user_owner(user.id),
        provider(slug).id,
        credentials.CredentialInput(secret=secret, **fields),
    )


def allowed_host(entry: str) -> AllowedHost:
    """Allow ``host:port`` (memoised)."""
    host, _, port = entry.rpartition(":")
    existing = db.session.scalar(
        sa.select(AllowedHost).where(
            AllowedHost.host == host.strip("[]"), AllowedHost.port == int(port)
        )
    )
    return existing or allowed_hosts.add_allowed_host(_admin_actor(), entry)


def move_provider(slug: str, base_url: str) -> Provider:
    """Point a provider at ``base_url`` and confirm its stored global keys and fallback key for
    the new address, as an admin would after moving it."""
    from webapp.services.credentials.origins import origin_of

    found = provider(slug)
    found.base_url = base_url
    found.env_key_origin = origin_of(base_url)
    for key in db.session.scalars(
        sa.select(Credential).where(
            Credential.provider_id == found.id, Credential.owner_key == "global"
        )
    ):
        if not key.base_url:
            key.approved_origin = origin_of(base_url)
    db.session.commit()
    return found
