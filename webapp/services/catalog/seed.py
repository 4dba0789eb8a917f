"""Seed presets on every start: idempotent, and never overwriting an admin's edits.

Each preset inserted is remembered in ``seed_records``; a preset is inserted only if it was
never inserted before. Edited presets keep their edits, deleted presets stay deleted.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import CatalogModel, ParameterSet, Profile, Provider, SeedRecord, SettingsScope
from webapp.services.catalog.editing import (
    DEFAULT_COLUMNS,
    PRICE_FIELDS,
    check_default,
    check_model,
    priced_values,
    write_default,
    write_model,
)
from webapp.services.catalog.prices import lookup_price
from webapp.services.catalog.providers import check_provider, write_provider
from webapp.services.catalog.seed_data import MODELS, PROVIDERS, ModelPreset
from webapp.services.errors import ValidationError
from webapp.services.settings.cache import bump_settings_version
from webapp.services.settings.layers import write_settings
from webapp.services.settings.profiles import check_profile, write_profile
from webapp.services.settings.values import ModelRef, check_settings

log = logging.getLogger(__name__)

# Global profiles seeded once: name -> (global model id, description).
PROFILES = {
    "fast": ("openai/gpt-5.4-mini", "Quick, inexpensive answers."),
    "balanced": ("anthropic/claude-sonnet-5-5", "Good quality at a moderate price."),
    "powerful": ("openai/gpt-6.1-sol", "The most capable models, for hard tasks."),
}


@dataclass
class SeedReport:
    providers: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"seeded {len(self.providers)} providers, {len(self.models)} models "
            f"({len(self.unpriced)} unpriced), {len(self.profiles)} profiles"
        )


def _seeded(kind: str) -> set[str]:
    return set(db.session.scalars(sa.select(SeedRecord.key).where(SeedRecord.kind == kind)))


def _mark(kind: str, key: str) -> None:
    db.session.add(SeedRecord(kind=kind, key=key))


def _seed_providers(report: SeedReport) -> dict[str, Provider]:
    done = _seeded("provider")
    by_slug = {p.slug: p for p in db.session.scalars(sa.select(Provider))}
    for preset in PROVIDERS:
        if preset.slug in done:
            continue
        _mark("provider", preset.slug)
        if preset.slug in by_slug:  # an admin created it by hand first: leave it alone
            continue
        try:  # the same rules as the provider form and config import
            values = check_provider(asdict(preset), None, preset=True)
        except ValidationError as exc:
            log.error("preset provider %s refused: %s", preset.slug, exc.message)
            continue
        by_slug[preset.slug] = write_provider(Provider(is_preset=True), values)
        report.providers.append(preset.slug)
    db.session.flush()
    return by_slug


def _preset_values(preset: ModelPreset) -> tuple[dict[str, Any], str | None]:
    """A preset's fields for the model schema, and where its prices come from."""
    values: dict[str, Any] = {
        "provider": preset.provider,
        "model_id": preset.model_id,
        "display_name": preset.display_name,
        "category": preset.category,
        "context_window": preset.context_window,
        "max_output_tokens": preset.max_output_tokens,
        "supports_vision": preset.vision,
        "supports_tools": preset.tools,
        "supports_json": preset.json,
        "supports_streaming": preset.streaming,
        "unsupported_params": list(preset.unsupported_params) or None,
    }
    if preset.free:
        values.update(dict.fromkeys(PRICE_FIELDS, Decimal("0")))
        return values, "local server (no per-token charge)"
    price = lookup_price(*preset.price_ref) if preset.price_ref else None
    if price is None:
        return values, None
    priced = priced_values(price)
    if preset.category == "embedding" and priced["output_price"] is None:
        priced["output_price"] = Decimal("0")
    priced["context_window"] = preset.context_window or priced["context_window"]
    return {**values, **priced}, price.source


def _seed_models(report: SeedReport, providers: dict[str, Provider]) -> None:
    done = _seeded("model")
    existing = {(m.provider_id, m.model_id) for m in db.session.scalars(sa.select(CatalogModel))}
    for preset in MODELS:
        key = f"{preset.provider}/{preset.model_id}"
        provider = providers.get(preset.provider)
        if key in done or provider is None:
            continue
        _mark("model", key)
        if (provider.id, preset.model_id) in existing:
            continue
        raw, source = _preset_values(preset)
        try:  # the same rules as the catalog form and config import
            values = check_model(raw)
        except ValidationError as exc:
            log.error("preset model %s refused: %s", key, exc.message)
            continue
        values.pop("provider")
        model = write_model(CatalogModel(provider=provider), values, price_source=source or "")
        report.models.append(key)
        if model.input_price is None:
            report.unpriced.append(key)
    db.session.flush()


