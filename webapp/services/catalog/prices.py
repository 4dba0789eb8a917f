"""Catalog prices from ``genai-prices`` (Pydantic's maintained price data, shipped in its wheel).

Read only at seed time and when an admin adds a model from a live list; never fetched over the
network. Prices are copied into our own tables, where admins may edit them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from importlib.metadata import version

from genai_prices import data_snapshot
from genai_prices.types import ModelInfo, TieredPrices

SOURCE = f"genai-prices {version('genai-prices')}"


@dataclass(frozen=True)
class PriceInfo:
    """USD per million tokens; ``tiered`` means the base (lowest) tier was taken."""

    input: Decimal | None
    output: Decimal | None
    cached_input: Decimal | None
    context_window: int | None
    tiered: bool
    cache_write: Decimal | None = None

    @property
    def source(self) -> str:
        return f"{SOURCE} (base tier)" if self.tiered else SOURCE


def _base(value: Decimal | TieredPrices | None) -> tuple[Decimal | None, bool]:
    if value is None:
        return None, False
    if isinstance(value, TieredPrices):
        return value.base, True
    return Decimal(value), False


@lru_cache(maxsize=4096)
def _find(genai_provider: str, model_id: str) -> ModelInfo | None:
    snapshot = data_snapshot.get_snapshot()
    for provider in snapshot.providers:
        if provider.id == genai_provider:
            return provider.find_model(model_id)
    return None


def lookup_price(genai_provider: str, model_id: str) -> PriceInfo | None:
    """Current list prices for a model, or None when the price data does not know it."""
    info = _find(genai_provider, model_id)
    if info is None:
        return None
    prices = info.get_prices(datetime.now(UTC))
    inp, t1 = _base(getattr(prices, "input_mtok", None))
    out, t2 = _base(getattr(prices, "output_mtok", None))
    cached, t3 = _base(getattr(prices, "cache_read_mtok", None))
    writes, t4 = _base(getattr(prices, "cache_write_mtok", None))
    if inp is None and out is None:
        return None
    return PriceInfo(inp, out, cached, info.context_window, t1 or t2 or t3 or t4, writes)
