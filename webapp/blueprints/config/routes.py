"""Configuration export (a download) and import (a dry run first, then apply); both need a
recent sign-in, since a document moves every provider URL and setting at once."""

from __future__ import annotations

from typing import Any

from flask import Response as FlaskResponse
from flask import abort, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.config import bp
from webapp.blueprints.config.forms import ImportForm
from webapp.htmx import render, respond
from webapp.models.base import utcnow
from webapp.permissions import admin_required
from webapp.services.config import apply as config_apply
from webapp.services.config import export as config_export
from webapp.services.config import importing as config_import
from webapp.services.config.document import (
    CONTENT_TYPES,
    FORMATS,
    LEFT_ALONE,
    DocumentError,
    ImportPlan,
    parse_document,
)
from webapp.sign_in import recent_sign_in_required


def _page(form: ImportForm, status: int = 200, plan: ImportPlan | None = None) -> Response:
    return render(
        "config/index.html",
        "config/_import.html",
        status,
        form=form,
        plan=plan,
        left_alone=LEFT_ALONE,
    )


@bp.route("")
@admin_required
@recent_sign_in_required
def index() -> Response:
    return _page(ImportForm(formdata=None))


@bp.route("/export")
@admin_required
@recent_sign_in_required
def export() -> Response:
    """The document as a file download (``?format=yaml|json``)."""
    fmt = request.args.get("format", "yaml")
    if fmt not in FORMATS:
        abort(400, description="Choose format=yaml or format=json.")
    response = FlaskResponse(config_export.export_text(fmt))
    response.headers["Content-Type"] = f"{CONTENT_TYPES[fmt]}; charset=utf-8"
    filename = f"switchboard-config-{utcnow():%Y%m%d-%H%M}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _read(form: ImportForm) -> Any:
    """The parsed document, or None with the reason attached to the field it came from."""
    source = form.source()
    target = form.upload if form.upload.data else form.document
    if source is None:
        target.errors.append("Paste a document or choose a file.")
        return None
    try:
        document = parse_document(source, form.format.data or "auto")
    except DocumentError as exc:
        target.errors.append(exc.message)
        return None
    if isinstance(source, bytes):  # keep the file's text in the form, so Apply sends it
        form.document.data = source.decode("utf-8-sig")
    return document


@bp.route("/import", methods=["POST"])
@admin_required
@recent_sign_in_required
def import_document() -> Response:
    """Preview (dry run) or apply; an invalid document is a 422 that writes nothing."""
    form = ImportForm()
    document = _read(form) if form.validate_on_submit() else None
    if document is None:
        return _page(form, 422)
    if not form.applying:
        plan = config_import.plan_import(document)
        return _page(form, 200 if plan.ok else 422, plan)
    plan = config_apply.apply_import(current_user, document)
    if not plan.ok:
        return _page(form, 422, plan)
    return respond(
        lambda: _page(ImportForm(formdata=None), 200, plan),
        notice=plan.summary(),
        then=url_for("config.index"),
    )
