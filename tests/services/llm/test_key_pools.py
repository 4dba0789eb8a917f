"""Several keys for one provider at one scope: used in turn; a 429 moves to the next key
before it counts as a retry; a 401 marks the key invalid and skips it from then on."""

from __future__ import annotations

import pytest

from tests import factories
from tests.conftest import GLOBAL_OPENAI_KEY
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import Credential
from webapp.services import llm
from webapp.services.credentials import storage
from webapp.services.llm.errors import NotConfigured
from webapp.services.settings import layers as settings_service

HI = [{"role": "user", "content": "Hi"}]
KEY_A, KEY_B = "sk-pool-key-a-000000000001", "sk-pool-key-b-000000000002"


@pytest.fixture
def pool(wired):  # type: ignore[no-untyped-def]
    """OpenAI has two global keys: the wired one is removed, two labelled ones added."""
    db.session.delete(factories.global_key("openai"))
    db.session.commit()
    a = factories.global_key("openai", KEY_A, label="a")
    b = factories.global_key("openai", KEY_B, label="b")
    settings_service.update_settings(
        None, settings_service.parameter_set_for("global"), {"max_retries": 0}
    )
    return a, b


def used_keys(wired) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        r.headers["authorization"].removeprefix("Bearer ") for r in wired.requests_to("openai.chat")
    ]


def test_calls_take_the_keys_of_a_pool_in_turn(wired, member, pool):
    for _ in range(4):
        llm.complete(HI, context=llm.CallContext(user=member))
    assert sorted(used_keys(wired)) == sorted([KEY_A, KEY_B] * 2)
    assert used_keys(wired)[0] != used_keys(wired)[1]


def test_a_rate_limited_key_hands_over_to_the_next_before_any_retry(wired, member, pool, sleeps):
    wired.script("openai.chat", Reply.error(429, "slow down"))
    reply = llm.complete(HI, context=llm.CallContext(user=member))  # max_retries is 0
    first, second = used_keys(wired)
    assert first != second and sleeps == []
    assert any(a["status"] == "next_key" for a in reply.attempts)
    # The limited key goes to the back for the next calls.
    llm.complete(HI, context=llm.CallContext(user=member))
    assert used_keys(wired)[2] == second


def test_a_rejected_key_is_marked_invalid_and_skipped(wired, member, pool):
    wired.script("openai.chat", Reply.error(401, "invalid api key"))
    llm.complete(HI, context=llm.CallContext(user=member))
    rejected, good = used_keys(wired)
    invalid = db.session.scalar(
        db.select(Credential).where(Credential.last_test_status == "invalid")
    )
    assert invalid is not None and invalid.secret_hint == rejected[-4:]
    for _ in range(3):
        llm.complete(HI, context=llm.CallContext(user=member))
    assert used_keys(wired)[2:] == [good] * 3


def test_when_every_key_is_limited_the_error_goes_to_the_retry_loop(wired, member, pool, sleeps):
    settings_service.update_settings(
        None, settings_service.parameter_set_for("global"), {"max_retries": 1}
    )
    wired.script("openai.chat", *[Reply.error(429, "slow down")] * 3)
    reply = llm.complete(HI, context=llm.CallContext(user=member))
    assert len(sleeps) == 1 and len(used_keys(wired)) == 4 and reply.text


def credential(secret: str) -> Credential:
    found = db.session.scalar(
        db.select(Credential).where(
            Credential.secret_hint == secret[-4:],
            Credential.provider_id == factories.provider("openai").id,
        )
    )
    assert found is not None
    db.session.refresh(found)
    return found


def test_a_401_on_the_only_key_marks_it_invalid_and_later_calls_skip_it(wired, member):
    wired.script("openai.chat", Reply.error(401, "invalid api key"))
    settings_service.update_settings(
        None, settings_service.parameter_set_for("global"), {"max_retries": 0}
    )
    with pytest.raises(llm.LLMError):
        llm.complete(HI, context=llm.CallContext(user=member))
    assert credential(GLOBAL_OPENAI_KEY).last_test_status == "invalid"
    with pytest.raises(NotConfigured, match=r"rejected by OpenAI \(401\).*tested again"):
        llm.complete(HI, context=llm.CallContext(user=member))
    assert len(wired.requests_to("openai.chat")) == 1  # never sent again


