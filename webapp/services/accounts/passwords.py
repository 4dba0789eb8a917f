"""Passwords: one set of rules for every way a password is chosen (the admin's create form,
``create-user``, a member's own change, a reset), and the changes themselves, each of which
ends every session of the account and revokes its access tokens that reach the management
API (gateway-only tokens stay). Passwords are never logged or audited: the audit log shows
``[changed]``."""

from __future__ import annotations

import logging
import secrets
from functools import cache

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models import User
from webapp.models.base import utcnow
from webapp.models.user import new_session_token
from webapp.services.accounts import sign_in_throttle
from webapp.services.audit import events as audit
from webapp.services.changes import Change, commit_changes
from webapp.services.errors import PermissionDenied, ValidationError
from webapp.services.tokens import manage

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
COMMON = "This is one of the most common passwords, which attackers try first. Choose another."


@cache
def _common_passwords() -> frozenset[str]:
    """The 30 000 most used passwords (lowercase) from Dropbox's zxcvbn, as its maintained
    Python port ships them on PyPI (MIT): a measured list, not one typed in by hand."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common(password: str) -> bool:
    """True when the password, ignoring case and surrounding spaces, is on the common list."""
    return password.strip().lower() in _common_passwords()


def check_password_strength(password: str, field: str = "password") -> None:
    """Raise ValidationError at ``field`` for a password too short, too long or too common."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError({field: f"Use at least {MIN_PASSWORD_LENGTH} characters."})
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError({field: f"Use at most {MAX_PASSWORD_LENGTH} characters."})
    if is_common(password):
        raise ValidationError({field: COMMON})


def hash_password(password: str) -> str:
    """Werkzeug's hash (scrypt by default; tests configure a cheaper method)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def generate_password() -> str:
    """A random password that can be handed over once (about 120 bits)."""
    return secrets.token_urlsafe(15)


def _store(user: User, password: str, *, must_change: bool, actor: User | None) -> int:
    """Hash, flag, rotate the session token (every session ends), revoke the management
    tokens and audit, in one commit; returns how many tokens were revoked."""
    before = user.must_change_password
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    user.password_changed_at = utcnow()
    user.session_token = new_session_token()
    changes: dict[str, object] = {"password": audit.CHANGED}
    if before != must_change:
        changes["must_change_password"] = {"before": before, "after": must_change}
    with db.session.no_autoflush:  # the user's row is flushed in commit_changes (stale → 409)
        revoked = manage.revoke_management_tokens(user, actor=actor, why="password changed")
    commit_changes(
        actor,
        [Change("update", "user", user.id, user.email, changes)],
        conflict="Someone else changed this account at the same moment. Reload and try again.",
    )
    return revoked


def change_password(user: User, current: str, new: str, *, actor: User, address: str) -> int:
    """A user's own change: the current password proves it is them; other sessions end.
    Guesses at the current password are slowed like sign-ins, per account and ``address``
    (the client's; TooManyAttempts while the pair waits). Returns how many management
    tokens were revoked."""
    if actor.id != user.id:
        raise PermissionDenied("Only the account's owner changes its password this way.")

    def verify() -> bool | None:
        return check_password_hash(user.password_hash, current) or None

    if not sign_in_throttle.checked(user.email, address, verify, what="password change"):
        raise ValidationError({"current_password": "This is not your current password."})
    if new == current:
        raise ValidationError({"new_password": "Choose a password other than the current one."})
    check_password_strength(new, "new_password")
    revoked = _store(user, new, must_change=False, actor=actor)
    log.info("user %s changed their password", user.email)
    return revoked


def reset_password(user: User, *, actor: User | None) -> str:
    """An admin's (or the CLI's, ``actor`` None) reset: a generated password, returned to be
    shown once, which the user must replace at their next sign-in."""
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("Only admins reset passwords.")
    password = generate_password()
    _store(user, password, must_change=True, actor=actor)
    log.info("password of %s reset by %s", user.email, actor.email if actor else "the CLI")
    return password


def set_password(user: User, password: str, *, actor: User | None) -> None:
    """An operator's chosen password (``reset-password --password``), under the usual rules;
    an admin's, if a page ever offers it (``actor`` None: the command line)."""
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("Only admins set other people's passwords.")
    check_password_strength(password)
    _store(user, password, must_change=False, actor=actor)
    log.info("password of %s set by %s", user.email, actor.email if actor else "the CLI")
