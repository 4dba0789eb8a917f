"""Which key serves a call: one function, the secret decrypted in memory only.

Managed mode: the org's key for the provider → the global key → the provider's environment
variable. BYOK mode: the user's own key, and nothing else — never a managed key. Expired
keys are skipped, and so are keys the provider rejected (401: marked invalid until edited
or tested again); several usable keys of one scope are a pool, taken in turn (``pools``).

The call path reads no ORM row: each owner's keys for a provider are loaded once per settings
version (``settings.cache``), decrypted once, and kept in memory like the SDK clients that
hold them anyway. Any write of a key or a provider bumps that version in its own
transaction, so this process drops the copy when the write commits and every other process
at its next check of the counter (a quarter of a second at most).

A key is sent only to the origin it was approved for (see ``origins``). A paused key is
skipped like an expired one: a managed call may fall through from a paused org key to the
global key and then to the environment variable, because each of those is checked against
where it would go in the same way; a BYOK call never falls through. A fallback variable the
operator no longer allows (SWITCHBOARD_PROVIDER_KEY_VARS) resolves no key.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import (
    Credential,
    KeySource,
    LastTestStatus,
    Mode,
    Organization,
    Provider,
    Scope,
    User,
)
from webapp.models.base import utcnow
from webapp.services.catalog.provider_rules import KEY_VARS_SETTING, key_env_name_ok
from webapp.services.catalog.snapshot import ProviderInfo
from webapp.services.credentials import crypto, pools
from webapp.services.credentials.origins import (
    Pause,
    configured_url,
    credential_pause,
    env_key_pause,
    env_paused_message,
    origin_of,
    paused_message,
)
from webapp.services.credentials.storage import (
    GLOBAL,
    Owner,
    aad_for,
    decrypt_secret,
    org_owner,
    user_owner,
)
from webapp.services.errors import NotConfigured
from webapp.services.settings.cache import settings_cache

log = logging.getLogger(__name__)

# The openai SDK insists on a key; local servers without auth ignore whatever is sent.
NO_KEY_PLACEHOLDER = "switchboard-no-key"


@dataclass(frozen=True)
class ResolvedKey:
    """The key for one call. ``secret`` is excluded from repr so it never reaches a log."""

    source: str
    provider_slug: str
    secret: str = field(repr=False)
    credential_id: int | None = None
    label: str | None = None
    base_url: str | None = None
    custom_base_url: bool = False  # typed by a person: checked against SSRF at call time


@dataclass(frozen=True)
class StoredKey:
    """What the call path keeps of one stored key between writes: never the ORM row. The
    secret is decrypted once per version of the row (None: it cannot be decrypted)."""

    id: int
    scope: str
    org_id: int | None
    owner_key: str
    label: str
    base_url: str | None
    approved_origin: str | None
    expires_at: datetime | None
    last_test_status: str
    secret: str | None = field(repr=False)


AnyProvider = Provider | ProviderInfo
CREDENTIALS = Credential.__table__
_POOL_COLUMNS = (
    CREDENTIALS.c.id,
    CREDENTIALS.c.scope,
    CREDENTIALS.c.org_id,
    CREDENTIALS.c.owner_key,
    CREDENTIALS.c.provider_id,
    CREDENTIALS.c.label,
    CREDENTIALS.c.base_url,
    CREDENTIALS.c.approved_origin,
    CREDENTIALS.c.expires_at,
    CREDENTIALS.c.last_test_status,
    CREDENTIALS.c.secret_ciphertext,
)


def _decrypted(row: Any) -> str | None:
    aad = aad_for(row.id, row.scope, row.owner_key, row.provider_id)
    try:
        return crypto.keyring().decrypt(row.secret_ciphertext, aad)
    except crypto.DecryptionError as exc:  # the row id and the reason, never the ciphertext
        log.error("credential %s cannot be decrypted: %s", row.id, exc)
        return None


def _load_keys(owner_key: str, provider_id: int) -> tuple[StoredKey, ...]:
    rows = db.session.execute(
        sa.select(*_POOL_COLUMNS)
        .where(CREDENTIALS.c.owner_key == owner_key, CREDENTIALS.c.provider_id == provider_id)
        .order_by(CREDENTIALS.c.created_at, CREDENTIALS.c.id)
    ).all()
    return tuple(
        StoredKey(
            id=row.id,
            scope=row.scope,
            org_id=row.org_id,
            owner_key=row.owner_key,
            label=row.label,
            base_url=row.base_url,
            approved_origin=row.approved_origin,
            expires_at=row.expires_at,
            last_test_status=row.last_test_status,
            secret=_decrypted(row),
        )
        for row in rows
    )


def stored_keys(owner_key: str, provider_id: int) -> tuple[StoredKey, ...]:
    """The owner's keys for the provider, oldest first, from this process's cache."""
    return settings_cache().get(
        ("credentials", owner_key, provider_id), lambda: _load_keys(owner_key, provider_id)
    )


_origin = functools.lru_cache(maxsize=1024)(origin_of)


def _pause(key: StoredKey, provider: AnyProvider) -> Pause | None:
    """As ``origins.credential_pause``, for a cached key and the provider it is used with."""
    current = _origin(key.base_url or configured_url(provider.base_url, provider.protocol))
    if current is not None and current == key.approved_origin:
        return None
    return Pause(provider.display_name, key.approved_origin, current, bool(key.base_url))


@dataclass
class _Skipped:
    """Keys passed over on the way to the one that serves a call, for the error message."""

    expired: bool = False
    paused: list[tuple[StoredKey, Pause]] = field(default_factory=list)
    invalid: list[StoredKey] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return self.expired or bool(self.paused) or bool(self.invalid)

    def message(self, provider: AnyProvider) -> str | None:
        """Why the first paused or rejected key was passed over; None when none was."""
        if self.paused:
            return paused_message(*self.paused[0])  # type: ignore[arg-type]
        if self.invalid:
            key = self.invalid[0]
            where = "Settings" if key.scope == Scope.USER else "Keys"
            return (
                f"The key “{key.label}” was rejected by {provider.display_name} (401), so it "
                f"is not used until it is edited or tested again on the {where} page."
            )
        return None


def _usable(
    owner: Owner, provider: AnyProvider, now: datetime, skipped: _Skipped
) -> list[StoredKey]:
    """The owner's usable keys for the provider, in the order to try them (a pool, see
    ``pools``); expired and paused ones are noted in ``skipped``."""
    candidates = stored_keys(owner.key, provider.id)
    if not candidates:
        return []
    live = [c for c in candidates if c.expires_at is None or c.expires_at > now]
    skipped.expired |= not live
    usable = []
    for key in live:
        pause = _pause(key, provider)
        if pause is not None:
            skipped.paused.append((key, pause))
            log.info("credential %s not used: paused (%s)", key.id, pause.why)
        elif key.last_test_status == LastTestStatus.INVALID:
            # The provider refused it (401): not sent again until edited or re-tested.
            skipped.invalid.append(key)
        else:
            usable.append(key)
    return pools.in_turn(usable, owner.key, provider.id)


def key_from_credential(credential: Credential) -> ResolvedKey:
    """A specific stored key (for "Test my key"), decrypted for this one call."""
    pause = credential_pause(credential)
    if pause is not None:
        raise NotConfigured(paused_message(credential, pause))
    provider = credential.provider
    try:
        secret = decrypt_secret(credential)
    except crypto.DecryptionError:
        raise NotConfigured(_undecryptable(credential.scope, provider)) from None
    return ResolvedKey(
        source=credential.scope,
        provider_slug=provider.slug,
        secret=secret,
        credential_id=credential.id,
        label=credential.label,
        base_url=credential.base_url or provider.base_url,
        custom_base_url=bool(credential.base_url),
    )


def _undecryptable(source: str, provider: AnyProvider) -> str:
    return (
        f"The stored {source} key for {provider.display_name} cannot be decrypted with the "
        "configured encryption keys. An admin should run "
        "`flask --app wsgi encryption-keys check`."
    )


def _resolved(source: str, provider: AnyProvider, key: StoredKey) -> ResolvedKey:
    if key.secret is None:
        raise NotConfigured(_undecryptable(source, provider))
    return ResolvedKey(
        source=source,
        provider_slug=provider.slug,
        secret=key.secret,
        credential_id=key.id,
        label=key.label,
        base_url=key.base_url or provider.base_url,
        custom_base_url=bool(key.base_url),
    )


def _env_key(provider: AnyProvider) -> tuple[ResolvedKey | None, str | None]:
    """The provider's environment-variable key, or why it may not be used."""
    name = provider.api_key_env
    if not name:
        return None, None
    if not key_env_name_ok(name):
        return None, (
            f"{provider.display_name}'s fallback key variable {name} is no longer allowed: "
            f"the operator lists the allowed ones in {KEY_VARS_SETTING}. An admin can choose "
            "another on the Providers page."
        )
    value = os.environ.get(name, "").strip()
    if not value:
        return None, None
    pause = env_key_pause(provider)
    if pause is not None:
        return None, env_paused_message(provider, pause)
    return ResolvedKey(
        KeySource.ENVIRONMENT, provider.slug, value, base_url=provider.base_url
    ), None


