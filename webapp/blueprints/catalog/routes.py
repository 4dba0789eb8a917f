"""Model catalog: search and filters, inline enable, the two defaults, inline edit of prices
and capabilities."""

from __future__ import annotations

from typing import Any

from flask import make_response, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.catalog import bp
from webapp.blueprints.catalog.forms import BulkEnableForm, ModelFilterForm, ModelForm, NewModelForm
from webapp.extensions import db
from webapp.forms import attach_errors, choices
from webapp.htmx import redirect_to, render, respond
from webapp.models import CatalogModel
from webapp.permissions import admin_required
from webapp.services.catalog import editing
from webapp.services.catalog import listing as catalog
from webapp.services.errors import Conflict, ValidationError
from webapp.views.conflicts import keep_typed

ROW = "catalog/_row.html"


def _filter_form() -> ModelFilterForm:
    form = ModelFilterForm(request.args)
    form.provider.choices = choices(
        [("", "All providers")] + [(p.slug, p.display_name) for p, _ in catalog.list_providers()]
    )
    return form


def _page(status: int = 200, **extra: Any) -> Response:
    form = _filter_form()
    if not form.validate():
        return render(
            "catalog/index.html", "catalog/_table.html", 422, filter_form=form, models=[], **extra
        )
    filters = catalog.ModelFilter(
        q=form.q.data or "",
        provider=form.provider.data or "",
        category=form.category.data or "",
        status=form.status.data or "",
    )
    return render(
        "catalog/index.html",
        "catalog/_table.html",
        status,
        filter_form=form,
        models=catalog.list_models(filters),
        **extra,
    )


def _row(
    model: CatalogModel,
    status: int = 200,
    notice: str | None = None,
    level: str = "success",
    events: tuple[str, ...] = (),
    **extra: Any,
) -> Response:
    return respond(
        lambda: render(ROW, ROW, status, m=model, **extra),
        status=status,
        notice=notice,
        level=level,
        then=url_for("catalog.index", provider=model.provider.slug) + f"#model-{model.id}",
        page=lambda: _page(status, focus=model.id, **extra),
        events=events,
    )


@bp.route("")
@admin_required
def index() -> Response:
    return _page()


def _new_form(**data: Any) -> NewModelForm:
    form = NewModelForm(**data) if data else NewModelForm()
    return form.fill_choices([(p.slug, p.display_name) for p, _ in catalog.list_providers()])


def _new_page(form: NewModelForm, status: int = 200) -> Response:
    return render("catalog/new.html", "catalog/_new_form.html", status, form=form)


@bp.route("/new")
@admin_required
def new() -> Response:
    provider = request.args.get("provider", "")
    form = _new_form(formdata=None, provider=provider, enabled=True, supports_streaming=True)
    return _new_page(form)


@bp.route("/new", methods=["POST"])
@admin_required
def create() -> Response:
    form = _new_form()
    if form.validate_on_submit():
        try:
            model = editing.create_model(current_user, form.model_data())
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return redirect_to(
                url_for("catalog.index", provider=model.provider.slug) + f"#model-{model.id}",
                notice=f"{model.global_id} added to the catalog.",
            )
    return _new_page(form, 422)


def edit_form(model: CatalogModel) -> ModelForm:
    def text(value: Any) -> str:
        return "" if value is None else format(value.normalize(), "f")

    return ModelForm(
        formdata=None,
        obj=model,
        version=model.version,
        input_price=text(model.input_price),
        output_price=text(model.output_price),
        cached_input_price=text(model.cached_input_price),
        cache_write_price=text(model.cache_write_price),
        unsupported_params=", ".join(model.unsupported_params or []),
    )


@bp.route("/<int:model_id>/edit")
@admin_required
def edit(model_id: int) -> Response:
    model = editing.get_model(model_id)
    return _row(model, mode="edit", form=edit_form(model))


@bp.route("/<int:model_id>/row")
@admin_required
def row(model_id: int) -> Response:
    return _row(editing.get_model(model_id))


@bp.route("/<int:model_id>", methods=["POST"])
@admin_required
def update(model_id: int) -> Response:
    model = editing.get_model(model_id)
    form = ModelForm()
    if form.validate_on_submit():
        try:
            editing.update_model(current_user, model, form.model_data(), form.version.data)
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        except Conflict as exc:
            db.session.rollback()  # the model as stored now
            form = keep_typed(form, edit_form(model), exc.message)
            return _row(model, 409, mode="edit", form=form)
        else:
            return _row(model, notice=f"{model.global_id} saved.")
    return _row(model, 422, mode="edit", form=form)


@bp.route("/<int:model_id>/enabled", methods=["POST"])
@admin_required
def toggle(model_id: int) -> Response:
    model = editing.get_model(model_id)
    enabled = request.form.get("enabled") in ("y", "on", "true", "1")
    try:
        editing.set_enabled(current_user, model, enabled)
    except ValidationError as exc:
        return _row(model, 422, notice=exc.message, level="error", row_error=exc.message)
    return _row(model, notice=f"{model.global_id} {'enabled' if enabled else 'disabled'}.")


@bp.route("/bulk", methods=["POST"])
@admin_required
def bulk() -> Response:
    """Enable or disable the ticked models; the table then reloads itself (htmx), or the page
    comes back after a 303 (without JavaScript; a refused change: the page at 422)."""
    form = BulkEnableForm()
    enabled = form.enabled.data == "on"
    status, level = 200, "success"
    if not form.validate_on_submit():
        status, level, notice = 422, "error", "Tick the models to change, then choose an action."
    else:
        try:
            changed = editing.set_enabled_many(current_user, form.model_id.data, enabled)
        except ValidationError as exc:
            status, level, notice = 422, "error", exc.message
        else:
            count = len(changed)
            notice = f"{count} model{'' if count == 1 else 's'} {'en' if enabled else 'dis'}abled."
    return respond(
        lambda: make_response("", status),  # the bar swaps nothing: the table reloads itself
        status=status,
        notice=notice,
        level=level,
        then=url_for("catalog.index"),
        page=lambda: _page(status),
        events=("models-changed",) if status == 200 else (),
    )


@bp.route("/<int:model_id>/default", methods=["POST"])
@admin_required
def make_default(model_id: int) -> Response:
    model = editing.get_model(model_id)
    kind = request.form.get("kind", "")
    try:
        editing.set_default(current_user, model, kind)
    except ValidationError as exc:
        return _row(model, 422, notice=exc.message, level="error", row_error=exc.message)
    notice = f"{model.global_id} is now the default {kind} model."
    return _row(model, notice=notice, events=("models-changed",))
