"""/admin/models/new: an admin adds a model by hand, through the catalog's one schema."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from tests.blueprints.test_account import login_with_csrf
from webapp.extensions import db
from webapp.models import AuditEvent, CatalogModel

HX = {"HX-Request": "true"}
NEW = {
    "provider": "openai",
    "model_id": "gpt-hand-1",
    "display_name": "GPT Hand 1",
    "category": "powerful",
    "context_window": "400000",
    "max_output_tokens": "128000",
    "input_price": "1.25",
    "output_price": "10",
    "cached_input_price": "0.125",
    "cache_write_price": "1.5",
    "supports_tools": "y",
    "supports_json": "y",
    "supports_streaming": "y",
    "enabled": "y",
}


def stored(global_id: str = "openai/gpt-hand-1") -> CatalogModel | None:
    db.session.rollback()
    slug, _, model_id = global_id.partition("/")
    return db.session.scalar(
        sa.select(CatalogModel).where(
            CatalogModel.model_id == model_id,
            CatalogModel.provider_id == factories.provider(slug).id,
        )
    )


def test_the_page_shows_every_field(admin_client):
    response = admin_client.get("/admin/models/new?provider=anthropic")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<h1>Add a model</h1>" in body
    for name in ("model_id", "cached_input_price", "cache_write_price", "allow_unpriced"):
        assert f'name="{name}"' in body
    assert '<option selected value="anthropic">' in body
    partial = admin_client.get("/admin/models/new", headers=HX).get_data(as_text=True)
    assert partial.lstrip().startswith('<section id="model-new">') and "<h1>" not in partial


def test_an_admin_adds_a_model_with_every_price(admin_client):
    response = admin_client.post("/admin/models/new", data=NEW)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/models?provider=openai#model-"
                                                  f"{stored().id}")  # fmt: skip
    model = stored()
    assert (model.display_name, model.category) == ("GPT Hand 1", "powerful")
    assert (model.context_window, model.max_output_tokens) == (400_000, 128_000)
    prices = (model.input_price, model.output_price, model.cached_input_price)
    assert prices == (Decimal("1.25"), Decimal("10"), Decimal("0.125"))
    assert model.cache_write_price == Decimal("1.5") and model.price_source == "admin"
    assert model.supports_tools and not model.supports_vision and model.enabled
    event = db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.target_type == "model", AuditEvent.target_id == str(model.id)
        )
    )
    assert event.action == "create" and event.target_label == "openai/gpt-hand-1"
    assert event.diff["cache_write_price"] == {"before": None, "after": "1.5"}


def test_htmx_success_navigates_to_the_catalog(admin_client):
    response = admin_client.post("/admin/models/new", headers=HX, data=NEW)
    assert (
        response.status_code == 200
        and "/admin/models?provider=openai" in (response.headers["HX-Redirect"])
    )
    assert stored() is not None


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"context_window": "2000000000"}, "context_window", "whole number from 1 to 100,000,000"),
        ({"unsupported_params": "bogus"}, "unsupported_params", "Unknown settings: bogus"),
        ({"cache_write_price": "-1"}, "cache_write_price", "from 0 to 999,999"),
        ({"cached_input_price": "0.0000001"}, "cached_input_price", "At most 6 decimal places"),
        ({"model_id": "gpt 5"}, "model_id", "no spaces"),
        ({"model_id": "gpt-5.5"}, "model_id", "in the catalog already"),
        ({"provider": "nobody"}, "provider", "Not a valid choice"),
    ],
)
def test_bad_input_is_422_with_the_message_at_the_field(admin_client, change, field, message):
    response = admin_client.post("/admin/models/new", headers=HX, data={**NEW, **change})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    error = body.split(f'id="{field}-error"')[1].split("</small>")[0]
    assert message in error
    assert stored() is None or change.get("model_id") == "gpt-5.5"


def test_members_cannot_add_models(member_client):
    assert member_client.get("/admin/models/new").status_code == 403
    assert member_client.post("/admin/models/new", data=NEW).status_code == 403
    assert stored() is None


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_adding_a_model_needs_the_csrf_token(app, admin):
    client = login_with_csrf(app, admin)
    assert client.post("/admin/models/new", data=NEW).status_code == 400
    assert stored() is None
    page = client.get("/admin/models/new").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post("/admin/models/new", data={**NEW, "csrf_token": token})
    assert response.status_code == 303 and stored() is not None