def test_a_401_on_the_last_key_of_a_pool_marks_it_invalid(wired, member, pool):
    wired.script("openai.chat", Reply.error(429, "slow down"), Reply.error(401, "invalid key"))
    with pytest.raises(llm.LLMError):
        llm.complete(HI, context=llm.CallContext(user=member))
    limited, rejected = used_keys(wired)
    assert credential(rejected).last_test_status == "invalid"
    assert credential(limited).last_test_status != "invalid"


def test_an_invalid_key_is_skipped_not_tried_last(wired, member, pool):
    wired.script("openai.chat", Reply.error(401, "invalid api key"))
    llm.complete(HI, context=llm.CallContext(user=member))
    _, good = used_keys(wired)
    wired.script("openai.chat", Reply.error(429, "slow down"))
    with pytest.raises(llm.LLMError):  # the good key is limited: the pool is spent
        llm.complete(HI, context=llm.CallContext(user=member))
    assert used_keys(wired)[2:] == [good]


def test_a_403_moves_on_without_marking_the_key_invalid(wired, member, pool):
    wired.script("openai.chat", Reply.error(403, "model not allowed for this key"))
    reply = llm.complete(HI, context=llm.CallContext(user=member))
    refused, served = used_keys(wired)
    assert reply.text and refused != served
    assert [credential(k).last_test_status for k in (KEY_A, KEY_B)] == ["unknown", "unknown"]
    for _ in range(2):
        llm.complete(HI, context=llm.CallContext(user=member))
    assert sorted(used_keys(wired)[2:]) == sorted([KEY_A, KEY_B])  # both still in turn


def test_a_403_on_the_only_key_says_it_may_not_use_the_model(wired, member):
    settings_service.update_settings(
        None, settings_service.parameter_set_for("global"), {"max_retries": 0}
    )
    wired.script("openai.chat", Reply.error(403, "no access to this model"))
    with pytest.raises(llm.LLMError, match=r"refused this key access \(403\)"):
        llm.complete(HI, context=llm.CallContext(user=member))
    assert credential(GLOBAL_OPENAI_KEY).last_test_status != "invalid"
    llm.complete(HI, context=llm.CallContext(user=member))  # still used


def test_a_connection_test_answered_403_does_not_mark_the_key_invalid(wired, admin):
    key = credential(GLOBAL_OPENAI_KEY)
    wired.script("openai.models", Reply.error(403, "models list not allowed"))
    result = llm.test_connection(
        factories.provider("openai"), context=llm.CallContext(user=admin), credential=key
    )
    assert not result.ok and credential(GLOBAL_OPENAI_KEY).last_test_status != "invalid"
    wired.script("openai.models", Reply.error(401, "bad key"))
    llm.test_connection(
        factories.provider("openai"), context=llm.CallContext(user=admin), credential=key
    )
    assert credential(GLOBAL_OPENAI_KEY).last_test_status == "invalid"


@pytest.mark.parametrize("how", ["tested again", "new secret", "new base URL"])
def test_an_invalid_key_is_used_again_once_edited_or_tested(wired, admin, member, how):
    wired.script("openai.chat", Reply.error(401, "invalid api key"))
    settings_service.update_settings(
        None, settings_service.parameter_set_for("global"), {"max_retries": 0}
    )
    with pytest.raises(llm.LLMError):
        llm.complete(HI, context=llm.CallContext(user=member))
    key = credential(GLOBAL_OPENAI_KEY)
    if how == "tested again":
        assert llm.test_connection(
            factories.provider("openai"), context=llm.CallContext(user=admin), credential=key
        ).ok
    else:
        data = storage.CredentialInput(
            label=key.label,
            secret="sk-replaced-openai-key-000009" if how == "new secret" else None,
            base_url=wired.openai_base_url + "/" if how == "new base URL" else key.base_url,
            confirm_origin=True,
        )
        storage.update_credential(admin, key, data, key.version)
    db.session.refresh(key)
    assert key.last_test_status != "invalid"
    llm.complete(HI, context=llm.CallContext(user=member))
