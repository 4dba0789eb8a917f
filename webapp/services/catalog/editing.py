"""Edit the model catalog: prices, capabilities, enabled, deprecated, the two defaults, and
models added by hand or from a provider's live list. ``check_model`` and ``write_model`` are
the halves every path uses: the forms, config import and the seed."""

from __future__ import annotations

from collections.abc import Collection, Container, Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import CatalogModel, Category, Provider, User
from webapp.services.audit import events as audit
from webapp.services.catalog import schemas
from webapp.services.catalog.prices import PriceInfo, lookup_price
from webapp.services.catalog.providers import require_admin
from webapp.services.changes import Change, commit_change, commit_changes, conflict_on_stale
from webapp.services.errors import NotFound, ValidationError
from webapp.services.schemas import validate

FIELDS = (*schemas.MODEL_FIELDS, "is_default_chat", "is_default_embedding")
PRICE_FIELDS = schemas.PRICES
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
STALE = "Someone else changed this model since you opened it."
DEFAULT_COLUMNS = {"chat": "is_default_chat", "embedding": "is_default_embedding"}


def get_model(model_id: int) -> CatalogModel:
    model = db.session.get(CatalogModel, model_id)
    if model is None:
        raise NotFound("That model does not exist.")
    return model


def check_model(
    data: Mapping[str, Any],
    current: CatalogModel | None = None,
    *,
    known_providers: Container[str] | None = None,
) -> dict[str, Any]:
    """A model's values as stored, or a ValidationError with every field's message.

    A new model (``current`` None) names its provider (slug) and its model id there; the
    provider must exist and the model not be in the catalog yet. Config import passes the
    providers the catalog will have after the import as ``known_providers`` (and finds
    duplicates itself)."""
    if current is not None:  # fields ``data`` leaves out keep their stored values
        stored = {name: getattr(current, name) for name in schemas.MODEL_FIELDS}
        return validate(schemas.ModelRecord, {**stored, **data}).model_dump()
    raw = dict(data)
    errors: dict[str, str] = {}
    try:
        values = validate(schemas.NewModel, raw).model_dump()
    except ValidationError as exc:
        errors, values = dict(exc.errors), {}
    slug, model_id = values.get("provider"), values.get("model_id")
    if slug and known_providers is not None:
        if slug not in known_providers:
            errors["provider"] = f"There is no provider {slug!r}."
    elif slug:
        provider = db.session.scalar(sa.select(Provider).where(Provider.slug == slug))
        if provider is None:
            errors["provider"] = f"There is no provider {slug!r}."
        elif model_id and any(m.model_id == model_id for m in provider.models):
            errors["model_id"] = f"{slug}/{model_id} is in the catalog already."
    if errors:
        raise ValidationError(errors)
    return values


def write_model(
    model: CatalogModel, values: Mapping[str, Any], *, price_source: str = "admin"
) -> CatalogModel:
    """Put checked values on a model (new or stored); nothing is committed here. Changed
    prices are no longer what the price data said: ``price_source`` says who set them."""
    before = {f: getattr(model, f) for f in PRICE_FIELDS}
    for name, value in values.items():
        setattr(model, name, value)
    if any(getattr(model, f) != before[f] for f in PRICE_FIELDS if f in values):
        model.price_source = price_source if model.input_price is not None else None
    if model.id is None:
        db.session.add(model)
    return model


def _commit(actor: User | None, model: CatalogModel, before: dict[str, Any] | None) -> None:
    commit_change(
        actor,
        action="create" if before is None else "update",
        target_type="model",
        target_id=model.id,
        target_label=model.global_id,
        before=before,
        after=audit.snapshot(model, FIELDS),
    )


def create_model(actor: User, data: Mapping[str, Any]) -> CatalogModel:
    """Add a model to the catalog by hand (one a provider's live list does not show)."""
    require_admin(actor)
    values = check_model(data)
    provider = db.session.scalar(sa.select(Provider).where(Provider.slug == values.pop("provider")))
    with conflict_on_stale("Someone else added this model at the same moment.", IntegrityError):
        model = write_model(CatalogModel(provider=provider), values)
        db.session.flush()
        _commit(actor, model, None)
    return model


def _check_default_rules(model: CatalogModel) -> None:
    """Refuse (and forget) a change that would leave a default disabled or of the wrong kind."""
    try:
        _default_rules(model)
    except ValidationError:
        db.session.rollback()  # the model goes back to what is stored
        raise


def _default_rules(model: CatalogModel) -> None:
    kinds = {k for k, column in DEFAULT_COLUMNS.items() if getattr(model, column)}
    if errors := default_model_errors(kinds, enabled=model.enabled, category=model.category):
        raise ValidationError(errors)


def default_model_errors(kinds: Collection[str], *, enabled: bool, category: str) -> dict[str, str]:
    """What keeps a model that is the default of ``kinds`` from being saved this way (the
    model editor, config import): the first broken rule, at its field."""
    if kinds and not enabled:
        return {"enabled": "A default model must stay enabled; choose another default first."}
    if "chat" in kinds and category == Category.EMBEDDING:
        return {"category": "The default chat model cannot be an embedding model."}
    if "embedding" in kinds and category != Category.EMBEDDING:
        return {"category": "The default embedding model must be an embedding model."}
    return {}


