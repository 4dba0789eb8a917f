"""Seeding: ten presets, a priced catalog, idempotent, never overwriting an admin's edits."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import CatalogModel, Profile, Provider, Role, SeedRecord, User
from webapp.services.accounts import users
from webapp.services.catalog import seed
from webapp.services.catalog.prices import lookup_price


def test_ten_provider_presets(app):
    slugs = set(db.session.scalars(sa.select(Provider.slug)))
    assert slugs == {
        "openai",
        "anthropic",
        "gemini",
        "xai",
        "deepseek",
        "mistral",
        "github",
        "openrouter",
        "ollama",
        "lmstudio",
    }
    gemini = factories.provider("gemini")
    assert gemini.protocol == "openai_compatible" and "generativelanguage" in gemini.base_url
    assert factories.provider("ollama").credit_multiplier == Decimal("0.1")


def test_catalog_has_at_least_thirty_models_with_prices_and_capabilities(app):
    models = list(db.session.scalars(sa.select(CatalogModel)))
    assert len(models) >= 30
    priced = [m for m in models if m.input_price is not None]
    assert len(priced) >= 30
    assert all(m.context_window for m in priced if m.category != "embedding")


def test_prices_come_from_genai_prices(app):
    model = factories.model("openai/gpt-5.4-mini")
    expected = lookup_price("openai", "gpt-5.4-mini")
    assert model.input_price == expected.input == Decimal("0.75")
    assert model.output_price == Decimal("4.5")
    assert model.price_source.startswith("genai-prices")


def test_unknown_prices_stay_empty_never_zero(app):
    model = factories.model("github/openai/gpt-5.4-mini")
    assert model.input_price is None and model.output_price is None
    assert model.price_source is None


def test_current_claude_models_reject_sampling_parameters(app):
    assert "temperature" in factories.model("anthropic/claude-sonnet-5-5").unsupported_params


def test_exactly_one_default_of_each_kind(app):
    chat = db.session.scalars(sa.select(CatalogModel).where(CatalogModel.is_default_chat)).all()
    emb = db.session.scalars(sa.select(CatalogModel).where(CatalogModel.is_default_embedding)).all()
    assert [m.global_id for m in chat] == ["openai/gpt-5.4-mini"]
    assert [m.global_id for m in emb] == ["openai/text-embedding-3-small"]


def test_seed_is_idempotent(app):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(CatalogModel))
    report = seed.seed_all()
    assert report.providers == report.models == report.profiles == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CatalogModel)) == before


def test_seed_keeps_admin_edits(app):
    openai = factories.provider("openai")
    openai.display_name = "OpenAI (corporate)"
    openai.enabled = False
    model = factories.model("openai/gpt-5.5")
    model.input_price = Decimal("9.99")
    db.session.commit()
    seed.seed_all()
    db.session.expire_all()
    assert factories.provider("openai").display_name == "OpenAI (corporate)"
    assert factories.provider("openai").enabled is False
    assert factories.model("openai/gpt-5.5").input_price == Decimal("9.99")


def test_seed_does_not_resurrect_deleted_presets(app):
    db.session.delete(factories.provider("lmstudio"))
    db.session.delete(factories.model("xai/grok-code-fast-1"))
    db.session.commit()
    seed.seed_all()
    assert db.session.scalar(sa.select(Provider).where(Provider.slug == "lmstudio")) is None
    assert (
        db.session.scalar(
            sa.select(CatalogModel).where(CatalogModel.model_id == "grok-code-fast-1")
        )
        is None
    )


def test_seed_keeps_an_admin_chosen_default(app):
    factories.model("openai/gpt-5.4-mini").is_default_chat = False
    db.session.flush()
    factories.model("anthropic/claude-haiku-4-5").is_default_chat = True
    db.session.commit()
    seed.seed_all()
    assert factories.model("anthropic/claude-haiku-4-5").is_default_chat


def test_seed_picks_a_default_only_by_the_rules_an_admin_follows(app, caplog):
    """Through ``set_default``'s rules: a preset default the admin disabled is not made the
    default again (nor is any other flag flipped by hand)."""
    preset = factories.model("openai/gpt-5.4-mini")
    preset.is_default_chat, preset.enabled = False, False
    db.session.commit()
    seed.seed_all()
    db.session.expire_all()
    assert not db.session.scalar(sa.select(CatalogModel).where(CatalogModel.is_default_chat))
    assert "Enable the model (and its provider) before making it a default." in caplog.text
    factories.model("openai/gpt-5.4-mini").enabled = True
    db.session.commit()
    seed.seed_all()
    assert factories.model("openai/gpt-5.4-mini").is_default_chat


def test_seed_profiles_get_their_models_by_the_settings_rules(app, caplog):
    """Through the settings writer's checks: a profile naming a disabled model is refused,
    as its settings editor would refuse it."""
    db.session.delete(db.session.scalar(sa.select(Profile).where(Profile.name == "powerful")))
    db.session.execute(sa.delete(SeedRecord).where(SeedRecord.kind == "profile"))
    factories.model("openai/gpt-6.1-sol").enabled = False
    db.session.commit()
    assert seed.seed_all().profiles == []
    assert "openai/gpt-6.1-sol is disabled; choose an enabled model." in caplog.text
    fast = db.session.scalar(sa.select(Profile).where(Profile.name == "fast"))
    assert fast.settings.model.global_id == "openai/gpt-5.4-mini"


def test_seed_creates_global_profiles(app):
    names = set(db.session.scalars(sa.select(Profile.name).where(Profile.org_id.is_(None))))
    assert names == {"fast", "balanced", "powerful"}


def test_seed_command(runner):
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0
    assert "seeded 0 providers" in result.output


def test_first_admin_with_generated_password(app):
    user, password = users.ensure_admin(None, None)
    assert user.role == Role.ADMIN and len(password) >= 15
    assert users.authenticate(user.email, password) is not None
    assert users.ensure_admin(None, None) == (None, None)  # only once


def test_first_admin_from_environment_values(app):
    user, password = users.ensure_admin("Boss@Example.com", "chosen-password-1")
    assert password is None and user.email == "boss@example.com"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_cache_write_prices_are_backfilled_once_and_never_over_an_admin_edit(app):
    from decimal import Decimal

    from webapp.models import SeedRecord

    haiku, sonnet = (
        factories.model("anthropic/claude-haiku-4-5"),
        factories.model("anthropic/claude-sonnet-4-6"),
    )
    assert haiku.cache_write_price == Decimal("1.25")  # seeded from the price data
    haiku.cache_write_price = None  # as a database seeded before the column existed
    sonnet.cache_write_price = Decimal("9")  # an admin's own price
    db.session.execute(sa.delete(SeedRecord).where(SeedRecord.kind == "backfill"))
    db.session.commit()
    seed.seed_all()
    assert haiku.cache_write_price == Decimal("1.25") and sonnet.cache_write_price == Decimal("9")
    haiku.cache_write_price = None  # an admin cleared it after the backfill: it stays cleared
    db.session.commit()
    seed.seed_all()
    assert haiku.cache_write_price is None
