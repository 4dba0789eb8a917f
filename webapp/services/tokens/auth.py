"""Recognising an access token on a request (the gateway, the management API).

A presented secret is hashed (``secrets.hash_secret``) and looked up with one indexed
equality on ``access_tokens.token_hash``, joined with its owner and org. What was found is
kept per process for at most ``CACHE_S`` (one second): a token revoked, expired or whose
owner was deactivated stops working within that second in every process, with no broker.
``last_used_at`` is written at most once a minute per token, on a connection of its own.

The secret itself is never stored, logged or put in an error; only its hash is a cache key.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached

from webapp.extensions import db
from webapp.models import AccessToken, Organization, TokenKind, TokenScope, User
from webapp.models.base import utcnow
from webapp.services import side_writes
from webapp.services.tokens.secrets import hash_secret, looks_like_secret

T = TypeVar("T")
# Under a second: a revoked token stops working within one second in every process, even
# counting a reload in flight that others wait out on the older entry (see ``_lookup``).
CACHE_S = 0.9
CACHE_MAX = 10_000
LAST_USED_EVERY = timedelta(seconds=60)


class TokenRefused(Exception):
    """The token cannot be used: ``reason`` is one of ``missing``, ``invalid``, ``revoked``,
    ``expired``, ``owner_inactive``, ``scope``. ``message`` is fit for the caller."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class TokenIdentity:
    """What a request needs of its token: immutable, safe to cache and share."""

    id: int
    kind: str
    scope: str
    name: str
    prefix: str
    user_id: int | None
    org_id: int | None
    allowed_models: tuple[str, ...] | None
    requests_per_minute: int | None
    tokens_per_minute: int | None
    expires_at: datetime | None
    revoked: bool
    owner_active: bool
    org_archived: bool
    last_used_at: datetime | None
    # Detached copies of the owner and org as loaded with the token, for ``owner()`` and
    # ``organization()``: a request attaches them without a query.
    user_row: Any = field(default=None, compare=False, repr=False)
    org_row: Any = field(default=None, compare=False, repr=False)

    def owner(self) -> User | None:
        """The token's user in this request's session, as of the lookup (at most a second
        old, like the token itself); no query."""
        return _attached(self.user_row)

    def organization(self) -> Organization | None:
        return _attached(self.org_row)

    def may_use(self, global_id: str) -> bool:
        """Is ``provider/model`` among the token's models (exact ids, or patterns with ``*``
        wildcards: ``openai/*``, ``openai/gpt-5*``)? A token without a list may use any.
        The same rule as ``tokens.rules.model_allowed`` of the token forms."""
        if self.allowed_models is None:
            return True
        return any(
            fnmatchcase(global_id, p) if "*" in p else p == global_id for p in self.allowed_models
        )


_lock = threading.Lock()
_cache: dict[str, tuple[float, TokenIdentity | None]] = {}
_loading: set[str] = set()  # token hashes being reloaded right now
_last_used: dict[int, float] = {}  # token id → monotonic time this process last wrote it


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _last_used.clear()


def _detached_copy(row: T | None) -> T | None:
    """A copy of a loaded row's columns that belongs to no session (safe to share between
    threads: each request merges its own copy of it)."""
    if row is None:
        return None
    mapper = sa.inspect(type(row))
    copy = type(row)(**{attr.key: getattr(row, attr.key) for attr in mapper.column_attrs})
    make_transient_to_detached(copy)
    return copy


def _attached(row: T | None) -> T | None:
    return db.session.merge(row, load=False) if row is not None else None


def _load(token_hash: str) -> TokenIdentity | None:
    row = db.session.execute(
        sa.select(AccessToken, User, Organization)
        .outerjoin(User, User.id == AccessToken.user_id)
        .outerjoin(Organization, Organization.id == AccessToken.org_id)
        .where(AccessToken.token_hash == token_hash)
    ).first()
    if row is None:
        return None
    token, user, org = row
    active = user.active if user is not None else False
    archived_at = org.archived_at if org is not None else None
    return TokenIdentity(
        id=token.id,
        kind=token.kind,
        scope=token.scope,
        name=token.name,
        prefix=token.prefix,
        user_id=token.user_id,
        org_id=token.org_id,
        allowed_models=tuple(token.allowed_models) if token.allowed_models is not None else None,
        requests_per_minute=token.requests_per_minute,
        tokens_per_minute=token.tokens_per_minute,
        expires_at=token.expires_at,
        revoked=token.revoked_at is not None,
        # A service token has no user: its org being live is what counts.
        owner_active=bool(active) if token.kind == TokenKind.PERSONAL else True,
        org_archived=archived_at is not None,
        last_used_at=token.last_used_at,
        user_row=_detached_copy(user),
        org_row=_detached_copy(org),
    )


def _lookup(token_hash: str) -> TokenIdentity | None:
    """The token's identity, loaded at most once per ``CACHE_S`` and once at a time: when
    its entry expires under load, the requests that arrive while one reload is in flight
    keep the entry they have (a few milliseconds older) instead of each taking a database
    connection for the same row."""
    now = time.monotonic()
    found = _cache.get(token_hash)
    if found is not None and found[0] > now:
        return found[1]
    with _lock:
        if found is not None and token_hash in _loading:
            return found[1]
        _loading.add(token_hash)
    try:
        identity = _load(token_hash)
    finally:
        with _lock:
            _loading.discard(token_hash)
    with _lock:
        if len(_cache) >= CACHE_MAX:
            _cache.clear()  # a flood of junk tokens cannot grow memory without bound
        _cache[token_hash] = (now + CACHE_S, identity)
    return identity


def _touch(identity: TokenIdentity, now: datetime) -> None:
    """``last_used_at`` at most once a minute per token (per process, and in the database:
    the UPDATE only runs when the stored time is a minute old, so processes do not pile up)."""
    seen = _last_used.get(identity.id)
    if seen is not None and time.monotonic() - seen < LAST_USED_EVERY.total_seconds():
        return
    if identity.last_used_at is not None and now - identity.last_used_at < LAST_USED_EVERY:
        _last_used[identity.id] = time.monotonic()
        return
    _last_used[identity.id] = time.monotonic()
    table = AccessToken.__table__
    with side_writes.own_transaction() as connection:
        connection.execute(
            table.update()
            .where(
                table.c.id == identity.id,
                sa.or_(
                    table.c.last_used_at.is_(None), table.c.last_used_at < now - LAST_USED_EVERY
                ),
            )
            .values(last_used_at=now)
        )


def authenticate(secret: str | None, *, gateway: bool = True) -> TokenIdentity:
    """The live token behind ``secret``, or TokenRefused saying why not."""
    if not secret:
        raise TokenRefused(
            "missing", "Send an access token: `Authorization: Bearer sb-…` (or `x-api-key`)."
        )
    if not looks_like_secret(secret):
        raise TokenRefused("invalid", "The access token is not valid.")
    identity = _lookup(hash_secret(secret))
    if identity is None:
        raise TokenRefused("invalid", "The access token is not valid.")
    if identity.revoked:
        raise TokenRefused("revoked", "This access token has been revoked.")
    now = utcnow()
    if identity.expires_at is not None and identity.expires_at <= now:
        raise TokenRefused("expired", "This access token has expired.")
    if not identity.owner_active:
        raise TokenRefused("owner_inactive", "The owner of this access token is deactivated.")
    if identity.org_archived:
        raise TokenRefused("owner_inactive", "The organization of this access token is archived.")
    if not gateway and identity.scope == TokenScope.GATEWAY:
        raise TokenRefused("scope", "This access token may only call the gateway (/v1).")
    _touch(identity, now)
    return identity
