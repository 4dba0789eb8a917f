"""The official openai and anthropic SDKs, unchanged, against a live Switchboard on loopback
(and the fake upstream behind it)."""

from __future__ import annotations

import http.client
import json
import time
from datetime import timedelta
from urllib.parse import urlsplit

import anthropic
import openai
import pytest

from tests.fake_upstream import DEFAULT_TEXT, Reply
from tests.gateway.support import anthropic_client, make_token, openai_client, records
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.services.billing import budgets

pytestmark = pytest.mark.committed

MINI = "openai/gpt-5.4-mini"
SONNET = "anthropic/claude-sonnet-5-5"
HI = [{"role": "user", "content": "Hi"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
A_CALL = [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]


def test_openai_sdk_plain_streamed_tools_embeddings_and_models(wired, member, live_server):
    token, secret = make_token(member, requests_per_minute=100)
    client = openai_client(live_server, secret)

    raw = client.chat.completions.with_raw_response.create(model=MINI, messages=HI)
    reply = raw.parse()
    assert reply.choices[0].message.content == DEFAULT_TEXT
    assert reply.model == MINI and reply.usage.prompt_tokens == 12
    assert raw.headers["x-ratelimit-limit-requests"] == "100"
    assert raw.headers["x-ratelimit-remaining-requests"] == "99"
    assert raw.headers["x-request-id"]

    chunks = list(
        client.chat.completions.create(
            model=MINI, messages=HI, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == DEFAULT_TEXT
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 7

    wired.script("openai.chat", Reply.ok(tool_calls=A_CALL))
    reply = client.chat.completions.create(model=MINI, messages=HI, tools=[WEATHER])
    (call,) = reply.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert reply.choices[0].finish_reason == "tool_calls"
    sent = wired.requests_to("openai.chat")[-1].body
    assert sent["tools"][0]["function"]["name"] == "get_weather"

    wired.script("openai.chat", Reply.ok(tool_calls=A_CALL))
    with client.chat.completions.stream(model=MINI, messages=HI, tools=[WEATHER]) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.tool_calls[0].function.name == "get_weather"

    vectors = client.embeddings.create(model="openai/text-embedding-3-small", input=["a", "bb"])
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) > 0
    as_floats = client.embeddings.create(
        model="text-embedding-3-small", input="a", encoding_format="float"
    )
    assert as_floats.data[0].embedding == vectors.data[0].embedding

    ids = [m.id for m in client.models.list()]
    assert MINI in ids and "openai/text-embedding-3-small" in ids

    found = records()
    assert len(found) == 6
    assert {r.access_token_id for r in found} == {token.id}
    assert {r.caller for r in found} == {"gateway"}


def test_anthropic_sdk_against_an_openai_and_an_anthropic_model(wired, member, live_server):
    _, secret = make_token(member)
    client = anthropic_client(live_server, secret)

    message = client.messages.create(model=MINI, max_tokens=100, messages=HI)
    assert message.content[0].text == DEFAULT_TEXT
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 7

    message = client.messages.create(model=SONNET, max_tokens=100, system="Be brief.", messages=HI)
    assert message.content[0].text == DEFAULT_TEXT
    sent = wired.requests_to("anthropic.messages")[-1].body
    assert sent["system"] and sent["model"] == "claude-sonnet-5-5"

    with client.messages.stream(model=SONNET, max_tokens=100, messages=HI) as stream:
        assert "".join(stream.text_stream) == DEFAULT_TEXT
        final = stream.get_final_message()
    assert final.usage.output_tokens == 7 and final.stop_reason == "end_turn"

    wired.script("openai.chat", Reply.ok(tool_calls=A_CALL))
    tool = {"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}
    message = client.messages.create(model=MINI, max_tokens=100, messages=HI, tools=[tool])
    (use,) = message.content
    assert use.type == "tool_use" and use.input == {"city": "Paris"}
    assert message.stop_reason == "tool_use"

    wired.script("openai.chat", Reply.ok(tool_calls=A_CALL))
    with client.messages.stream(model=MINI, max_tokens=100, messages=HI, tools=[tool]) as s:
        final = s.get_final_message()
    assert final.content[0].type == "tool_use" and final.content[0].input == {"city": "Paris"}

    # The tool's result goes back as Anthropic blocks, to an OpenAI model.
    message = client.messages.create(
        model=MINI,
        max_tokens=100,
        messages=[
            *HI,
            {"role": "assistant", "content": [use.model_dump()]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Sunny"}],
            },
        ],
    )
    sent = wired.requests_to("openai.chat")[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[2]["content"] == "Sunny"

    ids = [m.id for m in client.models.list()]
    assert SONNET in ids


def test_byok_headers_use_the_callers_key_once_and_charge_nothing(wired, member, live_server):
    byok_key = "sk-callers-own-key-7f3a9c"
    _, secret = make_token(member)
    client = openai_client(
        live_server,
        secret,
        **{"X-BYOK-API-Key": byok_key, "X-BYOK-Base-URL": wired.openai_base_url},
    )
    reply = client.chat.completions.create(model=MINI, messages=HI)
    assert reply.choices[0].message.content == DEFAULT_TEXT
    sent = wired.requests_to("openai.chat")[-1]
    assert sent.headers["authorization"] == f"Bearer {byok_key}"

    (record,) = records()
    assert record.mode == "byok" and record.key_source == "request"
    assert record.credential_id is None and not record.credits and record.account_id is None
    assert byok_key not in json.dumps(
        {c.name: str(getattr(record, c.name)) for c in record.__table__.columns}
    )

    # The upstream refuses the caller's key: a 401 that does not echo it, and no managed key.
    wired.script("openai.chat", Reply.error(401, "Incorrect API key provided: " + byok_key))
    with pytest.raises(openai.AuthenticationError) as excinfo:
        client.chat.completions.create(model=MINI, messages=HI)
    assert byok_key not in str(excinfo.value.body) and byok_key not in excinfo.value.message
    assert len(wired.requests_to("openai.chat")) == 2  # no retry with a managed key

    # A base URL on a metadata address is refused before anything is sent.
    bad = openai_client(
        live_server,
        secret,
        **{"X-BYOK-API-Key": byok_key, "X-BYOK-Base-URL": "http://169.254.169.254/v1"},
    )
    with pytest.raises(openai.BadRequestError) as excinfo:
        bad.chat.completions.create(model=MINI, messages=HI)
    assert "169.254.169.254" in excinfo.value.message and byok_key not in excinfo.value.message
    assert len(wired.requests_to("openai.chat")) == 2


def test_revoked_and_expired_tokens_are_refused(wired, member, live_server):
    token, secret = make_token(member)
    client = openai_client(live_server, secret)
    client.chat.completions.create(model=MINI, messages=HI)
    token.revoked_at = utcnow()
    db.session.commit()
    time.sleep(1.05)  # every process stops accepting it within a second
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        client.chat.completions.create(model=MINI, messages=HI)

    _, expired = make_token(member, expires_at=utcnow() - timedelta(minutes=1))
    with pytest.raises(anthropic.AuthenticationError, match="expired"):
        anthropic_client(live_server, expired).messages.create(
            model=MINI, max_tokens=10, messages=HI
        )
    with pytest.raises(openai.AuthenticationError):
        openai_client(live_server, "sb-" + "x" * 43).models.list()
    assert len(records()) == 1


def test_a_model_outside_the_tokens_list_is_forbidden(wired, member, live_server):
    _, secret = make_token(member, allowed_models=["anthropic/*"])
    client = openai_client(live_server, secret)
    with pytest.raises(openai.PermissionDeniedError, match=r"may not use openai/gpt-5\.4-mini"):
        client.chat.completions.create(model=MINI, messages=HI)
    with pytest.raises(openai.PermissionDeniedError):  # the default model is openai's too
        client.chat.completions.create(model=None, messages=HI)  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=HI)
    assert client.chat.completions.create(model=SONNET, messages=HI).choices
    assert client.chat.completions.create(model="balanced", messages=HI).model == SONNET
    ids = [m.id for m in client.models.list()]
    assert ids and all(i.startswith("anthropic/") for i in ids)
    assert not wired.requests_to("openai.chat")


def test_rate_limits_answer_429_with_retry_after(wired, member, live_server):
    _, secret = make_token(member, requests_per_minute=2)
    client = openai_client(live_server, secret)
    client.chat.completions.create(model=MINI, messages=HI)
    client.chat.completions.create(model=MINI, messages=HI)
    with pytest.raises(openai.RateLimitError) as excinfo:
        client.chat.completions.create(model=MINI, messages=HI)
    headers = excinfo.value.response.headers
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-remaining-requests"] == "0"

    _, secret = make_token(member, tokens_per_minute=10, name="tpm")
    client = anthropic_client(live_server, secret)
    client.messages.create(model=MINI, max_tokens=10, messages=HI)  # 19 tokens metered
    with pytest.raises(anthropic.RateLimitError, match="tokens per minute"):
        client.messages.create(model=MINI, max_tokens=10, messages=HI)
    assert len(wired.requests_to("openai.chat")) == 3


def test_a_token_budget_hit_is_402_budget_exceeded(wired, admin, member, live_server):
    token, secret = make_token(member)
    budgets.create_budget(
        admin,
        budgets.BudgetOwner("token", token.id),
        budgets.BudgetInput("daily", "usd", "0.000001", hard=True),
    )
    with pytest.raises(openai.APIStatusError) as excinfo:
        openai_client(live_server, secret).chat.completions.create(model=MINI, messages=HI)
    assert excinfo.value.status_code == 402
    assert excinfo.value.body["code"] == "budget_exceeded"
    budget = excinfo.value.body["budget"]
    assert (budget["scope"], budget["period"], budget["limit"]) == ("token", "daily", "0.000001")
    assert budget["resets_at"] and int(excinfo.value.response.headers["Retry-After"]) > 0
    with pytest.raises(anthropic.APIStatusError) as excinfo:
        anthropic_client(live_server, secret).messages.create(
            model=MINI, max_tokens=10, messages=HI
        )
    assert excinfo.value.status_code == 402
    assert excinfo.value.body["error"]["budget"] == budget
    assert not wired.requests_to("openai.chat")


def test_a_client_leaving_mid_stream_leaves_one_cancelled_record(wired, member, live_server):
    token, secret = make_token(member)
    wired.script("openai.chat", Reply.drip(0.002, text="a long reply " * 400))
    url = urlsplit(live_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    body = json.dumps({"model": MINI, "messages": HI, "stream": True})
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    conn.request("POST", "/v1/chat/completions", body, headers)
    response = conn.getresponse()
    assert response.status == 200
    request_id = response.getheader("x-request-id")
    assert response.read1(64)
    response.close()
    conn.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not [r for r in records() if r.request_id == request_id]:
        time.sleep(0.1)
    time.sleep(0.3)
    (record,) = [r for r in records() if r.request_id == request_id]
    assert record.status == "cancelled" and record.access_token_id == token.id


def test_a_stream_cut_upstream_ends_in_the_protocols_error_event(wired, member, live_server):
    _, secret = make_token(member)
    wired.script("openai.chat", Reply.cut_stream(after_chunks=2), Reply.cut_stream(after_chunks=2))
    stream = openai_client(live_server, secret).chat.completions.create(
        model=MINI, messages=HI, stream=True
    )
    with pytest.raises(openai.APIError, match=r"could not be reached|unavailable|could not read"):
        for _ in stream:
            pass
    with (
        pytest.raises(anthropic.APIError),
        anthropic_client(live_server, secret).messages.stream(
            model=MINI, max_tokens=10, messages=HI
        ) as events,
    ):
        for _ in events:
            pass
    found = records()
    assert len(found) == 2 and {r.status for r in found} == {"error"}
