"""Both protocols' usage reports, in JSON replies and in stream events, go through one reader:
each count is checked on its own before any sum, odd values are repaired and flag the record
``usage_adjusted``, missing ones are estimated and flag it ``estimated`` — and a call the
upstream answered never fails over its usage."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests import factories
from tests.fake_upstream import OMIT, Reply
from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.services import llm
from webapp.services.llm.types import Usage
from webapp.services.llm.usage import reported

PROMPT = [{"role": "user", "content": "x" * 40}]  # estimated as 10 input tokens
REPLY = "y" * 20  # estimated as 5 output tokens
OPENAI, ANTHROPIC = "openai/gpt-5.4-mini", "anthropic/claude-haiku-4-5"
# Where each protocol reports a count.
FIELDS = {
    "openai": {"input": "prompt_tokens", "output": "completion_tokens"},
    "anthropic": {
        "input": "input_tokens",
        "output": "output_tokens",
        "cached": "cache_read_input_tokens",
        "write": "cache_creation_input_tokens",
    },
}
EST, CAP = "estimated", "capped"  # expected values that depend on the call or the model

# (case, field, reported value, expected count, adjusted, estimated). The other counts stay
# the fake's defaults: 12 input, 7 output, no cache.
CASES = [
    ("negative", "input", -1_000_000, 0, True, False),
    ("string", "input", "1000", 1000, True, False),
    ("junk string", "input", "abc", EST, True, True),
    ("float", "input", 12.5, 12, True, False),
    ("bool", "input", True, 1, True, False),
    ("null", "input", None, EST, False, True),
    ("missing", "input", OMIT, EST, False, True),
    ("huge", "input", 1e30, CAP, True, False),
    ("negative", "output", -5, 0, True, False),
    ("string", "output", "6", 6, True, False),
    ("junk string", "output", "abc", EST, True, True),
    ("float", "output", 6.5, 6, True, False),
    ("bool", "output", False, 0, True, False),
    ("null", "output", None, EST, False, True),
    ("missing", "output", OMIT, EST, False, True),
    ("huge", "output", 1e30, CAP, True, False),
]


def _raw(protocol: str, field: str, value: Any) -> dict[str, Any]:
    return {FIELDS[protocol][field]: value}


def _record(request_id: str) -> UsageRecord:
    found = db.session.scalar(sa.select(UsageRecord).where(UsageRecord.request_id == request_id))
    assert found is not None
    return found


def _call(protocol: str, stream: bool, member: Any) -> UsageRecord:
    model = OPENAI if protocol == "openai" else ANTHROPIC
    context = llm.CallContext(user=member)
    if stream:
        opened = llm.stream(PROMPT, context=context, model=model)
        events = list(opened)
        assert events[-1].type == "done"
        return _record(opened.request_id)
    reply = llm.complete(PROMPT, context=context, model=model)
    return _record(reply.request_id)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("case", "field", "value", "expected", "adjusted", "estimated"),
    CASES,
    ids=[f"{c[1]}-{c[0]}" for c in CASES],
)
def test_a_reported_count_is_repaired_or_estimated_alike_on_both_protocols(
    wired, member, protocol, stream, case, field, value, expected, adjusted, estimated
):
    endpoint = "openai.chat" if protocol == "openai" else "anthropic.messages"
    wired.script(endpoint, Reply.ok(REPLY, raw_usage=_raw(protocol, field, value)))
    row = _call(protocol, stream, member)
    assert row.status == "ok", row.error_message  # the upstream answered: never a failure
    got = row.input_tokens if field == "input" else row.output_tokens
    model = factories.model(OPENAI if protocol == "openai" else ANTHROPIC)
    if expected == EST:
        expected = 10 if field == "input" else 5
    elif expected == CAP:
        expected = model.context_window if field == "input" else 4096  # max_tokens default
    assert got == expected
    if protocol == "anthropic" and stream and case in ("string", "bool"):
        # The anthropic SDK's event parser already made these numbers: the count is right,
        # and nothing reached the reader to repair.
        adjusted = row.usage_adjusted
    assert (row.usage_adjusted, row.estimated) == (adjusted, estimated)
    assert row.cost_usd is not None and row.cost_usd >= 0
    other = row.output_tokens if field == "input" else row.input_tokens
    assert other == (7 if field == "input" else 12)  # the other count is untouched


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_negative_cache_write_cannot_cancel_anthropic_input(wired, member, stream):
    raw = {"input_tokens": 1000, "cache_creation_input_tokens": -1_000_000}
    wired.script("anthropic.messages", Reply.ok(REPLY, raw_usage=raw))
    row = _call("anthropic", stream, member)
    assert (row.input_tokens, row.cache_write_tokens) == (1000, 0)
    assert row.usage_adjusted and row.cost_usd > 0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("value", [-3, "abc", 2.5, None])
def test_odd_anthropic_cache_reads_are_repaired_before_they_are_added(wired, member, stream, value):
    raw = {"cache_read_input_tokens": value}
    wired.script("anthropic.messages", Reply.ok(REPLY, raw_usage=raw))
    row = _call("anthropic", stream, member)
    expected_cached = 2 if value == 2.5 else 0
    assert (row.input_tokens, row.cached_tokens) == (12 + expected_cached, expected_cached)
    assert row.usage_adjusted is (value is not None) and not row.estimated


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_openai_cached_tokens_over_the_input_are_cut_to_it(wired, member, stream):
    raw = {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 99}}
    wired.script("openai.chat", Reply.ok(REPLY, raw_usage=raw))
    row = _call("openai", stream, member)
    assert (row.input_tokens, row.cached_tokens) == (10, 10) and row.usage_adjusted


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_anthropic_cache_reads_over_the_fresh_input_are_normal(wired, member, stream):
    """Anthropic's input excludes cache reads: 99 read beside 12 fresh is 111 in all."""
    raw = {"cache_read_input_tokens": 99}
    wired.script("anthropic.messages", Reply.ok(REPLY, raw_usage=raw))
    row = _call("anthropic", stream, member)
    assert (row.input_tokens, row.cached_tokens) == (111, 99) and not row.usage_adjusted


def test_the_caller_is_told_the_counts_its_record_shows(wired, member):
    wired.script("openai.chat", Reply.ok(REPLY, raw_usage={"prompt_tokens": -50}))
    reply = llm.complete(PROMPT, context=llm.CallContext(user=member), model=OPENAI)
    row = _record(reply.request_id)
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (0, 7)
    assert (row.input_tokens, row.output_tokens) == (0, 7)


@pytest.mark.parametrize(
    ("fields", "expected", "adjusted"),
    [
        ((12, 7, 0, 0), Usage(12, 7, 0, 0), False),
        ((1000, 7, 0, -1000), Usage(1000, 7, 0, 0), True),
        (("12", 7, 0, 0), Usage(12, 7, 0, 0), True),
        ((None, 7, 5, 5), Usage(None, 7, 5, 5), False),
        ((12, 7, "x", None), Usage(12, 7, 0, 0), True),
        ((float("inf"), 7, 0, 0), Usage(2**62, 7, 0, 0), True),
    ],
)
def test_the_shared_reader_checks_each_count_before_the_sum(fields, expected, adjusted):
    usage = reported(*fields, input_includes_cache=False)
    assert usage == expected and usage.adjusted is adjusted
