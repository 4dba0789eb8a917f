"""/admin/models grouped by provider, with bulk enable and disable of the ticked models."""

from __future__ import annotations

import json

import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import AuditEvent, CatalogModel

HX = {"HX-Request": "true"}


def _ids(*global_ids: str) -> list[int]:
    return [factories.model(g).id for g in global_ids]


def test_models_are_grouped_by_provider_with_a_select_all(admin_client):
    body = admin_client.get("/admin/models").get_data(as_text=True)
    assert 'id="models-openai"' in body and 'id="models-anthropic"' in body
    assert 'data-select-group="openai"' in body and 'data-group="openai"' in body
    assert 'form="models-bulk"' in body and 'id="models-bulk"' in body
    head = body.split("<thead>")[1].split("</thead>")[0]
    # the status toggle comes right after the model, not in the ninth column
    assert head.index("Status") < head.index("Price") < head.index("Category")


def test_bulk_disable_then_enable_audits_each_model(admin_client):
    ids = _ids("mistral/mistral-large-4", "xai/grok-4.7")
    response = admin_client.post(
        "/admin/models/bulk", data={"model_id": ids, "enabled": "off"}, headers=HX
    )
    assert response.status_code == 200
    trigger = json.loads(response.headers["HX-Trigger"])
    assert trigger["notice"]["message"] == "2 models disabled." and "models-changed" in trigger
    db.session.expire_all()
    assert [db.session.get(CatalogModel, i).enabled for i in ids] == [False, False]
    events = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.target_type == "model", AuditEvent.action == "update"
        )
    ).all()
    assert sorted(int(e.target_id) for e in events) == sorted(ids)
    plain = admin_client.post("/admin/models/bulk", data={"model_id": ids, "enabled": "on"})
    assert plain.status_code == 303
    db.session.expire_all()
    assert [db.session.get(CatalogModel, i).enabled for i in ids] == [True, True]


def test_bulk_refuses_to_disable_a_default_and_changes_nothing(admin_client):
    default = db.session.scalar(sa.select(CatalogModel).where(CatalogModel.is_default_chat))
    other = factories.model("xai/grok-4.7")
    response = admin_client.post(
        "/admin/models/bulk",
        data={"model_id": [default.id, other.id], "enabled": "off"},
        headers=HX,
    )
    assert response.status_code == 422
    assert "must stay enabled" in json.loads(response.headers["HX-Trigger"])["notice"]["message"]
    db.session.expire_all()
    assert db.session.get(CatalogModel, other.id).enabled


def test_a_refused_plain_bulk_post_shows_the_page_at_422_not_a_redirect(admin_client):
    """Without JavaScript a refused change is the page again, at 422, saying why (it used to
    redirect as if it had worked)."""
    default = db.session.scalar(sa.select(CatalogModel).where(CatalogModel.is_default_chat))
    refused = admin_client.post(
        "/admin/models/bulk", data={"model_id": [default.id], "enabled": "off"}
    )
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "must stay enabled" in body
    assert 'id="models-bulk"' in body  # the catalog page itself, to try again
    nothing = admin_client.post("/admin/models/bulk", data={"enabled": "off"})
    assert nothing.status_code == 422
    assert "Select at least one model." in nothing.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(CatalogModel, default.id).enabled


def test_bulk_without_models_or_with_bad_ids_is_422(admin_client):
    for data in (
        {"enabled": "off"},
        {"model_id": ["abc"], "enabled": "off"},
        {"model_id": ["999999"], "enabled": "on"},
        {"model_id": ["1"], "enabled": "x"},
    ):
        response = admin_client.post("/admin/models/bulk", data=data, headers=HX)
        assert response.status_code == 422, data


def test_members_cannot_bulk_change(member_client):
    assert (
        member_client.post(
            "/admin/models/bulk", data={"model_id": [1], "enabled": "off"}
        ).status_code
        == 403
    )
