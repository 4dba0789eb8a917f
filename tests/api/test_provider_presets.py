"""Issue 13 item 7: provider presets (GitHub Models' credit multiplier) applied only where
the admin kept the old default, and a per-provider default model for calls that name only
the provider."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests import factories
from tests.api.conftest import Caller
from tests.conftest import make_app
from webapp.extensions import db
from webapp.services.catalog import names
from webapp.services.catalog.names import UnknownModel
from webapp.services.catalog.seed_data import PROVIDERS


def test_seed_presets_multipliers() -> None:
    multipliers = {p.slug: p.credit_multiplier for p in PROVIDERS}
    assert multipliers["github"] == Decimal("1.5")
    assert multipliers["ollama"] == multipliers["lmstudio"] == Decimal("0.1")


@pytest.mark.committed
def test_migration_moves_only_unchanged_presets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fresh = make_app(f"sqlite:///{tmp_path / 'presets.db'}", tmp_path)
    with fresh.app_context():
        upgrade(revision="0008_usage_rollups")
        insert = sa.text(
            "INSERT INTO providers (slug, display_name, protocol, base_url, credit_multiplier,"
            " enabled, is_preset, version, created_at, updated_at) VALUES (:slug, :slug,"
            " 'openai_compatible', 'https://x.example/v1', :m, 1, :preset, 1,"
            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
        with db.engine.begin() as conn:
            conn.execute(insert, {"slug": "github", "m": "1", "preset": True})
            conn.execute(insert, {"slug": "ollama", "m": "0.3", "preset": True})
        upgrade(revision="0009_api_provider_presets")
        with db.engine.connect() as conn:
            rows = dict(
                conn.execute(sa.text("SELECT slug, credit_multiplier FROM providers")).all()
            )
        assert Decimal(str(rows["github"])) == Decimal("1.5")
        assert Decimal(str(rows["ollama"])) == Decimal("0.3")  # the admin's value stays
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE providers SET credit_multiplier = 2 WHERE slug='github'"))
        downgrade(revision="0008_usage_rollups")
        upgrade(revision="0009_api_provider_presets")
        with db.engine.connect() as conn:
            value = conn.scalar(
                sa.text("SELECT credit_multiplier FROM providers WHERE slug='github'")
            )
        assert Decimal(str(value)) == Decimal("2")  # changed by the admin: left alone
        db.session.remove()
        db.engine.dispose()


def test_provider_alone_names_its_default_model(as_admin: Caller) -> None:
    openai = factories.provider("openai")
    with pytest.raises(UnknownModel):
        names.resolve_name("openai/")
    response = as_admin.patch(
        f"providers/{openai.id}", json={"default_model": "gpt-5.4-mini", "version": openai.version}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["default_model"] == "gpt-5.4-mini"
    assert names.resolve_name("openai").global_id == "openai/gpt-5.4-mini"
    assert names.resolve_name("openai/").global_id == "openai/gpt-5.4-mini"
    assert names.resolve_name("openai/gpt-5.5").global_id == "openai/gpt-5.5"  # unaffected


def test_default_model_must_be_in_the_catalog(as_admin: Caller) -> None:
    openai = factories.provider("openai")
    response = as_admin.patch(
        f"providers/{openai.id}", json={"default_model": "no-such-model", "version": openai.version}
    )
    assert response.status_code == 422
    assert "default_model" in response.get_json()["errors"]


def test_provider_form_sets_the_default_model(admin_client) -> None:  # type: ignore[no-untyped-def]
    anthropic = factories.provider("anthropic")
    model = next(m for m in anthropic.models if m.enabled)
    page = admin_client.get(f"/admin/providers/{anthropic.id}/edit")
    assert 'name="default_model"' in page.get_data(as_text=True)
    response = admin_client.post(
        f"/admin/providers/{anthropic.id}",
        data={
            "display_name": anthropic.display_name,
            "protocol": anthropic.protocol,
            "api_key_env": anthropic.api_key_env or "",
            "credit_multiplier": "1",
            "enabled": "y",
            "default_model": model.model_id,
            "version": anthropic.version,
        },
    )
    assert response.status_code in (200, 303), response.get_data(as_text=True)[:300]
    db.session.expire_all()
    assert factories.provider("anthropic").default_model == model.model_id
    assert names.resolve_name("anthropic").id == model.id