def _byok(user: User | None, provider: AnyProvider, now: datetime) -> list[ResolvedKey]:
    """The user's own key, and nothing else — never a managed key."""
    name = provider.display_name
    if user is None:
        raise NotConfigured("Bring-your-own-key calls need a signed-in user.")
    skipped = _Skipped()
    pool = _usable(user_owner(user.id), provider, now, skipped)
    if pool:
        return [_resolved(KeySource.USER, provider, c) for c in pool]
    if reason := skipped.message(provider):
        raise NotConfigured(reason)
    hint = "has expired" if skipped.expired else "is missing"
    raise NotConfigured(
        f"No personal key for {name}: yours {hint}. Add one on the Settings page, "
        "or switch to managed mode."
    )


def resolve_key(
    user: User | None,
    org: Organization | None,
    provider: AnyProvider,
    *,
    mode: str | None = None,
    now: datetime | None = None,
) -> ResolvedKey:
    """The key that serves ``user``'s call to ``provider`` in ``org`` (the first of its
    pool), or NotConfigured."""
    return resolve_keys(user, org, provider, mode=mode, now=now)[0]


def resolve_keys(
    user: User | None,
    org: Organization | None,
    provider: AnyProvider,
    *,
    mode: str | None = None,
    now: datetime | None = None,
) -> list[ResolvedKey]:
    """The keys that may serve ``user``'s call to ``provider`` in ``org``, in the order to
    try them: every usable key of the first scope that has one (org, then global), else the
    environment variable, else none for a keyless local server. NotConfigured when none.

    A paused key is skipped like an expired one: the next scope's key (itself checked against
    where it would go) may serve the call; when none does, the error says which key is paused
    and who can resume it.
    """
    now = now or utcnow()
    mode = mode or (user.mode if user else Mode.MANAGED)
    name = provider.display_name
    if not provider.enabled:
        raise NotConfigured(f"{name} is disabled: an admin has to enable it before use.")
    if mode == Mode.BYOK:
        return _byok(user, provider, now)

    skipped = _Skipped()
    if org is not None:
        if user is not None and not user.is_admin and user.org_role(org.id) is None:
            raise NotConfigured(f"You are not a member of {org.name}.")
        pool = _usable(org_owner(org.id), provider, now, skipped)
        if pool:
            return [_resolved(KeySource.ORG, provider, c) for c in pool]
    pool = _usable(GLOBAL, provider, now, skipped)
    if pool:
        return [_resolved(KeySource.GLOBAL, provider, c) for c in pool]
    env_key, env_problem = _env_key(provider)
    if env_key is not None:
        return [env_key]
    if not provider.api_key_env and not skipped.any:
        return [
            ResolvedKey(
                KeySource.NONE, provider.slug, NO_KEY_PLACEHOLDER, base_url=provider.base_url
            )
        ]
    if reason := skipped.message(provider) or env_problem:
        raise NotConfigured(f"{name} cannot be called. {reason}")
    detail = "the configured keys have expired" if skipped.expired else "no key is configured"
    raise NotConfigured(
        f"{name} cannot be called: {detail}. An admin can add a key on the Keys page"
        + (f" or set {provider.api_key_env}." if provider.api_key_env else ".")
    )
