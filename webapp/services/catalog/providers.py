"""Create, edit, enable and delete providers. A provider speaking one of the three protocols
needs no code change: everything about it is data."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CatalogModel, Credential, Protocol, Provider, UsageRecord, User
from webapp.services.accounts.orgs import check_slug
from webapp.services.audit import events as audit
from webapp.services.catalog.provider_rules import check_headers, key_env_problem
from webapp.services.changes import commit_change, delete_record
from webapp.services.credentials.origins import approve_new_provider
from webapp.services.credentials.url_guard import check_base_url
from webapp.services.errors import Conflict, NotFound, ValidationError
from webapp.services.json_input import parse_json

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
    "env_key_origin",
)


@dataclass
class ProviderInput:
    display_name: str
    protocol: str
    slug: str = ""
    description: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    credit_multiplier: str | Decimal = "1"
    enabled: bool = True
    extra_headers: str | dict[str, str] | None = None


def get_provider(provider_id: int) -> Provider:
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("That provider does not exist.")
    return provider


def _headers(raw: str | dict[str, str] | None) -> dict[str, str] | None:
    if raw is None or raw == "" or raw == {}:
        return None
    try:
        value = parse_json(raw) if isinstance(raw, str) else raw
        return check_headers(value)
    except ValueError as exc:
        raise ValidationError(
            {"extra_headers": f"Extra headers: {str(exc).rstrip('.')}."}
        ) from None


def _clean(data: ProviderInput, current: Provider | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}

    def check(field: str, fn: Any) -> None:
        try:
            values[field] = fn()
        except ValidationError as exc:
            errors.update(exc.errors)

    name = (data.display_name or "").strip()
    if not name or len(name) > 120:
        errors["display_name"] = "Give the provider a name (at most 120 characters)."
    values["display_name"] = name
    values["description"] = (data.description or "").strip() or None
    if data.protocol not in tuple(Protocol):
        errors["protocol"] = "Choose openai, anthropic or openai_compatible."
    values["protocol"] = data.protocol
    base_url = (data.base_url or "").strip() or None
    if base_url and (current is None or base_url != current.base_url):
        check("base_url", lambda: check_base_url(base_url))
    else:
        values["base_url"] = base_url
    if data.protocol == Protocol.OPENAI_COMPATIBLE and not base_url:
        errors["base_url"] = "An OpenAI-compatible provider needs a base URL."
    env = (data.api_key_env or "").strip() or None
    if env and (problem := key_env_problem(env)):
        errors["api_key_env"] = problem
    values["api_key_env"] = env
    try:
        multiplier = Decimal(str(data.credit_multiplier).strip() or "1")
        if not multiplier.is_finite() or multiplier < 0 or multiplier > 1000:
            raise InvalidOperation
        values["credit_multiplier"] = multiplier
    except (InvalidOperation, ValueError):
        errors["credit_multiplier"] = "The credit multiplier is a number from 0 to 1000."
    values["enabled"] = bool(data.enabled)
    check("extra_headers", lambda: _headers(data.extra_headers))
    if errors:
        raise ValidationError(errors)
    return values


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


def create_provider(actor: User, data: ProviderInput) -> Provider:
    errors: dict[str, str] = {}
    try:
        slug = check_slug(data.slug)
        if db.session.scalar(sa.select(Provider.id).where(Provider.slug == slug)):
            errors["slug"] = f"A provider with the slug {slug!r} exists already."
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        values = _clean(data, None)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    provider = Provider(slug=slug, **values)
    approve_new_provider(provider)
    db.session.add(provider)
    db.session.flush()
    return _save(actor, provider, "create", None)


def update_provider(
    actor: User, provider: Provider, data: ProviderInput, expected_version: int | None
) -> Provider:
    """Everything but the slug (exports and model ids refer to it)."""
    if expected_version is not None and expected_version != provider.version:
        raise Conflict("Someone else changed this provider since you opened it.")
    values = _clean(data, provider)
    before = _snapshot(provider)
    for name, value in values.items():
        setattr(provider, name, value)
    return _save(actor, provider, "update", before)


def set_enabled(actor: User, provider: Provider, enabled: bool) -> Provider:
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
