"""Create, edit, enable and delete providers. A provider speaking one of the three protocols
needs no code change: everything about it is data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CatalogModel, Credential, Protocol, Provider, UsageRecord, User
from webapp.services.accounts import recent_sign_in
from webapp.services.audit import events as audit
from webapp.services.catalog import schemas
from webapp.services.changes import commit_change, delete_record
from webapp.services.credentials import url_guard
from webapp.services.credentials.origins import (
    approve_new_provider,
    configured_url,
    origin_of,
    provider_url,
)
from webapp.services.errors import NotFound, PermissionDenied, ValidationError
from webapp.services.schemas import validate

FIELDS = (
    "slug",
    "display_name",
    "description",
    "protocol",
    "base_url",
    "api_key_env",
    "credit_multiplier",
    "enabled",
    "extra_headers",
    "env_key_var",
    "env_key_origin",
    "default_model",
)


@dataclass
class ProviderInput:
    """What a provider form sends; validated by ``schemas.ProviderRecord``."""

    display_name: str
    protocol: str
    slug: str = ""
    description: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    credit_multiplier: str | Decimal = "1"
    enabled: bool = True
    extra_headers: str | dict[str, str] | None = None
    default_model: str | None = None


def get_provider(provider_id: int) -> Provider:
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("That provider does not exist.")
    return provider


def require_admin(actor: User | None) -> None:
    """Providers and the catalog are site configuration: admins (or the system) only."""
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("Only admins can change providers and models.")


def _fields(data: ProviderInput | Mapping[str, Any]) -> dict[str, Any]:
    return asdict(data) if isinstance(data, ProviderInput) else dict(data)


def check_provider(
    data: ProviderInput | Mapping[str, Any],
    current: Provider | None,
    *,
    allowed: Iterable[str] | None = None,
    resolver: url_guard.Resolver | None = None,
    preset: bool = False,
) -> dict[str, Any]:
    """The provider's values as stored, or a ValidationError with every field's message.

    The schema's rules, then those that need the database or the network: a free slug, and
    the SSRF guard on a new or changed base URL (an unchanged one is not re-checked).
    ``preset``: a provider shipped with Switchboard (the seed), whose address and key
    variable are ours, not an admin's: no DNS lookup at start-up, no allow-list."""
    raw = _fields(data)
    if current is not None:
        raw.pop("slug", None)  # the identity never changes: exports and model ids use it
    elif raw.get("slug") is None:
        raw["slug"] = ""  # absent: the slug rule's message says what to type
    stored = {"api_key_env": current.api_key_env} if current is not None else None
    if preset:
        stored = {"api_key_env": raw.get("api_key_env")}
    errors: dict[str, str] = {}
    try:
        schema = schemas.ProviderRecord if current is not None else schemas.NewProvider
        values = validate(schema, raw, stored).model_dump()
    except ValidationError as exc:
        errors, values = dict(exc.errors), {}
    slug = values.get("slug")
    if slug and db.session.scalar(sa.select(Provider.id).where(Provider.slug == slug)):
        errors["slug"] = f"A provider with the slug {slug!r} exists already."
    # Checked even when another field failed, so every message shows at once; a base URL
    # that is not text has its message from the schema already.
    typed_url = raw.get("base_url")
    base_url = values.get("base_url") or (
        typed_url.strip() or None if isinstance(typed_url, str) else None
    )
    if base_url and (current is None or base_url != current.base_url):
        try:  # stored normalized (host in punycode, no trailing slash) by every path
            values["base_url"] = (
                url_guard.normalized_url(base_url)
                if preset
                else url_guard.check_base_url(base_url, allowed=allowed, resolver=resolver)
            )
        except ValidationError as exc:
            errors.update(exc.errors)
    default = values.get("default_model")
    if (
        current is not None
        and default
        and default != current.default_model
        and not any(m.model_id == default for m in current.models)
    ):
        errors["default_model"] = (
            f"{current.slug} has no model {default!r} in the catalog: add it first."
        )
    if raw.get("protocol") == Protocol.OPENAI_COMPATIBLE and not base_url:
        errors.setdefault("base_url", "An OpenAI-compatible provider needs a base URL.")
    if errors:
        raise ValidationError(errors)
    return values


