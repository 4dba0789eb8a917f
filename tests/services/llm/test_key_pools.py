"""Several keys for one provider at one scope: used in turn; a 429 moves to the next key
before it counts as a retry; a 401 marks the key invalid and skips it from then on."""

from __future__ import annotations

import pytest

from tests import factories
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import Credential
from webapp.services import llm
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
