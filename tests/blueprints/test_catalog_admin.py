"""/admin/models: inline enable, the two defaults switched atomically, prices and capabilities."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import CatalogModel

HX = {"HX-Request": "true"}


def model(global_id: str) -> CatalogModel:
    db.session.rollback()
    return factories.model(global_id)


def edit_data(m: CatalogModel, **changes: str) -> dict[str, str]:
    data = {
        "display_name": m.display_name,
        "category": m.category,
        "context_window": str(m.context_window or ""),
        "max_output_tokens": str(m.max_output_tokens or ""),
        "input_price": str(m.input_price or ""),
        "output_price": str(m.output_price or ""),
        "cached_input_price": str(m.cached_input_price or ""),
        "enabled": "y",
        "supports_streaming": "y",
        "version": str(m.version),
    }
    data.update(changes)
    return data


def test_edit_prices_and_capabilities(admin_client):
    m = model("mistral/mistral-large-4")
    response = admin_client.post(
        f"/admin/models/{m.id}",
        headers=HX,
        data=edit_data(
            m,
            input_price="0.65",
            output_price="2",
            supports_vision="y",
            deprecated="y",
            unsupported_params="seed, top_p",
        ),
    )
    assert response.status_code == 200 and "$0.65" in response.get_data(as_text=True)
    m = model("mistral/mistral-large-4")
    assert m.input_price == Decimal("0.65") and m.price_source == "admin"
    assert m.deprecated and m.supports_vision and m.unsupported_params == ["seed", "top_p"]


def test_emptied_prices_mean_unpriced(admin_client):
    m = model("mistral/mistral-large-4")
    admin_client.post(
        f"/admin/models/{m.id}",
        headers=HX,
        data=edit_data(m, input_price="", output_price="", cached_input_price=""),
    )
    assert model("mistral/mistral-large-4").input_price is None


def test_bad_model_input_is_422(admin_client):
    m = model("mistral/mistral-large-4")
    for change, message in [
        ({"input_price": "cheap"}, "decimal number"),
        ({"output_price": "-1"}, "from 0 to 999,999"),
        ({"unsupported_params": "warp_speed"}, "Unknown settings"),
        ({"context_window": "0"}, "whole number from 1 to 100,000,000"),
        ({"context_window": "2000000000"}, "whole number from 1 to 100,000,000"),
        ({"input_price": "0.0000001"}, "At most 6 decimal places"),
    ]:
        response = admin_client.post(
            f"/admin/models/{m.id}", headers=HX, data=edit_data(m, **change)
        )
        assert response.status_code == 422 and message in response.get_data(as_text=True), change
    assert model("mistral/mistral-large-4").input_price == Decimal("0.7")


def test_stale_model_edit_is_a_conflict(admin_client):
    m = model("mistral/mistral-large-4")
    stale = edit_data(m, display_name="First")
    admin_client.post(f"/admin/models/{m.id}", headers=HX, data=stale)
    response = admin_client.post(
        f"/admin/models/{m.id}", headers=HX, data={**stale, "display_name": "Second"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and 'value="Second"' in body  # kept as typed
    assert "Saved meanwhile by someone else: <code>First</code>" in body
    assert model("mistral/mistral-large-4").display_name == "First"


def test_inline_enable_toggle_and_the_default_stays_enabled(admin_client):
    m = model("mistral/mistral-large-4")
    response = admin_client.post(f"/admin/models/{m.id}/enabled", headers=HX, data={})
    assert response.status_code == 200 and not model("mistral/mistral-large-4").enabled
    default = model("openai/gpt-5.4-mini")
    response = admin_client.post(f"/admin/models/{default.id}/enabled", headers=HX, data={})
    assert response.status_code == 422 and "default model must stay enabled" in response.get_data(
        as_text=True
    )
    assert model("openai/gpt-5.4-mini").enabled


def test_switch_the_default_chat_model_atomically(admin_client):
    new = model("anthropic/claude-sonnet-5-5")
    response = admin_client.post(
        f"/admin/models/{new.id}/default", headers=HX, data={"kind": "chat"}
    )
    assert response.status_code == 200 and "models-changed" in response.headers["HX-Trigger"]
    db.session.rollback()
    defaults = db.session.scalars(sa.select(CatalogModel).where(CatalogModel.is_default_chat)).all()
    assert [d.global_id for d in defaults] == ["anthropic/claude-sonnet-5-5"]
    from webapp.services.settings.resolution import resolve

    assert resolve().model.global_id == "anthropic/claude-sonnet-5-5"


def test_defaults_must_fit_their_kind(admin_client):
    chat = model("openai/gpt-5.5")
    response = admin_client.post(
        f"/admin/models/{chat.id}/default", headers=HX, data={"kind": "embedding"}
    )
    assert response.status_code == 422 and "cannot be the default embedding" in response.get_data(
        as_text=True
    )
    emb = model("mistral/mistral-embed")
    response = admin_client.post(
        f"/admin/models/{emb.id}/default", headers=HX, data={"kind": "embedding"}
    )
    assert response.status_code == 200 and model("mistral/mistral-embed").is_default_embedding
    assert not model("openai/text-embedding-3-small").is_default_embedding
