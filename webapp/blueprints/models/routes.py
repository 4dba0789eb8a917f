"""Model catalog with search and filters (read-only until the admin-console issue)."""

from __future__ import annotations

from flask import Response, request

from webapp.blueprints.models import bp
from webapp.blueprints.models.forms import ModelFilterForm
from webapp.forms import choices
from webapp.htmx import render
from webapp.permissions import admin_required
from webapp.services import catalog


@bp.route("")
@admin_required
def index() -> Response:
    form = ModelFilterForm(request.args)
    form.provider.choices = choices(
        [("", "All providers")] + [(p.slug, p.display_name) for p, _ in catalog.list_providers()]
    )
    if not form.validate():
        return render(
            "models/index.html",
            "models/_table.html",
            422,
            form=form,
            models=[],
            defaults=catalog.default_models(),
        )
    filters = catalog.ModelFilter(
        q=form.q.data or "",
        provider=form.provider.data or "",
        category=form.category.data or "",
        status=form.status.data or "",
    )
    return render(
        "models/index.html",
        "models/_table.html",
        form=form,
        models=catalog.list_models(filters),
        defaults=catalog.default_models(),
    )