def check_default(kind: str, global_id: str, *, category: str, usable: bool) -> None:
    """Whether a model may become the default of ``kind`` (chat | embedding): the rules of
    ``set_default``, for config import and the seed too; a ValidationError on ``kind``."""
    if kind not in DEFAULT_COLUMNS:
        raise ValidationError({"kind": "Choose the chat or the embedding default."})
    if not usable:
        raise ValidationError(
            {"kind": "Enable the model (and its provider) before making it a default."}
        )
    if (kind == "embedding") != (category == Category.EMBEDDING):
        raise ValidationError(
            {"kind": f"{global_id} cannot be the default {kind} model: it is a {category} model."}
        )


def update_model(
    actor: User,
    model: CatalogModel,
    data: Mapping[str, Any],
    expected_version: int | None,
) -> CatalogModel:
    require_admin(actor)
    model.check_version(expected_version, "this model")
    values = check_model(data, model)
    before = audit.snapshot(model, FIELDS)
    with conflict_on_stale(STALE):
        write_model(model, values)
        _check_default_rules(model)
        _commit(actor, model, before)
    return model


def set_enabled(actor: User, model: CatalogModel, enabled: bool) -> CatalogModel:
    require_admin(actor)
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
    require_admin(actor)
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
    diff = {"enabled": {"before": not enabled, "after": enabled}}
    changes = [Change("update", "model", m.id, m.global_id, diff) for m in changed]
    with conflict_on_stale(STALE):  # a stale row surfaces at the first flush, wherever it is
        for model in changed:
            model.enabled = enabled
        commit_changes(actor, changes, conflict=STALE)
    return changed


def set_default(actor: User, model: CatalogModel, kind: str) -> CatalogModel:
    """Make ``model`` the one default of ``kind`` (chat | embedding), in one transaction."""
    require_admin(actor)
    usable = model.enabled and model.provider.enabled
    check_default(kind, model.global_id, category=model.category, usable=usable)
    column = DEFAULT_COLUMNS[kind]
    previous = db.session.scalar(sa.select(CatalogModel).where(getattr(CatalogModel, column)))
    if previous is model:
        return model
    # Two admins switching the default at once: the loser's row is stale or the one-default
    # index refuses its flag.
    conflict = f"Someone else changed the default {kind} model."
    with conflict_on_stale(conflict, IntegrityError):
        write_default(model, kind, previous)
        commit_change(
            actor,
            action="update",
            target_type="model",
            target_id=model.id,
            target_label=model.global_id,
            before={f"default_{kind}": previous.global_id if previous else None},
            after={f"default_{kind}": model.global_id},
            conflict=conflict,
            also=(IntegrityError,),
        )
    return model


def write_default(model: CatalogModel, kind: str, previous: CatalogModel | None) -> None:
    """Make ``model`` the default of ``kind`` in place of ``previous``; nothing committed.
    The old flag is cleared and flushed first: the database allows only one flagged row."""
    column = DEFAULT_COLUMNS[kind]
    if previous is not None and previous is not model:
        setattr(previous, column, False)
        db.session.flush()
    setattr(model, column, True)


def add_live_models(actor: User, provider: Provider, model_ids: list[str]) -> list[CatalogModel]:
    """Add models from the provider's live list, priced from genai-prices when it knows them."""
    require_admin(actor)
    existing = {m.model_id for m in provider.models}
    added: list[CatalogModel] = []
    changes: list[Change] = []
    conflict = "Someone else added these models at the same moment."
    with conflict_on_stale(conflict, IntegrityError):
        for model_id in sorted(set(model_ids) - existing):
            raw, source = live_values(provider, model_id)
            try:
                values = check_model(raw)
            except ValidationError as exc:
                db.session.rollback()
                raise ValidationError({"models": f"{model_id[:200]}: {exc.message}"}) from None
            values.pop("provider")
            model = write_model(CatalogModel(provider=provider), values, price_source=source)
            db.session.flush()
            diff = audit.diff(None, audit.snapshot(model, FIELDS))
            changes.append(Change("create", "model", model.id, model.global_id, diff))
            added.append(model)
        commit_changes(actor, changes, conflict=conflict, also=(IntegrityError,))
    return added


def priced_values(price: PriceInfo | None) -> dict[str, Any]:
    """A price-data entry as model fields (prices to the catalog's six decimals)."""
    if price is None:
        return {}
    step = Decimal("0.000001")

    def exact(value: Decimal | None) -> Decimal | None:
        return None if value is None else value.quantize(step)

    return {
        "input_price": exact(price.input),
        "output_price": exact(price.output),
        "cached_input_price": exact(price.cached_input),
        "cache_write_price": exact(price.cache_write),
        "context_window": price.context_window,
    }


def live_values(provider: Provider, model_id: str) -> tuple[dict[str, Any], str]:
    """What a model from the provider's live list starts as, and where its price is from."""
    source = PRICE_SOURCES.get(provider.slug)
    price = lookup_price(source, model_id) if source else None
    values = {
        "provider": provider.slug,
        "model_id": model_id,
        "display_name": model_id[:200],
        "category": "embedding" if "embed" in model_id else "balanced",
        **priced_values(price),
    }
    return values, price.source if price else "admin"
