"""Features can lock settings against users and per-call overrides, and carry a system prompt
put before every call; an organization can name its default profile."""

from __future__ import annotations

import pytest

from tests import factories
from webapp.extensions import db
from webapp.models import Feature, ParameterSet, Profile
from webapp.services import llm
from webapp.services.settings import layers as settings_service
from webapp.services.settings.cache import settings_cache
from webapp.services.settings.resolution import resolve

HI = [{"role": "user", "content": "Hi"}]


def feature(slug: str = "summarize", **fields) -> Feature:  # type: ignore[no-untyped-def]
    found = Feature(slug=slug, name=slug.title(), **fields)
    db.session.add(found)
    db.session.flush()
    db.session.add(ParameterSet(scope="feature", feature_id=found.id, temperature=0.2))
    db.session.commit()
    settings_cache().clear()
    return found


def test_locked_fields_ignore_users_and_calls(member):
    feature(locked_fields=["temperature"])
    settings_service.update_settings(
        member,
        settings_service.parameter_set_for("user", member.id),
        {"temperature": 1.5, "top_p": 0.3},
    )
    effective = resolve(user_id=member.id, feature="summarize", overrides={"temperature": 1.9})
    assert (
        effective.values["temperature"] == 0.2
        and effective.sources["temperature"].layer == "feature"
    )
    assert effective.values["top_p"] == 0.3  # not locked: the user's preference applies
    assert effective.locked == {"temperature"} and effective.ignored == ["temperature"]


def test_the_system_prompt_goes_first_in_every_call(wired, member):
    feature(system_prompt="Answer in one sentence.")
    llm.complete(HI, context=llm.CallContext(user=member, feature="summarize"))
    body = wired.requests_to("openai.chat")[0].body
    assert body["messages"][0] == {"role": "system", "content": "Answer in one sentence."}
    assert body["messages"][1]["content"] == "Hi"


def global_profile(name: str) -> Profile:
    found = db.session.scalar(
        db.select(Profile).where(Profile.name == name, Profile.org_id.is_(None))
    )
    assert found is not None
    return found


def test_an_orgs_default_profile_chooses_when_nothing_more_specific_does(member):
    org = factories.make_org("acme")
    powerful = db.session.scalar(
        db.select(Profile).where(Profile.name == "powerful", Profile.org_id.is_(None))
    )
    assert powerful is not None and powerful.settings.model_id is not None
    org.default_profile = "powerful"
    db.session.commit()
    settings_cache().clear()
    effective = resolve(org_id=org.id)
    assert effective.values["model"] == powerful.settings.model_id
    assert effective.sources["model"].layer == "profile"
    feature(profile_name="fast")  # a feature's own profile is more specific
    fast = db.session.scalar(
        db.select(Profile).where(Profile.name == "fast", Profile.org_id.is_(None))
    )
    assert resolve(org_id=org.id, feature="summarize").values["model"] == fast.settings.model_id


@pytest.mark.parametrize("field", ["model", "max_tokens"])
def test_any_field_can_be_locked(member, field):
    feature(locked_fields=[field])
    effective = resolve(user_id=member.id, feature="summarize", overrides={"max_tokens": 7})
    if field == "max_tokens":
        assert effective.values["max_tokens"] != 7
    else:
        assert effective.values["max_tokens"] == 7
