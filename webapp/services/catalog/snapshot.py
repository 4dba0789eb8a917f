"""Immutable, cached views of catalog models for the hot path of every call."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CatalogModel, Provider
from webapp.services.errors import ValidationError
from webapp.services.settings.cache import settings_cache

# Parameters a protocol never accepts, whatever the catalog says about the model.
PROTOCOL_REJECTS: dict[str, frozenset[str]] = {
    "anthropic": frozenset({"frequency_penalty", "presence_penalty", "seed"}),
}
# The call parameters a model may accept or reject (the rest is Switchboard's own business).
CALL_PARAMS = (
    "temperature",
    "max_tokens",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "stop",
    "seed",
)


@dataclass(frozen=True)
class ModelInfo:
    """What the call service needs to know about one model and its provider."""

    id: int
    model_id: str
    display_name: str
    category: str
    enabled: bool
    unsupported_params: frozenset[str]
    supports_streaming: bool
    max_output_tokens: int | None
    input_price: Decimal | None
    output_price: Decimal | None
    cached_input_price: Decimal | None
    provider_id: int
    provider_slug: str
    provider_name: str
    provider_enabled: bool
    protocol: str
    credit_multiplier: Decimal
    context_window: int | None = None
    cache_write_price: Decimal | None = None
    allow_unpriced: bool = False

    @property
    def priced(self) -> bool:
        return self.input_price is not None and (
            self.output_price is not None or self.category == "embedding"
        )

    @property
    def global_id(self) -> str:
        return f"{self.provider_slug}/{self.model_id}"

    @property
    def usable(self) -> bool:
        return self.enabled and self.provider_enabled

    @property
    def rejected_params(self) -> frozenset[str]:
        """What is never sent to this model: the catalog's list plus its protocol's."""
        return self.unsupported_params | PROTOCOL_REJECTS.get(self.protocol, frozenset())


@dataclass(frozen=True)
class ProviderInfo:
    """What key resolution and the SDK clients need of a provider: never the ORM row."""

    id: int
    slug: str
    display_name: str
    protocol: str
    base_url: str | None
    api_key_env: str | None
    env_key_var: str | None
    env_key_origin: str | None
    enabled: bool
    extra_headers: dict[str, str] | None  # treat as read-only
    default_model: str | None = None  # its model id for calls naming only the provider


def _load_providers() -> dict[int, ProviderInfo]:
    rows = db.session.execute(
        sa.select(
            Provider.id,
            Provider.slug,
            Provider.display_name,
            Provider.protocol,
            Provider.base_url,
            Provider.api_key_env,
            Provider.env_key_var,
            Provider.env_key_origin,
            Provider.enabled,
            Provider.extra_headers,
            Provider.default_model,
        )
    ).all()
    return {
        row.id: ProviderInfo(
            **{**row._asdict(), "extra_headers": dict(row.extra_headers or {}) or None}
        )
        for row in rows
    }


def provider_by_slug(slug: str) -> ProviderInfo | None:
    """A provider by its slug, from the same cached map (a dozen entries: a scan is fine)."""
    providers = settings_cache().get(("providers",), _load_providers)
    return next((p for p in providers.values() if p.slug == slug), None)


def provider_info(provider_id: int) -> ProviderInfo | None:
    """A provider as the call path sees it, cached per settings version."""
    return settings_cache().get(("providers",), _load_providers).get(provider_id)


def _load_all() -> tuple[dict[int, ModelInfo], dict[str, ModelInfo], dict[str, int | None]]:
    rows = db.session.execute(
        sa.select(CatalogModel, Provider).join(Provider, CatalogModel.provider_id == Provider.id)
    ).all()
    by_id: dict[int, ModelInfo] = {}
    defaults: dict[str, int | None] = {"chat": None, "embedding": None}
    for model, provider in rows:
        info = ModelInfo(
            id=model.id,
            model_id=model.model_id,
            display_name=model.display_name,
            category=model.category,
            enabled=model.enabled,
            unsupported_params=frozenset(model.unsupported_params or ()),
            supports_streaming=model.supports_streaming,
            max_output_tokens=model.max_output_tokens,
            input_price=model.input_price,
            output_price=model.output_price,
            cached_input_price=model.cached_input_price,
            provider_id=provider.id,
            provider_slug=provider.slug,
            provider_name=provider.display_name,
            provider_enabled=provider.enabled,
            protocol=provider.protocol,
            credit_multiplier=provider.credit_multiplier,
            context_window=model.context_window,
            cache_write_price=model.cache_write_price,
            allow_unpriced=model.allow_unpriced,
        )
        by_id[model.id] = info
        if model.is_default_chat:
            defaults["chat"] = model.id
        if model.is_default_embedding:
            defaults["embedding"] = model.id
    return by_id, {m.global_id: m for m in by_id.values()}, defaults


def _catalog() -> tuple[dict[int, ModelInfo], dict[str, ModelInfo], dict[str, int | None]]:
    return settings_cache().get(("catalog",), _load_all)


def model_by_id(model_id: int) -> ModelInfo | None:
    return _catalog()[0].get(model_id)


def model_by_global_id(global_id: str) -> ModelInfo | None:
    return _catalog()[1].get(global_id)


def default_model(kind: str = "chat") -> ModelInfo | None:
    model_id = _catalog()[2].get(kind)
    return model_by_id(model_id) if model_id else None


def require_model(global_id: str, field: str = "model") -> ModelInfo:
    """The catalog model named ``provider/model``, or a ValidationError on ``field``."""
    info = model_by_global_id(global_id.strip())
    if info is None:
        raise ValidationError({field: f"{global_id!r} is not in the model catalog."})
    return info


def usable_models(*, embedding: bool = False) -> list[ModelInfo]:
    """Enabled models of enabled providers, chat (or embedding) only, by global id."""
    models = [
        m for m in _catalog()[0].values() if m.usable and (m.category == "embedding") == embedding
    ]
    return sorted(models, key=lambda m: m.global_id)
