"""Provider-neutral shapes of requests and responses: what every adapter maps to and from."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from webapp.services.errors import ValidationError
from webapp.services.llm.limits import MAX_MODEL_ID, MAX_MODELS

ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass(frozen=True)
class Tool:
    """A function the model may call; ``parameters`` is a JSON schema object."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class Message:
    role: str
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            data["tool_calls"] = [t.to_dict() for t in self.tool_calls]
        if self.tool_call_id:
            data["tool_call_id"] = self.tool_call_id
        return data


@dataclass
class Usage:
    """Tokens as reported by the provider. ``input_tokens`` includes cached tokens (reads) and
    cache writes; ``cached_tokens`` and ``cache_write_tokens`` say how many of them were."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    # A reported value had to be repaired on the way in (``usage.reported``): metering flags
    # the record ``usage_adjusted``.
    adjusted: bool = field(default=False, compare=False, repr=False)


@dataclass
class ChatRequest:
    """One attempt at one model, after settings resolution and parameter filtering."""

    model: str  # the provider's model id
    messages: list[Message]
    params: dict[str, Any]  # normalized names: temperature, max_tokens, top_p, stop, seed …
    tools: list[Tool] = field(default_factory=list)
    extra_body: dict[str, Any] | None = None
    timeout_s: float = 60.0


@dataclass
class ChatResult:
    text: str
    tool_calls: list[ToolCall]
    stop_reason: str | None
    usage: Usage


@dataclass
class Delta:
    """A piece of a streamed reply from an adapter."""

    text: str = ""
    tool_call: ToolCall | None = None
    stop_reason: str | None = None
    usage: Usage | None = None
    # Another delta that arrived in the same read follows at once: a reader may hold this
    # one back and write both together (the last delta of a read is never marked).
    more: bool = False


@dataclass
class Completion:
    """What ``complete`` returns, and what a stream ends with."""

    text: str
    tool_calls: list[ToolCall]
    stop_reason: str | None
    usage: Usage
    model: str  # global id of the model that answered
    request_id: str
    key_source: str
    cost_usd: Decimal | None
    credits: Decimal | None
    latency_ms: int
    ttft_ms: int | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    dropped_params: list[str] = field(default_factory=list)


@dataclass
class StreamEvent:
    """``text`` deltas, whole ``tool_call``s, then one ``done`` carrying the Completion."""

    type: str
    text: str = ""
    tool_call: ToolCall | None = None
    completion: Completion | None = None
    # Another event follows at once (see ``Delta.more``); a ``flush`` event carries nothing
    # but the end of such a run.
    more: bool = False


@dataclass
class EmbeddingResult:
    vectors: list[list[float]]
    usage: Usage
    model: str
    request_id: str
    cost_usd: Decimal | None
    credits: Decimal | None


@dataclass(frozen=True)
class LiveModel:
    """One entry of a provider's live model list."""

    id: str
    display_name: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def live_models(found: Iterable[LiveModel]) -> list[LiveModel]:
    """An upstream's model list, bounded: at most ``MAX_MODELS`` ids (pages stop being
    fetched there), ids over ``MAX_MODEL_ID`` characters or with control characters dropped."""
    kept: dict[str, LiveModel] = {}
    for model in itertools.islice(found, 2 * MAX_MODELS):
        ident = model.id
        if not isinstance(ident, str) or not 0 < len(ident) <= MAX_MODEL_ID:
            continue
        if not ident.isprintable():
            continue
        name = model.display_name if isinstance(model.display_name, str) else None
        kept.setdefault(
            ident,
            LiveModel(
                ident,
                name[:MAX_MODEL_ID] if name and name.isprintable() else None,
                _count(model.context_window),
                _count(model.max_output_tokens),
            ),
        )
        if len(kept) == MAX_MODELS:
            break
    return sorted(kept.values(), key=lambda m: m.id)


def _tool_call(raw: Any) -> ToolCall:
    if isinstance(raw, ToolCall):
        return raw
    function = raw.get("function", raw)
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError:
            raise ValidationError({"messages": "Tool call arguments must be JSON."}) from None
    return ToolCall(
        id=str(raw.get("id", "")), name=str(function.get("name", "")), arguments=arguments
    )


def to_messages(raw: list[Any]) -> list[Message]:
    """Accept Message objects or OpenAI-style dicts; refuse anything else with a clear error."""
    if not isinstance(raw, list) or not raw:
        raise ValidationError({"messages": "Send at least one message."})
    messages = []
    for item in raw:
        if isinstance(item, Message):
            messages.append(item)
            continue
        if not isinstance(item, dict) or item.get("role") not in ROLES:
            raise ValidationError(
                {"messages": f"Each message needs a role among {', '.join(ROLES)}."}
            )
        content = item.get("content")
        if isinstance(content, list):  # OpenAI content parts: keep the text parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if content is not None and not isinstance(content, str):
            raise ValidationError({"messages": "Message content must be text."})
        calls = tuple(_tool_call(c) for c in item.get("tool_calls") or ())
        messages.append(Message(item["role"], content, calls, item.get("tool_call_id")))
    return messages


def to_tools(raw: list[Any] | None) -> list[Tool]:
    """Accept Tool objects or OpenAI-style ``{"type": "function", "function": {...}}`` dicts."""
    tools = []
    for item in raw or []:
        if isinstance(item, Tool):
            tools.append(item)
            continue
        function = item.get("function", item) if isinstance(item, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            raise ValidationError({"tools": "Each tool needs a function name."})
        tools.append(
            Tool(
                function["name"],
                function.get("description", ""),
                function.get("parameters") or {"type": "object", "properties": {}},
            )
        )
    return tools
