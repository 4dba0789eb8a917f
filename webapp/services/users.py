"""Accounts: create users, check passwords, bootstrap the first admin."""

from __future__ import annotations

import logging
import secrets

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models import Mode, Role, User
from webapp.models.base import utcnow
from webapp.services import audit
from webapp.services.errors import ValidationError

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
DEFAULT_ADMIN_EMAIL = "admin@example.com"
# Checked when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("switchboard-timing-equalizer")


def normalize_email(raw: str) -> str:
    """Validate and lowercase an email address (no DNS lookup)."""
    try:
        return validate_email(
            raw.strip(), check_deliverability=False, globally_deliverable=False
        ).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationError({"email": f"Not a valid email address: {exc}"}) from None


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError({"password": f"Use at least {MIN_PASSWORD_LENGTH} characters."})


def hash_password(password: str) -> str:
    """Werkzeug's hash (scrypt by default; tests configure a cheaper method)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def find_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def create_user(
    email: str,
    password: str,
    *,
    role: str = Role.MEMBER,
    display_name: str | None = None,
    actor: User | None,
) -> User:
    """Create an account; raises ValidationError for a bad email, password or duplicate."""
    email = normalize_email(email)
    check_password_strength(password)
    if role not in tuple(Role):
        raise ValidationError({"role": f"Role must be one of {', '.join(Role)}."})
    if find_by_email(email) is not None:
        raise ValidationError({"email": "A user with this email already exists."})
    user = User(
        email=email,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        "create",
        "user",
        actor=actor,
        target_id=user.id,
        target_label=email,
        changes={"email": email, "role": role, "password": audit.SET},
    )
    db.session.commit()
    log.info("created user %s with role %s", email, role)
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None. Takes the same time either way."""
    user = find_by_email(email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    # A plain UPDATE: bookkeeping must not bump the version an admin's open form relies on.
    db.session.execute(
        sa.update(User).where(User.id == user.id).values(last_login_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return user


def load_session_user(session_id: str) -> User | None:
    """Flask-Login loader: ``"<id>:<nonce>"``; a stale nonce means signed out."""
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit() or not nonce:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not secrets.compare_digest(user.session_nonce, nonce):
        return None
    return user


def ensure_admin(email: str | None, password: str | None) -> tuple[User | None, str | None]:
    """Create the first admin when there is none.

    Uses the given email/password, or ``admin@example.com`` and a generated password, which
    is returned so the caller can print it once. Returns ``(None, None)`` when an admin exists.
    """
    exists = db.session.scalar(sa.select(sa.func.count()).where(User.role == Role.ADMIN))
    if exists:
        return None, None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(15)
    user = create_user(email or DEFAULT_ADMIN_EMAIL, password, role=Role.ADMIN, actor=None)
    return user, generated


def set_mode(user: User, mode: str, *, actor: User) -> None:
    """Switch between managed and bring-your-own-key mode (audited)."""
    if mode not in tuple(Mode):
        raise ValidationError({"mode": "Choose managed or bring-your-own-key."})
    if user.mode == mode:
        return
    before = user.mode
    user.mode = mode
    audit.record(
        "update",
        "user",
        actor=actor,
        target_id=user.id,
        target_label=user.email,
        changes={"mode": {"before": before, "after": mode}},
    )
    db.session.commit()
