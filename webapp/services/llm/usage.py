"""Token counts an upstream reports are untrusted: clamp what is impossible, estimate what is
missing, and price the result — never a negative cost, never a silent gap.

Rules (each adjustment flags the record ``usage_adjusted``; each estimate ``estimated``):
- every protocol's report is read by ``reported`` alone, field by field, before any sum
  (Anthropic's input excludes its cache reads and writes: they are added after each was
  checked, so a negative cache count can never cancel a real input);
- counts that are not JSON numbers (strings, booleans) or not whole are read as such
  (``3e9`` → 3000000000, ``"1000"`` → 1000, flagged) or dropped (``"abc"``, NaN);
- negative counts become 0; cached reads and cache writes never exceed the input;
- input beyond the model's context window, output beyond its output limit or the call's
  ``max_tokens``, and anything beyond what the bigint columns hold are capped;
- no usage at all (a stream cut before the final chunk) → estimated from the text, at about
  four characters a token, so a cut stream is still billed for what it streamed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from webapp.services.catalog.snapshot import ModelInfo
from webapp.services.llm.types import Usage

MILLION = Decimal(1_000_000)
CENT_FRACTION = Decimal("0.00000001")
COLUMN_MAX = 2**62  # comfortably inside PostgreSQL's bigint
CHARS_PER_TOKEN = 4
# A model with no known limits still cannot have used more than this in one call.
FALLBACK_INPUT_CAP = 10_000_000
FALLBACK_OUTPUT_CAP = 1_000_000


@dataclass(frozen=True)
class MeteredUsage:
    usage: Usage
    adjusted: bool = False
    estimated: bool = False


def estimate_tokens(characters: int) -> int:
    """About four characters a token (no tokenizer: tiktoken downloads its data)."""
    return math.ceil(max(characters, 0) / CHARS_PER_TOKEN)


def _whole(value: Any) -> tuple[int | None, bool]:
    """A count as an int, and whether it had to be repaired (anything but a JSON number
    holding a whole value is)."""
    if value is None:
        return None, False
    if isinstance(value, bool):
        return int(value), True
    if isinstance(value, int):
        return value, False
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None, True
    if math.isnan(number):
        return None, True
    if math.isinf(number):
        return (COLUMN_MAX if number > 0 else 0), True
    return int(number), isinstance(value, str) or number != int(number)


def _count(value: Any) -> tuple[int | None, bool]:
    """One reported count: whole, never negative, within the columns; whether repaired."""
    number, repaired = _whole(value)
    if number is None:
        return None, repaired
    clamped = min(max(number, 0), COLUMN_MAX)
    return clamped, repaired or clamped != number


def reported(
    input_tokens: Any,
    output_tokens: Any,
    cached_tokens: Any = None,
    cache_write_tokens: Any = None,
    *,
    input_includes_cache: bool = True,
) -> Usage:
    """The usage an upstream reported, read the same way for every protocol (JSON replies
    and stream events alike): each count on its own, then the sums. ``input_includes_cache``
    False (Anthropic) means the reported input excludes cache reads and writes, which are
    added to it here. A missing input stays None: metering estimates it and flags the
    record; a missing cache count is none used."""
    inputs, a = _count(input_tokens)
    outputs, b = _count(output_tokens)
    cached, c = _count(cached_tokens)
    writes, d = _count(cache_write_tokens)
    cached = cached or 0
    if not input_includes_cache:  # a protocol that reports cache writes: none is 0
        writes = writes or 0
        if inputs is not None:
            inputs = min(inputs + cached + writes, COLUMN_MAX)
    usage = Usage(inputs, outputs, cached, writes)
    usage.adjusted = a or b or c or d
    return usage


def _bounded(value: int | None, cap: int) -> tuple[int | None, bool]:
    if value is None:
        return None, False
    clamped = min(max(value, 0), cap, COLUMN_MAX)
    return clamped, clamped != value


def normalize(
    usage: Usage | None,
    model: ModelInfo | None,
    *,
    prompt_chars: int = 0,
    reply_chars: int = 0,
    expect_output: bool = True,
    max_output: int | None = None,
) -> MeteredUsage:
    """Usage fit to bill: clamped, capped, estimated where missing (see the module text)."""
    usage = usage or Usage()
    fixed: list[bool] = []
    values = {}
    for name in ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens"):
        values[name], repaired = _whole(getattr(usage, name))
        fixed.append(repaired)
    input_cap = (model.context_window if model and model.context_window else None) or (
        FALLBACK_INPUT_CAP
    )
    output_cap = (model.max_output_tokens if model and model.max_output_tokens else None) or (
        FALLBACK_OUTPUT_CAP
    )
    if max_output:  # the call asked for at most this much: more cannot have been produced
        output_cap = min(output_cap, max_output)
    inputs, a = _bounded(values["input_tokens"], input_cap)
    outputs, b = _bounded(values["output_tokens"], output_cap)
    fixed += [a, b]
    estimated = False
    if inputs is None:
        inputs, estimated = min(estimate_tokens(prompt_chars), input_cap), True
    if outputs is None and (expect_output or reply_chars):
        outputs, estimated = min(estimate_tokens(reply_chars), output_cap), True
    cached, c = _bounded(values["cached_tokens"], inputs)
    writes, d = _bounded(values["cache_write_tokens"], inputs - (cached or 0))
    fixed += [c, d]
    adjusted = usage.adjusted or any(fixed)
    return MeteredUsage(Usage(inputs, outputs, cached, writes), adjusted, estimated)


def cost_usd(model: ModelInfo | None, usage: Usage) -> Decimal | None:
    """USD from catalog prices; None (unpriced) when a needed price is missing — never 0 for
    a missing price, never negative. Cache reads at the cached price, cache writes at the
    cache-write price (each falling back to the input price when the model has none)."""
    if model is None or usage.input_tokens is None or model.input_price is None:
        return None
    if usage.output_tokens and model.output_price is None:
        return None
    cached = usage.cached_tokens or 0
    writes = usage.cache_write_tokens or 0
    plain = max(usage.input_tokens - cached - writes, 0)
    cached_price = model.cached_input_price
    write_price = model.cache_write_price
    cost = (
        Decimal(plain) * model.input_price
        + Decimal(cached) * (cached_price if cached_price is not None else model.input_price)
        + Decimal(writes) * (write_price if write_price is not None else model.input_price)
        + Decimal(usage.output_tokens or 0) * (model.output_price or Decimal(0))
    ) / MILLION
    return max(cost, Decimal(0)).quantize(CENT_FRACTION)


def credits_for(cost: Decimal | None, model: ModelInfo | None, managed: bool) -> Decimal | None:
    """Credits a call costs: cost × the provider's multiplier for managed calls, 0 for BYOK."""
    if cost is None or model is None:
        return None
    if not managed:
        return Decimal(0)
    return (cost * model.credit_multiplier).quantize(CENT_FRACTION)
