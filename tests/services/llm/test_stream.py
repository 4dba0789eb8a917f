"""Streamed completions: events, time to first token, failures before and after the first byte."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.services import llm
from webapp.services.llm import errors
from webapp.services.settings import layers as settings_service

HI = [{"role": "user", "content": "Hi"}]


def records() -> list[UsageRecord]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(UsageRecord).order_by(UsageRecord.id)))


@pytest.mark.parametrize(
    ("model", "endpoint"),
    [("openai/gpt-5.4-mini", "openai.chat"), ("anthropic/claude-haiku-4-5", "anthropic.messages")],
)
def test_stream_yields_text_then_done_with_usage(wired, member, model, endpoint):
    stream = llm.stream(HI, context=llm.CallContext(user=member), model=model)
    assert records() == []  # open, not finished: the record is written at the end
    events = list(stream)
    texts = [e.text for e in events if e.type == "text"]
    assert len(texts) >= 3 and "".join(texts) == wired.default_text
    done = events[-1]
    assert done.type == "done" and done.completion.text == wired.default_text
    assert (done.completion.usage.input_tokens, done.completion.usage.output_tokens) == (12, 7)
    assert done.completion.cost_usd is not None
    (record,) = records()
    assert record.stream and record.status == "ok" and record.ttft_ms is not None
    assert record.output_tokens == 7 and record.request_id == stream.request_id
    if endpoint == "openai.chat":
        assert wired.requests_to(endpoint)[0].body["stream_options"] == {"include_usage": True}


def test_streamed_tool_calls(wired, member):
    wired.script(
        "anthropic.messages",
        Reply.ok(tool_calls=[{"id": "t1", "name": "lookup", "arguments": {"q": "x"}}]),
    )
    events = list(
        llm.stream(
            HI,
            context=llm.CallContext(user=member),
            model="anthropic/claude-haiku-4-5",
            tools=[{"name": "lookup", "parameters": {"type": "object"}}],
        )
    )
    calls = [e.tool_call for e in events if e.type == "tool_call"]
    assert [(c.id, c.name, c.arguments) for c in calls] == [("t1", "lookup", {"q": "x"})]
    assert events[-1].completion.stop_reason == "tool_calls"


def test_errors_before_the_first_byte_are_retried_then_raised_by_stream(wired, member, sleeps):
    wired.script("openai.chat", Reply.error(429, retry_after=1), Reply.ok())
    events = list(llm.stream(HI, context=llm.CallContext(user=member)))
    assert events[-1].type == "done" and sleeps == [pytest.approx(1.0, abs=0.6)]
    settings_service.update_settings(
        None, settings_service.parameter_set_for("global"), {"max_retries": 0}
    )
    wired.script("openai.chat", Reply.error(401, "bad key"))
    with pytest.raises(errors.AuthError):
        llm.stream(HI, context=llm.CallContext(user=member))
    assert [r.status for r in records()] == ["ok", "error"]


@pytest.mark.parametrize("endpoint", ["openai.chat", "anthropic.messages"])
def test_a_stream_cut_midway_is_recorded_with_the_partial_reply(wired, member, endpoint):
    settings_service.update_settings(
        None,
        settings_service.parameter_set_for("global"),
        {"logging_level": "full", "log_response_bodies": True},
    )
    model = "anthropic/claude-haiku-4-5" if endpoint.startswith("anthropic") else None
    wired.script(endpoint, Reply.cut_stream(after_chunks=2))
    stream = llm.stream(HI, context=llm.CallContext(user=member), model=model)
    received = []
    with pytest.raises(errors.Unavailable):
        for event in stream:
            received.append(event.text)
    assert len(received) == 2
    (record,) = records()
    assert (record.status, record.error_type) == ("error", "unavailable")
    assert record.response_body == {"text": "".join(received), "partial": True}
    assert len(wired.requests_to(endpoint)) == 1  # no retry once bytes were delivered


def test_a_stream_abandoned_by_the_caller_is_recorded_as_cancelled(wired, member):
    stream = llm.stream(HI, context=llm.CallContext(user=member))
    iterator = iter(stream)
    next(iterator)
    iterator.close()
    (record,) = records()
    assert (record.status, record.error_type) == ("cancelled", "cancelled")
    # The openai stream's usage comes last: the tokens streamed so far are estimated.
    assert record.estimated and record.output_tokens >= 1 and record.cost_usd > 0


def test_a_stream_never_read_is_closed_and_recorded(wired, member):
    stream = llm.stream(HI, context=llm.CallContext(user=member))
    stream.close()
    assert records()[0].error_type == "cancelled"


def test_a_stream_partly_read_then_closed_is_recorded_once(wired, member):
    stream = llm.stream(HI, context=llm.CallContext(user=member))
    iterator = iter(stream)
    next(iterator)
    stream.close()
    stream.close()  # idempotent
    (record,) = records()
    assert record.error_type == "cancelled"


def test_iterating_twice_is_refused_and_records_once(wired, member):
    stream = llm.stream(HI, context=llm.CallContext(user=member))
    list(stream)
    with pytest.raises(RuntimeError, match="only once"):
        list(stream)
    stream.close()
    (record,) = records()
    assert record.status == "ok"


def test_an_iterator_created_but_never_started_is_recorded_on_close(wired, member):
    stream = llm.stream(HI, context=llm.CallContext(user=member))
    iter(stream)
    stream.close()
    (record,) = records()
    assert record.error_type == "cancelled"
