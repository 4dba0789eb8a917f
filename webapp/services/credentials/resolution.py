"""Which key serves a call: one function, the secret decrypted in memory only.

Managed mode: the org's key for the provider → the global key → the provider's environment
variable. BYOK mode: the user's own key, and nothing else — never a managed key. Expired
keys are skipped; among several usable keys the one not known to be invalid and created
first wins, so the choice is stable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Credential, KeySource, LastTestStatus, Mode, Organization, Provider, User
from webapp.models.base import utcnow
from webapp.services.credentials import crypto
from webapp.services.credentials.storage import GLOBAL, Owner, decrypt_secret, org_owner, user_owner
from webapp.services.errors import ServiceError

# The openai SDK insists on a key; local servers without auth ignore whatever is sent.
NO_KEY_PLACEHOLDER = "switchboard-no-key"


class KeyNotConfigured(ServiceError):
    """No usable key for this call; the message says what the user can do about it."""

    status_code = 400
    error_type = "not_configured"


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


def _usable(owner: Owner, provider: Provider, now: datetime) -> tuple[Credential | None, bool]:
    """The owner's best key for the provider, and whether only expired ones exist."""
    candidates = list(
        db.session.scalars(
            sa.select(Credential)
            .where(Credential.owner_key == owner.key, Credential.provider_id == provider.id)
            .order_by(Credential.created_at, Credential.id)
        )
    )
    live = [c for c in candidates if c.expires_at is None or c.expires_at > now]
    live.sort(key=lambda c: c.last_test_status == LastTestStatus.INVALID)
    return (live[0] if live else None), bool(candidates) and not live


def key_from_credential(credential: Credential) -> ResolvedKey:
    """A specific stored key (for "Test my key"), decrypted for this one call."""
    return _resolved(credential.scope, credential.provider, credential)


def _resolved(source: str, provider: Provider, credential: Credential) -> ResolvedKey:
    try:
        secret = decrypt_secret(credential)
    except crypto.DecryptionError:
        raise KeyNotConfigured(
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


def resolve_key(
    user: User | None,
    org: Organization | None,
    provider: Provider,
    *,
    mode: str | None = None,
    now: datetime | None = None,
) -> ResolvedKey:
    """The key that serves ``user``'s call to ``provider`` in ``org``, or KeyNotConfigured."""
    now = now or utcnow()
    mode = mode or (user.mode if user else Mode.MANAGED)
    name = provider.display_name
    if not provider.enabled:
        raise KeyNotConfigured(f"{name} is disabled: an admin has to enable it before use.")
    if mode == Mode.BYOK:
        if user is None:
            raise KeyNotConfigured("Bring-your-own-key calls need a signed-in user.")
        credential, expired = _usable(user_owner(user.id), provider, now)
        if credential is None:
            hint = "has expired" if expired else "is missing"
            raise KeyNotConfigured(
                f"No personal key for {name}: yours {hint}. Add one on the Settings page, "
                "or switch to managed mode."
            )
        return _resolved(KeySource.USER, provider, credential)

    expired_any = False
    if org is not None:
        if user is not None and not user.is_admin and user.org_role(org.id) is None:
            raise KeyNotConfigured(f"You are not a member of {org.name}.")
        credential, expired = _usable(org_owner(org.id), provider, now)
        expired_any |= expired
        if credential is not None:
            return _resolved(KeySource.ORG, provider, credential)
    credential, expired = _usable(GLOBAL, provider, now)
    expired_any |= expired
    if credential is not None:
        return _resolved(KeySource.GLOBAL, provider, credential)
    if provider.api_key_env and (value := os.environ.get(provider.api_key_env, "").strip()):
        return ResolvedKey(KeySource.ENVIRONMENT, provider.slug, value, base_url=provider.base_url)
    if not provider.api_key_env and not expired_any:
        return ResolvedKey(
            KeySource.NONE, provider.slug, NO_KEY_PLACEHOLDER, base_url=provider.base_url
        )
    detail = "the configured keys have expired" if expired_any else "no key is configured"
    raise KeyNotConfigured(
        f"{name} cannot be called: {detail}. An admin can add a key on the Keys page"
        + (f" or set {provider.api_key_env}." if provider.api_key_env else ".")
    )
