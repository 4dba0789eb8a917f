"""A balance never goes below zero and a hard budget never over its limit, whatever the
upstream reports: settlement charges the actual cost but never more than the call held (the
record keeps the full cost, flagged ``over_hold``, and an audit event says what was not
charged). The hold itself counts everything sent, so an honest upstream never gets there."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import AuditEvent, Feature, ParameterSet, UsageRecord
from webapp.services import llm
from webapp.services.billing import budgets, ledger, reservations
from webapp.services.errors import BudgetExceeded
from webapp.services.llm.calls import Sent
from webapp.services.llm.types import Message, Tool, ToolCall
from webapp.services.settings.cache import settings_cache

MODEL = "openai/gpt-5.4-mini"
HI = [{"role": "user", "content": "Hi"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look something up.",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}


def grant(admin: Any, user_id: int, amount: str) -> None:
    ledger.post_entry(
        admin, ledger.Owner("user", user_id), Decimal(amount), kind="grant", note=None
    )


def balance(user_id: int) -> tuple[Decimal, Decimal]:
    found = ledger.account_of(ledger.Owner("user", user_id))
    assert found is not None
    db.session.refresh(found)
    return Decimal(found.balance), Decimal(found.reserved)


def record(request_id: str) -> UsageRecord:
    found = db.session.scalar(sa.select(UsageRecord).where(UsageRecord.request_id == request_id))
    assert found is not None
    return found


@pytest.fixture
def holds(monkeypatch) -> list[Decimal]:  # type: ignore[no-untyped-def]
    """The USD each call held (the real reservation still happens)."""
    held: list[Decimal] = []
    real = reservations.reserve

    def watched(plan, request_id, *, usd, credits, expires_at, call):  # type: ignore[no-untyped-def]
        held.append(usd)
        return real(plan, request_id, usd=usd, credits=credits, expires_at=expires_at, call=call)

    monkeypatch.setattr(reservations, "reserve", watched)
    return held


def test_an_upstream_reporting_absurd_usage_cannot_overdraw_the_balance(wired, admin, member):
    """The audit's probe: 0.001 granted, tools sent, 200k prompt tokens reported (the old
    settlement left the balance at -0.149)."""
    grant(admin, member.id, "0.001")
    wired.script("openai.chat", Reply.ok(raw_usage={"prompt_tokens": 200_000}))
    reply = llm.complete(
        HI,
        context=llm.CallContext(user=member),
        model=MODEL,
        tools=[TOOL],
        overrides={"max_tokens": 10},
    )
    row = record(reply.request_id)
    left, reserved = balance(member.id)
    assert left >= 0 and reserved == 0
    assert row.over_hold and row.credits > Decimal("0.001") - left  # the full cost is kept
    assert reply.credits == row.credits
    view = ledger.view(ledger.Owner("user", member.id))
    assert view is not None
    (entry,) = [e for e in view.entries if e.amount < 0]
    assert -entry.amount == Decimal("0.001") - left < row.credits
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "over_hold"))
    assert event is not None and event.target_id == reply.request_id
    assert ledger.check_balances() == []


def test_an_upstream_reporting_absurd_usage_cannot_push_a_hard_budget_over(wired, admin, member):
    owner = budgets.BudgetOwner("user", member.id)
    budgets.create_budget(admin, owner, budgets.BudgetInput("monthly", "usd", "0.001", hard=True))
    wired.script("openai.chat", Reply.ok(raw_usage={"prompt_tokens": 10**9}))
    reply = llm.complete(
        HI, context=llm.CallContext(user=member), model=MODEL, overrides={"max_tokens": 10}
    )
    (status,) = budgets.statuses(owner)
    assert status.spent <= Decimal("0.001") and status.reserved == 0
    assert record(reply.request_id).over_hold


def test_an_honest_call_is_charged_in_full_and_not_flagged(wired, admin, member):
    grant(admin, member.id, "1")
    reply = llm.complete(HI, context=llm.CallContext(user=member), model=MODEL)
    row = record(reply.request_id)
    assert not row.over_hold and balance(member.id) == (Decimal(1) - row.credits, Decimal(0))
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "over_hold")) is None


BIG = 4000


def _feature(system_prompt: str) -> None:
    found = Feature(slug="long", name="Long", system_prompt=system_prompt)
    db.session.add(found)
    db.session.flush()
    db.session.add(ParameterSet(scope="feature", feature_id=found.id))
    db.session.commit()
    settings_cache().clear()


# What a call sends beyond a short user message, each about BIG bytes (or more).
PIECES = {
    "tool definitions": {
        "tools": [{**TOOL, "function": {**TOOL["function"], "description": "d" * BIG}}]
    },
    "tool call arguments": {
        "messages": [
            *HI,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "function": {"name": "lookup", "arguments": {"q": "a" * BIG}}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ]
    },
    "tool results": {
        "messages": [
            *HI,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "function": {"name": "lookup", "arguments": {}}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "r" * BIG},
        ]
    },
    "the feature's system prompt": {"feature": "s" * BIG},
    "a response_format schema": {
        "overrides": {
            "extra_options": {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"description": "z" * BIG}},
                }
            }
        }
    },
    "CJK text (3 bytes a character)": {
        "messages": [{"role": "user", "content": "漢" * (BIG // 3 + 10)}]
    },
    "emoji (4 bytes a character)": {
        "messages": [{"role": "user", "content": "🙂" * (BIG // 4 + 10)}]
    },
}


@pytest.mark.parametrize("piece", list(PIECES))
def test_the_hold_counts_every_byte_sent(wired, admin, member, holds, piece):
    grant(admin, member.id, "10")
    llm.complete(HI, context=llm.CallContext(user=member), model=MODEL)
    extra = PIECES[piece]
    if "feature" in extra:
        _feature(extra["feature"])
    llm.complete(
        extra.get("messages", HI),
        context=llm.CallContext(user=member, feature="long" if "feature" in extra else None),
        model=MODEL,
        tools=extra.get("tools"),
        overrides=extra.get("overrides"),
    )
    small, large = holds
    # At least a token a byte, at the input price of 0.75 per million.
    assert large - small >= BIG * Decimal("0.75") / 1_000_000


def test_a_balance_that_pays_for_the_message_but_not_the_tools_refuses_before_sending(
    wired, admin, member, holds
):
    grant(admin, admin.id, "10")
    llm.complete(HI, context=llm.CallContext(user=admin), model=MODEL)
    (bare,) = holds
    grant(admin, member.id, f"{bare:f}")  # pays for exactly that call's hold
    tools = PIECES["tool definitions"]["tools"]
    with pytest.raises(BudgetExceeded):
        llm.complete(HI, context=llm.CallContext(user=member), model=MODEL, tools=tools)
    assert len(wired.requests_to("openai.chat")) == 1
    llm.complete(HI, context=llm.CallContext(user=member), model=MODEL)  # without the tools


def test_the_prompt_bound_is_at_least_the_utf8_bytes_of_any_script():
    for text in ("plain ascii", "漢字かなカナ한국어", "🙂🚀👩‍👩‍👧", "مرحبا", "\u0000\u007f"):
        sent = Sent((Message("user", text * 50),))
        assert sent.prompt_bound() >= len((text * 50).encode())
    calls = Sent(
        (Message("assistant", None, (ToolCall("c", "f", {"q": "x" * 500}),)),),
        (Tool("f", "y" * 500),),
    )
    assert calls.prompt_bound() >= 1000


def test_cache_writes_are_held_at_the_cache_write_price(wired, admin, member):
    """Anthropic bills a cache write at 1.25x input: an honest upstream that reports the
    whole prompt (at its bound) as cache writes is still within the hold."""
    model = factories.model("anthropic/claude-haiku-4-5")
    model.input_price, model.output_price = Decimal("1"), Decimal("5")
    model.cached_input_price, model.cache_write_price = Decimal("0.1"), Decimal("1.25")
    db.session.commit()
    grant(admin, member.id, "1")
    prompt = Sent((Message("user", "Hi"),)).prompt_bound()
    usage = {"input": 0, "output": 10, "cache_write": prompt}
    wired.script("anthropic.messages", Reply.ok(usage=usage))
    reply = llm.complete(
        HI,
        context=llm.CallContext(user=member),
        model=model.global_id,
        overrides={"max_tokens": 10},
    )
    row = record(reply.request_id)
    assert row.cache_write_tokens == prompt and not row.over_hold
    assert balance(member.id)[0] == Decimal(1) - row.credits


def test_the_hold_is_capped_by_the_context_window(wired, admin, member, holds):
    model = factories.model(MODEL)
    grant(admin, member.id, "10")
    huge = [{"role": "user", "content": "x" * (model.context_window + 50_000)}]
    llm.complete(
        huge, context=llm.CallContext(user=member), model=MODEL, overrides={"max_tokens": 1}
    )
    (held,) = holds
    assert held == (model.context_window * Decimal("0.75") + Decimal("4.5")) / 1_000_000


SERIAL = itertools.count()
COUNTS = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1000", "abc", None, True, 10**30]),
)
TEXT = st.text(alphabet=st.sampled_from('ab 漢字🙂é\n"\\'), min_size=1, max_size=300)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    text=TEXT,
    tools=st.integers(min_value=0, max_value=3),
    prompt_tokens=COUNTS,
    completion_tokens=COUNTS,
    cached=COUNTS,
    max_tokens=st.integers(min_value=1, max_value=2000),
    granted=st.decimals(min_value="0.000001", max_value="0.05", places=6),
    limit=st.decimals(min_value="0.000001", max_value="0.05", places=6),
    stream=st.booleans(),
)
def test_no_prompt_tools_or_reported_usage_leaves_a_balance_or_hard_budget_overdrawn(
    wired, admin, text, tools, prompt_tokens, completion_tokens, cached, max_tokens, granted,
    limit, stream,
):  # fmt: skip
    wired.reset()  # a refused call leaves its scripted reply unused
    user = factories.make_user(f"prop-{next(SERIAL)}@example.com")
    grant(admin, user.id, f"{granted:f}")
    owner = budgets.BudgetOwner("user", user.id)
    budgets.create_budget(
        admin, owner, budgets.BudgetInput("daily", "usd", f"{limit:f}", hard=True)
    )
    raw = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    wired.script("openai.chat", Reply.ok(raw_usage=raw))
    context = llm.CallContext(user=user)
    call: dict[str, Any] = {"model": MODEL, "overrides": {"max_tokens": max_tokens}}
    call["tools"] = [
        {**TOOL, "function": {**TOOL["function"], "name": f"t{i}", "description": text}}
        for i in range(tools)
    ] or None
    try:
        if stream:
            list(llm.stream([{"role": "user", "content": text}], context=context, **call))
        else:
            llm.complete([{"role": "user", "content": text}], context=context, **call)
    except BudgetExceeded:
        pass
    left, reserved = balance(user.id)
    assert left >= 0 and reserved == 0
    (status,) = budgets.statuses(owner)
    assert status.spent <= limit and status.reserved == 0
    assert ledger.check_balances() == []
