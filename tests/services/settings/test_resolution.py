"""Effective settings: every layer, field by field, with the source of each value."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import make_app
from webapp.extensions import db
from webapp.models import Feature, ParameterSet, Profile
from webapp.services.errors import NotConfigured, ValidationError
from webapp.services.settings import layers as settings_service
from webapp.services.settings.cache import settings_cache
from webapp.services.settings.resolution import resolve


def set_layer(scope: str, owner_id: int | None = None, **values):  # type: ignore[no-untyped-def]
    pset = settings_service.parameter_set_for(scope, owner_id)
    return settings_service.update_settings(None, pset, values)


def feature(slug: str, profile: str | None = None, org=None, **values):  # type: ignore[no-untyped-def]
    item = Feature(
        slug=slug, name=slug.title(), profile_name=profile, org_id=org.id if org else None
    )
    db.session.add(item)
    db.session.flush()
    set_layer("feature", item.id, **values)
    return item


def test_built_in_defaults_and_the_default_chat_model(app):
    effective = resolve()
    assert effective.model.global_id == "openai/gpt-5.4-mini"
    assert effective.values["max_tokens"] == 4096 and effective.values["temperature"] is None
    assert effective.sources["max_tokens"].layer == "default"
    assert effective.sources["model"].layer == "default"


def test_each_layer_overrides_the_one_below_field_by_field(app, member):
    org = factories.make_org("acme")
    factories.add_member(org, member)
    g = set_layer("global", temperature=0.5, max_tokens=1000, max_retries=3)
    o = set_layer("org", org.id, temperature=0.6, top_p=0.9)
    fast = db.session.scalar(
        sa.select(Profile).where(Profile.name == "fast", Profile.org_id.is_(None))
    )
    settings_service.update_settings(None, fast.settings, {"max_tokens": 800})
    f = feature("summarize", profile="fast", temperature=0.2)
    u = set_layer("user", member.id, seed=42)
    effective = resolve(
        user_id=member.id, org_id=org.id, feature="summarize", overrides={"max_retries": 1}
    )
    v, s = effective.values, effective.sources
    assert (v["temperature"], s["temperature"].layer, s["temperature"].record_id) == (
        0.2,
        "feature",
        f.id,
    )
    assert (v["top_p"], s["top_p"].layer, s["top_p"].record_id) == (0.9, "org", o.id)
    assert (v["max_tokens"], s["max_tokens"].layer) == (800, "profile")
    assert s["max_tokens"].record_id == fast.id and "fast" in s["max_tokens"].label
    assert (v["seed"], s["seed"].layer, s["seed"].record_id) == (42, "user", u.id)
    assert (v["max_retries"], s["max_retries"].layer) == (1, "call")
    assert v["retry_backoff_ms"] == 500 and s["retry_backoff_ms"].layer == "default"
    assert effective.model.global_id == "openai/gpt-5.4-mini"  # the fast profile's model
    assert s["model"].layer == "profile"
    assert g.id != o.id


def test_an_org_profile_shadows_the_global_profile_of_that_name(app):
    org = factories.make_org("acme")
    own = Profile(name="fast", org_id=org.id)
    own.settings = ParameterSet(
        scope="profile", model=factories.model("anthropic/claude-haiku-4-5")
    )
    db.session.add(own)
    db.session.commit()
    feature("summarize", profile="fast")
    assert (
        resolve(org_id=org.id, feature="summarize").model.global_id == "anthropic/claude-haiku-4-5"
    )
    assert resolve(feature="summarize").model.global_id == "openai/gpt-5.4-mini"


def test_an_org_feature_shadows_the_global_feature(app):
    org = factories.make_org("acme")
    feature("summarize", temperature=0.1)
    feature("summarize", org=org, temperature=0.9)
    assert resolve(org_id=org.id, feature="summarize").values["temperature"] == 0.9
    assert resolve(feature="summarize").values["temperature"] == 0.1


def test_call_overrides_are_clamped_to_spec_ranges(app):
    effective = resolve(
        overrides={"temperature": 7, "max_tokens": 10**9, "top_p": -1, "request_timeout_ms": 10}
    )
    v = effective.values
    assert (v["temperature"], v["max_tokens"], v["top_p"], v["request_timeout_ms"]) == (
        2.0,
        200000,
        0.0,
        1000,
    )
    assert sorted(effective.clamped) == ["max_tokens", "request_timeout_ms", "temperature", "top_p"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"temperature": "hot"},
        {"logging_enabled": False},
        {"nonsense": 1},
        {"max_tokens": 1.5},
        {"max_tokens": float("inf")},
        {"extra_options": {"model": "gpt-unlisted-expensive", "n": 8}},
        {"stop": ["a", "b", "c", "d", "e"]},
        {"temperature": float("nan")},
        {"seed": float("-inf")},
        {"model": "nope/nothing"},
        {"stop": [1, 2]},
        {"extra_options": "x"},
    ],
)
def test_bad_call_overrides_are_refused(app, overrides):
    with pytest.raises(ValidationError):
        resolve(overrides=overrides)


def test_disabled_or_disallowed_models_are_clear_errors(app, member):
    org = factories.make_org("acme")
    set_layer("org", org.id, model="anthropic/claude-sonnet-5-5")
    factories.model("anthropic/claude-sonnet-5-5").enabled = False
    db.session.commit()
    settings_cache().clear()
    with pytest.raises(NotConfigured, match=r"claude-sonnet-5-5 .*Organization Acme.* is disabled"):
        resolve(org_id=org.id)
    factories.model("anthropic/claude-sonnet-5-5").enabled = True
    factories.provider("anthropic").enabled = False
    db.session.commit()
    settings_cache().clear()
    with pytest.raises(NotConfigured, match="Anthropic is disabled"):
        resolve(org_id=org.id)
    factories.provider("anthropic").enabled = True
    org.allowed_models = ["openai/gpt-5.4-mini"]
    db.session.commit()
    settings_cache().clear()
    with pytest.raises(NotConfigured, match="not among the models your organization allows"):
        resolve(org_id=org.id)
    assert (
        resolve(org_id=org.id, overrides={"model": "openai/gpt-5.4-mini"}).model.model_id
        == "gpt-5.4-mini"
    )


def test_unknown_and_disabled_features(app):
    with pytest.raises(NotConfigured, match="no feature 'nope'"):
        resolve(feature="nope")
    item = feature("summarize")
    item.enabled = False
    db.session.commit()
    settings_cache().clear()
    with pytest.raises(NotConfigured, match="disabled"):
        resolve(feature="summarize")


def test_unusable_fallbacks_are_skipped(app):
    set_layer(
        "global", fallback_models=["anthropic/claude-haiku-4-5", "mistral/mistral-small-2603"]
    )
    factories.provider("mistral").enabled = False
    db.session.commit()
    settings_cache().clear()
    assert [m.global_id for m in resolve().fallbacks] == ["anthropic/claude-haiku-4-5"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"logging_level": "loud"}, "logging_level"),
        ({"model": "openai/nope"}, "model"),
        ({"fallback_models": ["x/y"]}, "fallback_models"),
        ({"extra_options": {"model": "x"}}, "extra_options"),
        ({"stop": ["a"] * 5}, "stop"),
        ({"max_retries": True}, "max_retries"),
    ],
)
def test_stored_settings_are_validated_not_clamped(app, values, field):
    pset = settings_service.parameter_set_for("global")
    with pytest.raises(ValidationError) as excinfo:
        settings_service.update_settings(None, pset, values)
    assert field in excinfo.value.errors


def test_resolution_is_cached_until_a_settings_write(app, monkeypatch):
    cache = settings_cache()
    resolve()
    loads = cache.loads
    for _ in range(20):
        resolve()
    assert cache.loads == loads  # warm: no database work
    set_layer("global", temperature=1.5)  # this process wrote: it re-checks at once
    assert resolve().values["temperature"] == 1.5


@pytest.mark.committed
def test_another_process_sees_a_settings_change_within_one_second(app, database_url, instance_path):
    other = make_app(database_url, instance_path)  # a second app process on the same database
    assert resolve().values["temperature"] is None  # warm the cache of this process
    with other.app_context():
        settings_service.update_settings(
            None, settings_service.parameter_set_for("global"), {"temperature": 0.3}
        )
        db.session.remove()
    started = time.monotonic()
    while resolve().values["temperature"] != 0.3:
        assert time.monotonic() - started < 1.0, "the change was not seen within one second"
        time.sleep(0.02)
    assert time.monotonic() - started < 1.0


def test_huge_integers_are_clamped_or_refused_never_a_crash(app):
    assert resolve(overrides={"seed": 10**400}).values["seed"] == 2**63 - 1
    pset = settings_service.parameter_set_for("global")
    with pytest.raises(ValidationError, match="between"):
        settings_service.update_settings(None, pset, {"max_tokens": 10**400})


def test_a_preference_the_org_no_longer_allows_falls_back(app, member):
    org = factories.make_org("acme")
    set_layer("user", member.id, model="anthropic/claude-haiku-4-5")
    org.allowed_models = ["openai/gpt-5.4-mini"]
    db.session.commit()
    settings_cache().clear()
    effective = resolve(user_id=member.id, org_id=org.id)
    assert effective.model.global_id == "openai/gpt-5.4-mini"
    assert effective.sources["model"].layer == "default"
    assert resolve(user_id=member.id).model.global_id == "anthropic/claude-haiku-4-5"


def test_org_settings_may_only_name_allowed_models(app):
    org = factories.make_org("acme")
    org.allowed_models = ["openai/gpt-5.4-mini", "anthropic/claude-haiku-4-5"]
    db.session.commit()
    with pytest.raises(ValidationError, match=r"does not allow openai/gpt-5\.5"):
        set_layer("org", org.id, model="openai/gpt-5.5")
    with pytest.raises(ValidationError, match="does not allow mistral"):
        set_layer("org", org.id, fallback_models=["mistral/mistral-small-2603"])
    item = feature("summarize", org=org)
    with pytest.raises(ValidationError):
        settings_service.update_settings(
            None,
            settings_service.parameter_set_for("feature", item.id),
            {"model": "openai/gpt-5.5"},
        )
    set_layer("org", org.id, model="anthropic/claude-haiku-4-5")
