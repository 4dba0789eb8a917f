# ruff: noqa: F811 - the imported fixtures are "redefined" by every test that requests them.
"""The fake upstream, driven by the real OpenAI and Anthropic SDKs.

These tests pin the wire formats the app's tests rely on: if an SDK upgrade changes how it
talks or parses, this file fails first, and plainly.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.fake_upstream import (  # noqa: F401
    FakeUpstream,
    Reply,
    _fake_upstream_server,
    fake_upstream,
)

OPENAI_KEY = "sk-openai-test-0123456789"
ANTHROPIC_KEY = "sk-ant-test-0123456789"
WEATHER_CALL = {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}
HELLO = [{"role": "user", "content": "Hi"}]


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDKs read OPENAI_*/ANTHROPIC_* on their own; nothing real may leak into these tests."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "ANTHROPIC_")):
            monkeypatch.delenv(name)


@pytest.fixture
def oai(fake_upstream: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=OPENAI_KEY, base_url=fake_upstream.openai_base_url, max_retries=0, timeout=5
    )


@pytest.fixture
def claude(fake_upstream: FakeUpstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key=ANTHROPIC_KEY, base_url=fake_upstream.anthropic_base_url, max_retries=0, timeout=5
    )


def _claude_create(client: anthropic.Anthropic, **kwargs: Any) -> Any:
    return client.messages.create(model="claude-fake", max_tokens=64, messages=HELLO, **kwargs)


# --- OpenAI ---


def test_openai_chat_json_and_recorded_request(oai: openai.OpenAI, fake_upstream: FakeUpstream):
    result = oai.chat.completions.create(
        model="gpt-fake", messages=HELLO, temperature=0.2, max_tokens=50
    )

    assert result.model == "gpt-fake"
    assert result.choices[0].message.content == fake_upstream.default_text
    assert result.choices[0].message.role == "assistant"
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (12, 7)
    assert result.usage.total_tokens == 19
    [request] = fake_upstream.requests
    assert (request.endpoint, request.method) == ("openai.chat", "POST")
    assert request.path == "/openai/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert request.body["model"] == "gpt-fake"
    assert request.body["messages"] == HELLO
    assert (request.body["temperature"], request.body["max_tokens"]) == (0.2, 50)


def test_usage_counts_cache_as_each_provider_does(
    oai: openai.OpenAI, claude: anthropic.Anthropic, fake_upstream: FakeUpstream
):
    usage = {"input": 100, "output": 5, "cached": 40}
    fake_upstream.script("openai.chat", Reply.ok(usage=usage))
    fake_upstream.script("anthropic.messages", Reply.ok(usage=usage))

    o = oai.chat.completions.create(model="m", messages=HELLO).usage
    a = _claude_create(claude).usage

    assert o is not None and o.prompt_tokens_details is not None
    assert (o.prompt_tokens, o.completion_tokens, o.total_tokens) == (140, 5, 145)
    assert o.prompt_tokens_details.cached_tokens == 40
    assert (a.input_tokens, a.output_tokens) == (100, 5)
    assert (a.cache_read_input_tokens, a.cache_creation_input_tokens) == (40, 0)


def test_openai_stream_without_usage(oai: openai.OpenAI, fake_upstream: FakeUpstream):
    chunks = list(oai.chat.completions.create(model="m", messages=HELLO, stream=True))

    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) >= 3
    assert "".join(pieces) == fake_upstream.default_text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices and c.usage is None for c in chunks)
    assert fake_upstream.requests[0].body["stream"] is True


def test_openai_stream_with_include_usage(oai: openai.OpenAI):
    chunks = list(
        oai.chat.completions.create(
            model="m", messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )

    *content, last = chunks
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (12, 7)
    assert content[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in content)


def test_openai_tool_calls_json(oai: openai.OpenAI, fake_upstream: FakeUpstream):
    fake_upstream.script("openai.chat", Reply.ok(tool_calls=[WEATHER_CALL]))

    choice = oai.chat.completions.create(model="m", messages=HELLO).choices[0]

    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert (call.id, call.type, call.function.name) == ("call_1", "function", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_openai_tool_calls_streamed(oai: openai.OpenAI, fake_upstream: FakeUpstream):
    fake_upstream.script("openai.chat", Reply.ok("Checking.", tool_calls=[WEATHER_CALL]))

    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in oai.chat.completions.create(model="m", messages=HELLO, stream=True):
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            if delta.function:
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""

    assert finish == "tool_calls"
    assert calls[0]["id"] == "call_1" and calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}


def test_models_list_both_protocols(
    oai: openai.OpenAI, claude: anthropic.Anthropic, fake_upstream: FakeUpstream
):
    fake_upstream.models = ["model-x", "model-y", "model-z"]

    openai_models = list(oai.models.list())
    anthropic_models = list(claude.models.list(limit=10))

    assert [m.id for m in openai_models] == fake_upstream.models
    assert {(m.object, m.owned_by) for m in openai_models} == {("model", "fake-upstream")}
    assert [m.id for m in anthropic_models] == fake_upstream.models
    assert anthropic_models[0].type == "model"
    assert anthropic_models[0].display_name == "Model X"
    assert anthropic_models[0].created_at.year == 2025
    request = fake_upstream.requests_to("anthropic.models")[0]
    assert (request.method, request.path) == ("GET", "/anthropic/v1/models")
    assert request.query == {"limit": "10"}
    assert request.headers["anthropic-version"]


def test_embeddings_default_sdk_encoding_is_base64(oai: openai.OpenAI, fake_upstream: FakeUpstream):
    default = oai.embeddings.create(model="embed-fake", input=["alpha", "beta"])
    floats = oai.embeddings.create(
        model="embed-fake", input=["alpha", "beta"], encoding_format="float"
    )

    first, second = fake_upstream.requests_to("openai.embeddings")
    assert first.body["encoding_format"] == "base64"  # the SDK asks for it, then decodes it
    assert second.body["encoding_format"] == "float"
    assert [e.embedding for e in default.data] == [e.embedding for e in floats.data]
    assert [len(e.embedding) for e in floats.data] == [8, 8]
    assert floats.data[0].embedding != floats.data[1].embedding
    assert [e.index for e in floats.data] == [0, 1]
    assert floats.model == "embed-fake"
    assert floats.usage.prompt_tokens == floats.usage.total_tokens == 2


def test_embeddings_base64_is_little_endian_float32(oai: openai.OpenAI):
    raw = oai.embeddings.with_raw_response.create(
        model="e", input="alpha", encoding_format="base64"
    )
    encoded = json.loads(raw.text)["data"][0]["embedding"]
    floats = oai.embeddings.create(model="e", input="alpha", encoding_format="float")

    assert list(struct.unpack("<8f", base64.b64decode(encoded))) == floats.data[0].embedding


# --- Anthropic ---


def test_anthropic_messages_json_with_system(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream
):
    message = _claude_create(claude, system="Be brief.")

    assert message.type == "message" and message.role == "assistant"
    assert message.model == "claude-fake"
    assert message.id.startswith("msg_")
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == fake_upstream.default_text
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 7)
    [request] = fake_upstream.requests_to("anthropic.messages")
    assert request.path == "/anthropic/v1/messages"
    assert request.body["system"] == "Be brief."
    assert request.body["max_tokens"] == 64
    assert request.body["messages"] == HELLO
    # anthropic 2.x sends an api_key as a Bearer token, not as x-api-key.
    assert request.headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"
    assert "x-api-key" not in request.headers
    assert request.headers["anthropic-version"]


def test_anthropic_stream_helper_collects_text_and_usage(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream
):
    fake_upstream.script("anthropic.messages", Reply.ok(usage={"input": 30, "output": 9}))

    with claude.messages.stream(model="claude-fake", max_tokens=64, messages=HELLO) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()

    assert len(pieces) >= 3
    assert "".join(pieces) == fake_upstream.default_text
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (30, 9)
    assert fake_upstream.requests[0].body["stream"] is True


def test_anthropic_raw_stream_event_order(claude: anthropic.Anthropic):
    events = list(_claude_create(claude, stream=True))

    types = [e.type for e in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(types[2:-3]) == {"content_block_delta"} and len(types[2:-3]) >= 3
    assert events[0].message.usage.output_tokens == 1
    assert events[-2].usage.output_tokens == 7


def test_anthropic_tool_use_json_and_streamed(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream
):
    fake_upstream.script(
        "anthropic.messages",
        Reply.ok(tool_calls=[WEATHER_CALL]),
        Reply.ok("Let me check.", tool_calls=[WEATHER_CALL]),
    )

    message = _claude_create(claude)
    with claude.messages.stream(model="claude-fake", max_tokens=64, messages=HELLO) as stream:
        streamed = stream.get_final_message()

    [block] = message.content
    assert message.stop_reason == "tool_use"
    assert block.type == "tool_use"
    assert (block.id, block.name, block.input) == ("call_1", "get_weather", {"city": "Paris"})
    assert [b.type for b in streamed.content] == ["text", "tool_use"]
    assert streamed.content[1].input == {"city": "Paris"}
    assert streamed.stop_reason == "tool_use"


def test_stop_reason_is_translated_per_protocol(
    oai: openai.OpenAI, claude: anthropic.Anthropic, fake_upstream: FakeUpstream
):
    fake_upstream.script("openai.chat", Reply.ok(stop_reason="length"))
    fake_upstream.script("anthropic.messages", Reply.ok(stop_reason="length"))

    choice = oai.chat.completions.create(model="m", messages=HELLO).choices[0]
    assert choice.finish_reason == "length"
    assert _claude_create(claude).stop_reason == "max_tokens"


# --- errors and failures ---


@pytest.mark.parametrize(
    ("status", "openai_error", "anthropic_error", "anthropic_type"),
    [
        (401, openai.AuthenticationError, anthropic.AuthenticationError, "authentication_error"),
        (404, openai.NotFoundError, anthropic.NotFoundError, "not_found_error"),
        (429, openai.RateLimitError, anthropic.RateLimitError, "rate_limit_error"),
        (500, openai.InternalServerError, anthropic.InternalServerError, "api_error"),
        (503, openai.InternalServerError, anthropic.ServiceUnavailableError, "overloaded_error"),
    ],
)
def test_error_statuses_map_to_sdk_exceptions(
    oai: openai.OpenAI,
    claude: anthropic.Anthropic,
    fake_upstream: FakeUpstream,
    status: int,
    openai_error: type[openai.APIStatusError],
    anthropic_error: type[anthropic.APIStatusError],
    anthropic_type: str,
):
    retry_after = 7 if status == 429 else None
    fake_upstream.script("openai.chat", Reply.error(status, "boom", retry_after=retry_after))
    fake_upstream.script("anthropic.messages", Reply.error(status, "boom", retry_after=retry_after))

    with pytest.raises(openai_error) as o:
        oai.chat.completions.create(model="m", messages=HELLO)
    with pytest.raises(anthropic_error) as a:
        _claude_create(claude)

    assert o.value.status_code == a.value.status_code == status
    assert o.value.body["message"] == "boom"  # the SDK unwraps {"error": {...}}
    assert a.value.body["type"] == "error"
    assert (a.value.type, a.value.api_message) == (anthropic_type, "boom")
    expected = None if retry_after is None else "7"
    assert o.value.response.headers.get("retry-after") == expected
    assert a.value.response.headers.get("retry-after") == expected


def test_error_applies_to_models_and_embeddings_too(
    oai: openai.OpenAI, claude: anthropic.Anthropic, fake_upstream: FakeUpstream
):
    fake_upstream.script("openai.models", Reply.error(401))
    fake_upstream.script("openai.embeddings", Reply.error(500))
    fake_upstream.script("anthropic.models", Reply.error(403))

    with pytest.raises(openai.AuthenticationError):
        oai.models.list()
    with pytest.raises(openai.InternalServerError):
        oai.embeddings.create(model="e", input="x")
    with pytest.raises(anthropic.PermissionDeniedError):
        claude.models.list()


def test_echo_auth_puts_the_key_in_the_error_message(
    oai: openai.OpenAI, fake_upstream: FakeUpstream
):
    claude = anthropic.Anthropic(
        api_key=ANTHROPIC_KEY,
        base_url=fake_upstream.anthropic_base_url,
        default_headers={"x-api-key": "sk-ant-header-key"},
        max_retries=0,
        timeout=5,
    )
    fake_upstream.script("openai.chat", Reply.error(401, echo_auth=True))
    fake_upstream.script("anthropic.messages", Reply.error(401, echo_auth=True))

    with pytest.raises(openai.AuthenticationError) as o:
        oai.chat.completions.create(model="m", messages=HELLO)
    with pytest.raises(anthropic.AuthenticationError) as a:
        _claude_create(claude)

    assert OPENAI_KEY in str(o.value) and OPENAI_KEY in o.value.body["message"]
    assert ANTHROPIC_KEY in str(a.value) and "sk-ant-header-key" in str(a.value)
    assert ANTHROPIC_KEY in (a.value.api_message or "")


def test_hang_trips_the_client_timeout(
    oai: openai.OpenAI, claude: anthropic.Anthropic, fake_upstream: FakeUpstream
):
    fake_upstream.script("openai.chat", Reply.hang(3))
    fake_upstream.script("anthropic.messages", Reply.hang(3))

    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        oai.with_options(timeout=0.1).chat.completions.create(model="m", messages=HELLO)
    with pytest.raises(anthropic.APITimeoutError):
        _claude_create(claude.with_options(timeout=0.1))
    assert time.monotonic() - started < 2


def test_a_hanging_request_does_not_block_others(oai: openai.OpenAI, fake_upstream: FakeUpstream):
    fake_upstream.script("openai.chat", Reply.hang(5))
    slow = threading.Thread(
        target=oai.chat.completions.create, kwargs={"model": "m", "messages": HELLO}
    )
    slow.start()
    while not fake_upstream.requests_to("openai.chat"):
        time.sleep(0.01)

    started = time.monotonic()
    assert [m.id for m in oai.models.list()] == fake_upstream.models
    assert time.monotonic() - started < 0.5
    fake_upstream.release_hangs()
    slow.join()


def test_parallel_requests_are_all_served_and_recorded(
    oai: openai.OpenAI, fake_upstream: FakeUpstream
):
    results: list[str | None] = []

    def call(i: int) -> None:
        reply = oai.chat.completions.create(model=f"m{i}", messages=HELLO)
        results.append(reply.choices[0].message.content)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert results == [fake_upstream.default_text] * 8
    assert sorted(r.body["model"] for r in fake_upstream.requests) == [f"m{i}" for i in range(8)]


def test_cut_stream_breaks_iteration(
    oai: openai.OpenAI, claude: anthropic.Anthropic, fake_upstream: FakeUpstream
):
    fake_upstream.script("openai.chat", Reply.cut_stream(after_chunks=2))
    fake_upstream.script("anthropic.messages", Reply.cut_stream(after_chunks=2))

    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        stream = oai.chat.completions.create(
            model="m", messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        for chunk in stream:
            received.extend(c.delta.content for c in chunk.choices if c.delta.content)
    assert received == ["Hello", " from"]

    # The anthropic SDK lets the transport error through unwrapped.
    received.clear()
    with (
        pytest.raises((anthropic.APIConnectionError, httpx2.TransportError)),
        claude.messages.stream(model="claude-fake", max_tokens=64, messages=HELLO) as stream,
    ):
        received.extend(stream.text_stream)
    assert received == ["Hello", " from"]


def test_cut_json_body_is_a_connection_error(
    oai: openai.OpenAI, claude: anthropic.Anthropic, fake_upstream: FakeUpstream
):
    fake_upstream.script("openai.chat", Reply.cut_stream())
    fake_upstream.script("anthropic.messages", Reply.cut_stream())

    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="m", messages=HELLO)
    with pytest.raises(anthropic.APIConnectionError):
        _claude_create(claude)


def test_malformed_json_and_stream_raise(
    oai: openai.OpenAI, claude: anthropic.Anthropic, fake_upstream: FakeUpstream
):
    fake_upstream.script("openai.chat", Reply.malformed(), Reply.malformed())
    fake_upstream.script("anthropic.messages", Reply.malformed(), Reply.malformed())

    # Both SDKs surface undecodable JSON as a plain ValueError (json.JSONDecodeError).
    with pytest.raises(ValueError):
        oai.chat.completions.create(model="m", messages=HELLO)
    with pytest.raises(ValueError):
        list(oai.chat.completions.create(model="m", messages=HELLO, stream=True))
    with pytest.raises(ValueError):
        _claude_create(claude)
    with pytest.raises(ValueError):
        list(_claude_create(claude, stream=True))


# --- the fake itself ---


def test_scripts_are_fifo_per_endpoint_then_default(
    oai: openai.OpenAI, fake_upstream: FakeUpstream
):
    fake_upstream.script("openai.chat", Reply.ok("one"), Reply.ok("two"))
    fake_upstream.default_text = "fallback"

    texts = [
        oai.chat.completions.create(model="m", messages=HELLO).choices[0].message.content
        for _ in range(3)
    ]
    oai.models.list()

    assert texts == ["one", "two", "fallback"]
    assert len(fake_upstream.requests_to("openai.chat")) == 3
    assert [r.endpoint for r in fake_upstream.requests][-1] == "openai.models"
    with pytest.raises(ValueError, match="unknown endpoint"):
        fake_upstream.script("openai.chats", Reply.ok())

    fake_upstream.script("openai.chat", Reply.error(500))
    fake_upstream.reset()
    assert fake_upstream.requests == []
    assert fake_upstream.default_text == "Hello from the fake upstream."
    assert oai.chat.completions.create(model="m", messages=HELLO).choices[0].message.content


@pytest.mark.parametrize(
    ("path", "shape"),
    [("/openai/v1/responses", "error"), ("/anthropic/v1/complete", "type"), ("/nope", "error")],
)
def test_unknown_paths_answer_404_in_protocol_shape(
    fake_upstream: FakeUpstream, path: str, shape: str
):
    request = urllib.request.Request(fake_upstream.base_url + path, data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)

    assert caught.value.code == 404
    body = json.loads(caught.value.read())
    assert shape in body
    if shape == "type":
        assert (body["type"], body["error"]["type"]) == ("error", "not_found_error")
    assert fake_upstream.requests[0].endpoint == "unknown"
    assert fake_upstream.requests[0].path == path


def test_start_and_stop_are_quick_and_free_the_port():
    started = time.monotonic()
    with FakeUpstream() as server:
        url = server.openai_base_url + "/models"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert json.loads(response.read())["object"] == "list"
    assert time.monotonic() - started < 1
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=1)


# --- faults for the outbound hardening tests ---


def test_drip_sends_the_whole_normal_reply_slowly(oai: openai.OpenAI, fake_upstream: FakeUpstream):
    fake_upstream.script("openai.chat", Reply.drip(0.0005, text="ok"), Reply.drip(0.0005))
    started = time.monotonic()
    result = oai.chat.completions.create(model="gpt-fake", messages=HELLO)
    assert result.choices[0].message.content == "ok" and time.monotonic() - started > 0.05
    stream = oai.chat.completions.create(model="gpt-fake", messages=HELLO, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == fake_upstream.default_text


def test_raw_replies_are_sent_byte_for_byte(fake_upstream: FakeUpstream):
    fake_upstream.script("openai.chat", Reply.html(502), Reply.deeply_nested(depth=3))
    for expected_status, expected in [(502, b"<html>"), (200, b'{"choices": [[[]]]}')]:
        response = httpx2.post(f"{fake_upstream.openai_base_url}/chat/completions", json={})
        assert response.status_code == expected_status and response.content.startswith(expected)
    fake_upstream.script("openai.chat", Reply.empty_choices(), Reply.oversized(1000))
    first = httpx2.post(f"{fake_upstream.openai_base_url}/chat/completions", json={}).json()
    second = httpx2.post(f"{fake_upstream.openai_base_url}/chat/completions", json={})
    assert first["choices"] == [] and 900 < len(second.content) <= 1000
