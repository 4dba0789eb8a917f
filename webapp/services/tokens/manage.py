"""Create, list and revoke access tokens, with every permission checked here.

Members own personal tokens (which may run in one of their orgs); org admins own their orgs'
service tokens and may revoke members' tokens running in those orgs; admins see and revoke
every token. The secret is returned once by the create functions and never stored, audited or
logged: the database keeps its SHA-256 hash and an 11-character prefix.

A token whose scope reaches the management API (``read_only``, ``full``) is a lasting
credential with its owner's powers, so creating one needs a recent sign-in: a session
restored from the remember-me cookie cannot mint one. On the API a ``full`` token stands for
that sign-in, and a token created with a token reaches no further than it (``within``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.models import AccessToken, Organization, OrgRole, TokenKind, User
from webapp.models.base import utcnow
from webapp.services.accounts import recent_sign_in
from webapp.services.audit import events as audit
from webapp.services.billing import budgets
from webapp.services.changes import commit_change
from webapp.services.errors import NotFound, PermissionDenied, ValidationError
from webapp.services.paging import paginate
from webapp.services.tokens import rules
from webapp.services.tokens.secrets import new_secret

log = logging.getLogger(__name__)

AUDIT_FIELDS = (
    "name",
    "kind",
    "scope",
    "prefix",
    "user_id",
    "org_id",
    "allowed_models",
    "requests_per_minute",
    "tokens_per_minute",
    "expires_at",
    "revoked_at",
)
TOKENS_PER_PAGE = 50
MINT_ACTION = "Creating a token that can use the management API"
STATES = ("active", "expired", "revoked", "all")


@dataclass(frozen=True)
class NewToken:
    """A token just created, and its secret: show it once, then let it go."""

    token: AccessToken
    secret: str


@dataclass(frozen=True)
class TokenPage:
    tokens: list[AccessToken]
    page: int
    pages: int
    total: int


def label(token: AccessToken) -> str:
    return f"{token.kind} token {token.name} ({token.prefix}…)"


def may_manage(actor: User, token: AccessToken) -> bool:
    """Whether ``actor`` may see and revoke ``token``."""
    if actor.is_admin or (token.kind == TokenKind.PERSONAL and token.user_id == actor.id):
        return True
    return token.org_id is not None and actor.org_role(token.org_id) == OrgRole.ORG_ADMIN


def get_token(actor: User, token_id: int) -> AccessToken:
    """The token if ``actor`` may manage it; others' tokens do not exist for them."""
    token = db.session.get(AccessToken, token_id)
    if token is None or not may_manage(actor, token):
        raise NotFound("That access token does not exist.")
    return token


def member_orgs(user: User) -> list[Organization]:
    """The orgs a personal token of ``user`` may run in: theirs, not archived."""
    ids = [m.org_id for m in user.memberships]
    if not ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Organization)
            .where(Organization.id.in_(ids), Organization.archived_at.is_(None))
            .order_by(Organization.name)
        )
    )


def org_by_slug(slug: str) -> Organization | None:
    return db.session.scalar(sa.select(Organization).where(Organization.slug == slug.strip()))


def _usable_org(org_id: int, field: str) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None or org.archived:
        raise ValidationError({field: "Choose one of your active organizations."})
    return org


def _check_budget(budget: budgets.BudgetInput | None, errors: dict[str, str]) -> None:
    if budget is None:
        return
    try:
        budgets.check_input(budget)
    except ValidationError as exc:
        errors.update({f"budget_{name}": message for name, message in exc.errors.items()})


def _clean(data: rules.TokenInput, budget: budgets.BudgetInput | None) -> dict[str, object]:
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    try:
        values = rules.clean(data)
    except ValidationError as exc:
        errors.update(exc.errors)
    _check_budget(budget, errors)
    if errors:
        raise ValidationError(errors)
    return values


