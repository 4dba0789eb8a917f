"""Accounts: create users, check sign-ins, bootstrap the first admin, administer users."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.security import check_password_hash

from webapp.extensions import db
from webapp.models import Membership, Mode, Role, User
from webapp.models.base import utcnow
from webapp.models.user import new_session_token
from webapp.services.accounts import recent_sign_in
from webapp.services.accounts.passwords import (
    check_password_strength,
    generate_password,
    hash_password,
)
from webapp.services.audit import events as audit
from webapp.services.changes import Change, commit_change, commit_changes
from webapp.services.errors import NotFound, PermissionDenied, ValidationError
from webapp.services.paging import paginate

log = logging.getLogger(__name__)

DEFAULT_ADMIN_EMAIL = "admin@example.com"
ADMIN_ACTION = "Creating or promoting an admin"
_dummy_hashes: dict[str, str] = {}


def _dummy_hash() -> str:
    """Checked when the email is unknown, so a wrong email costs as long as a wrong password:
    made with the configured method, as users' hashes are (made on first use, not on import)."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = hash_password("switchboard-timing-equalizer")
    return _dummy_hashes[method]


def normalize_email(raw: str) -> str:
    """Validate and lowercase an email address (no DNS lookup)."""
    try:
        return validate_email(
            raw.strip(), check_deliverability=False, globally_deliverable=False
        ).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationError({"email": f"Not a valid email address: {exc}"}) from None