def _find_model(global_id: str) -> CatalogModel | None:
    slug, _, model_id = global_id.partition("/")
    return db.session.scalar(
        sa.select(CatalogModel)
        .join(Provider)
        .where(Provider.slug == slug, CatalogModel.model_id == model_id)
    )


def _ref(global_id: str) -> ModelRef | None:
    """The catalog as this seed leaves it (not yet committed, so not the snapshot's)."""
    model = _find_model(global_id)
    if model is None:
        return None
    return ModelRef(model.global_id, model.enabled and model.provider.enabled)


def _model_id(global_id: str) -> int:
    model = _find_model(global_id)
    assert model is not None  # checked by ``_ref`` a moment ago
    return model.id


def _seed_defaults() -> bool:
    """Pick the preset defaults only when no default of that kind exists yet, by the rules
    an admin's choice follows (``set_default``)."""
    changed = False
    for kind, column in DEFAULT_COLUMNS.items():
        flag = getattr(CatalogModel, column)
        if db.session.scalar(sa.select(sa.func.count()).where(flag.is_(True))):
            continue
        preset = next((p for p in MODELS if getattr(p, f"default_{kind}")), None)
        model = _find_model(f"{preset.provider}/{preset.model_id}") if preset else None
        if model is None:
            continue
        try:
            usable = model.enabled and model.provider.enabled
            check_default(kind, model.global_id, category=model.category, usable=usable)
        except ValidationError as exc:
            log.error("preset default %s model %s refused: %s", kind, model.global_id, exc.message)
            continue
        write_default(model, kind, None)
        changed = True
    db.session.flush()
    return changed


def _seed_settings(report: SeedReport) -> None:
    has_global = db.session.scalar(
        sa.select(sa.func.count()).where(ParameterSet.scope == SettingsScope.GLOBAL)
    )
    if not has_global:
        db.session.add(ParameterSet(scope=SettingsScope.GLOBAL))
    done = _seeded("profile")
    for name, (global_id, description) in PROFILES.items():
        if name in done:
            continue
        _mark("profile", name)
        exists = db.session.scalar(
            sa.select(Profile).where(Profile.org_id.is_(None), Profile.name == name)
        )
        if exists is not None:
            continue
        try:  # the same rules as the profile forms and config import
            values = check_profile({"name": name, "description": description}, None, None)
        except ValidationError as exc:
            log.error("preset profile %s refused: %s", name, exc.message)
            continue
        try:  # the same rules as the profile's settings editor
            checked = check_settings({"model": global_id}, catalog=_ref)
        except ValidationError as exc:
            log.error("preset profile %s refused: %s", name, exc.message)
            continue
        profile = write_profile(Profile(), values)
        write_settings(profile.settings, checked, None, model_id=_model_id)
        report.profiles.append(name)
    db.session.flush()


def _seed_cache_write_prices() -> bool:
    """Once: give preset models seeded before cache-write prices existed the price data's
    cache-write price (an empty new column, never an admin's edit)."""
    if "cache_write_price" in _seeded("backfill"):
        return False
    presets = {(p.provider, p.model_id): p for p in MODELS}
    changed = False
    for model in db.session.scalars(
        sa.select(CatalogModel).where(CatalogModel.cache_write_price.is_(None))
    ):
        preset = presets.get((model.provider.slug, model.model_id))
        if preset is None or preset.free or not preset.price_ref:
            continue
        price = lookup_price(*preset.price_ref)
        if price is not None and price.cache_write is not None:
            model.cache_write_price, changed = price.cache_write, True
    _mark("backfill", "cache_write_price")
    return changed


def seed_all() -> SeedReport:
    """Insert every preset never seeded before; safe to run concurrently from several workers."""
    report = SeedReport()
    try:
        providers = _seed_providers(report)
        _seed_models(report, providers)
        defaults_changed = _seed_defaults()
        _seed_settings(report)
        defaults_changed |= _seed_cache_write_prices()
        if report.providers or report.models or report.profiles or defaults_changed:
            bump_settings_version()  # running processes pick the new presets up too
        db.session.commit()
    except IntegrityError:
        # Another process seeded at the same moment; its rows are as good as ours.
        db.session.rollback()
        log.info("seed raced with another process; nothing to do")
        return SeedReport()
    if report.providers or report.models or report.profiles:
        log.info(report.summary())
    return report
