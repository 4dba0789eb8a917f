"""Users, as the Users page manages them (admins): create (with a generated password shown
once), role, mode, deactivate, credits, password reset, signing out everywhere, and the
single sign-on identities linked to an account."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webapp.api.core import ApiError, encode_cursor, id_after, require_admin, route
from webapp.api.schemas import (
    CreatedUserOut,
    CreditEntryIn,
    CreditEntryOut,
    Page,
    PasswordResetOut,
    SsoIdentityLink,
    SsoIdentityOut,
    UserCreate,
    UserOut,
    UserQuery,
    UserUpdate,
)
from webapp.extensions import db
from webapp.models import Role, SsoIdentity, User
from webapp.services.accounts import passwords, sessions, sso, users
from webapp.services.billing import ledger

TAG = "Users"


@route(
    "GET",
    "/users",
    summary="List users",
    tag=TAG,
    query=UserQuery,
    response=Page[UserOut],
    sensitive=True,
)
def list_users(query: UserQuery) -> Any:
    """Filter by ``q`` (email or name), ``role`` and ``status``."""
    require_admin()
    select = sa.select(User).order_by(User.id).limit(query.limit + 1)
    if text := query.q.lower():
        select = select.where(
            sa.or_(
                sa.func.lower(User.email).contains(text, autoescape=True),
                sa.func.lower(User.display_name).contains(text, autoescape=True),
            )
        )
    if query.role in tuple(Role):
        select = select.where(User.role == query.role)
    if query.status:
        select = select.where(User.active.is_(query.status == "active"))
    if (after := id_after(query.cursor)) is not None:
        select = select.where(User.id > after)
    found = list(db.session.scalars(select))
    more = len(found) > query.limit
    found = found[: query.limit]
    return {"items": found, "next_cursor": encode_cursor(found[-1].id) if more else None}


@route(
    "POST",
    "/users",
    summary="Create a user (an admin token that is not read-only)",
    tag=TAG,
    body=UserCreate,
    response=CreatedUserOut,
    status=201,
    sensitive=True,
)
def create_user(body: UserCreate) -> Any:
    """With ``generate_password: true`` the answer holds the generated password, this once;
    the user must change it at their first sign-in. The page asks for a fresh sign-in before
    creating an admin: here a full (not read-only) admin token stands for it."""
    actor = require_admin()
    if body.generate_password == bool(body.password):
        text = "Give a password, or set generate_password to true (not both)."
        raise ApiError(422, text, errors={"password": [text]})
    password = passwords.generate_password() if body.generate_password else body.password or ""
    user = users.create_user(
        body.email,
        password,
        role=body.role,
        display_name=body.display_name or None,
        must_change_password=body.generate_password,
        actor=actor,
    )
    created = UserOut.model_validate(user).model_dump()
    created["password"] = password if body.generate_password else None
    return created


@route(
    "GET", "/users/<int:user_id>", summary="Read a user", tag=TAG, response=UserOut, sensitive=True
)
def get_user(user_id: int) -> Any:
    require_admin()
    return users.get_user(user_id)


@route(
    "PATCH",
    "/users/<int:user_id>",
    summary="Change role, mode or status",
    tag=TAG,
    body=UserUpdate,
    response=UserOut,
    sensitive=True,
)
def update_user(user_id: int, body: UserUpdate) -> Any:
    """``active: false`` deactivates (signed out everywhere, tokens stop working)."""
    actor = require_admin()
    user = users.get_user(user_id)
    return users.update_user(
        actor,
        user,
        role=body.role if body.role is not None else user.role,
        mode=body.mode if body.mode is not None else user.mode,
        active=body.active if body.active is not None else user.active,
        expected_version=body.version,
    )


@route(
    "POST",
    "/users/<int:user_id>/credits",
    summary="Grant or adjust credits",
    tag=TAG,
    body=CreditEntryIn,
    response=CreditEntryOut,
    status=201,
    sensitive=True,
)
def post_credits(user_id: int, body: CreditEntryIn) -> Any:
    actor = require_admin()
    user = users.get_user(user_id)
    amount = ledger.parse_amount(body.amount)
    return ledger.post_entry(
        actor, ledger.Owner("user", user.id), amount, kind=body.kind, note=body.note
    )


@route(
    "POST",
    "/users/<int:user_id>/password",
    summary="Reset a user's password",
    tag=TAG,
    response=PasswordResetOut,
    sensitive=True,
)
def reset_password(user_id: int) -> Any:
    """A generated password, returned this once, which the user must change at their next
    sign-in; every session of theirs ends (access tokens keep working, as on the page)."""
    actor = require_admin()
    user = users.get_user(user_id)
    password = passwords.reset_password(user, actor=actor)
    return {
        "user_id": user.id,
        "email": user.email,
        "password": password,
        "must_change_password": user.must_change_password,
    }


@route(
    "POST",
    "/users/<int:user_id>/sessions/end",
    summary="Sign a user out everywhere",
    tag=TAG,
    status=204,
    sensitive=True,
)
def end_sessions(user_id: int) -> Any:
    """Every browser session and remember-me cookie of the user stops working (audited), and
    so do their access tokens that reach this API (``read_only`` and ``full``); gateway-only
    tokens are managed separately (``DELETE /tokens/{id}``)."""
    actor = require_admin()
    sessions.end_all_sessions(users.get_user(user_id), actor=actor)


def _identity_out(identity: SsoIdentity) -> dict[str, Any]:
    return {
        "id": identity.id,
        "user_id": identity.user_id,
        "provider": sso.provider_label(identity.issuer),
        "issuer": identity.issuer,
        "subject": identity.subject,
        "email": identity.email,
        "created_at": identity.created_at,
    }


@route(
    "GET",
    "/users/<int:user_id>/sso-identities",
    summary="A user's single sign-on identities",
    tag=TAG,
    response=list[SsoIdentityOut],
    sensitive=True,
)
def list_identities(user_id: int) -> Any:
    require_admin()
    return [_identity_out(i) for i in sso.identities_of(users.get_user(user_id))]


@route(
    "POST",
    "/users/<int:user_id>/sso-identities",
    summary="Link a single sign-on identity to a user (a full admin token)",
    tag=TAG,
    body=SsoIdentityLink,
    response=SsoIdentityOut,
    status=201,
    sensitive=True,
)
def link_identity(user_id: int, body: SsoIdentityLink) -> Any:
    """That identity then signs in as this user (audited). The page asks for a fresh
    sign-in; a full (not read-only) admin token stands for it."""
    actor = require_admin()
    user = users.get_user(user_id)
    return _identity_out(sso.link_identity(actor, user, body.provider, body.subject))


@route(
    "DELETE",
    "/users/<int:user_id>/sso-identities/<int:identity_id>",
    summary="Unlink a single sign-on identity",
    tag=TAG,
    status=204,
    sensitive=True,
)
def unlink_identity(user_id: int, identity_id: int) -> Any:
    actor = require_admin()
    sso.unlink_identity(actor, users.get_user(user_id), identity_id)