def _may_mint(values: dict[str, object], within: rules.Reach | None) -> None:
    """Refuse a token reaching further than the one creating it, and a management token
    without a recent sign-in; checked after the fields, before anything is written."""
    if within is not None:
        rules.check_within(values, within)
    if values["scope"] in rules.MANAGEMENT_SCOPES:
        recent_sign_in.require(MINT_ACTION)


def _create(
    actor: User | None,
    columns: dict[str, object],
    budget: budgets.BudgetInput | None,
    budget_actor: User,
) -> NewToken:
    """Mint the secret, save its hash, audit (without the secret), add the budget, commit once."""
    minted = new_secret()
    token = AccessToken(
        **columns,
        prefix=minted.prefix,
        token_hash=minted.token_hash,
        created_by_id=actor.id if actor is not None else None,
    )
    db.session.add(token)
    try:
        db.session.flush()
        audit.record(
            "create",
            "access_token",
            actor=actor,
            target_id=token.id,
            target_label=label(token),
            changes=audit.diff(None, audit.snapshot(token, AUDIT_FIELDS)),
            org_id=token.org_id,
        )
        if budget is not None:
            budgets.create_budget(budget_actor, budgets.BudgetOwner("token", token.id), budget)
        else:
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    log.info("access token %s (%s…) created", token.id, token.prefix)
    return NewToken(token, minted.secret)


def create_personal_token(
    user: User,
    data: rules.TokenInput,
    *,
    actor: User | None,
    org_id: int | None = None,
    budget: budgets.BudgetInput | None = None,
    within: rules.Reach | None = None,
) -> NewToken:
    """A token of ``user``'s own, optionally running in one of their orgs. ``actor`` is the
    user themself, or None for the command line (the server's operator); ``within``: the
    token this one is created with (the API)."""
    if actor is not None and actor.id != user.id:
        raise PermissionDenied("People create their own personal tokens.")
    if not user.active:
        raise ValidationError({"": f"{user.email} is deactivated and cannot hold new tokens."})
    values = _clean(data, budget)
    if org_id is not None:
        if user.org_role(org_id) is None:
            raise ValidationError({"org_id": "Choose one of your organizations."})
        _usable_org(org_id, "org_id")
    _may_mint(values, within)
    columns = {"kind": TokenKind.PERSONAL, "user_id": user.id, "org_id": org_id, **values}
    return _create(actor, columns, budget, user)


def create_service_token(
    actor: User,
    org_id: int,
    data: rules.TokenInput,
    *,
    budget: budgets.BudgetInput | None = None,
    within: rules.Reach | None = None,
) -> NewToken:
    """An org's token for an application with no user (admins and the org's admins)."""
    if not (actor.is_admin or actor.org_role(org_id) == OrgRole.ORG_ADMIN):
        raise NotFound("That organization does not exist.")
    values = _clean(data, budget)
    _usable_org(org_id, "")
    _may_mint(values, within)
    columns = {"kind": TokenKind.SERVICE, "user_id": None, "org_id": org_id, **values}
    return _create(actor, columns, budget, actor)


def revoke_token(actor: User, token_id: int) -> AccessToken:
    """Stop the token working at once (audited); revoking a revoked token changes nothing."""
    token = get_token(actor, token_id)
    if token.revoked_at is not None:
        return token
    before = audit.snapshot(token, AUDIT_FIELDS)
    token.revoked_at = utcnow()
    commit_change(
        actor,
        action="revoke",
        target_type="access_token",
        target_id=token.id,
        target_label=label(token),
        before=before,
        after=audit.snapshot(token, AUDIT_FIELDS),
        org_id=token.org_id,
    )
    log.info("access token %s (%s…) revoked by %s", token.id, token.prefix, actor.email)
    return token


