"""Single sign-on: who a checked OpenID Connect identity signs in as, and the admin's links.

An identity is ``(issuer, subject)``, never an email: a first sign-in creates a member (when
the provider allows it, for a verified email in an allowed domain) but never takes over an
existing account with the same email unless an admin linked it or the provider's
``LINK_BY_EMAIL`` setting says so. Groups in a configured claim grant the admin role and org
memberships on each sign-in (they never take them away).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Membership, Organization, OrgRole, Role, SsoIdentity, User
from webapp.models.base import utcnow
from webapp.models.user import new_session_token
from webapp.services.accounts import recent_sign_in, users
from webapp.services.accounts.sso_config import OidcProvider
from webapp.services.audit import events as audit
from webapp.services.errors import NotFound, PermissionDenied, ServiceError, ValidationError

log = logging.getLogger(__name__)


class SsoRefused(ServiceError):
    """The identity checked out, but it may not sign in (here, or as that account)."""

    status_code = 403


def providers() -> tuple[OidcProvider, ...]:
    return tuple(current_app.config.get("OIDC_PROVIDERS") or ())


def provider_named(name: str) -> OidcProvider | None:
    return next((p for p in providers() if p.name == name), None)


def provider_label(issuer: str) -> str:
    """The button label of the provider with this issuer, else the issuer itself."""
    return next((p.label for p in providers() if p.issuer == issuer), issuer)


def find_identity(issuer: str, subject: str) -> SsoIdentity | None:
    return db.session.scalar(
        sa.select(SsoIdentity).where(SsoIdentity.issuer == issuer, SsoIdentity.subject == subject)
    )


def identities_of(user: User) -> list[SsoIdentity]:
    return list(
        db.session.scalars(
            sa.select(SsoIdentity).where(SsoIdentity.user_id == user.id).order_by(SsoIdentity.id)
        )
    )


def _verified_email(claims: dict[str, Any]) -> str | None:
    """The email, when the provider says it verified it (``email_verified`` true)."""
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") not in (True, "true"):
        return None
    try:
        return users.normalize_email(email)
    except ValidationError:
        return None


def _record_identity(
    user: User, provider: OidcProvider, subject: str, email: str | None, *, actor: User | None
) -> SsoIdentity:
    identity = SsoIdentity(user_id=user.id, issuer=provider.issuer, subject=subject, email=email)
    db.session.add(identity)
    audit.record(
        "link",
        "sso_identity",
        actor=actor,
        target_id=user.id,
        target_label=user.email,
        changes={"issuer": provider.issuer, "subject": subject},
    )
    return identity


def _new_member(provider: OidcProvider, email: str, claims: dict[str, Any]) -> User:
    """A member whose password nobody knows (an admin can reset it to give one)."""
    name = claims.get("name")
    user = users.create_user(
        email,
        secrets.token_urlsafe(32),
        display_name=name[:120] if isinstance(name, str) and name.strip() else None,
        actor=None,
    )
    log.info("created member %s on first sign-in with %s", email, provider.name)
    return user


def _account_for(provider: OidcProvider, claims: dict[str, Any]) -> User:
    """The account a not-yet-linked identity signs in as, linking or creating it; or refused."""
    subject = claims["sub"]
    email = _verified_email(claims)
    if email is None:
        raise SsoRefused(f"{provider.label} did not confirm your email address: ask its admins.")
    if not provider.domain_allowed(email):
        raise SsoRefused(f"Sign-in with {provider.label} is not open to {email.split('@')[1]}.")
    existing = users.find_by_email(email)
    if existing is not None and not provider.link_by_email:
        log.warning("sign-in with %s refused: %s exists and is not linked", provider.name, email)
        raise SsoRefused(
            f"An account with the email {email} already exists. An admin must link your "
            f"{provider.label} identity to it before you can sign in with it."
        )
    if existing is None and not provider.create_users:
        raise SsoRefused(f"No account for {email}: ask an admin to create one.")
    user = existing or _new_member(provider, email, claims)
    _record_identity(user, provider, subject, email, actor=None)
    return user


def sign_in(provider: OidcProvider, claims: dict[str, Any]) -> User:
    """The active user this checked identity signs in as (created or linked on a first
    sign-in as the rules allow), with roles and memberships from its groups; else SsoRefused."""
    identity = find_identity(provider.issuer, claims["sub"])
    user = identity.user if identity is not None else _account_for(provider, claims)
    if not user.active:
        db.session.rollback()
        log.warning("sign-in with %s refused: %s is deactivated", provider.name, user.email)
        raise SsoRefused("This account is deactivated.")
    if identity is not None and (email := _verified_email(claims)):
        identity.email = email
    _apply_groups(provider, user, claims)
    user.last_login_at = utcnow()
    try:
        db.session.commit()
    except IntegrityError:  # the same identity linked at the same moment elsewhere
        db.session.rollback()
        raise SsoRefused("This identity was just linked elsewhere: sign in again.") from None
    log.info("%s signed in with %s", user.email, provider.name)
    return user


def _groups(provider: OidcProvider, claims: dict[str, Any]) -> list[str]:
    value = claims.get(provider.groups_claim)
    if isinstance(value, str):
        value = [value]
    return [g for g in value if isinstance(g, str)] if isinstance(value, list) else []


def _apply_groups(provider: OidcProvider, user: User, claims: dict[str, Any]) -> None:
    """Grant what the user's groups map to: the admin role, org places (never removed here)."""
    for group in _groups(provider, claims):
        for grant in provider.group_map.get(group, ()):
            via = f"{provider.name} group {group}"
            if grant.admin:
                _grant_admin(user, via)
            elif grant.org_slug:
                _grant_org(user, grant.org_slug, grant.org_admin, via)