def find_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def create_user(
    email: str,
    password: str,
    *,
    role: str = Role.MEMBER,
    display_name: str | None = None,
    must_change_password: bool = False,
    actor: User | None,
) -> User:
    """Create an account; raises ValidationError for a bad email, password or duplicate.
    ``must_change_password``: the password was generated for someone else to hand over.
    ``actor`` None: the system (first admin, command line, a first SSO sign-in)."""
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("Only admins create users.")
    email = normalize_email(email)
    check_password_strength(password)
    if role not in tuple(Role):
        raise ValidationError({"role": f"Role must be one of {', '.join(Role)}."})
    if role == Role.ADMIN and actor is not None:
        recent_sign_in.require(ADMIN_ACTION)
    if find_by_email(email) is not None:
        raise ValidationError({"email": "A user with this email already exists."})
    user = User(
        email=email,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        must_change_password=must_change_password,
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # the same email created at the same moment elsewhere
        db.session.rollback()
        raise ValidationError({"email": "A user with this email already exists."}) from None
    created = {"email": email, "role": role, "password": audit.SET}
    commit_changes(
        actor,
        [Change("create", "user", user.id, email, created)],
        conflict="A user with this email was created at the same moment. Reload the page.",
        also=(IntegrityError,),
    )
    log.info("created user %s with role %s", email, role)
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None. Takes the same time either way."""
    user = find_by_email(email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
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


def ensure_admin(email: str | None, password: str | None) -> tuple[User | None, str | None]:
    """Create the first admin when there is none.

    Uses the given email/password, or ``admin@example.com`` and a generated password, which
    is returned so the caller can print it once. Returns ``(None, None)`` when an admin exists.
    """
    if _admin_exists():
        return None, None
    generated = None
    if not password:
        generated = password = generate_password()
    try:
        user = create_user(email or DEFAULT_ADMIN_EMAIL, password, role=Role.ADMIN, actor=None)
    except ValidationError:
        db.session.rollback()
        if _admin_exists():  # another process starting at the same moment created it
            return None, None
        raise
    return user, generated


def _admin_exists() -> bool:
    return bool(db.session.scalar(sa.select(sa.func.count()).where(User.role == Role.ADMIN)))


def set_mode(user: User, mode: str, *, actor: User) -> None:
    """Switch between managed and bring-your-own-key mode (audited): one's own, or anyone's
    for an admin."""
    if actor.id != user.id and not actor.is_admin:
        raise PermissionDenied("You can only switch your own mode.")
    if mode not in tuple(Mode):
        raise ValidationError({"mode": "Choose managed or bring-your-own-key."})
    if user.mode == mode:
        return
    before = {"mode": user.mode}
    user.mode = mode
    commit_change(
        actor,
        action="update",
        target_type="user",
        target_id=user.id,
        target_label=user.email,
        before=before,
        after={"mode": mode},
        conflict="Your account was changed at the same moment. Reload and try again.",
    )


# --- Administration: the /admin/users page -------------------------------------------------

USERS_PER_PAGE = 50
EDITABLE_FIELDS = ("role", "mode", "active")  # never the password hash or the session nonce


@dataclass(frozen=True)
class UserFilter:
    """What the users page may filter by; empty fields mean "any"."""

    q: str = ""
    role: str = ""
    status: str = ""  # "", "active", "deactivated"


@dataclass(frozen=True)
class UserPage:
    """One page of users, with what the pager needs."""

    users: list[User]
    page: int
    pages: int
    total: int


def list_users(filters: UserFilter, page: int = 1, per_page: int = USERS_PER_PAGE) -> UserPage:
    """Users matching ``filters`` by email, with their memberships; out-of-range pages clamp."""
    query = sa.select(User)
    if q := filters.q.strip().lower():
        query = query.where(
            sa.or_(
                sa.func.lower(User.email).contains(q, autoescape=True),
                sa.func.lower(User.display_name).contains(q, autoescape=True),
            )
        )
    if filters.role in tuple(Role):
        query = query.where(User.role == filters.role)
    if filters.status in ("active", "deactivated"):
        query = query.where(User.active.is_(filters.status == "active"))
    result = paginate(
        query.options(
            selectinload(User.memberships).selectinload(Membership.organization)
        ).order_by(User.email, User.id),
        page,
        per_page,
    )
    return UserPage(list(result.items), result.page, max(1, result.pages), result.total or 0)


def get_user(user_id: int) -> User:
    """The user, or NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("That user does not exist.")
    return user


LAST_ADMIN = "This is the last active admin. Make someone else an admin first."


def _other_active_admins(user: User) -> int:
    """Active admins besides ``user``. Every active admin row is locked (PostgreSQL), ``user``
    included, so two admins demoting each other at once are serialised, not both let through."""
    ids = db.session.scalars(
        sa.select(User.id).where(User.role == Role.ADMIN, User.active.is_(True)).with_for_update()
    )
    return sum(1 for user_id in ids if user_id != user.id)


def _loses_admin(user: User, role: str, active: bool) -> str | None:
    """The field that would take an active admin away (``role`` or ``active``), if any."""
    if not (user.is_admin and user.active):
        return None
    if role != Role.ADMIN:
        return "role"
    return None if active else "active"


def _check_update(actor: User | None, user: User, role: str, mode: str, active: bool) -> None:
    """Raise ValidationError, at the field, for a change the rules forbid."""
    errors: dict[str, str] = {}
    if role not in tuple(Role):
        errors["role"] = "Choose admin or member."
    if mode not in tuple(Mode):
        errors["mode"] = "Choose managed or bring-your-own-key."
    if errors:
        raise ValidationError(errors)
    if actor is not None and actor.id == user.id:
        if role != Role.ADMIN:
            errors["role"] = "You cannot remove your own admin role. Ask another admin."
        if not active:
            errors["active"] = "You cannot deactivate your own account."
    field = _loses_admin(user, role, active)
    if not errors and field and _other_active_admins(user) == 0:
        errors[field] = LAST_ADMIN
    if errors:
        raise ValidationError(errors)


def _ensure_an_admin_remains(field: str) -> None:
    """Count again inside the write: SQLite takes no lock for the first check, so a concurrent
    demotion could otherwise slip in between."""
    remaining = db.session.scalar(
        sa.select(sa.func.count()).where(User.role == Role.ADMIN, User.active.is_(True))
    )
    if not remaining:
        raise ValidationError({field: LAST_ADMIN})


def update_user(
    actor: User | None,
    user: User,
    *,
    role: str,
    mode: str,
    active: bool,
    expected_version: int | None,
) -> User:
    """Change role, mode and status (audited); a role change or deactivation signs the user out
    everywhere, so no session keeps powers it no longer has (or gained without signing in)."""
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("Only admins manage users.")
    user.check_version(expected_version, "this user")
    if role == Role.ADMIN and user.role != Role.ADMIN and actor is not None:
        recent_sign_in.require(ADMIN_ACTION)  # before the checks take their row locks
    _check_update(actor, user, role, mode, active)
    loses_admin = _loses_admin(user, role, active)
    before = audit.snapshot(user, EDITABLE_FIELDS)
    if (user.active and not active) or user.role != role:
        user.session_token = new_session_token()
    user.role, user.mode, user.active = role, mode, active
    # With no change the commit only releases the admin-row locks taken by the checks.
    changes = commit_change(
        actor,
        action="update",
        target_type="user",
        target_id=user.id,
        target_label=user.email,
        before=before,
        after=audit.snapshot(user, EDITABLE_FIELDS),
        conflict="Someone else changed this user while you were saving.",
        check=(lambda: _ensure_an_admin_remains(loses_admin)) if loses_admin else None,
    )
    if changes:
        log.info("user %s updated: %s", user.email, ", ".join(changes))
    return user
