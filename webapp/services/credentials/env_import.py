"""``credentials import-env``: provider keys kept in environment variables (each provider's
fallback-key variable, ``api_key_env``) become encrypted global keys, so the variables can be
removed from the server's environment.

A dry run lists what would be stored, with the keys masked; applying stores each one through
:func:`storage.create_credential` (encrypted, audited with the key shown only as ``[set]``).
Running it again changes nothing: a key already stored for the provider is skipped.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Credential, Provider, Scope
from webapp.services.catalog.provider_rules import key_env_name_ok
from webapp.services.credentials import storage
from webapp.services.credentials.origins import env_key_pause
from webapp.services.errors import ValidationError

log = logging.getLogger(__name__)

IMPORT = "import"
SKIP = "skip"
REFUSED = "refused"


@dataclass(frozen=True)
class EnvKey:
    """One provider's environment key and what importing it does (or did)."""

    provider: str  # slug
    variable: str
    masked: str
    action: str  # IMPORT, SKIP or REFUSED
    label: str
    reason: str = ""
    credential_id: int | None = None

    def line(self, applied: bool) -> str:
        verb = {IMPORT: "imported" if applied else "would import", SKIP: "skipped"}
        head = f"{verb.get(self.action, 'refused')}: {self.variable} ({self.masked}) -> "
        head += f"global key {self.provider}/{self.label}"
        return head + (f" — {self.reason}" if self.reason else "")


def mask(secret: str) -> str:
    """``••••…AbCd`` for long keys, ``••••`` for short ones (same rule as the key pages)."""
    hint = storage.hint_for(secret)
    return f"••••…{hint}" if hint else "••••"


def label_for(variable: str) -> str:
    return f"from {variable}"


def _stored_label(provider: Provider, secret: str) -> str | None:
    """The label of a global key of ``provider`` holding exactly ``secret``, if any."""
    rows = db.session.scalars(
        sa.select(Credential).where(
            Credential.scope == Scope.GLOBAL, Credential.provider_id == provider.id
        )
    )
    for credential in rows:
        try:
            if storage.decrypt_secret(credential) == secret:
                return credential.label
        except Exception:  # a row under a missing key: `encryption-keys check` reports it
            continue
    return None


def _plan_one(provider: Provider) -> EnvKey | None:
    variable = provider.api_key_env or ""
    secret = os.environ.get(variable, "").strip() if variable else ""
    if not secret:
        return None

    def item(action: str, label: str = label_for(variable), reason: str = "") -> EnvKey:
        return EnvKey(provider.slug, variable, mask(secret), action, label, reason)

    if not key_env_name_ok(variable):
        return item(REFUSED, reason="the variable is not allowed by SWITCHBOARD_PROVIDER_KEY_VARS")
    if env_key_pause(provider) is not None:
        return item(
            REFUSED,
            reason="the key is paused (not confirmed for this variable and the provider's "
            "address); confirm it on the Keys page",
        )
    stored = _stored_label(provider, secret)
    if stored is not None:
        return item(SKIP, label=stored, reason="already stored")
    return item(IMPORT)


def plan_import() -> list[EnvKey]:
    """What importing would do, per provider with a fallback-key variable that is set."""
    providers = db.session.scalars(sa.select(Provider).order_by(Provider.slug))
    return [item for provider in providers if (item := _plan_one(provider)) is not None]


def apply_import() -> list[EnvKey]:
    """Store every importable key as a global key (audited, actor "system")."""
    done: list[EnvKey] = []
    for item in plan_import():
        if item.action != IMPORT:
            done.append(item)
            continue
        provider = db.session.scalar(sa.select(Provider).where(Provider.slug == item.provider))
        assert provider is not None
        secret = os.environ[item.variable].strip()
        data = storage.CredentialInput(label=item.label, secret=secret)
        try:
            credential = storage.create_credential(None, storage.GLOBAL, provider.id, data)
        except ValidationError as exc:
            db.session.rollback()
            done.append(replace(item, action=REFUSED, reason=exc.message))
            continue
        log.info("imported %s into global key %s", item.variable, credential.id)
        done.append(replace(item, credential_id=credential.id))
    return done