def revoke_management_tokens(user: User, *, actor: User | None, why: str) -> int:
    """Revoke ``user``'s personal tokens that reach the management API (``read_only`` and
    ``full``), each audited with ``why``; gateway-only tokens (applications) keep working.
    Called when the password changes and on "sign out everywhere", so a stolen session leaves
    no lasting credential behind. Not committed: it joins the caller's change."""
    tokens = list(
        db.session.scalars(
            sa.select(AccessToken).where(
                AccessToken.kind == TokenKind.PERSONAL,
                AccessToken.user_id == user.id,
                AccessToken.scope.in_(tuple(rules.MANAGEMENT_SCOPES)),
                AccessToken.revoked_at.is_(None),
            )
        )
    )
    now = utcnow()
    for token in tokens:
        before = audit.snapshot(token, AUDIT_FIELDS)
        token.revoked_at = now
        changes = audit.diff(before, audit.snapshot(token, AUDIT_FIELDS))
        audit.record(
            "revoke",
            "access_token",
            actor=actor,
            target_id=token.id,
            target_label=label(token),
            changes={**changes, "reason": why},
            org_id=token.org_id,
        )
    if tokens:
        log.info("%d management token(s) of %s revoked: %s", len(tokens), user.email, why)
    return len(tokens)


def revoked_phrase(count: int) -> str:
    """The revocation above in a sentence for a notice ("" when nothing was revoked)."""
    if not count:
        return ""
    noun, verb = ("access token", "was") if count == 1 else ("access tokens", "were")
    return f" {count} {noun} reaching the management API {verb} revoked."


def _newest_first(query: sa.Select[AccessToken]) -> sa.Select[AccessToken]:
    return query.order_by(AccessToken.created_at.desc(), AccessToken.id)


def list_personal(actor: User) -> list[AccessToken]:
    """The actor's own personal tokens, newest first."""
    mine = sa.select(AccessToken).where(
        AccessToken.kind == TokenKind.PERSONAL, AccessToken.user_id == actor.id
    )
    return list(db.session.scalars(_newest_first(mine)))


def list_for_org(actor: User, org_id: int) -> list[AccessToken]:
    """The org's service tokens and the personal tokens running in it (its admins only)."""
    if not (actor.is_admin or actor.org_role(org_id) == OrgRole.ORG_ADMIN):
        raise NotFound("That organization does not exist.")
    in_org = sa.select(AccessToken).where(AccessToken.org_id == org_id)
    return list(db.session.scalars(_newest_first(in_org)))


def _state_filter(state: str) -> sa.ColumnElement[bool] | None:
    now = utcnow()
    live = AccessToken.expires_at.is_(None) | (AccessToken.expires_at > now)
    if state == "active":
        return AccessToken.revoked_at.is_(None) & live
    if state == "revoked":
        return AccessToken.revoked_at.is_not(None)
    if state == "expired":
        return AccessToken.revoked_at.is_(None) & ~live
    return None


def list_all(actor: User, *, query: str = "", state: str = "all", page: int = 1) -> TokenPage:
    """Every token (admins only), newest first; ``query`` matches name, prefix, owner, org."""
    if not actor.is_admin:
        raise PermissionDenied("Only admins see every token.")
    owner, org = aliased(User), aliased(Organization)
    select = (
        sa.select(AccessToken)
        .outerjoin(owner, owner.id == AccessToken.user_id)
        .outerjoin(org, org.id == AccessToken.org_id)
    )
    if (condition := _state_filter(state)) is not None:
        select = select.where(condition)
    if text := query.strip().lower()[:100]:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        select = select.where(
            sa.or_(
                sa.func.lower(AccessToken.name).like(like, escape="\\"),
                sa.func.lower(AccessToken.prefix).like(like, escape="\\"),
                owner.email.like(like, escape="\\"),
                org.slug.like(like, escape="\\"),
            )
        )
    result = paginate(_newest_first(select), page, TOKENS_PER_PAGE)
    return TokenPage(list(result.items), result.page, max(1, result.pages), result.total or 0)
