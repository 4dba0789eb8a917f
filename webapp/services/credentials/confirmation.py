"""Resuming paused keys, and counting the keys a base-URL change pauses.

Every confirmation checks in the service that the actor may manage the key (``may_manage``;
the environment-variable key is the admins') and signed in recently (``recent_sign_in``:
whatever route or API call asks), approves the origin the key would be sent to now — only if
that is still the origin the person saw, when one is given — and is audited as
``confirm_origin`` with the origin before and after, never the secret.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Credential, Provider, Scope, User
from webapp.services.accounts import recent_sign_in
from webapp.services.audit import events as audit
from webapp.services.catalog.provider_rules import key_env_name_ok
from webapp.services.changes import commit_audited
from webapp.services.credentials.origins import (
    Pause,
    approved_env_key,
    configured_url,
    credential_pause,
    env_key_pause,
    origin_of,
    provider_url,
    shown_origin,
)
from webapp.services.credentials.storage import CONFIRM_ACTION, GLOBAL, Owner, may_manage
from webapp.services.errors import Conflict, NotFound, PermissionDenied


def _current(expected: str | None, current: str | None) -> str:
    """The origin to approve: the current one, if it is still the one the person confirmed."""
    if current is None:
        raise Conflict("This key's base URL is not usable; fix the URL instead of confirming.")
    if expected is not None and expected != current:
        raise Conflict(
            f"The address changed again, to {shown_origin(current)}, since the page was "
            "loaded. Review it and confirm again."
        )
    return current


def _approve(actor: User, credential: Credential, origin: str | None) -> bool:
    """Approve where the key would go now, audited; False when it was not paused."""
    pause = credential_pause(credential)
    if pause is None:
        return False
    before = credential.approved_origin
    credential.approved_origin = _current(origin, pause.current)
    audit.record(
        "confirm_origin",
        "credential",
        actor=actor,
        target_id=credential.id,
        target_label=f"{credential.scope} key {credential.provider.slug}/{credential.label}",
        changes={"approved_origin": {"before": before, "after": credential.approved_origin}},
        org_id=credential.org_id,
    )
    return True


def _same_variable(expected: str | None, current: str | None) -> None:
    """The variable to approve is the one the person saw, when the page said which."""
    if expected is not None and expected != current:
        raise Conflict(
            f"The fallback key variable changed again, to {current or 'none'}, since the page "
            "was loaded. Review it and confirm again."
        )


def _approve_env(
    actor: User, provider: Provider, origin: str | None, variable: str | None = None
) -> bool:
    """Approve the pair (the provider's variable, its address now), audited; False when the
    fallback key was not paused (or there is none)."""
    pause = env_key_pause(provider)
    if pause is None or not provider.api_key_env:
        return False
    _same_variable(variable, provider.api_key_env)
    before = {"env_key_var": provider.env_key_var, "env_key_origin": provider.env_key_origin}
    provider.env_key_origin = _current(origin, pause.current)
    provider.env_key_var = provider.api_key_env
    after = {"env_key_var": provider.env_key_var, "env_key_origin": provider.env_key_origin}
    audit.record(
        "confirm_origin",
        "provider",
        actor=actor,
        target_id=provider.id,
        target_label=provider.slug,
        changes=audit.diff(before, after),
    )
    return True


def confirm_origin(actor: User, credential: Credential, origin: str | None = None) -> Credential:
    """Send this stored key to where it would go now (``origin``, as the person saw it)."""
    if not may_manage(actor, Owner(credential.scope, credential.org_id, credential.user_id)):
        raise NotFound("That key does not exist.")
    recent_sign_in.require(CONFIRM_ACTION)
    if _approve(actor, credential, origin):
        commit_audited("key")
    return credential


def confirm_env_key_origin(
    actor: User, provider: Provider, origin: str | None = None, variable: str | None = None
) -> Provider:
    """Send the provider's environment-variable key (``variable``, as the person saw it) to
    its current base URL (``origin``, likewise): admins only."""
    if not actor.is_admin:
        raise PermissionDenied("Only admins may confirm where the fallback key is sent.")
    recent_sign_in.require(CONFIRM_ACTION)
    if _approve_env(actor, provider, origin, variable):
        commit_audited("provider")
    return provider


def confirm_provider_keys(
    actor: User, provider: Provider, origin: str | None = None, variable: str | None = None
) -> int:
    """Resume the global keys and the fallback key paused by the provider's new address (or
    fallback-key variable), in one transaction; returns how many. Org and personal keys stay
    with those who manage them."""
    if not actor.is_admin or not may_manage(actor, GLOBAL):
        raise PermissionDenied("Only admins may confirm global keys and the fallback key.")
    recent_sign_in.require(CONFIRM_ACTION)
    following = db.session.scalars(
        sa.select(Credential).where(
            Credential.provider_id == provider.id,
            Credential.scope == Scope.GLOBAL,
            Credential.base_url.is_(None),
        )
    )
    resumed = sum(_approve(actor, credential, origin) for credential in list(following))
    if provider.api_key_env:
        resumed += _approve_env(actor, provider, origin, variable)
    commit_audited("provider")
    return resumed


@dataclass
class KeyCounts:
    """Keys per scope (``global``, ``org``, ``user``) plus the fallback key, for one provider."""

    origin: str | None  # where they would go
    scopes: Counter[str] = field(default_factory=Counter)
    env_key: str | None = None  # the variable's name when the fallback key counts
    provider: str = ""  # display name
    env_variable_changed: bool = False  # the fallback key counts for its variable, not address

    @property
    def total(self) -> int:
        return sum(self.scopes.values()) + (1 if self.env_key else 0)

    @property
    def new_host(self) -> str:
        return shown_origin(self.origin)

    @property
    def confirmable_by_admin(self) -> bool:
        return bool(self.scopes[Scope.GLOBAL] or self.env_key)

    @property
    def why(self) -> str:
        """What paused them (or would): the address, the fallback key's variable, or both."""
        moved = sum(self.scopes.values()) or (self.env_key and not self.env_variable_changed)
        reasons = [f"{self.provider}'s address changed to {self.new_host}"] if moved else []
        if self.env_key and self.env_variable_changed:
            reasons.append(f"{self.env_key} has not been confirmed for {self.new_host}")
        return "; ".join(reasons)

    def summary(self) -> str:
        """E.g. "1 global key, 2 organization keys and the fallback key OPENAI_API_KEY"."""
        parts = []
        for scope, word in (
            (Scope.GLOBAL, "global"),
            (Scope.ORG, "organization"),
            (Scope.USER, "personal"),
        ):
            if n := self.scopes[scope]:
                parts.append(f"{n} {word} key{'' if n == 1 else 's'}")
        if self.env_key:
            parts.append(f"the fallback key {self.env_key}")
        return " and ".join(", ".join(parts).rsplit(", ", 1)) if parts else "no keys"