def write_provider(provider: Provider, values: Mapping[str, Any]) -> Provider:
    """Put checked values on a provider (new or stored); nothing is committed here."""
    for name, value in values.items():
        setattr(provider, name, value)
    if provider.id is None:  # the person creating a provider approves where its keys go
        approve_new_provider(provider)
        db.session.add(provider)
    return provider


def _snapshot(provider: Provider) -> dict[str, Any]:
    return audit.snapshot(provider, FIELDS)


def _save(actor: User, provider: Provider, action: str, before: dict | None) -> Provider:
    commit_change(
        actor,
        action=action,
        target_type="provider",
        target_id=provider.id,
        target_label=provider.slug,
        before=before,
        after=_snapshot(provider),
    )
    return provider


def moves_keys(provider: Provider, values: Mapping[str, Any]) -> bool:
    """Whether checked ``values`` change where the provider's keys go: its base URL, the
    address its protocol implies, or the variable its fallback key sends."""
    new_url = configured_url(values.get("base_url"), values.get("protocol") or provider.protocol)
    return (
        values.get("base_url") != provider.base_url
        or origin_of(new_url) != origin_of(provider_url(provider))
        or values.get("api_key_env") != provider.api_key_env
    )


def create_provider(actor: User, data: ProviderInput | Mapping[str, Any]) -> Provider:
    require_admin(actor)
    provider = write_provider(Provider(is_preset=False), check_provider(data, None))
    db.session.flush()
    return _save(actor, provider, "create", None)


def update_provider(
    actor: User,
    provider: Provider,
    data: ProviderInput | Mapping[str, Any],
    expected_version: int | None,
) -> Provider:
    """Everything but the slug (exports and model ids refer to it)."""
    require_admin(actor)
    provider.check_version(expected_version, "this provider")
    values = check_provider(data, provider)
    if actor is not None and moves_keys(provider, values):
        recent_sign_in.require("Changing where a provider's keys go")
    before = _snapshot(provider)
    write_provider(provider, values)
    return _save(actor, provider, "update", before)


def set_enabled(actor: User, provider: Provider, enabled: bool) -> Provider:
    require_admin(actor)
    before = _snapshot(provider)
    provider.enabled = enabled
    return _save(actor, provider, "update", before)


@dataclass
class DeleteImpact:
    models: int
    keys: int
    usage_records: int
    defaults: list[str]


def delete_impact(provider: Provider) -> DeleteImpact:
    """What deleting the provider would remove (and what it keeps)."""

    def count(model: Any, *where: Any) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0

    defaults = [m.global_id for m in provider.models if m.is_default_chat or m.is_default_embedding]
    return DeleteImpact(
        models=count(CatalogModel, CatalogModel.provider_id == provider.id),
        keys=count(Credential, Credential.provider_id == provider.id),
        usage_records=count(UsageRecord, UsageRecord.provider_id == provider.id),
        defaults=defaults,
    )


def delete_provider(actor: User, provider: Provider) -> None:
    """Models and keys go with it; usage records stay, keeping the provider and model names."""
    require_admin(actor)
    if actor is not None:
        recent_sign_in.require("Deleting a provider")
    impact = delete_impact(provider)
    if impact.defaults:
        raise ValidationError(
            {
                "": f"{', '.join(impact.defaults)} is a default model. Choose "
                "another default on the Models page first."
            }
        )
    delete_record(
        actor,
        provider,
        target_type="provider",
        target_label=provider.slug,
        changes={
            **audit.diff(_snapshot(provider), None),
            "removed": {"models": impact.models, "keys": impact.keys},
        },
    )
