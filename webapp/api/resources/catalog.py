"""Providers and models: the Providers and Models pages as JSON (admins only), with the
connection test and the live model list."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webapp.api.core import (
    encode_cursor,
    id_after,
    only_fields,
    require_admin,
    route,
    take_version,
)
from webapp.api.schemas import (
    ConnectionTestOut,
    DefaultModel,
    EnvKeyConfirm,
    KeysResumedOut,
    Listing,
    LiveModelsAdd,
    LiveModelsOut,
    ModelOut,
    ModelQuery,
    ModelsEnabled,
    ModelUpdate,
    Page,
    ProviderOut,
    ProviderUpdate,
)
from webapp.extensions import db
from webapp.models import CatalogModel, Provider
from webapp.services import llm
from webapp.services.catalog import editing, providers
from webapp.services.catalog import schemas as catalog_schemas
from webapp.services.credentials import confirmation
from webapp.services.credentials.origins import origin_of, provider_url

TAG = "Providers and models"


def _page(items: list[Any], limit: int) -> dict[str, Any]:
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(items[-1].id) if more else None}


@route(
    "GET",
    "/providers",
    summary="List providers",
    tag=TAG,
    query=Listing,
    response=Page[ProviderOut],
)
def list_providers(query: Listing) -> Any:
    require_admin()
    select = sa.select(Provider).order_by(Provider.id).limit(query.limit + 1)
    if (after := id_after(query.cursor)) is not None:
        select = select.where(Provider.id > after)
    return _page(list(db.session.scalars(select)), query.limit)


@route(
    "POST",
    "/providers",
    summary="Create a provider",
    tag=TAG,
    body=catalog_schemas.NewProvider,
    validate_body=False,
    response=ProviderOut,
    status=201,
)
def create_provider(body: dict[str, Any]) -> Any:
    return providers.create_provider(require_admin(), body)


@route(
    "GET", "/providers/<int:provider_id>", summary="Read a provider", tag=TAG, response=ProviderOut
)
def get_provider(provider_id: int) -> Any:
    require_admin()
    return providers.get_provider(provider_id)


def stored_provider(provider: Provider) -> dict[str, Any]:
    return {name: getattr(provider, name) for name in catalog_schemas.PROVIDER_FIELDS}


@route(
    "PATCH",
    "/providers/<int:provider_id>",
    summary="Update a provider",
    tag=TAG,
    body=ProviderUpdate,
    validate_body=False,
    response=ProviderOut,
)
def update_provider(provider_id: int, body: dict[str, Any]) -> Any:
    """Fields left out keep their values; the slug never changes."""
    actor = require_admin()
    provider = providers.get_provider(provider_id)
    version = take_version(body)
    changes = only_fields(body, catalog_schemas.PROVIDER_FIELDS)
    return providers.update_provider(
        actor, provider, {**stored_provider(provider), **changes}, version
    )


@route("DELETE", "/providers/<int:provider_id>", summary="Delete a provider", tag=TAG, status=204)
def delete_provider(provider_id: int) -> Any:
    """Its models and keys go with it; usage records stay."""
    providers.delete_provider(require_admin(), providers.get_provider(provider_id))


def _admin_context() -> llm.CallContext:
    """As on the Providers page: the managed chain without an org (global key, then env)."""
    return llm.CallContext(user=require_admin(), caller="test", mode="managed")


def _result(result: Any) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "latency_ms": result.latency_ms,
        "request_id": result.request_id,
        "models": len(result.models),
        "key_source": result.key_source,
        "error_type": result.error_type,
        "message": result.admin_message,
    }


@route(
    "POST",
    "/providers/<int:provider_id>/test",
    summary="Test a provider's connection",
    tag=TAG,
    response=ConnectionTestOut,
)
def test_provider(provider_id: int) -> Any:
    """Lists the provider's models with the key a managed call would use (metered)."""
    context = _admin_context()
    return _result(llm.test_connection(providers.get_provider(provider_id), context=context))


@route(
    "GET",
    "/providers/<int:provider_id>/live-models",
    summary="The provider's live models",
    tag=TAG,
    response=LiveModelsOut,
)
def live_models(provider_id: int) -> Any:
    context = _admin_context()
    provider = providers.get_provider(provider_id)
    result = llm.list_models(provider, context=context)
    known = {m.model_id for m in provider.models}
    return {
        "ok": result.ok,
        "message": result.admin_message,
        "models": [{"id": m.id, "in_catalog": m.id in known} for m in result.models],
    }


