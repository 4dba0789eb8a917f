"""Edit the model catalog: prices, capabilities, enabled, deprecated, the two defaults, and
models added from a provider's live list."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import CatalogModel, Category, Provider, User
from webapp.services.audit import events as audit
from webapp.services.catalog.prices import lookup_price
from webapp.services.changes import commit_change, conflict_on_stale
from webapp.services.errors import Conflict, NotFound, ValidationError
from webapp.services.settings.cache import bump_settings_version
from webapp.services.settings.fields import NAMES

FIELDS = (
    "display_name",
    "category",
    "context_window",
    "max_output_tokens",
    "supports_vision",
    "supports_tools",
    "supports_json",
    "supports_streaming",
    "unsupported_params",
    "input_price",
    "output_price",
    "cached_input_price",
    "enabled",
    "deprecated",
    "is_default_chat",
    "is_default_embedding",
)
PRICE_FIELDS = ("input_price", "output_price", "cached_input_price")
# genai-prices provider ids for our preset slugs, to price models added from a live list.
PRICE_SOURCES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "xai": "x-ai",
    "deepseek": "deepseek",
    "mistral": "mistral",
    "openrouter": "openrouter",
}


@dataclass
class ModelInput:
    display_name: str
    category: str
    context_window: int | None = None
    max_output_tokens: int | None = None
    supports_vision: bool = False
    supports_tools: bool = False
    supports_json: bool = False
    supports_streaming: bool = True
    unsupported_params: str | list[str] | None = None
    input_price: str | None = None
    output_price: str | None = None
    cached_input_price: str | None = None
    enabled: bool = True
    deprecated: bool = False


def get_model(model_id: int) -> CatalogModel:
    model = db.session.get(CatalogModel, model_id)
    if model is None:
        raise NotFound("That model does not exist.")
    return model


def _price(field: str, raw: str | None) -> Decimal | None:
    """Empty means unpriced (cost left empty), which is not the same as a price of 0."""
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValidationError({field: "A price is a number of USD per million tokens."}) from None
    if not value.is_finite() or value < 0 or value >= Decimal("1000000"):
        raise ValidationError({field: "A price is between 0 and 999999.999999."})
    return value.quantize(Decimal("0.000001"))


def _params(raw: str | list[str] | None) -> list[str] | None:
    names = raw if isinstance(raw, list) else [p.strip() for p in (raw or "").split(",")]
    names = sorted({n for n in names if n})
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValidationError({"unsupported_params": f"Unknown settings: {', '.join(unknown)}."})
    return names or None


def _clean(data: ModelInput) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    name = (data.display_name or "").strip()
    if not name or len(name) > 200:
        errors["display_name"] = "Give the model a name (at most 200 characters)."
    if data.category not in tuple(Category):
        errors["category"] = "Choose a category."
    for field in ("context_window", "max_output_tokens"):
        value = getattr(data, field)
        if value is not None and not 1 <= value <= 100_000_000:
            errors[field] = "A token count between 1 and 100,000,000, or empty."
        values[field] = value
    for field in PRICE_FIELDS:
        try:
            values[field] = _price(field, getattr(data, field))
        except ValidationError as exc:
            errors.update(exc.errors)
    try:
        values["unsupported_params"] = _params(data.unsupported_params)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    values.update(
        display_name=name,
        category=data.category,
        enabled=bool(data.enabled),
        deprecated=bool(data.deprecated),
        supports_vision=bool(data.supports_vision),
        supports_tools=bool(data.supports_tools),
        supports_json=bool(data.supports_json),
        supports_streaming=bool(data.supports_streaming),
    )
    return values


STALE = "Someone else changed this model since you opened it."


def _commit(actor: User, model: CatalogModel, before: dict[str, Any]) -> None:
    commit_change(
        actor,
        action="update",
        target_type="model",
        target_id=model.id,
        target_label=model.global_id,
        before=before,
        after=audit.snapshot(model, FIELDS),
    )


def _check_default_rules(model: CatalogModel) -> None:
    """Refuse (and forget) a change that would leave a default disabled or of the wrong kind."""
    try:
        _default_rules(model)
    except ValidationError:
        db.session.rollback()  # the model goes back to what is stored
        raise


def _default_rules(model: CatalogModel) -> None:
    if (model.is_default_chat or model.is_default_embedding) and not model.enabled:
        raise ValidationError(
            {"enabled": "A default model must stay enabled; choose another default first."}
        )
    if model.is_default_chat and model.category == Category.EMBEDDING:
        raise ValidationError({"category": "The default chat model cannot be an embedding model."})
    if model.is_default_embedding and model.category != Category.EMBEDDING:
        raise ValidationError(
            {"category": "The default embedding model must be an embedding model."}
        )


def update_model(
    actor: User, model: CatalogModel, data: ModelInput, expected_version: int | None
) -> CatalogModel:
    if expected_version is not None and expected_version != model.version:
        raise Conflict("Someone else changed this model since you opened it.")
    values = _clean(data)
    before = audit.snapshot(model, FIELDS)
    with conflict_on_stale(STALE):
        for name, value in values.items():
            setattr(model, name, value)
        if any(before[f] != audit.jsonable(getattr(model, f)) for f in PRICE_FIELDS):
            model.price_source = "admin" if model.input_price is not None else None
        _check_default_rules(model)
        _commit(actor, model, before)
    return model


def set_enabled(actor: User, model: CatalogModel, enabled: bool) -> CatalogModel:
    before = audit.snapshot(model, FIELDS)
    with conflict_on_stale(STALE):
        model.enabled = enabled
        _check_default_rules(model)
        _commit(actor, model, before)
    return model


BULK_LIMIT = 500


def set_enabled_many(actor: User, model_ids: list[int], enabled: bool) -> list[CatalogModel]:
    """Enable or disable several models in one transaction, each change audited; all or
    nothing (a default model cannot be disabled). Returns the models that changed."""
    ids = sorted(set(model_ids))
    if not ids:
        raise ValidationError({"model_id": "Select at least one model."})
    if len(ids) > BULK_LIMIT:
        raise ValidationError({"model_id": f"Select at most {BULK_LIMIT} models at a time."})
    models = list(db.session.scalars(sa.select(CatalogModel).where(CatalogModel.id.in_(ids))))
    if len(models) != len(ids):
        raise ValidationError({"model_id": "Some of these models no longer exist: reload."})
    defaults = [m.global_id for m in models if m.is_default_chat or m.is_default_embedding]
    if not enabled and defaults:
        raise ValidationError(
            {"model_id": f"{', '.join(defaults)} is a default model and must stay enabled."}
        )
    changed = [m for m in models if m.enabled != enabled]
    with conflict_on_stale(STALE):
        for model in changed:
            model.enabled = enabled
            audit.record(
                "update",
                "model",
                actor=actor,
                target_id=model.id,
                target_label=model.global_id,
                changes={"enabled": {"before": not enabled, "after": enabled}},
            )
        if changed:
            bump_settings_version()
        db.session.commit()
    return changed


def set_default(actor: User, model: CatalogModel, kind: str) -> CatalogModel:
    """Make ``model`` the one default of ``kind`` (chat | embedding), in one transaction."""
    column = {"chat": "is_default_chat", "embedding": "is_default_embedding"}.get(kind)
    if column is None:
        raise ValidationError({"kind": "Choose the chat or the embedding default."})
    if not model.enabled or not model.provider.enabled:
        raise ValidationError(
            {"kind": "Enable the model (and its provider) before making it a default."}
        )
    if (kind == "embedding") != (model.category == Category.EMBEDDING):
        raise ValidationError(
            {
                "kind": f"{model.global_id} cannot be the default {kind} model: "
                f"it is a {model.category} model."
            }
        )
    previous = db.session.scalar(sa.select(CatalogModel).where(getattr(CatalogModel, column)))
    if previous is model:
        return model
    changes = {
        f"default_{kind}": {
            "before": previous.global_id if previous else None,
            "after": model.global_id,
        }
    }
    # Two admins switching the default at once: the loser's row is stale or the one-default
    # index refuses its flag.
    with conflict_on_stale(f"Someone else changed the default {kind} model.", IntegrityError):
        if previous is not None:  # clear first: the database allows only one flagged row
            setattr(previous, column, False)
            db.session.flush()
        setattr(model, column, True)
        audit.record(
            "update",
            "model",
            actor=actor,
            target_id=model.id,
            target_label=model.global_id,
            changes=changes,
        )
        bump_settings_version()
        db.session.commit()
    return model


def add_live_models(actor: User, provider: Provider, model_ids: list[str]) -> list[CatalogModel]:
    """Add models from the provider's live list, priced from genai-prices when it knows them."""
    existing = {m.model_id for m in provider.models}
    added: list[CatalogModel] = []
    with conflict_on_stale("Someone else added these models at the same moment.", IntegrityError):
        for model_id in sorted(set(model_ids) - existing):
            if not model_id or len(model_id) > 200:
                raise ValidationError({"models": "A model id has 1 to 200 characters."})
            model = _live_model(provider, model_id)
            db.session.add(model)
            db.session.flush()
            audit.record(
                "create",
                "model",
                actor=actor,
                target_id=model.id,
                target_label=model.global_id,
                changes=audit.diff(None, audit.snapshot(model, FIELDS)),
            )
            added.append(model)
        if added:
            bump_settings_version()
        db.session.commit()
    return added


def _live_model(provider: Provider, model_id: str) -> CatalogModel:
    model = CatalogModel(
        provider=provider,
        model_id=model_id,
        display_name=model_id,
        category="embedding" if "embed" in model_id else "balanced",
    )
    source = PRICE_SOURCES.get(provider.slug)
    price = lookup_price(source, model_id) if source else None
    if price is not None:
        model.input_price, model.output_price = price.input, price.output
        model.cached_input_price, model.price_source = price.cached_input, price.source
        model.context_window = price.context_window
    return model
