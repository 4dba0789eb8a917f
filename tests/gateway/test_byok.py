"""A key sent with one call (X-BYOK-API-Key) serves that call and nothing else."""

from __future__ import annotations

import json

import pytest

from tests.fake_upstream import Reply
from tests.gateway.support import make_token, records
from webapp.services import llm
from webapp.services.llm import clients
from webapp.services.llm.errors import Unavailable
from webapp.services.settings import layers as settings_service

HI = [{"role": "user", "content": "Hi"}]
KEY = "sk-callers-own-key-5512aa"


def test_a_fallback_on_another_provider_is_skipped_not_served_by_a_managed_key(wired, member):
    settings_service.update_settings(
        None,
        settings_service.parameter_set_for("global"),
        {"max_retries": 0, "fallback_models": ["anthropic/claude-haiku-4-5"]},
    )
    wired.script("openai.chat", Reply.error(503))
    context = llm.CallContext(user=member, caller="gateway", byok_key=KEY)
    with pytest.raises(Unavailable):
        llm.complete(HI, context=context)
    assert not wired.requests_to("anthropic.messages")  # no managed key stepped in
    (record,) = records()
    assert record.mode == "byok" and record.key_source == "request"
    assert [a["status"] for a in record.attempts] == ["error", "skipped"]


def test_the_callers_key_is_not_kept_in_the_client_pool_nor_in_reprs(wired, member):
    before = clients.cached_clients()
    context = llm.CallContext(user=member, caller="gateway", byok_key=KEY)
    llm.complete(HI, context=context)
    assert clients.cached_clients() == before
    assert KEY not in repr(context)
    assert wired.requests_to("openai.chat")[-1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("streamed", [False, True])
def test_the_callers_client_is_closed_when_the_call_ends(wired, member, monkeypatch, streamed):
    from webapp.services.llm.adapters.openai_adapter import OpenAIAdapter

    made = []
    real = OpenAIAdapter.make_client

    def recording(self, *args):  # type: ignore[no-untyped-def]
        client = real(self, *args)
        made.append(client)
        return client

    monkeypatch.setattr(OpenAIAdapter, "make_client", recording)
    context = llm.CallContext(user=member, caller="gateway", byok_key=KEY)
    if streamed:
        reply = llm.stream(HI, context=context)
        assert not made[0].is_closed()  # still reading
        list(reply)
    else:
        llm.complete(HI, context=context)
    assert len(made) == 1 and made[0].is_closed()


@pytest.mark.parametrize("key", ["sk-caf\u00e9-0001", "sk-tab\there", " "])
def test_a_key_that_is_not_plain_ascii_is_a_400_naming_the_header(wired, client, member, key):
    _, secret = make_token(member)
    response = client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": HI}),
        headers={
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            "X-BYOK-API-Key": key,
        },
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["param"] == "X-BYOK-API-Key"
    assert wired.requests_to("openai.chat") == []
