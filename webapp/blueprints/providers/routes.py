"""Providers: list, create, inline edit, enable toggle, delete with a confirmation that says
what goes with the provider; connection test and the live model list."""

from __future__ import annotations

import json
from typing import Any

from flask import Response as FlaskResponse
from flask import request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.providers import bp, key_origins
from webapp.blueprints.providers.forms import ProviderEditForm, ProviderForm
from webapp.extensions import db
from webapp.forms import attach_errors
from webapp.htmx import render, respond
from webapp.models import Provider
from webapp.permissions import admin_required
from webapp.services import llm
from webapp.services.catalog import editing, providers
from webapp.services.catalog import listing as catalog
from webapp.services.credentials import storage as credentials
from webapp.services.credentials.confirmation import confirm_provider_keys
from webapp.services.credentials.origins import provider_host
from webapp.services.errors import Conflict, ValidationError
from webapp.services.llm import cooldown
from webapp.sign_in import recent_sign_in_required, require_recent_sign_in
from webapp.views.conflicts import keep_typed

ROW = "providers/_row.html"


def _keys_by_provider() -> dict[int, list[Any]]:
    keys: dict[int, list[Any]] = {}
    for key in credentials.list_credentials(credentials.GLOBAL):
        keys.setdefault(key.provider_id, []).append(key)
    return keys


def _cooling() -> dict[int, list[cooldown.Health]]:
    """What of each provider is cooling down after repeated failures, with the reason."""
    cooling: dict[int, list[cooldown.Health]] = {}
    for health in sorted(cooldown.cooling_down(), key=lambda h: h.model_key):
        cooling.setdefault(health.provider_id, []).append(health)
    return cooling


def _key_context(provider_list: list[Provider]) -> dict[str, Any]:
    """The global keys, the keys each provider's address pauses, and what cools down."""
    return {
        "keys": _keys_by_provider(),
        "paused": key_origins.paused_keys(provider_list),
        "cooling": _cooling(),
    }


def _page(status: int = 200, **extra: Any) -> Response:
    extra.setdefault("create_form", ProviderForm(formdata=None))
    listed = catalog.list_providers()
    return render(
        "providers/index.html",
        "providers/_table.html",
        status,
        providers=listed,
        **_key_context([p for p, _ in listed]),
        **extra,
    )


def _row(
    provider: Provider,
    status: int = 200,
    notice: str | None = None,
    level: str = "success",
    **extra: Any,
) -> Response:
    """The provider's rows for htmx; the whole page otherwise (errors) or a redirect (success)."""
    if extra.get("mode") == "edit":
        extra["impact"], extra["following"] = key_origins.form_impact(provider, extra["form"])

    def row() -> Response:
        stored = provider in db.session
        return render(
            ROW,
            ROW,
            status,
            provider=provider,
            model_count=len(provider.models) if stored else 0,
            **_key_context([provider] if stored else []),
            **extra,
        )

    return respond(
        row,
        status=status,
        notice=notice,
        level=level,
        then=url_for("providers.index") + f"#provider-{provider.slug}",
        page=lambda: _page(status, focus=provider.id, **extra),
    )


def _input(form: ProviderForm) -> providers.ProviderInput:
    return providers.ProviderInput(
        slug=form.slug.data or "",
        display_name=form.display_name.data or "",
        description=form.description.data,
        protocol=form.protocol.data or "",
        base_url=form.base_url.data,
        api_key_env=form.api_key_env.data,
        credit_multiplier=form.credit_multiplier.data or "1",
        enabled=bool(form.enabled.data),
        extra_headers=form.extra_headers.data,
        default_model=form.default_model.data,
    )


def _changes_where_keys_go(provider: Provider | None, form: ProviderForm) -> bool:
    """A new base URL or fallback-key variable decides where keys are sent: such a change
    needs a recent sign-in (compared as the service stores them: stripped, empty is None)."""
    base_url = (form.base_url.data or "").strip() or None
    env = (form.api_key_env.data or "").strip() or None
    if provider is None:
        return env is not None
    return base_url != provider.base_url or env != provider.api_key_env


@bp.route("")
@admin_required
def index() -> Response:
    return _page()


@bp.route("", methods=["POST"])
@admin_required
def create() -> Response:
    form = ProviderForm()
    if form.validate_on_submit():
        if _changes_where_keys_go(None, form) and (reauth := require_recent_sign_in()):
            return reauth
        try:
            provider = providers.create_provider(current_user, _input(form))
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return respond(
                _page,
                notice=f"{provider.display_name} added. Add a key and test the connection.",
                then=url_for("providers.index") + f"#provider-{provider.slug}",
            )
    return _page(422, create_form=form, create_open=True)


def edit_form(provider: Provider) -> ProviderEditForm:
    headers = json.dumps(provider.extra_headers) if provider.extra_headers else ""
    return ProviderEditForm(
        formdata=None,
        obj=provider,
        extra_headers=headers,
        credit_multiplier=str(provider.credit_multiplier.normalize()),
        version=provider.version,
    )


@bp.route("/<int:provider_id>/edit")
@admin_required
def edit(provider_id: int) -> Response:
    provider = providers.get_provider(provider_id)
    return _row(provider, mode="edit", form=edit_form(provider))


@bp.route("/<int:provider_id>/row")
@admin_required
def row(provider_id: int) -> Response:
    return _row(providers.get_provider(provider_id))


