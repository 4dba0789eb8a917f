"""What the database itself enforces, on both engines."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tests import factories
from webapp.extensions import db
from webapp.models import (
    CatalogModel,
    Credential,
    CreditAccount,
    Feature,
    ParameterSet,
    Profile,
    Provider,
    UsageRecord,
)


def _fails(change) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IntegrityError):
        change()
        db.session.flush()
    db.session.rollback()


def test_only_one_default_chat_model(app):
    other = factories.model("anthropic/claude-sonnet-5-5")
    _fails(lambda: setattr(other, "is_default_chat", True))


def test_only_one_default_embedding_model(app):
    other = factories.model("mistral/mistral-embed")
    _fails(lambda: setattr(other, "is_default_embedding", True))


def test_default_embedding_must_be_an_embedding_model(app):
    current = factories.model("openai/text-embedding-3-small")
    current.is_default_embedding = False
    db.session.flush()
    chat = factories.model("openai/gpt-5.5")
    _fails(lambda: setattr(chat, "is_default_embedding", True))


def test_provider_slug_is_unique(app):
    _fails(lambda: db.session.add(Provider(slug="openai", display_name="Again", protocol="openai")))


def test_model_id_is_unique_per_provider_but_not_globally(app):
    openai = factories.provider("openai")
    _fails(
        lambda: db.session.add(
            CatalogModel(provider=openai, model_id="gpt-5.5", display_name="dup")
        )
    )
    github = factories.provider("github")
    db.session.add(CatalogModel(provider=github, model_id="gpt-5.5", display_name="ok"))
    db.session.commit()


def test_openai_compatible_provider_needs_a_base_url(app):
    _fails(
        lambda: db.session.add(Provider(slug="x1", display_name="X", protocol="openai_compatible"))
    )


def test_unknown_protocol_and_negative_multiplier_are_refused(app):
    _fails(lambda: db.session.add(Provider(slug="x2", display_name="X", protocol="grpc")))
    _fails(
        lambda: db.session.add(
            Provider(
                slug="x3", display_name="X", protocol="openai", credit_multiplier=Decimal("-1")
            )
        )
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 2.5),
        ("max_tokens", 0),
        ("top_p", 1.5),
        ("frequency_penalty", -3),
        ("presence_penalty", 2.1),
        ("max_retries", 11),
        ("retry_backoff_ms", 50),
        ("request_timeout_ms", 999),
        ("logging_level", "verbose"),
    ],
)
def test_settings_ranges_are_enforced_by_the_database(app, field, value):
    org = factories.make_org("acme")
    _fails(lambda: db.session.add(ParameterSet(scope="org", org_id=org.id, **{field: value})))


def test_settings_owner_must_match_scope(app):
    org = factories.make_org("acme")
    _fails(lambda: db.session.add(ParameterSet(scope="user", org_id=org.id)))
    _fails(lambda: db.session.add(ParameterSet(scope="global")))  # the seed made one already


def test_credential_owner_must_match_scope(app):
    openai = factories.provider("openai")
    _fails(
        lambda: db.session.add(
            Credential(
                scope="user",
                owner_key="user:1",
                provider=openai,
                secret_ciphertext="x",
                secret_hint="abcd",
            )
        )
    )


def test_credit_account_has_exactly_one_owner(app):
    _fails(lambda: db.session.add(CreditAccount()))


def test_global_profile_and_feature_names_are_unique(app):
    _fails(lambda: db.session.add(Profile(name="fast")))
    db.session.add(Feature(slug="summarize", name="Summarize"))
    db.session.commit()
    _fails(lambda: db.session.add(Feature(slug="summarize", name="Again")))
    org = factories.make_org("acme")
    db.session.add(Feature(slug="summarize", name="Org's own", org_id=org.id))
    db.session.add(Profile(name="fast", org_id=org.id))
    db.session.commit()


def test_deleting_a_provider_removes_its_models_and_keeps_usage(app):
    model = factories.model("mistral/mistral-large-4")
    provider_id, model_id = model.provider_id, model.id
    db.session.add(
        UsageRecord(
            request_id="r1",
            provider_id=provider_id,
            model_id=model_id,
            provider_slug="mistral",
            model_name="mistral-large-4",
            status="ok",
        )
    )
    db.session.commit()
    db.session.execute(sa.delete(Provider).where(Provider.id == provider_id))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(CatalogModel, model_id) is None
    record = db.session.scalar(sa.select(UsageRecord).where(UsageRecord.request_id == "r1"))
    assert record.provider_id is None and record.model_id is None
    assert record.model_name == "mistral-large-4"  # the name survives for the dashboards


def test_deleting_a_model_makes_settings_inherit(app):
    profile = db.session.scalar(sa.select(Profile).where(Profile.name == "balanced"))
    model_id = profile.settings.model_id
    assert model_id is not None
    db.session.execute(sa.delete(CatalogModel).where(CatalogModel.id == model_id))
    db.session.commit()
    db.session.expire_all()
    assert profile.settings.model_id is None


def test_stale_update_is_detected_by_the_version_column(app):
    from sqlalchemy.orm.exc import StaleDataError

    provider = factories.provider("openai")
    db.session.execute(  # another admin saved in between
        sa.update(Provider).where(Provider.id == provider.id).values(version=Provider.version + 1),
        execution_options={"synchronize_session": False},
    )
    provider.display_name = "Edited in a stale form"
    with pytest.raises(StaleDataError):
        db.session.flush()
    db.session.rollback()
