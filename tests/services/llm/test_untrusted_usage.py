"""Token counts from an upstream are untrusted: impossible values are clamped and flagged,
missing ones estimated and flagged, cost is never negative, and cache writes are priced."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.services import llm
from webapp.services.catalog import snapshot
from webapp.services.llm.types import Usage
from webapp.services.llm.usage import cost_usd, normalize

HI = [{"role": "user", "content": "Hello there, how are you?"}]


def record(request_id: str) -> UsageRecord:
    found = db.session.scalar(sa.select(UsageRecord).where(UsageRecord.request_id == request_id))
    assert found is not None
    return found


def test_negative_prompt_tokens_are_clamped_and_never_make_a_negative_cost(wired, member):
    wired.script("openai.chat", Reply.ok(raw_usage={"prompt_tokens": -1_000_000}))
    reply = llm.complete(HI, context=llm.CallContext(user=member))
    row = record(reply.request_id)
    assert row.input_tokens == 0 and row.usage_adjusted and row.status == "ok"
    assert row.cost_usd is not None and row.cost_usd >= 0 and row.credits >= 0


def test_absurd_output_counts_are_capped_recorded_and_flagged(wired, member):
    wired.script("openai.chat", Reply.ok(raw_usage={"completion_tokens": 3e9}))
    reply = llm.complete(HI, context=llm.CallContext(user=member))
    row = record(reply.request_id)
    # Capped at what the call asked for (max_tokens 4096 by default), below the model's limit.
    assert row.output_tokens == 4096 and row.usage_adjusted


def test_cached_tokens_never_exceed_input_tokens(wired, member):
    wired.script(
        "openai.chat",
        Reply.ok(raw_usage={"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 99}}),
    )
    reply = llm.complete(HI, context=llm.CallContext(user=member))
    row = record(reply.request_id)
    assert (row.input_tokens, row.cached_tokens) == (10, 10) and row.usage_adjusted


def test_missing_usage_is_estimated_and_flagged_not_left_empty(wired, member):
    wired.script(
        "openai.chat",
        Reply.ok(
            "four score and seven", raw_usage={"prompt_tokens": None, "completion_tokens": None}
        ),
    )
    reply = llm.complete(HI, context=llm.CallContext(user=member))
    row = record(reply.request_id)
    assert row.estimated and not row.unpriced
    assert row.input_tokens >= 1 and row.output_tokens == 5  # 20 characters, ~4 a token
    assert row.cost_usd > 0


def test_anthropic_cache_writes_are_priced_at_the_cache_write_price(wired, member):
    model = factories.model("anthropic/claude-haiku-4-5")
    model.input_price, model.output_price = Decimal("1"), Decimal("5")
    model.cached_input_price, model.cache_write_price = Decimal("0.1"), Decimal("1.25")
    db.session.commit()
    usage = {"input": 1000, "output": 100, "cached": 2000, "cache_write": 4000}
    wired.script("anthropic.messages", Reply.ok(usage=usage))
    reply = llm.complete(HI, context=llm.CallContext(user=member), model=model.global_id)
    row = record(reply.request_id)
    assert (row.input_tokens, row.cached_tokens, row.cache_write_tokens) == (7000, 2000, 4000)
    # 1000 plain × 1 + 2000 × 0.1 + 4000 × 1.25 + 100 × 5, per million
    assert row.cost_usd == Decimal("0.0067")


def test_a_cut_anthropic_stream_estimates_its_output_instead_of_the_placeholder(wired, member):
    wired.script("anthropic.messages", Reply.cut_stream(after_chunks=3))
    stream = llm.stream(
        HI, context=llm.CallContext(user=member), model="anthropic/claude-haiku-4-5"
    )
    with pytest.raises(llm.LLMError):
        list(stream)
    row = record(stream.request_id)
    assert row.status == "error" and row.estimated and row.output_tokens >= 1
    assert row.input_tokens == 12  # known from message_start


@pytest.mark.parametrize(
    ("reported", "expected", "adjusted"),
    [
        (Usage(5, 5, 0), Usage(5, 5, 0, None), False),
        (Usage(-5, 5, 0), Usage(0, 5, 0, None), True),
        (Usage(5, -5, 9), Usage(5, 0, 5, None), True),
        (Usage(5.0, 2.5, 0), Usage(5, 2, 0, None), True),  # type: ignore[arg-type]
        (Usage(float("nan"), 1, 0), Usage(None, 1, 0, None), True),  # type: ignore[arg-type]
        (Usage(10, 1, 4, 9), Usage(10, 1, 4, 6), True),
        (Usage(2**70, 1, 0), Usage(None, 1, 0, None), True),  # beyond any window: capped below
    ],
)
def test_normalize_truth_table(reported, expected, adjusted):
    info = snapshot.ModelInfo(
        id=1, model_id="m", display_name="m", category="balanced", enabled=True,
        unsupported_params=frozenset(), supports_streaming=True, max_output_tokens=None,
        input_price=Decimal(1), output_price=Decimal(1), cached_input_price=None,
        provider_id=1, provider_slug="p", provider_name="P", provider_enabled=True,
        protocol="openai", credit_multiplier=Decimal(1), context_window=1000,
    )  # fmt: skip
    result = normalize(reported, info, prompt_chars=40)
    if expected.input_tokens is None:  # capped to the context window
        assert result.usage.input_tokens in (1000, 10)
    else:
        assert result.usage == expected
    assert result.adjusted is adjusted
    assert cost_usd(info, result.usage) >= 0
