"""The call service against the fake upstream, through the real SDKs."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import GLOBAL_ANTHROPIC_KEY, GLOBAL_COMPAT_KEY, GLOBAL_OPENAI_KEY
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.services import llm
from webapp.services.llm import clients, errors
from webapp.services.settings import layers as settings_service
from webapp.services.settings.cache import settings_cache

HI = [{"role": "user", "content": "Hi"}]


def records() -> list[UsageRecord]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(UsageRecord).order_by(UsageRecord.id)))


def set_global(**values):  # type: ignore[no-untyped-def]
    settings_service.update_settings(None, settings_service.parameter_set_for("global"), values)


def ctx(user=None, **kw) -> llm.CallContext:  # type: ignore[no-untyped-def]
    return llm.CallContext(user=user, **kw)


def test_openai_completion_is_metered_once(wired, member):
    reply = llm.complete(HI, context=ctx(member))
    assert reply.text == wired.default_text
    assert reply.model == "openai/gpt-5.4-mini" and reply.key_source == "global"
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.cached_tokens) == (
        12,
        7,
        0,
    )
    assert reply.cost_usd == Decimal("0.0000405")  # 12 × 0.75 + 7 × 4.5 per million
    (record,) = records()
    assert (record.status, record.user_id, record.key_source) == ("ok", member.id, "global")
    assert record.cost_usd == Decimal("0.0000405") and record.credits == Decimal("0.0000405")
    assert record.credential_id == factories.global_key("openai").id
    assert record.request_id == reply.request_id and record.latency_ms is not None
    assert record.attempts == [
        {
            "model": "openai/gpt-5.4-mini",
            "attempt": 1,
            "status": "ok",
            "latency_ms": record.attempts[0]["latency_ms"],
        }
    ]


def test_exactly_what_is_sent_to_openai(wired, member):
    set_global(temperature=0.3, seed=7, stop=["END"])
    llm.complete([{"role": "system", "content": "Be brief."}, *HI], context=ctx(member))
    (request,) = wired.requests_to("openai.chat")
    body = request.body
    assert body["model"] == "gpt-5.4-mini"
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert (body["temperature"], body["seed"], body["stop"]) == (0.3, 7, ["END"])
    assert body["max_completion_tokens"] == 4096 and "max_tokens" not in body
    assert "top_p" not in body  # unset means the provider's default
    assert request.headers["authorization"] == f"Bearer {GLOBAL_OPENAI_KEY}"
    assert "openai-organization" not in request.headers
    assert request.headers["user-agent"].startswith("OpenAI/Python")
    assert not [name for name in request.headers if name.lower().startswith("x-stainless")]


def test_compatible_providers_get_max_tokens(wired, member):
    llm.complete(HI, context=ctx(member), model="gemini/gemini-3.8-flash")
    (request,) = wired.requests_to("openai.chat")
    assert request.body["max_tokens"] == 4096 and "max_completion_tokens" not in request.body
    assert request.headers["authorization"] == f"Bearer {GLOBAL_COMPAT_KEY}"


def test_anthropic_system_prompt_max_tokens_and_dropped_sampling(wired, member):
    set_global(temperature=0.3, top_p=0.5, frequency_penalty=0.1, max_tokens=900)
    reply = llm.complete(
        [{"role": "system", "content": "You are terse."}, *HI],
        context=ctx(member),
        model="anthropic/claude-sonnet-5-5",
    )
    (request,) = wired.requests_to("anthropic.messages")
    body = request.body
    assert body["system"] == "You are terse."
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert body["max_tokens"] == 900
    assert not {"temperature", "top_p", "frequency_penalty"} & set(body)
    assert request.headers["authorization"] == f"Bearer {GLOBAL_ANTHROPIC_KEY}"
    assert sorted(reply.dropped_params) == ["frequency_penalty", "temperature", "top_p"]
    assert sorted(records()[0].dropped_params) == ["frequency_penalty", "temperature", "top_p"]


def test_max_tokens_is_capped_by_the_models_output_limit(wired, member):
    set_global(max_tokens=200000)
    llm.complete(HI, context=ctx(member), model="xai/grok-code-fast-1")
    assert wired.requests_to("openai.chat")[0].body["max_tokens"] == 10000


@pytest.mark.parametrize("model", ["openai/gpt-5.4-mini", "anthropic/claude-haiku-4-5"])
def test_tool_calls_are_normalized(wired, member, model):
    endpoint = "anthropic.messages" if model.startswith("anthropic") else "openai.chat"
    wired.script(
        endpoint,
        Reply.ok(
            tool_calls=[{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]
        ),
    )
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    reply = llm.complete(HI, context=ctx(member), model=model, tools=tools)
    assert reply.stop_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("call_1", "get_weather", {"city": "Paris"})
    ]
    sent = wired.requests_to(endpoint)[0].body
    if endpoint == "openai.chat":
        assert sent["tools"][0]["function"]["name"] == "get_weather"
    else:
        assert sent["tools"][0]["name"] == "get_weather" and "input_schema" in sent["tools"][0]


def test_tool_results_are_sent_in_each_protocols_shape(wired, member):
    conversation = [
        *HI,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18°C"},
    ]
    llm.complete(conversation, context=ctx(member), model="anthropic/claude-haiku-4-5")
    messages = wired.requests_to("anthropic.messages")[0].body["messages"]
    assert messages[1]["content"][0] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    assert messages[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "18°C"}],
    }
    llm.complete(conversation, context=ctx(member))
    sent = wired.requests_to("openai.chat")[0].body["messages"]
    assert sent[2] == {"role": "tool", "content": "18°C", "tool_call_id": "call_1"}


@pytest.mark.parametrize("model", ["openai/gpt-5.4-mini", "anthropic/claude-haiku-4-5"])
def test_cached_tokens_are_counted_and_priced(wired, member, model):
    endpoint = "anthropic.messages" if model.startswith("anthropic") else "openai.chat"
    wired.script(
        endpoint, Reply.ok(usage={"input": 100, "output": 10, "cached": 50}, stop_reason="length")
    )
    reply = llm.complete(HI, context=ctx(member), model=model)
    assert (reply.usage.input_tokens, reply.usage.cached_tokens) == (150, 50)
    assert reply.stop_reason == "length"
    info = factories.model(model)
    expected = (
        100 * info.input_price + 50 * info.cached_input_price + 10 * info.output_price
    ) / 10**6
    assert reply.cost_usd == expected.quantize(Decimal("0.00000001"))


def test_unpriced_model_has_empty_cost_never_zero(wired, member):
    unpriced = factories.model("github/openai/gpt-5.4-mini")
    with pytest.raises(errors.NotConfigured, match="has no price"):  # managed: refused…
        llm.complete(HI, context=ctx(member), model=unpriced.global_id)
    assert wired.requests == []
    unpriced.allow_unpriced = True  # …unless an admin allowed unpriced calls to it
    db.session.commit()
    settings_cache().clear()  # as the catalog service's write would tell every process
    reply = llm.complete(HI, context=ctx(member), model=unpriced.global_id)
    record = records()[-1]
    assert reply.cost_usd is None and record.cost_usd is None and record.unpriced is True
    assert record.credits is None and record.input_tokens == 12


def test_byok_uses_the_users_key_and_charges_no_credits(wired, member):
    factories.user_key(member, "openai", "sk-member-own-key-77")
    member.mode = "byok"
    db.session.commit()
    reply = llm.complete(HI, context=ctx(member))
    assert reply.key_source == "user"
    assert (
        wired.requests_to("openai.chat")[0].headers["authorization"]
        == "Bearer sk-member-own-key-77"
    )
    (record,) = records()
    assert record.mode == "byok" and record.credits == Decimal(0) and record.cost_usd > 0


def test_byok_without_a_personal_key_never_uses_a_managed_key(wired, member):
    member.mode = "byok"
    db.session.commit()
    with pytest.raises(errors.NotConfigured, match="No personal key for OpenAI"):
        llm.complete(HI, context=ctx(member))
    assert wired.requests == []
    (record,) = records()
    assert (record.status, record.error_type) == ("error", "not_configured")


def test_retries_honour_retry_after_then_succeed(wired, member, sleeps):
    wired.script("openai.chat", Reply.error(429, retry_after=3), Reply.error(503), Reply.ok())
    reply = llm.complete(HI, context=ctx(member))
    assert reply.text == wired.default_text
    assert sleeps[0] >= 3.0  # Retry-After wins over the shorter backoff
    assert 0.25 <= sleeps[1] <= 1.0  # 500 ms × 2 × jitter in [½, 1]
    (record,) = records()
    assert [(a["attempt"], a["status"], a.get("error_type")) for a in record.attempts] == [
        (1, "error", "rate_limited"),
        (2, "error", "unavailable"),
        (3, "ok", None),
    ]
    assert record.attempts[0]["http_status"] == 429


def test_retries_run_out_and_the_error_is_recorded_once(wired, member, sleeps):
    set_global(max_retries=1)
    wired.script("openai.chat", Reply.error(500), Reply.error(500), Reply.ok())
    with pytest.raises(errors.Unavailable, match="OpenAI is unavailable right now"):
        llm.complete(HI, context=ctx(member))
    assert len(wired.requests_to("openai.chat")) == 2 and len(sleeps) == 1
    (record,) = records()
    assert (record.status, record.error_type, len(record.attempts)) == ("error", "unavailable", 2)


def test_fallback_model_answers_when_the_primary_is_down(wired, member):
    set_global(max_retries=0, fallback_models=["anthropic/claude-haiku-4-5"])
    wired.script("openai.chat", Reply.error(503))
    reply = llm.complete(HI, context=ctx(member))
    assert reply.model == "anthropic/claude-haiku-4-5" and reply.key_source == "global"
    (record,) = records()
    assert record.model_name == "claude-haiku-4-5" and record.status == "ok"
    assert [(a["model"], a["status"]) for a in record.attempts] == [
        ("openai/gpt-5.4-mini", "error"),
        ("anthropic/claude-haiku-4-5", "ok"),
    ]


@pytest.mark.parametrize(("status", "error"), [(400, errors.BadRequest), (401, errors.AuthError)])
def test_no_fallback_on_bad_request_or_auth_errors(wired, member, status, error):
    set_global(fallback_models=["anthropic/claude-haiku-4-5"])
    wired.script("openai.chat", Reply.error(status, "nope"))
    with pytest.raises(error):
        llm.complete(HI, context=ctx(member))
    assert wired.requests_to("anthropic.messages") == []
    assert len(wired.requests_to("openai.chat")) == 1  # and no retry either


def test_timeout_per_attempt(wired, member):
    set_global(request_timeout_ms=1000, max_retries=0)
    wired.script("openai.chat", Reply.hang(3))
    with pytest.raises(errors.Timeout, match="did not answer within 1 s"):
        llm.complete(HI, context=ctx(member))
    assert records()[0].error_type == "timeout"


def test_malformed_response_is_unavailable(wired, member):
    set_global(max_retries=0)
    wired.script("openai.chat", Reply.malformed())
    with pytest.raises(errors.Unavailable, match="could not read"):
        llm.complete(HI, context=ctx(member))


def test_an_echoed_key_never_reaches_errors_records_or_logs(wired, member, caplog):
    caplog.set_level(logging.DEBUG)
    set_global(logging_level="full", log_response_bodies=True, log_request_bodies=True)
    for endpoint, model, key in [
        ("openai.chat", "openai/gpt-5.4-mini", GLOBAL_OPENAI_KEY),
        ("anthropic.messages", "anthropic/claude-haiku-4-5", GLOBAL_ANTHROPIC_KEY),
    ]:
        wired.script(endpoint, Reply.error(401, "bad key", echo_auth=True))
        with pytest.raises(errors.AuthError) as excinfo:
            llm.complete(HI, context=ctx(member), model=model)
        error = excinfo.value
        assert "Incorrect API key provided" in error.detail  # the echo was there, for admins
        assert "Incorrect API key" not in error.message  # members see the classified error
        for text in (error.message, error.admin_message):
            assert key not in text and key[8:] not in text
    for record in records():
        dumped = (
            f"{record.error_message} {record.request_body} {record.response_body} {record.attempts}"
        )
        assert GLOBAL_OPENAI_KEY not in dumped and GLOBAL_ANTHROPIC_KEY not in dumped
    assert GLOBAL_OPENAI_KEY not in caplog.text and GLOBAL_ANTHROPIC_KEY not in caplog.text


def test_clients_are_reused_per_provider_url_and_key(wired, member):
    before = clients.cached_clients()
    for _ in range(3):
        llm.complete(HI, context=ctx(member))
    llm.complete(HI, context=ctx(member), model="anthropic/claude-haiku-4-5")
    assert clients.cached_clients() - before <= 2
    first = clients.client_for("openai", wired.openai_base_url, GLOBAL_OPENAI_KEY)
    assert clients.client_for("openai", wired.openai_base_url, GLOBAL_OPENAI_KEY) is first
    assert first.max_retries == 0


def test_bad_messages_are_refused_and_recorded(wired, member):
    with pytest.raises(Exception, match="role"):
        llm.complete([{"role": "wizard", "content": "x"}], context=ctx(member))
    (record,) = records()
    assert record.error_type == "bad_request" and wired.requests == []


def test_odd_upstream_values_never_lose_the_usage_record(wired, member):
    wired.script("openai.chat", Reply.ok(stop_reason="x" * 50))
    reply = llm.complete(HI, context=ctx(member))
    assert reply.stop_reason == "x" * 50
    (record,) = records()
    assert record.stop_reason == "x" * 32
    with pytest.raises(Exception, match="not in the model catalog"):
        llm.complete(HI, context=ctx(member), model="openai/" + "m" * 400)
    assert len(records()) == 2 and len(records()[1].requested_model) == 300


def test_a_key_echoed_at_the_cut_of_a_long_message_is_still_redacted(wired, member):
    wired.script("openai.chat", Reply.error(400, "x" * 265 + " got " + GLOBAL_OPENAI_KEY))
    with pytest.raises(errors.BadRequest) as excinfo:
        llm.complete(HI, context=ctx(member))
    message = excinfo.value.admin_message
    assert GLOBAL_OPENAI_KEY[:12] not in message and "[redacted]" in message
    assert GLOBAL_OPENAI_KEY[:12] not in (records()[0].error_message or "")


def test_programming_errors_are_not_retried_or_hidden_by_fallbacks(wired, member, monkeypatch):
    from webapp.services.llm.adapters.openai_adapter import OpenAIAdapter

    set_global(fallback_models=["anthropic/claude-haiku-4-5"])

    def broken(self, client, request):  # type: ignore[no-untyped-def]
        raise TypeError("a bug")

    monkeypatch.setattr(OpenAIAdapter, "chat", broken)
    with pytest.raises(errors.LLMError, match="failed unexpectedly"):
        llm.complete(HI, context=ctx(member))
    assert wired.requests_to("anthropic.messages") == []
    (record,) = records()
    assert len(record.attempts) == 1
