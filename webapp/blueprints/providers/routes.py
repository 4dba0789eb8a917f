"""Provider list with an inline connection test and the provider's live model list."""

from __future__ import annotations

from flask import Response
from flask_login import current_user

from webapp.blueprints.keys.panels import provider_or_404
from webapp.blueprints.providers import bp
from webapp.htmx import add_notice, render
from webapp.permissions import admin_required
from webapp.services import catalog, llm


@bp.route("")
@admin_required
def index() -> Response:
    return render(
        "providers/index.html", "providers/_table.html", providers=catalog.list_providers()
    )


def _context() -> llm.CallContext:
    """Admin tests use the managed chain without an org: global key, then environment."""
    return llm.CallContext(user=current_user, caller="test", mode="managed")


@bp.route("/<int:provider_id>/test", methods=["POST"])
@admin_required
def test(provider_id: int) -> Response:
    provider = provider_or_404(provider_id)
    result = llm.test_connection(provider, context=_context())
    response = render(
        "providers/index.html",
        "providers/_test_result.html",
        providers=catalog.list_providers(),
        provider=provider,
        result=result,
        tests={provider.id: result},
    )
    if result.ok:
        return add_notice(
            response,
            f"{provider.display_name}: connected in {result.latency_ms} ms, "
            f"{len(result.models)} models.",
        )
    return add_notice(response, f"{provider.display_name}: {result.message}", level="error")


@bp.route("/<int:provider_id>/live-models", methods=["POST"])
@admin_required
def live_models(provider_id: int) -> Response:
    provider = provider_or_404(provider_id)
    result = llm.list_models(provider, context=_context())
    known = {m.model_id for m in provider.models}
    return render(
        "providers/index.html",
        "providers/_live_models.html",
        providers=catalog.list_providers(),
        provider=provider,
        result=result,
        known=known,
        live={provider.id: result},
    )