def _grant_admin(user: User, via: str) -> None:
    if user.role == Role.ADMIN:
        return
    audit.record(
        "update",
        "user",
        actor=None,
        target_id=user.id,
        target_label=user.email,
        changes={"role": {"before": user.role, "after": Role.ADMIN}, "via": via},
    )
    user.role = Role.ADMIN
    user.session_token = new_session_token()  # a role change ends the sessions from before
    log.info("%s made admin by single sign-on (%s)", user.email, via)


def _grant_org(user: User, slug: str, org_admin: bool, via: str) -> None:
    org = db.session.scalar(sa.select(Organization).where(Organization.slug == slug))
    if org is None or org.archived:
        log.warning("single sign-on group mapping names %s, which is not an active org", slug)
        return
    role = OrgRole.ORG_ADMIN if org_admin else OrgRole.MEMBER
    membership = db.session.scalar(
        sa.select(Membership).where(Membership.user_id == user.id, Membership.org_id == org.id)
    )
    if membership is not None and (membership.org_role == role or role == OrgRole.MEMBER):
        return
    before = membership.org_role if membership is not None else None
    if membership is None:
        membership = Membership(user_id=user.id, org_id=org.id)
        db.session.add(membership)
    membership.org_role = role
    audit.record(
        "create" if before is None else "update",
        "membership",
        actor=None,
        target_id=user.id,
        target_label=user.email,
        changes={"org": org.slug, "org_role": {"before": before, "after": role}, "via": via},
        org_id=org.id,
    )


def reauth_matches(provider: OidcProvider, claims: dict[str, Any], user: User) -> bool:
    """Whether a fresh sign-in at the provider was made by this very user's linked identity."""
    identity = find_identity(provider.issuer, claims["sub"])
    return identity is not None and identity.user_id == user.id


def link_identity(actor: User, user: User, provider_name: str, subject: str) -> SsoIdentity:
    """An admin links ``(issuer, subject)`` to an existing account (audited): whoever holds
    that identity then signs in as the user, so it needs a recent sign-in."""
    if not actor.is_admin:
        raise PermissionDenied("Only admins link identities.")
    recent_sign_in.require("Linking a sign-on identity")
    provider = provider_named(provider_name)
    if provider is None:
        raise ValidationError({"provider": "Choose one of the configured identity providers."})
    subject = (subject or "").strip()
    if not subject or len(subject) > 255 or any(ord(c) < 32 for c in subject):
        raise ValidationError({"subject": "Enter the subject (the provider's id for the person)."})
    other = find_identity(provider.issuer, subject)
    if other is not None:
        owner = "this user" if other.user_id == user.id else "another user"
        raise ValidationError({"subject": f"This identity is already linked to {owner}."})
    identity = _record_identity(user, provider, subject, None, actor=actor)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError({"subject": "This identity was just linked elsewhere."}) from None
    log.info("%s linked %s identity %s to %s", actor.email, provider.name, subject, user.email)
    return identity


def unlink_identity(actor: User, user: User, identity_id: int) -> None:
    """An admin removes a link (audited): that identity no longer signs in as ``user``."""
    if not actor.is_admin:
        raise PermissionDenied("Only admins unlink identities.")
    identity = db.session.get(SsoIdentity, identity_id)
    if identity is None or identity.user_id != user.id:
        raise NotFound("That identity is not linked to this user.")
    audit.record(
        "unlink",
        "sso_identity",
        actor=actor,
        target_id=user.id,
        target_label=user.email,
        changes={"issuer": identity.issuer, "subject": identity.subject},
    )
    db.session.delete(identity)
    db.session.commit()
    log.info(
        "%s unlinked %s identity %s from %s",
        actor.email,
        identity.issuer,
        identity.subject,
        user.email,
    )