@bp.route("/<int:provider_id>", methods=["POST"])
@admin_required
def update(provider_id: int) -> Response:
    provider = providers.get_provider(provider_id)
    form = ProviderEditForm()
    if form.validate_on_submit():
        if _changes_where_keys_go(provider, form) and (reauth := require_recent_sign_in()):
            return reauth
        try:
            providers.update_provider(current_user, provider, _input(form), form.version.data)
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        except Conflict as exc:
            db.session.rollback()  # the provider as stored now
            form = keep_typed(form, edit_form(provider), exc.message)
            return _row(provider, 409, mode="edit", form=form)
        else:
            saved = key_origins.saved_notice(provider)
            return _row(provider, notice=saved["notice"], level=saved["level"])
    return _row(provider, 422, mode="edit", form=form)


@bp.route("/<int:provider_id>/enabled", methods=["POST"])
@admin_required
def toggle(provider_id: int) -> Response:
    provider = providers.get_provider(provider_id)
    enabled = request.form.get("enabled") in ("y", "on", "true", "1")
    providers.set_enabled(current_user, provider, enabled)
    state = "enabled: offered to users and callable" if enabled else "disabled: hidden from users"
    return _row(provider, notice=f"{provider.display_name} {state}.")


@bp.route("/<int:provider_id>/delete")
@admin_required
def confirm_delete(provider_id: int) -> Response:
    provider = providers.get_provider(provider_id)
    return _row(provider, mode="delete", impact=providers.delete_impact(provider))


@bp.route("/<int:provider_id>/delete", methods=["POST"])
@admin_required
@recent_sign_in_required
def delete(provider_id: int) -> Response:
    provider = providers.get_provider(provider_id)
    name = provider.display_name
    try:
        providers.delete_provider(current_user, provider)
    except ValidationError as exc:
        return _row(
            provider,
            422,
            mode="delete",
            impact=providers.delete_impact(provider),
            delete_error=exc.message,
        )
    return respond(
        lambda: FlaskResponse("", 200),
        notice=f"{name} deleted. Its usage history is kept.",
        then=url_for("providers.index"),
    )


def _context() -> llm.CallContext:
    """Admin tests use the managed chain without an org: global key, then environment."""
    return llm.CallContext(user=current_user, caller="test", mode="managed")


@bp.route("/<int:provider_id>/test", methods=["POST"])
@admin_required
def test(provider_id: int) -> Response:
    provider = providers.get_provider(provider_id)
    result = llm.test_connection(provider, context=_context())
    # Tried without a key (none is configured) and refused: the provider needs one.
    needs_key = not result.ok and result.key_source == "none" and result.error_type == "auth"
    failure = (
        f"No key configured: {provider.display_name} needs one. Add a key on the Keys page"
        + (f" or set {provider.api_key_env}." if provider.api_key_env else ".")
        if needs_key
        else result.admin_message
    )

    def view() -> Response:
        listed = catalog.list_providers()
        return render(
            "providers/index.html",
            "providers/_test_result.html",
            providers=listed,
            **_key_context([p for p, _ in listed]),
            create_form=ProviderForm(formdata=None),
            provider=provider,
            result=result,
            tests={provider.id: result},
            needs_key=needs_key,
            failure=failure,
        )

    if not result.ok:
        return respond(view, notice=f"{provider.display_name}: {failure}", level="error")
    keyless = " (no key configured)" if result.key_source == "none" else ""
    notice = (
        f"{provider.display_name}: connected in {result.latency_ms} ms, "
        f"{len(result.models)} models{keyless}."
    )
    return respond(view, notice=notice)


@bp.route("/<int:provider_id>/live-models", methods=["POST"])
@admin_required
def live_models(provider_id: int) -> Response:
    provider = providers.get_provider(provider_id)
    result = llm.list_models(provider, context=_context())
    known = {m.model_id for m in provider.models}
    return render(
        "providers/index.html",
        "providers/_live_models.html",
        providers=(listed := catalog.list_providers()),
        **_key_context([p for p, _ in listed]),
        create_form=ProviderForm(formdata=None),
        provider=provider,
        result=result,
        known=known,
        live={provider.id: result},
    )


@bp.route("/<int:provider_id>/live-models/add", methods=["POST"])
@admin_required
def add_live_models(provider_id: int) -> Response:
    provider = providers.get_provider(provider_id)
    picked = request.form.getlist("model")
    if not picked:
        message = "Tick at least one model to add."
        return _row(provider, 422, notice=message, level="error", live_error=message)
    try:
        added = editing.add_live_models(current_user, provider, picked)
    except ValidationError as exc:
        return _row(provider, 422, live_error=exc.message)
    names = ", ".join(m.model_id for m in added) or "nothing new"
    return _row(provider, notice=f"Added to the catalog: {names}.")


@bp.route("/<int:provider_id>/keys/confirm", methods=["POST"])
@admin_required
@recent_sign_in_required
def confirm_keys(provider_id: int) -> Response:
    """Send the global keys and the fallback key to the provider's new address."""
    provider = providers.get_provider(provider_id)
    form = request.form
    try:
        resumed = confirm_provider_keys(
            current_user, provider, form.get("origin") or None, form.get("variable") or None
        )
    except Conflict as exc:
        db.session.rollback()
        return _row(provider, 409, notice=exc.message, level="error")
    noun = "key is" if resumed == 1 else "keys are"
    return _row(provider, notice=f"{resumed} {noun} now sent to {provider_host(provider)}.")
