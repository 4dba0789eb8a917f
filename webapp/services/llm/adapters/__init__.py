"""One adapter per wire protocol; ``adapter_for`` picks it."""

from __future__ import annotations

from webapp.services.llm.adapters.anthropic_adapter import AnthropicAdapter
from webapp.services.llm.adapters.base import Adapter
from webapp.services.llm.adapters.openai_adapter import OpenAIAdapter

_ADAPTERS: dict[str, Adapter] = {
    "openai": OpenAIAdapter(max_tokens_param="max_completion_tokens"),
    "openai_compatible": OpenAIAdapter(max_tokens_param="max_tokens"),
    "anthropic": AnthropicAdapter(),
}


def adapter_for(protocol: str) -> Adapter:
    return _ADAPTERS[protocol]


__all__ = ["Adapter", "adapter_for"]