@route(
    "POST",
    "/providers/<int:provider_id>/live-models",
    summary="Import live models",
    tag=TAG,
    body=LiveModelsAdd,
    response=list[ModelOut],
    status=201,
)
def import_live_models(provider_id: int, body: LiveModelsAdd) -> Any:
    actor = require_admin()
    return editing.add_live_models(actor, providers.get_provider(provider_id), body.model_ids)


@route(
    "GET",
    "/models",
    summary="List catalog models",
    tag=TAG,
    query=ModelQuery,
    response=Page[ModelOut],
)
def list_models(query: ModelQuery) -> Any:
    require_admin()
    select = sa.select(CatalogModel).order_by(CatalogModel.id).limit(query.limit + 1)
    if query.provider:
        select = select.join(Provider).where(Provider.slug == query.provider)
    if query.enabled is not None:
        select = select.where(CatalogModel.enabled.is_(query.enabled))
    if (after := id_after(query.cursor)) is not None:
        select = select.where(CatalogModel.id > after)
    return _page(list(db.session.scalars(select)), query.limit)


@route(
    "POST",
    "/models",
    summary="Add a model by hand",
    tag=TAG,
    body=catalog_schemas.NewModel,
    validate_body=False,
    response=ModelOut,
    status=201,
)
def create_model(body: dict[str, Any]) -> Any:
    return editing.create_model(require_admin(), body)


@route(
    "POST",
    "/models/enabled",
    summary="Enable or disable several models",
    tag=TAG,
    body=ModelsEnabled,
    response=list[ModelOut],
)
def set_models_enabled(body: ModelsEnabled) -> Any:
    """As the Models page's bulk action: one transaction, each change audited; a default
    model cannot be disabled (422, nothing changed). Returns the models that changed."""
    return editing.set_enabled_many(require_admin(), body.model_ids, body.enabled)


@route("GET", "/models/<int:model_id>", summary="Read a model", tag=TAG, response=ModelOut)
def get_model(model_id: int) -> Any:
    require_admin()
    return editing.get_model(model_id)


@route(
    "PATCH",
    "/models/<int:model_id>",
    summary="Update a model",
    tag=TAG,
    body=ModelUpdate,
    validate_body=False,
    response=ModelOut,
)
def update_model(model_id: int, body: dict[str, Any]) -> Any:
    """Fields left out keep their values."""
    actor = require_admin()
    model = editing.get_model(model_id)
    version = take_version(body)
    return editing.update_model(
        actor, model, only_fields(body, catalog_schemas.MODEL_FIELDS), version
    )


@route(
    "POST",
    "/models/<int:model_id>/default",
    summary="Make a model the default",
    tag=TAG,
    body=DefaultModel,
    response=ModelOut,
)
def set_default(model_id: int, body: DefaultModel) -> Any:
    return editing.set_default(require_admin(), editing.get_model(model_id), body.kind)


@route(
    "POST",
    "/providers/<int:provider_id>/keys/confirm",
    summary="Resume the global keys after a base-URL change",
    tag=TAG,
    body=EnvKeyConfirm,
    response=KeysResumedOut,
)
def confirm_provider_keys(provider_id: int, body: EnvKeyConfirm) -> Any:
    """After the provider's base URL moved to another origin, its global keys and fallback
    key (environment variable) are paused — the fallback key also when ``api_key_env``
    names another variable; this sends them to the new address, in one audited change. Org
    and personal keys stay with those who manage them (``POST /credentials/{id}/confirm``).
    The page asks for a fresh sign-in; a full (not read-only) admin token stands for it."""
    provider = providers.get_provider(provider_id)
    resumed = confirmation.confirm_provider_keys(
        require_admin(), provider, body.origin, body.variable
    )
    return {"resumed": resumed, "origin": origin_of(provider_url(provider))}


@route(
    "POST",
    "/providers/<int:provider_id>/env-key/confirm",
    summary="Resume the fallback key after a base-URL or variable change",
    tag=TAG,
    body=EnvKeyConfirm,
    response=ProviderOut,
)
def confirm_env_key(provider_id: int, body: EnvKeyConfirm) -> Any:
    """Send the provider's environment-variable key (the value of ``api_key_env``) to its
    current address: the approval is that pair, so a new variable or a new address pauses it
    until confirmed (admins; a full token stands for the page's fresh sign-in)."""
    provider = providers.get_provider(provider_id)
    return confirmation.confirm_env_key_origin(
        require_admin(), provider, body.origin, body.variable
    )
