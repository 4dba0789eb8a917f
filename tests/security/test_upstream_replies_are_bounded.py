"""Issue 8 item 11, first half: an upstream cannot hold a call or fill memory. A deadline
covers each whole attempt (an upstream dripping one byte at a time is cut off), one overall
deadline covers retries, Retry-After waits and fallbacks, a stream gets an idle timeout plus
a maximum duration, and reply sizes and live model lists are capped."""

from __future__ import annotations

import gzip
import json
import time
from email.utils import formatdate

import pytest

from tests import factories
from tests.fake_upstream import Reply
from webapp.services import llm
from webapp.services.llm import errors
from webapp.services.llm.limits import MAX_MODEL_ID, MAX_MODELS
from webapp.services.settings import layers as settings_service

HI = [{"role": "user", "content": "Hi"}]


def set_global(**values):  # type: ignore[no-untyped-def]
    settings_service.update_settings(None, settings_service.parameter_set_for("global"), values)


def ctx(member) -> llm.CallContext:  # type: ignore[no-untyped-def]
    return llm.CallContext(user=member)


@pytest.mark.parametrize("endpoint", ["openai.chat", "openai.embeddings"])
def test_an_upstream_dripping_bytes_is_cut_off_at_the_attempt_deadline(wired, member, endpoint):
    set_global(request_timeout_ms=1000, max_retries=0)
    wired.script(endpoint, Reply.drip(0.05))  # each read succeeds; the body takes ~20 s
    started = time.monotonic()
    with pytest.raises(errors.Timeout):
        if endpoint == "openai.chat":
            llm.complete(HI, context=ctx(member))
        else:
            llm.embed(["x"], context=ctx(member))
    assert time.monotonic() - started < 3.0


@pytest.mark.app_config(LLM_STREAM_MAX_S=1.5)
@pytest.mark.parametrize("model", ["openai/gpt-5.4-mini", "anthropic/claude-haiku-4-5"])
def test_a_dripping_stream_ends_at_its_maximum_duration(wired, member, model):
    set_global(request_timeout_ms=1000, max_retries=0)
    endpoint = "openai.chat" if model.startswith("openai") else "anthropic.messages"
    wired.script(endpoint, Reply.drip(0.05))  # never idle for a second, never done
    started = time.monotonic()
    reply = llm.stream(HI, context=ctx(member), model=model)
    with pytest.raises(errors.Timeout):
        list(reply)
    assert 1.4 < time.monotonic() - started < 4.0


@pytest.mark.app_config(LLM_CALL_DEADLINE_S=3.0)
def test_retries_and_fallbacks_share_one_overall_deadline(wired, member, sleeps):
    set_global(
        request_timeout_ms=2000, max_retries=3, fallback_models=["anthropic/claude-haiku-4-5"]
    )
    wired.script("openai.chat", *[Reply.hang(10)] * 4)  # every attempt hangs
    wired.script("anthropic.messages", *[Reply.hang(10)] * 4)
    started = time.monotonic()
    with pytest.raises(errors.Timeout) as excinfo:
        llm.complete(HI, context=ctx(member))
    assert time.monotonic() - started < 4.5
    # The primary's first attempt had 2 s; whatever followed (a retry, the fallback) shared the
    # second or so left of the 3, and no wait was longer than what was left.
    assert sum(sleeps) < 1.0
    assert len(wired.requests_to("openai.chat")) >= 1
    message = excinfo.value.message
    assert "overall time limit" in message or "within 2 s" in message or "within 0." in message


@pytest.mark.app_config(LLM_CALL_DEADLINE_S=5.0)
@pytest.mark.parametrize(
    "retry_after", ["3600", formatdate(time.time() + 3600, usegmt=True)], ids=["s", "date"]
)
def test_a_retry_after_beyond_the_deadline_is_not_waited(wired, member, sleeps, retry_after):
    set_global(max_retries=2)
    wired.script("openai.chat", Reply.error(429, "slow down", headers={"Retry-After": retry_after}))
    with pytest.raises(errors.RateLimited):
        llm.complete(HI, context=ctx(member))
    assert sleeps == [] and len(wired.requests_to("openai.chat")) == 1


def test_a_retry_after_as_an_http_date_is_honoured(wired, member, sleeps):
    set_global(max_retries=1, retry_backoff_ms=100)
    when = formatdate(time.time() + 3, usegmt=True)
    wired.script("openai.chat", Reply.error(503, "busy", headers={"Retry-After": when}))
    assert llm.complete(HI, context=ctx(member)).text == wired.default_text
    (waited,) = sleeps
    assert 1.0 < waited <= 3.0


def test_retry_after_forms():
    assert errors.retry_after_s({"retry-after": "7"}) == 7.0
    assert errors.retry_after_s({"retry-after-ms": "1500"}) == 1.5
    assert errors.retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    date = formatdate(1_000_030, usegmt=True)
    assert errors.retry_after_s({"retry-after": date}, now=1_000_000) == 30.0
    assert errors.retry_after_s({"retry-after": "soon"}) is None


def test_a_reply_larger_than_ten_megabytes_is_refused(wired, member):
    set_global(max_retries=0)
    wired.script("openai.chat", Reply.oversized(11 * 1024 * 1024))
    with pytest.raises(errors.Unavailable, match="larger than 10 MB"):
        llm.complete(HI, context=ctx(member))


def test_a_compressed_reply_is_counted_decompressed(wired, member):
    set_global(max_retries=0)
    bomb = gzip.compress(b'{"id": "' + b"a" * (20 * 1024 * 1024) + b'"}')
    assert len(bomb) < 100_000
    wired.script("openai.chat", Reply.raw(bomb, headers={"Content-Encoding": "gzip"}))
    with pytest.raises(errors.Unavailable, match="larger than 10 MB"):
        llm.complete(HI, context=ctx(member))
    fine = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "zipped"},
                "finish_reason": "stop",
            }
        ],
    }
    wired.script(
        "openai.chat",
        Reply.raw(gzip.compress(json.dumps(fine).encode()), headers={"Content-Encoding": "gzip"}),
    )
    assert llm.complete(HI, context=ctx(member)).text == "zipped"
    assert wired.requests_to("openai.chat")[0].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("slug", ["openai", "anthropic"])
def test_a_live_model_list_is_capped_and_long_ids_dropped(wired, member, slug):
    wired.models = ["x" * (MAX_MODEL_ID + 1)] + [f"model-{i:05d}" for i in range(MAX_MODELS + 500)]
    result = llm.list_models(factories.provider(slug), context=ctx(member))
    assert result.ok and len(result.models) == MAX_MODELS
    assert all(len(m.id) <= MAX_MODEL_ID for m in result.models)
