"""Users, as the Users page manages them (admins): create, role, mode, deactivate, credits."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webapp.api.core import encode_cursor, id_after, require_admin, route
from webapp.api.schemas import (
    CreditEntryIn,
    CreditEntryOut,
    Page,
    UserCreate,
    UserOut,
    UserQuery,
    UserUpdate,
)
from webapp.extensions import db
from webapp.models import Role, User
from webapp.services.accounts import users
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
    summary="Create a user",
    tag=TAG,
    body=UserCreate,
    response=UserOut,
    status=201,
    sensitive=True,
)
def create_user(body: UserCreate) -> Any:
    return users.create_user(
        body.email,
        body.password,
        role=body.role,
        display_name=body.display_name or None,
        actor=require_admin(),
    )


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
