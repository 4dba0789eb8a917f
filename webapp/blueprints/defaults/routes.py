"""The global defaults: the settings every call starts from, with a preview before saving."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.defaults import bp
from webapp.htmx import render, respond
from webapp.permissions import admin_required
from webapp.services.errors import NotConfigured, ValidationError
from webapp.services.settings import layers as settings_service
from webapp.services.settings.resolution import resolve
from webapp.views import settings_editor

LABEL = "Global defaults"


def _page(form: Any, status: int = 200, **extra: Any) -> Response:
    extra.setdefault("effective", _safe_resolve())
    extra.setdefault("previewing", False)
    extra.setdefault("problem", None)
    return render("defaults/index.html", "defaults/_editor.html", status, form=form, **extra)


def _safe_resolve(**kwargs: Any) -> Any:
    try:
        return resolve(**kwargs)
    except NotConfigured:
        return None


@bp.route("")
@admin_required
def index() -> Response:
    return _page(
        settings_editor.form_for(settings_service.parameter_set_for("global", create=False))
    )


@bp.route("", methods=["POST"])
@admin_required
def save() -> Response:
    pset = settings_service.parameter_set_for("global")
    form = settings_editor.form_for(pset, formdata=request.form)
    status, notice, form = settings_editor.save(pset, form, current_user, LABEL)
    return respond(
        lambda: _page(form, status, refresh_preview=status in (200, 409)),  # what is in force
        status=status,
        notice=notice,
        then=url_for("defaults.index"),
    )


@bp.route("/preview", methods=["POST"])
@admin_required
def preview() -> Response:
    """The effective settings this form would produce for a call with no org or feature."""
    form = settings_editor.form_for(
        settings_service.parameter_set_for("global", create=False), formdata=request.form
    )
    problem, effective = None, None
    if form.validate():
        try:
            effective = resolve(unsaved=settings_editor.preview_values(form))
        except (ValidationError, NotConfigured) as exc:
            problem = exc.message
    else:
        problem = "Fix the highlighted fields first."
    status = 422 if problem else 200
    return respond(
        lambda: render(
            "defaults/index.html",
            "defaults/_preview.html",
            status,
            effective=effective,
            problem=problem,
            form=form,
            previewing=True,
        ),
        status=status,
        page=lambda: _page(form, status, effective=effective, problem=problem, previewing=True),
    )
