"""Model catalog: search and filters, inline enable, the two defaults, inline edit of prices
and capabilities."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, make_response, redirect, request, url_for
from flask_login import current_user

from webapp.blueprints.catalog import bp
from webapp.blueprints.catalog.forms import BulkEnableForm, ModelFilterForm, ModelForm
from webapp.forms import attach_errors, choices
from webapp.htmx import add_notice, is_partial_request, render, trigger
from webapp.models import CatalogModel
from webapp.permissions import admin_required
from webapp.services.catalog import editing as models_admin
from webapp.services.catalog import listing as catalog
from webapp.services.errors import Conflict, ValidationError

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
    model: CatalogModel, status: int = 200, notice: str | None = None, **extra: Any
) -> Response:
    if is_partial_request():
        response = render(ROW, ROW, status, m=model, **extra)
        return add_notice(response, notice) if notice else response
    if status >= 400 or request.method == "GET":
        return _page(status, focus=model.id, **extra)
    flash(notice or "Saved.", "success")
    return redirect(
        url_for("catalog.index", provider=model.provider.slug) + f"#model-{model.id}", 303
    )


@bp.route("")
@admin_required
def index() -> Response:
    return _page()


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
        unsupported_params=", ".join(model.unsupported_params or []),
    )


@bp.route("/<int:model_id>/edit")
@admin_required
def edit(model_id: int) -> Response:
    model = models_admin.get_model(model_id)
    return _row(model, mode="edit", form=edit_form(model))


@bp.route("/<int:model_id>/row")
@admin_required
def row(model_id: int) -> Response:
    return _row(models_admin.get_model(model_id))


@bp.route("/<int:model_id>", methods=["POST"])
@admin_required
def update(model_id: int) -> Response:
    model = models_admin.get_model(model_id)
    form = ModelForm()
    if form.validate_on_submit():
        data = models_admin.ModelInput(
            **{k: v for k, v in form.data.items() if k not in ("csrf_token", "version")}
        )
        try:
            models_admin.update_model(current_user, model, data, form.version.data)
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        except Conflict as exc:
            form = edit_form(model)  # the model as stored now
            form.form_errors.append(exc.message + " The form now shows the saved values.")
            return _row(model, 409, mode="edit", form=form)
        else:
            return _row(model, notice=f"{model.global_id} saved.")
    return _row(model, 422, mode="edit", form=form)


@bp.route("/<int:model_id>/enabled", methods=["POST"])
@admin_required
def toggle(model_id: int) -> Response:
    model = models_admin.get_model(model_id)
    enabled = request.form.get("enabled") in ("y", "on", "true", "1")
    try:
        models_admin.set_enabled(current_user, model, enabled)
    except ValidationError as exc:
        return add_notice(_row(model, 422, row_error=exc.message), exc.message, "error")
    return _row(model, notice=f"{model.global_id} {'enabled' if enabled else 'disabled'}.")


@bp.route("/bulk", methods=["POST"])
@admin_required
def bulk() -> Response:
    """Enable or disable the ticked models; the table then reloads itself."""
    form = BulkEnableForm()
    enabled = form.enabled.data == "on"
    status, level = 200, "success"
    if not form.validate_on_submit():
        status, level, notice = 422, "error", "Tick the models to change, then choose an action."
    else:
        try:
            changed = models_admin.set_enabled_many(current_user, form.model_id.data, enabled)
        except ValidationError as exc:
            status, level, notice = 422, "error", exc.message
        else:
            count = len(changed)
            notice = f"{count} model{'' if count == 1 else 's'} {'en' if enabled else 'dis'}abled."
    if not is_partial_request():
        flash(notice, level)
        return redirect(url_for("catalog.index"), 303)
    response = add_notice(make_response("", status), notice, level)
    return trigger(response, "models-changed") if status == 200 else response


@bp.route("/<int:model_id>/default", methods=["POST"])
@admin_required
def make_default(model_id: int) -> Response:
    model = models_admin.get_model(model_id)
    kind = request.form.get("kind", "")
    try:
        models_admin.set_default(current_user, model, kind)
    except ValidationError as exc:
        return add_notice(_row(model, 422, row_error=exc.message), exc.message, "error")
    response = _row(model, notice=f"{model.global_id} is now the default {kind} model.")
    return trigger(response, "models-changed") if is_partial_request() else response