def _following(provider_ids: list[int]) -> dict[int, list[tuple[str, str | None]]]:
    """Per provider, (scope, approved origin) of the keys that follow its base URL."""
    rows = db.session.execute(
        sa.select(Credential.provider_id, Credential.scope, Credential.approved_origin).where(
            Credential.provider_id.in_(provider_ids), Credential.base_url.is_(None)
        )
    )
    found: dict[int, list[tuple[str, str | None]]] = {pid: [] for pid in provider_ids}
    for provider_id, scope, approved in rows:
        found[provider_id].append((scope, approved))
    return found


def _env_key_set(provider: Provider) -> bool:
    """Whether the fallback key exists in this environment (only then is it worth counting)."""
    return bool(provider.api_key_env and os.environ.get(provider.api_key_env, "").strip())


def _counts(provider: Provider, keys: list[tuple[str, str | None]], paused: bool) -> KeyCounts:
    """The keys approved for the provider's address (``paused``: approved for another; the
    fallback key: its pair of variable and address not the approved one)."""
    now = origin_of(provider_url(provider))
    counts = KeyCounts(now, provider=provider.display_name)
    for scope, approved in keys:
        if (approved != now) == paused:
            counts.scopes[scope] += 1
    pause = env_key_pause(provider)
    if _env_key_set(provider) and (pause is not None) == paused:
        counts.env_key = provider.api_key_env
        counts.env_variable_changed = pause is not None and pause.variable_changed
    return counts


def following_keys(provider: Provider) -> KeyCounts:
    """The keys sent to the provider's address today (a change of address pauses them)."""
    return _counts(provider, _following([provider.id])[provider.id], paused=False)


def _set(variable: str | None) -> bool:
    return bool(variable and os.environ.get(variable, "").strip())


def url_change_impact(
    provider: Provider, base_url: str | None, protocol: str, api_key_env: str | None = None
) -> KeyCounts:
    """The keys that work today and would be paused if the provider's address became
    ``base_url`` (empty: the SDK default of ``protocol``) and its fallback-key variable
    ``api_key_env`` (None: unchanged; "": none) — a new variable counts as paused unless that
    very pair was approved."""
    new = origin_of(configured_url(base_url or None, protocol))
    variable = provider.api_key_env if api_key_env is None else (api_key_env.strip() or None)
    moved = new != origin_of(provider_url(provider))
    counts = following_keys(provider) if moved else KeyCounts(new, provider=provider.display_name)
    counts.origin, counts.env_key, counts.env_variable_changed = new, None, False
    renamed = variable != provider.api_key_env
    works_today = _env_key_set(provider) and env_key_pause(provider) is None
    if (
        (moved or renamed)
        and (works_today or renamed)
        and _set(variable)
        and (variable, new) != approved_env_key(provider)
    ):
        counts.env_key, counts.env_variable_changed = variable, variable != provider.env_key_var
    return counts


def paused_by_address(providers: list[Provider]) -> dict[int, KeyCounts]:
    """Per provider with any, the keys paused because its address is not the one they were
    approved for (keys paused by their own override are shown with those keys)."""
    keys = _following([p.id for p in providers])
    counts = {p.id: _counts(p, keys[p.id], paused=True) for p in providers}
    return {pid: c for pid, c in counts.items() if c.total}


@dataclass(frozen=True)
class EnvKeyStatus:
    """The provider's fallback key as the Keys page shows it (never its value)."""

    name: str
    allowed: bool  # listed in SWITCHBOARD_PROVIDER_KEY_VARS
    present: bool  # set in this process's environment
    pause: Pause | None


def env_key_status(provider: Provider) -> EnvKeyStatus | None:
    name = provider.api_key_env
    if not name:
        return None
    return EnvKeyStatus(
        name, key_env_name_ok(name), _env_key_set(provider), env_key_pause(provider)
    )
