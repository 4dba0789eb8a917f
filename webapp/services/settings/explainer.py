"""Why a call would use the values it uses: effective settings plus the key source."""

from __future__ import annotations

from dataclasses import dataclass, field

from webapp.extensions import db
from webapp.models import Organization, Provider, User
from webapp.services.credentials.resolution import resolve_key
from webapp.services.errors import NotConfigured
from webapp.services.settings.resolution import EffectiveSettings, resolve


@dataclass
class KeyExplanation:
    model: str
    source: str | None = None  # user | org | global | environment | none
    label: str | None = None
    credential_id: int | None = None
    problem: str | None = None


@dataclass
class Explanation:
    effective: EffectiveSettings | None
    problem: str | None = None
    keys: list[KeyExplanation] = field(default_factory=list)
    mode: str | None = None


def _key(
    user: User | None, org: Organization | None, provider_id: int, model: str
) -> KeyExplanation:
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        return KeyExplanation(model, problem="The provider no longer exists.")
    try:
        key = resolve_key(user, org, provider)
    except NotConfigured as exc:
        return KeyExplanation(model, problem=exc.message)
    return KeyExplanation(model, key.source, key.label, key.credential_id)


def explain(user: User | None, org: Organization | None, feature: str | None) -> Explanation:
    """The effective settings for user × org × feature, and which key would serve each model.

    Only the key's source and label are reported; the secret is decrypted by key resolution
    and dropped here without being returned.
    """
    try:
        effective = resolve(
            user_id=user.id if user else None,
            org_id=org.id if org else None,
            feature=feature or None,
        )
    except NotConfigured as exc:
        return Explanation(None, exc.message)
    models = [effective.model, *effective.fallbacks]
    keys = [_key(user, org, m.provider_id, m.global_id) for m in models]
    return Explanation(effective, keys=keys, mode=user.mode if user else "managed")
