"""Model aliases for the gateway (``/admin/models/aliases``): a name such as ``default-chat``
that callers send, repointed here without touching them."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.catalog import bp
from webapp.blueprints.catalog.forms import AliasForm
from webapp.forms import attach_errors, choices
from webapp.htmx import render, respond
from webapp.permissions import admin_required
from webapp.services.catalog import names, snapshot
from webapp.services.errors import ValidationError

PARTIAL = "catalog/_aliases.html"


def _form() -> AliasForm:
    form = AliasForm()
    models = snapshot.usable_models() + snapshot.usable_models(embedding=True)
    form.model.choices = choices([(m.global_id, m.global_id) for m in models])
    return form


def _page(form: AliasForm | None = None, status: int = 200) -> Response:
    return render(
        "catalog/aliases.html",
        PARTIAL,
        status,
        aliases=names.list_aliases(),
        form=form or _form(),
    )


@bp.route("/aliases")
@admin_required
def aliases() -> Response:
    return _page()


@bp.route("/aliases", methods=["POST"])
@admin_required
def create_alias() -> Response:
    form = _form()
    if form.validate_on_submit():
        try:
            alias = names.create_alias(
                form.name.data or "",
                form.model.data or "",
                form.description.data or "",
                actor=current_user,
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return respond(
                _page, notice=f"Alias {alias.name} created.", then=url_for("catalog.aliases")
            )
    return _page(form, 422)


@bp.route("/aliases/<int:alias_id>/delete", methods=["POST"])
@admin_required
def delete_alias(alias_id: int) -> Response:
    names.delete_alias(alias_id, actor=current_user)
    return respond(_page, notice="Alias deleted.", then=url_for("catalog.aliases"))
