"""Which key serves a call: one function, the secret decrypted in memory only.

Managed mode: the org's key for the provider → the global key → the provider's environment
variable. BYOK mode: the user's own key, and nothing else — never a managed key. Expired
keys are skipped; among several usable keys the one not known to be invalid and created
first wins, so the choice is stable.

A key is sent only to the origin it was approved for (see ``origins``). A paused key is
skipped like an expired one: a managed call may fall through from a paused org key to the
global key and then to the environment variable, because each of those is checked against
where it would go in the same way; a BYOK call never falls through. A fallback variable the
operator no longer allows (SWITCHBOARD_PROVIDER_KEY_VARS) resolves no key.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Credential, KeySource, Mode, Organization, Provider, User
from webapp.models.base import utcnow
from webapp.services.catalog.provider_rules import KEY_VARS_SETTING, key_env_name_ok
from webapp.services.credentials import crypto, pools
from webapp.services.credentials.origins import (
    Pause,
    credential_pause,
    env_key_pause,
    env_paused_message,
    paused_message,
)
from webapp.services.credentials.storage import GLOBAL, Owner, decrypt_secret, org_owner, user_owner
from webapp.services.errors import NotConfigured

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


@dataclass
class _Skipped:
    """Keys passed over on the way to the one that serves a call, for the error message."""

    expired: bool = False
    paused: list[tuple[Credential, Pause]] = field(default_factory=list)

    def message(self) -> str | None:
        """The first paused key's explanation, or None when none was paused."""
        return paused_message(*self.paused[0]) if self.paused else None


def _usable(owner: Owner, provider: Provider, now: datetime, skipped: _Skipped) -> list[Credential]:
    """The owner's usable keys for the provider, in the order to try them (a pool, see
    ``pools``); expired and paused ones are noted in ``skipped``."""
    candidates = list(
        db.session.scalars(
            sa.select(Credential)
            .where(Credential.owner_key == owner.key, Credential.provider_id == provider.id)
            .order_by(Credential.created_at, Credential.id)
        )
    )
    live = [c for c in candidates if c.expires_at is None or c.expires_at > now]
    skipped.expired |= bool(candidates) and not live
    usable = []
    for credential in live:
        pause = credential_pause(credential)
        if pause is None:
            usable.append(credential)
        else:
            skipped.paused.append((credential, pause))
            log.info("credential %s not used: paused (%s)", credential.id, pause.why)
    return pools.in_turn(usable, owner.key, provider.id)


def key_from_credential(credential: Credential) -> ResolvedKey:
    """A specific stored key (for "Test my key"), decrypted for this one call."""
    pause = credential_pause(credential)
    if pause is not None:
        raise NotConfigured(paused_message(credential, pause))
    return _resolved(credential.scope, credential.provider, credential)


def _resolved(source: str, provider: Provider, credential: Credential) -> ResolvedKey:
    try:
        secret = decrypt_secret(credential)
    except crypto.DecryptionError:
        raise NotConfigured(
            f"The stored {source} key for {provider.display_name} cannot be decrypted with the "
            "configured encryption keys. An admin should run "
            "`flask --app wsgi encryption-keys check`."
        ) from None
    return ResolvedKey(
        source=source,
        provider_slug=provider.slug,
        secret=secret,
        credential_id=credential.id,
        label=credential.label,
        base_url=credential.base_url or provider.base_url,
        custom_base_url=bool(credential.base_url),
    )


def _env_key(provider: Provider) -> tuple[ResolvedKey | None, str | None]:
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


def _byok(user: User | None, provider: Provider, now: datetime) -> list[ResolvedKey]:
    """The user's own key, and nothing else — never a managed key."""
    name = provider.display_name
    if user is None:
        raise NotConfigured("Bring-your-own-key calls need a signed-in user.")
    skipped = _Skipped()
    pool = _usable(user_owner(user.id), provider, now, skipped)
    if pool:
        return [_resolved(KeySource.USER, provider, c) for c in pool]
    if paused := skipped.message():
        raise NotConfigured(paused)
    hint = "has expired" if skipped.expired else "is missing"
    raise NotConfigured(
        f"No personal key for {name}: yours {hint}. Add one on the Settings page, "
        "or switch to managed mode."
    )


def resolve_key(
    user: User | None,
    org: Organization | None,
    provider: Provider,
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
    provider: Provider,
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
    if not provider.api_key_env and not skipped.expired and not skipped.paused:
        return [
            ResolvedKey(
                KeySource.NONE, provider.slug, NO_KEY_PLACEHOLDER, base_url=provider.base_url
            )
        ]
    if reason := skipped.message() or env_problem:
        raise NotConfigured(f"{name} cannot be called. {reason}")
    detail = "the configured keys have expired" if skipped.expired else "no key is configured"
    raise NotConfigured(
        f"{name} cannot be called: {detail}. An admin can add a key on the Keys page"
        + (f" or set {provider.api_key_env}." if provider.api_key_env else ".")
    )
