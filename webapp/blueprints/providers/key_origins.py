"""Keys and a provider's address: what a new base URL would pause (shown while editing) and
what it paused (shown on the row after saving, with the admins' confirmation in routes.py)."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from webapp.blueprints.providers import bp
from webapp.blueprints.providers.forms import ProviderForm
from webapp.htmx import render
from webapp.models import Provider
from webapp.permissions import admin_required
from webapp.services.catalog import providers
from webapp.services.credentials import confirmation
from webapp.services.credentials.confirmation import KeyCounts

IMPACT = "providers/_key_impact.html"


def paused_keys(provider_list: list[Provider]) -> dict[int, KeyCounts]:
    """For the rows: the keys each provider's current address pauses."""
    return confirmation.paused_by_address(provider_list)


def form_impact(provider: Provider, form: ProviderForm) -> tuple[KeyCounts, KeyCounts]:
    """(keys the typed address would pause, keys following the saved address)."""
    impact = confirmation.url_change_impact(
        provider,
        (form.base_url.data or "").strip(),
        form.protocol.data or provider.protocol,
        (form.api_key_env.data or "") if form.api_key_env.raw_data else None,  # None: as saved
    )
    return impact, confirmation.following_keys(provider)


def saved_notice(provider: Provider) -> dict[str, str]:
    """The notice after saving a provider: a warning when its address pauses keys."""
    paused = confirmation.paused_by_address([provider]).get(provider.id)
    if paused is None:
        return {"notice": f"{provider.display_name} saved.", "level": "success"}
    return {
        "notice": f"{provider.display_name} saved. {paused.why[:1].upper()}{paused.why[1:]}: "
        f"{paused.summary()} {'is' if paused.total == 1 else 'are'} paused until confirmed.",
        "level": "warning",
    }


@bp.route("/<int:provider_id>/key-impact")
@admin_required
def key_impact(provider_id: int) -> Response:
    """While the edit form is open: how many keys the typed base URL would pause."""
    provider = providers.get_provider(provider_id)
    form = ProviderForm(request.args, meta={"csrf": False})
    impact, following = form_impact(provider, form)
    return render(IMPACT, IMPACT, provider=provider, impact=impact, following=following)
