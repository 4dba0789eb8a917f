"""Sessions on the server's side: which session or remember-me cookie still signs whom in.

A session id is ``"<user id>:<session token>:<sign-in time>"``. Flask-Login keeps it in the
session and, for "keep me signed in", in the remember-me cookie. Rotating the user's token
(sign-out, password, role and status changes, "sign out everywhere") makes every id issued
before fail at once; the sign-in time bounds a remember-me cookie's life on the server, whatever
expiry the browser was told.
"""

from __future__ import annotations

import logging
import secrets
import time

import sqlalchemy as sa
from flask import current_app

from webapp.extensions import db
from webapp.models import User
from webapp.models.user import new_session_token
from webapp.services.audit import events as audit
from webapp.services.errors import PermissionDenied
from webapp.services.tokens import manage

log = logging.getLogger(__name__)

CLOCK_SKEW = 60  # seconds a sign-in time may lie in the future (several workers' clocks)


def now() -> int:
    """Seconds since the epoch (one place for tests to move the clock)."""
    return int(time.time())


def lifetime() -> int:
    """How long, in seconds, a sign-in lasts at most: the remember-me duration."""
    return int(current_app.config["REMEMBER_COOKIE_DURATION"].total_seconds())


def session_id(user: User, signed_in_at: int | None = None) -> str:
    """The id to keep in the session and the remember-me cookie for a sign-in now."""
    return f"{user.id}:{user.session_token}:{signed_in_at if signed_in_at is not None else now()}"


def signed_in_at(value: str) -> int | None:
    """The sign-in time inside a session id, or None when it has none."""
    parts = value.split(":")
    return int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else None


def load_session_user(value: str) -> User | None:
    """Flask-Login's loader: the active user whose current token and sign-in time (within
    :func:`lifetime`) the id carries; None signs the request out."""
    parts = value.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit() or not parts[1]:
        return None
    age = now() - int(parts[2])
    if age > lifetime() or age < -CLOCK_SKEW:
        return None
    user = db.session.get(User, int(parts[0]))
    if user is None or not user.active or not secrets.compare_digest(user.session_token, parts[1]):
        return None
    return user


def _rotate(user: User) -> None:
    # A plain UPDATE: bookkeeping must not bump the version an admin's open form relies on.
    db.session.execute(
        sa.update(User).where(User.id == user.id).values(session_token=new_session_token()),
        execution_options={"synchronize_session": False},
    )


def sign_out(user: User) -> None:
    """Rotate the token on sign-out: this session and every other one of the user end."""
    _rotate(user)
    db.session.commit()
    db.session.expire(user)


def end_all_sessions(user: User, *, actor: User) -> int:
    """ "Sign out everywhere", by the user or an admin (audited): every session and
    remember-me cookie of ``user`` stops working, and so do their access tokens that reach the
    management API (a stolen session may have minted one); gateway-only tokens stay.
    Returns how many tokens were revoked."""
    if actor.id != user.id and not actor.is_admin:
        raise PermissionDenied("Only admins sign other people out.")
    audit.record(
        "sign_out",
        "user",
        actor=actor,
        target_id=user.id,
        target_label=user.email,
        changes={"sessions": "every session ended"},
    )
    _rotate(user)
    revoked = manage.revoke_management_tokens(user, actor=actor, why="signed out everywhere")
    db.session.commit()
    db.session.expire(user)
    log.info("every session of %s ended by %s", user.email, actor.email)
    return revoked
