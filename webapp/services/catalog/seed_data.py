"""The presets the seed inserts: ten providers and a curated catalog of current models.

Prices and context windows come from ``genai-prices`` at seed time (see ``prices.py``);
categories, capabilities and output limits are curated here. A model whose price the data
does not know is seeded unpriced, never with an invented rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# Sampling parameters the current Anthropic API rejects (and penalties/seed it never had).
ANTHROPIC_REJECTS = ["temperature", "top_p", "frequency_penalty", "presence_penalty", "seed"]
# OpenAI reasoning models accept only the default temperature and no sampling knobs.
OPENAI_REASONING_REJECTS = ["temperature", "top_p", "frequency_penalty", "presence_penalty"]


@dataclass(frozen=True)
class ProviderPreset:
    slug: str
    display_name: str
    description: str
    protocol: str
    base_url: str | None
    api_key_env: str | None
    credit_multiplier: Decimal = Decimal("1")
    enabled: bool = True
    extra_headers: dict[str, str] | None = None


@dataclass(frozen=True)
class ModelPreset:
    provider: str
    model_id: str
    display_name: str
    category: str
    max_output_tokens: int | None
    vision: bool = False
    tools: bool = True
    json: bool = True
    streaming: bool = True
    unsupported_params: list[str] = field(default_factory=list)
    # Where to look the price up in genai-prices: (provider id, model id); None = unpriced.
    price_ref: tuple[str, str] | None = None
    # Local servers charge nothing per token: a real price of zero, not a missing one.
    free: bool = False
    context_window: int | None = None
    default_chat: bool = False
    default_embedding: bool = False


PROVIDERS: list[ProviderPreset] = [
    ProviderPreset(
        "openai",
        "OpenAI",
        "GPT models through the OpenAI API.",
        "openai",
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
    ),
    ProviderPreset(
        "anthropic",
        "Anthropic",
        "Claude models through the Anthropic Messages API.",
        "anthropic",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
    ),
    ProviderPreset(
        "gemini",
        "Google Gemini",
        "Gemini models through Google's OpenAI-compatible endpoint.",
        "openai_compatible",
        "https://generativelanguage.googleapis.com/v1beta/openai/",
        "GEMINI_API_KEY",
    ),
    ProviderPreset(
        "xai", "xAI", "Grok models.", "openai_compatible", "https://api.x.ai/v1", "XAI_API_KEY"
    ),
    ProviderPreset(
        "deepseek",
        "DeepSeek",
        "DeepSeek chat and reasoning models.",
        "openai_compatible",
        "https://api.deepseek.com/v1",
        "DEEPSEEK_API_KEY",
    ),
    ProviderPreset(
        "mistral",
        "Mistral",
        "Mistral AI models.",
        "openai_compatible",
        "https://api.mistral.ai/v1",
        "MISTRAL_API_KEY",
    ),
    ProviderPreset(
        "github",
        "GitHub Models",
        "Models hosted by GitHub, billed by GitHub.",
        "openai_compatible",
        "https://models.github.ai/inference",
        "GITHUB_TOKEN",
        credit_multiplier=Decimal("1.5"),
    ),
    ProviderPreset(
        "openrouter",
        "OpenRouter",
        "One API for many providers' models.",
        "openai_compatible",
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
    ),
    ProviderPreset(
        "ollama",
        "Ollama",
        "A local Ollama server. Allow its host before enabling.",
        "openai_compatible",
        "http://localhost:11434/v1",
        None,
        credit_multiplier=Decimal("0.1"),
        enabled=False,
    ),
    ProviderPreset(
        "lmstudio",
        "LM Studio",
        "A local LM Studio server. Allow its host before enabling.",
        "openai_compatible",
        "http://localhost:1234/v1",
        None,
        credit_multiplier=Decimal("0.1"),
        enabled=False,
    ),
]


def _m(
    provider: str, model_id: str, name: str, category: str, max_out: int | None, **kw
) -> ModelPreset:
    return ModelPreset(provider, model_id, name, category, max_out, **kw)


MODELS: list[ModelPreset] = [
    # OpenAI
    _m(
        "openai",
        "gpt-6.1-sol",
        "GPT-6.1 Sol",
        "powerful",
        128000,
        vision=True,
        unsupported_params=OPENAI_REASONING_REJECTS,
        price_ref=("openai", "gpt-6.1-sol"),
    ),
    _m(
        "openai",
        "gpt-6.1-terra",
        "GPT-6.1 Terra",
        "balanced",
        128000,
        vision=True,
        unsupported_params=OPENAI_REASONING_REJECTS,
        price_ref=("openai", "gpt-6.1-terra"),
    ),
    _m(
        "openai",
        "gpt-6-luna",
        "GPT-6 Luna",
        "fast",
        128000,
        vision=True,
        unsupported_params=OPENAI_REASONING_REJECTS,
        price_ref=("openai", "gpt-6-luna"),
    ),
    _m(
        "openai",
        "gpt-5.5",
        "GPT-5.5",
        "powerful",
        128000,
        vision=True,
        unsupported_params=OPENAI_REASONING_REJECTS,
        price_ref=("openai", "gpt-5.5"),
    ),
    _m(
        "openai",
        "gpt-5.4-mini",
        "GPT-5.4 mini",
        "fast",
        128000,
        vision=True,
        price_ref=("openai", "gpt-5.4-mini"),
        default_chat=True,
    ),
    _m(
        "openai",
        "gpt-5.4-nano",
        "GPT-5.4 nano",
        "fast",
        128000,
        vision=True,
        price_ref=("openai", "gpt-5.4-nano"),
    ),
    _m(
        "openai",
        "text-embedding-3-small",
        "text-embedding-3-small",
        "embedding",
        None,
        tools=False,
        json=False,
        streaming=False,
        price_ref=("openai", "text-embedding-3-small"),
        default_embedding=True,
    ),
    _m(
        "openai",
        "text-embedding-3-large",
        "text-embedding-3-large",
        "embedding",
        None,
        tools=False,
        json=False,
        streaming=False,
        price_ref=("openai", "text-embedding-3-large"),
    ),
    # Anthropic
    _m(
        "anthropic",
        "claude-opus-5-5",
        "Claude Opus 5.5",
        "powerful",
        128000,
        vision=True,
        unsupported_params=ANTHROPIC_REJECTS,
        price_ref=("anthropic", "claude-opus-5-5"),
    ),
    _m(
        "anthropic",
        "claude-sonnet-5-5",
        "Claude Sonnet 5.5",
        "balanced",
        64000,
        vision=True,
        unsupported_params=ANTHROPIC_REJECTS,
        price_ref=("anthropic", "claude-sonnet-5-5"),
    ),
    _m(
        "anthropic",
        "claude-haiku-5-5",
        "Claude Haiku 5.5",
        "fast",
        64000,
        vision=True,
        unsupported_params=ANTHROPIC_REJECTS,
        price_ref=("anthropic", "claude-haiku-5-5"),
    ),
    _m(
        "anthropic",
        "claude-sonnet-4-6",
        "Claude Sonnet 4.6",
        "balanced",
        64000,
        vision=True,
        unsupported_params=ANTHROPIC_REJECTS,
        price_ref=("anthropic", "claude-sonnet-4-6"),
    ),
    _m(
        "anthropic",
        "claude-haiku-4-5",
        "Claude Haiku 4.5",
        "fast",
        64000,
        vision=True,
        unsupported_params=ANTHROPIC_REJECTS,
        price_ref=("anthropic", "claude-haiku-4-5"),
    ),
    # Google Gemini
    _m(
        "gemini",
        "gemini-3.8-flash",
        "Gemini 3.8 Flash",
        "balanced",
        65536,
        vision=True,
        price_ref=("google", "gemini-3.8-flash"),
    ),
    _m(
        "gemini",
        "gemini-3.5-flash-lite",
        "Gemini 3.5 Flash Lite",
        "fast",
        65536,
        vision=True,
        price_ref=("google", "gemini-3.5-flash-lite"),
    ),
    _m(
        "gemini",
        "gemini-3.1-pro-preview",
        "Gemini 3.1 Pro Preview",
        "powerful",
        65536,
        vision=True,
        context_window=1048576,
        price_ref=("google", "gemini-3.1-pro-preview"),
    ),
    _m(
        "gemini",
        "gemini-embedding-2",
        "Gemini Embedding 2",
        "embedding",
        None,
        tools=False,
        json=False,
        streaming=False,
        price_ref=("google", "gemini-embedding-2"),
    ),
    # xAI
    _m(
        "xai",
        "grok-4.7",
        "Grok 4.7",
        "powerful",
        64000,
        vision=True,
        price_ref=("x-ai", "grok-4.7"),
    ),
    _m(
        "xai",
        "grok-4-1-fast-non-reasoning",
        "Grok 4.1 Fast",
        "fast",
        30000,
        vision=True,
        price_ref=("x-ai", "grok-4-1-fast-non-reasoning"),
    ),
    _m(
        "xai",
        "grok-code-fast-1",
        "Grok Code Fast 1",
        "specialized",
        10000,
        price_ref=("x-ai", "grok-code-fast-1"),
    ),
    # DeepSeek
    _m(
        "deepseek",
        "deepseek-v4-pro",
        "DeepSeek V4 Pro",
        "powerful",
        64000,
        price_ref=("deepseek", "deepseek-v4-pro"),
    ),
    _m(
        "deepseek",
        "deepseek-v4-flash",
        "DeepSeek V4 Flash",
        "fast",
        32000,
        price_ref=("deepseek", "deepseek-v4-flash"),
    ),
    _m(
        "deepseek",
        "deepseek-chat",
        "DeepSeek Chat",
        "balanced",
        8000,
        price_ref=("deepseek", "deepseek-chat"),
    ),
    _m(
        "deepseek",
        "deepseek-reasoner",
        "DeepSeek Reasoner",
        "specialized",
        32000,
        tools=False,
        unsupported_params=["temperature", "top_p", "frequency_penalty", "presence_penalty"],
        price_ref=("deepseek", "deepseek-reasoner"),
    ),
    # Mistral
    _m(
        "mistral",
        "mistral-large-4",
        "Mistral Large 4",
        "powerful",
        32000,
        vision=True,
        price_ref=("mistral", "mistral-large-4"),
    ),
    _m(
        "mistral",
        "mistral-medium-3-5",
        "Mistral Medium 3.5",
        "balanced",
        32000,
        vision=True,
        price_ref=("mistral", "mistral-medium-3-5"),
    ),
    _m(
        "mistral",
        "mistral-small-2603",
        "Mistral Small 4",
        "fast",
        32000,
        price_ref=("mistral", "mistral-small-2603"),
    ),
    _m(
        "mistral",
        "codestral-2508",
        "Codestral 2508",
        "specialized",
        32000,
        price_ref=("mistral", "codestral-2508"),
    ),
    _m(
        "mistral",
        "mistral-embed",
        "Mistral Embed",
        "embedding",
        None,
        tools=False,
        json=False,
        streaming=False,
        price_ref=("mistral", "mistral-embed"),
    ),
    # GitHub Models: billed by GitHub in its own units, so unpriced here.
    _m("github", "openai/gpt-5.4-mini", "GPT-5.4 mini (GitHub)", "fast", 128000, vision=True),
    _m(
        "github",
        "openai/gpt-5.5",
        "GPT-5.5 (GitHub)",
        "powerful",
        128000,
        vision=True,
        unsupported_params=OPENAI_REASONING_REJECTS,
    ),
    # OpenRouter
    _m(
        "openrouter",
        "anthropic/claude-sonnet-5.5",
        "Claude Sonnet 5.5 (OpenRouter)",
        "balanced",
        64000,
        vision=True,
        price_ref=("openrouter", "anthropic/claude-sonnet-5.5"),
    ),
    _m(
        "openrouter",
        "openai/gpt-6.1-terra",
        "GPT-6.1 Terra (OpenRouter)",
        "balanced",
        128000,
        vision=True,
        price_ref=("openrouter", "openai/gpt-6.1-terra"),
    ),
    _m(
        "openrouter",
        "google/gemini-3.8-flash",
        "Gemini 3.8 Flash (OpenRouter)",
        "fast",
        65536,
        vision=True,
        price_ref=("openrouter", "google/gemini-3.8-flash"),
    ),
    _m(
        "openrouter",
        "moonshotai/kimi-k3",
        "Kimi K3 (OpenRouter)",
        "powerful",
        65536,
        price_ref=("openrouter", "moonshotai/kimi-k3"),
    ),
    # Ollama (local)
    _m(
        "ollama",
        "llama3.3",
        "Llama 3.3 70B (local)",
        "balanced",
        8192,
        free=True,
        context_window=131072,
    ),
    _m("ollama", "qwen3", "Qwen3 8B (local)", "fast", 8192, free=True, context_window=40960),
    _m(
        "ollama",
        "nomic-embed-text",
        "Nomic Embed Text (local)",
        "embedding",
        None,
        tools=False,
        json=False,
        streaming=False,
        free=True,
        context_window=8192,
    ),
]
